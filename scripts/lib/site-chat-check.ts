/**
 * The site test's check of chapter 13's chat room widget (<ChatRoom />):
 * two real Chromium pages of /chapters/13-rooms join one room on a reference
 * chat server, and each sees what the other says; the server restarts, and
 * both come back by themselves (RFC 6455 §7.2.3's backoff) and talk again. Called by
 * scripts/site-test.ts with its browser context and its `check`. Every wait
 * is bounded (a hang guard, returning at once on success).
 */
import type { BrowserContext, Page } from "playwright-core";

type Check = (ok: boolean, what: string, detail?: string) => boolean;

const STEP_MS = 20_000;
const norm = (text: string | null | undefined) => (text ?? "").replace(/\s+/g, " ").trim();

/** Waits until `read()` satisfies `ok`, at most STEP_MS; returns the last value read. */
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + STEP_MS;
  let value = await read();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

export async function chatRoomChecks(context: BrowserContext, origin: string, chatUrl: string, restartChat: () => Promise<void>, check: Check): Promise<void> {
  const errors: string[] = [];
  const pages: Page[] = [];
  const step = async (what: string, body: () => Promise<string | undefined>) => {
    try {
      const problem = await body();
      check(problem === undefined, what, problem);
    } catch (error) {
      check(false, what, (error as Error).message.split("\n").slice(0, 4).join("\n"));
    }
  };
  try {
    for (const name of ["tab one", "tab two"]) {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_MS);
      // A reconnection tried while the restarted server is not listening yet is logged by Chromium itself,
      // and is what the widget exists to handle: not a fault of the page.
      const expected = (text: string) => /^WebSocket connection to .* failed/.test(text);
      page.on("console", (m) => m.type() === "error" && !expected(m.text()) && errors.push(`${name}: console error: ${m.text()}`));
      page.on("pageerror", (e) => errors.push(`${name}: uncaught: ${e.message}`));
      await page.goto(`${origin}/chapters/13-rooms`, { waitUntil: "load", timeout: STEP_MS });
      pages.push(page);
    }
    const hook = (page: Page, test: string) => page.locator('[data-widget="chat-room"]').first().locator(`[data-test="${test}"]`);
    const lines = (page: Page, type: string) => hook(page, "log").locator(`[data-test="log-entry"][data-type="${type}"]`).allTextContents().then((all) => all.map(norm));
    await step(`chat room: two pages of /chapters/13-rooms join room "site-check" on the reference chat server (${chatUrl})`, async () => {
      for (const page of pages) {
        await hook(page, "url").fill(chatUrl);
        await hook(page, "room").fill("site-check");
        await hook(page, "join").click();
      }
      for (const page of pages) {
        const joined = await until(() => lines(page, "joined"), (all) => all.length > 0);
        if (joined.length === 0) return `a page shows no "joined": status "${norm(await hook(page, "status").first().textContent())}"`;
      }
      return undefined;
    });
    const [one, two] = pages as [Page, Page];
    for (const [from, to, text] of [
      [one, two, "hello from tab one"],
      [two, one, "and back from tab two"],
    ] as const) {
      await step(`chat room: "${text}" said in one page appears in the other`, async () => {
        await hook(from, "text").fill(text);
        await hook(from, "say").click();
        const seen = await until(() => lines(to, "message"), (all) => all.some((t) => t.includes(text)));
        return seen.some((t) => t.includes(text)) ? undefined : `the other page shows ${JSON.stringify(seen)}`;
      });
    }
    await step("chat room: both pages show both messages in the same order, #1 then #2", async () => {
      const shown = await Promise.all(pages.map((page) => until(() => lines(page, "message"), (all) => all.length >= 2)));
      const order = shown.map((all) => all.map((t) => /#(\d+)/.exec(t)?.[1]).join(","));
      return order.every((o) => o === "1,2") ? undefined : `the pages show ${JSON.stringify(shown)}`;
    });
    await step("chat room: the server restarts (1001 to every member): both pages say they are reconnecting, come back after a backoff, join again, and talk", async () => {
      await restartChat();
      for (const page of pages) {
        const joined = await until(() => lines(page, "joined"), (all) => all.length >= 2);
        const waits = await lines(page, "reconnect");
        if (joined.length < 2) return `a page did not join again: status "${norm(await hook(page, "status").first().textContent())}", reconnect lines ${JSON.stringify(waits)}`;
        if (!waits.some((t) => /1001/.test(t) && /\d+ ms/.test(t))) return `a page joined again without saying why and how long it waited: ${JSON.stringify(waits)}`;
      }
      await hook(one, "text").fill("after the restart");
      await hook(one, "say").click();
      const seen = await until(() => lines(two, "message"), (all) => all.some((t) => t.includes("after the restart")));
      return seen.some((t) => t.includes("after the restart")) ? undefined : `the other page shows ${JSON.stringify(seen)}`;
    });
    await step("chat room: Disconnect stops the reconnecting: the page stays closed (1000)", async () => {
      await hook(one, "leave").click();
      const status = await until(async () => norm(await hook(one, "status").first().textContent()), (t) => t.startsWith("closed"));
      await one.waitForTimeout(1_500);
      const after = norm(await hook(one, "status").first().textContent());
      return status.startsWith("closed") && after === status && /1000/.test(after) ? undefined : `status "${status}", then "${after}"`;
    });
    check(errors.length === 0, "chat room: no console error in either page", errors.join("\n"));
  } catch (error) {
    check(false, "chat room: the two pages of /chapters/13-rooms load", (error as Error).message);
  } finally {
    for (const page of pages) await page.close().catch(() => undefined);
  }
}
