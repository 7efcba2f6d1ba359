/**
 * The site's widgets with WebAssembly switched off, for scripts/site-test.ts.
 *
 * The reference's masking and UTF-8 checks use WebAssembly SIMD kernels
 * (lib/simd) where they can, and the chapters' plain loops where they cannot;
 * the widgets run the reference in the browser. So the same round trip is
 * done twice, in two fresh browsers: one with WebAssembly, one where the
 * page has no `WebAssembly` object at all (removed by a script that runs
 * before the page's own: this Chromium ignores V8's --no-expose-wasm), as in a
 * browser without it. The payload is long enough (over 64 bytes, where the
 * reference switches to the kernels) and not ASCII, so both paths are taken:
 * the frame builder masks it (chapter 03), the frame inspector reads it back
 * (chapter 04 unmasks, chapter 05 checks the UTF-8).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "./system-peers.ts";

/** A text longer than 64 bytes of UTF-8 (2- and 3-byte code points among ASCII): 16-bit length on the wire. */
const PAYLOAD = "SIMD or not: ✓ the same frame, déjà vu. ".repeat(4);
const PAYLOAD_BYTES = new TextEncoder().encode(PAYLOAD).length;

/** Bounds on waits: guards against a hang, not speed limits. */
const STEP_MS = 60_000;
const UNTIL_MS = 20_000;

const norm = (s: string | null) => (s ?? "").replace(/\s+/g, " ").trim();

export async function wasmOffChecks(origin: string, check: (ok: boolean, what: string, detail?: string) => boolean): Promise<void> {
  for (const wasm of [true, false]) {
    const label = wasm ? "with WebAssembly" : "with WebAssembly switched off";
    const profile = mkdtempSync(join(tmpdir(), "workbook-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: STEP_MS,
    });
    try {
      if (!wasm) await context.addInitScript(() => Reflect.deleteProperty(globalThis, "WebAssembly"));
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_MS);
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(`console error: ${m.text()}`);
      });
      page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
      await page.goto(`${origin}/tools`, { waitUntil: "load", timeout: STEP_MS });
      const hasWasm = await page.evaluate(() => typeof WebAssembly === "object");
      check(hasWasm === wasm, `/tools ${label}: the page ${wasm ? "has" : "has no"} WebAssembly`, `typeof WebAssembly is ${hasWasm ? "object" : "undefined"}`);
      const problem = await roundTrip(page);
      check(
        problem === undefined && errors.length === 0,
        `/tools ${label}: a masked ${PAYLOAD_BYTES}-byte UTF-8 text frame from the frame builder reads back in the frame inspector`,
        [problem ?? "", ...errors].join("\n"),
      );
    } catch (error) {
      check(false, `/tools ${label}: the widget round trip ran`, (error as Error).message.split("\n").slice(0, 4).join("\n"));
    } finally {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    }
  }
}

/** Builder → inspector with PAYLOAD, masked; a problem, or undefined. */
async function roundTrip(page: Page): Promise<string | undefined> {
  const hook = (widget: string, test: string) => page.locator(`[data-widget="${widget}"]`).first().locator(`[data-test="${test}"]`).first();
  const until = async <T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> => {
    const deadline = Date.now() + UNTIL_MS;
    let value = await read();
    while (!ok(value) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      value = await read();
    }
    return value;
  };
  const builder = (test: string) => hook("frame-builder", test);
  const inspector = (test: string) => hook("frame-inspector", test);
  await builder("opcode").selectOption({ value: "1" });
  await builder("mask").check();
  await builder("payload").fill(PAYLOAD);
  // §5.2: 126..65535 bytes take the 16-bit length (7e), with the mask bit: fe.
  const length = PAYLOAD_BYTES.toString(16).padStart(4, "0");
  const expectedStart = `81 fe ${length.slice(0, 2)} ${length.slice(2)}`;
  const builderHex = async () => norm((await builder("bytes").getAttribute("data-hex")) ?? (await builder("bytes").textContent()));
  const hex = await until(builderHex, (h) => h.toLowerCase().startsWith(expectedStart));
  if (!hex.toLowerCase().startsWith(expectedStart)) return `the builder's bytes should start ${expectedStart}: "${hex.slice(0, 40)}…"`;
  // The masked payload differs from the text: the builder did mask it.
  const plain = [...new TextEncoder().encode(PAYLOAD)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  if (hex.toLowerCase().includes(plain.slice(0, 60))) return "the builder's payload bytes are the text itself: not masked";
  await builder("to-inspector").click();
  const payload = await until(() => inspector("field-payload-text").textContent().then(norm), (t) => t.includes(norm(PAYLOAD)));
  return payload.includes(norm(PAYLOAD)) ? undefined : `the inspector reads "${payload.slice(0, 80)}…"`;
}
