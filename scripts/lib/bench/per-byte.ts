/**
 * The per-byte micro-benchmarks of `npm run bench`, in a process of its own:
 * the two loops that see every byte of a large message, in GB/s, for 1 KiB
 * and 1 MiB.
 * - Masking: an unmask in place (chapter 03). Run with WS_NO_BUFFER_UTIL=1,
 *   so that ws's own unmask is its JavaScript loop; bufferutil's native one is
 *   measured by calling it directly.
 * - The UTF-8 check of a text message (chapter 05), on the benchmark's own
 *   text (JSON-like, mostly ASCII): the reference's and yours, against
 *   Node's native `buffer.isUtf8`, which is what `ws` uses.
 *
 * Prints one JSON line: { mask: Results, utf8: Results }, where Results is
 * { name: { "1024": GB/s, "1048576": GB/s } | { error } }.
 */
import { isUtf8 } from "node:buffer";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import type * as MaskingChapter from "../../../solutions/03-masking.ts";
import type * as MessagesChapter from "../../../solutions/05-messages.ts";
import { loadChapter } from "../impl.ts";
import { payloadFor } from "./wire.ts";

type Results = Record<string, Record<string, number> | { error: string }>;
/** One pass of a loop over `data`. */
type Pass = (data: Uint8Array) => void;

const require = createRequire(import.meta.url);
export const PER_BYTE_SIZES = [1024, 1024 * 1024];

/**
 * GB/s (10^9 bytes per second of this process's CPU time) of `pass` over
 * `data`, run for about `ms` milliseconds. CPU time, not the clock: on a
 * shared machine the clock also counts the turns other processes take.
 */
function measure(pass: Pass, data: Uint8Array, ms: number): number {
  // Warm up (the JIT compiles the loop), and find how many calls take about 10 ms.
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) pass(data);
    if (performance.now() - t0 > 10) break;
    calls *= 2;
  }
  let bytes = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < calls; i++) pass(data);
    bytes += calls * data.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return bytes / ((cpu.user + cpu.system) / 1e6) / 1e9;
}

/**
 * Each candidate: loaded, checked once on a small input (a stub throws there,
 * a wrong implementation is named), then measured on `input(size)` per size.
 */
async function compare(candidates: [string, () => Promise<Pass>][], check: (pass: Pass) => void, input: (size: number) => Uint8Array, ms: number): Promise<Results> {
  const out: Results = {};
  for (const [name, load] of candidates) {
    try {
      const pass = await load();
      check(pass);
      out[name] = Object.fromEntries(PER_BYTE_SIZES.map((size) => [size, measure(pass, input(size), ms)]));
    } catch (error) {
      out[name] = { error: `${(error as Error).name}: ${(error as Error).message}` };
    }
  }
  return out;
}

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
type Unmask = (data: Uint8Array, key: Uint8Array) => void;
const unmasking = (load: () => Promise<Unmask>) => async (): Promise<Pass> => {
  const unmask = await load();
  return (data) => unmask(data, KEY);
};
const applyMaskOf = (impl: "solutions" | "chapters") => async () => (await loadChapter<typeof MaskingChapter>("03-masking", impl)).applyMask;

function checkMask(pass: Pass): void {
  const probe = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d, 0x37);
  pass(probe);
  if (probe.join() !== "0,0,0,0,0") throw new Error("does not mask by the rule of §5.3");
}

/** A text message checked by chapter 05's validator: every byte, then the end of the text. */
const validatorOf = (impl: "solutions" | "chapters") => async (): Promise<Pass> => {
  const { Utf8Validator } = await loadChapter<typeof MessagesChapter>("05-messages", impl);
  const validator = new Utf8Validator();
  return (data) => {
    validator.push(data);
    validator.end();
  };
};

function checkUtf8(pass: Pass): void {
  pass(new TextEncoder().encode("zoë ✓"));
  let refused = false;
  try {
    pass(Uint8Array.of(0x41, 0xc3, 0x28)); // C3 must be followed by a continuation byte
  } catch {
    refused = true;
  }
  if (!refused) throw new Error("accepts invalid UTF-8 (C3 28)");
}

async function main(): Promise<void> {
  const ms = Number(process.argv[2] ?? 300);
  const mask = await compare(
    [
      ["reference applyMask", unmasking(applyMaskOf("solutions"))],
      ["your applyMask", unmasking(applyMaskOf("chapters"))],
      ["ws unmask (JS)", unmasking(async () => require(join(dirname(require.resolve("ws")), "lib", "buffer-util.js")).unmask)],
      ["bufferutil (native)", unmasking(async () => require("bufferutil").unmask)],
    ],
    checkMask,
    (size) => new Uint8Array(size).fill(0x5a),
    ms,
  );
  const utf8 = await compare(
    [
      ["reference Utf8Validator", validatorOf("solutions")],
      ["your Utf8Validator", validatorOf("chapters")],
      [
        "isUtf8 (native; ws)",
        async () => (data) => {
          if (!isUtf8(data)) throw new Error("not UTF-8");
        },
      ],
    ],
    checkUtf8,
    (size) => payloadFor("text", size),
    ms,
  );
  console.log(JSON.stringify({ mask, utf8 }));
}

await main();
