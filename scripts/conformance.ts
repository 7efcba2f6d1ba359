/**
 * npm run conformance                          your echo server (chapters/08-echo-server.ts, on your chapters 02-07)
 * npm run conformance -- --impl solutions      the reference echo server
 * npm run conformance -- --url ws://HOST:PORT/ any echo server that is already running
 * npm run conformance -- --compare ws         and the `ws` package's echo server beside it
 * npm run conformance -- --deflate             permessage-deflate cases instead (chapter 12,
 *                                              scripts/lib/conformance-deflate.ts); the server
 *                                              started here accepts compression
 * npm run conformance -- --security            hostile clients instead (chapter 14,
 *                                              scripts/lib/conformance-security.ts) against
 *                                              chapter 14's server, started here with a user
 *                                              of its own; with --url, --user NAME:PASSWORD
 *                                              logs in where the server has POST /login
 *
 * Runs the cases of scripts/lib/conformance.ts against an echo server and
 * prints one line per case: OK (strict), NON-STRICT (acceptable) or FAILED
 * (with the chapter whose rule it breaks), then a summary. Without --url the
 * server is started in this process on 127.0.0.1, on a free port, and
 * stopped after. With --compare ws, the same cases run against an echo
 * server made with the `ws` package (the bar: a mature implementation), and
 * a table gives both servers' verdicts group by group. Exit status 0 only
 * when no case FAILED for the server under test.
 */
import { parseArgs } from "node:util";
import type * as EchoServerChapter from "../solutions/08-echo-server.ts";
import { countsByGroup, formatResult, runConformance, shortCounts, summary, type Result } from "./lib/conformance.ts";
import { runDeflateConformance } from "./lib/conformance-deflate.ts";
import { runSecurityConformance, type SecurityTarget } from "./lib/conformance-security.ts";
import type * as AccessChapter from "../solutions/14-access.ts";
import { loadChapter } from "./lib/impl.ts";
import { startWsEcho } from "./lib/ws-echo.ts";
import { bold, dim, green, red, yellow } from "./lib/terminal.ts";
import { IMPLEMENTATIONS, type Implementation } from "./lib/workbook.ts";

const colour = { OK: green, "NON-STRICT": yellow, FAILED: red } as const;

/** An echo server to test: the one at --url, or one started here from chapter 08. */
interface Target {
  url: string;
  /** Stops the server if we started it. */
  stop(): Promise<void>;
  /** Errors the server threw that nothing caught (a reader's server runs in this process). */
  thrown: unknown[];
}

async function startServer(impl: Implementation, deflate = false): Promise<Target> {
  // The server runs in this process: an error thrown in one of its event
  // handlers must become a finding of the run, not end it.
  const thrown: unknown[] = [];
  process.on("uncaughtException", (error) => thrown.push(error));
  process.on("unhandledRejection", (error) => thrown.push(error));

  const { createEchoServer } = await loadChapter<typeof EchoServerChapter>("08-echo-server", impl);
  const server = createEchoServer({ maxMessageSize: 16 * 1024 * 1024, ...(deflate ? { deflate: true } : {}) });
  const url = await bounded(server.listen(0, "127.0.0.1"), 2_000, "the server's listen()");
  return { url, thrown, stop: () => bounded(server.close(), 7_000, "the server's close()").catch(() => {}) };
}

/** Chapter 14's chat server behind its gate, with one user for the runner and an allow-list that holds no page of the runner's. */
async function startAccessServer(impl: Implementation): Promise<Target & { user: { name: string; password: string } }> {
  const { createAccessServer } = await loadChapter<typeof AccessChapter>("14-access", impl);
  const user = { name: "conformance", password: crypto.randomUUID() };
  const server = createAccessServer({ users: { [user.name]: user.password }, allowOrigins: ["https://chat.example"] });
  const url = await bounded(server.listen(0, "127.0.0.1"), 2_000, "the server's listen()");
  return { url, user, thrown: [], stop: () => bounded(server.close(), 7_000, "the server's close()").catch(() => {}) };
}

/** The security cases against `target`, printed as they come. */
async function runSecurity(target: SecurityTarget, print: boolean): Promise<Result[]> {
  let previous: Result | undefined;
  return runSecurityConformance(target, {
    onResult: (result) => {
      if (!print) return;
      printResult(result, previous);
      previous = result;
    },
  });
}

/** An echo server made with the `ws` package, as close to ours as its options allow (16 MiB messages, no compression). */
async function startWs(deflate = false): Promise<Target> {
  // ws's default perMessageDeflate is off for a server; --deflate turns it on, to compare like with like.
  const { url, stop } = await startWsEcho({ maxPayload: 16 * 1024 * 1024, perMessageDeflate: deflate });
  return { url, thrown: [], stop };
}

/** Both servers' verdicts, group by group. */
function printComparison(label: string, ours: Result[], theirs: Result[]): void {
  const a = countsByGroup(ours);
  const b = countsByGroup(theirs);
  const width = Math.max(...[...a.values()].map((c) => shortCounts(c).length), label.length, summary(ours).length) + 4;
  console.log(bold(`\n${"group".padEnd(18)}${label.padEnd(width)}ws`));
  for (const [group, counts] of a) console.log(`${group.padEnd(18)}${shortCounts(counts).padEnd(width)}${shortCounts(b.get(group) ?? { OK: 0, "NON-STRICT": 0, FAILED: 0 })}`);
  console.log(`${"all".padEnd(18)}${summary(ours).padEnd(width)}${summary(theirs)}`);
}

/** `promise`, or an error after `ms`: a reader's server must not hang the runner. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function printResult(result: Result, previous: Result | undefined): void {
  if (result.group !== previous?.group) console.log(`\n${bold(result.group)}`);
  const line = formatResult(result);
  console.log(`  ${colour[result.verdict](result.verdict)}${line.slice(result.verdict.length)}`);
}

/** Where a reader should look when their own server threw. */
function describeThrown(thrown: unknown[]): string {
  const first = thrown[0];
  const text = first instanceof Error ? (first.stack ?? `${first.name}: ${first.message}`) : String(first);
  const where = text.split("\n").find((line) => line.includes("/chapters/"))?.trim();
  return `${thrown.length} uncaught error(s) from the server during the run; the first:\n  ${text.split("\n")[0]}${where ? `\n  ${where}` : ""}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { url: { type: "string" }, impl: { type: "string" }, compare: { type: "string" }, deflate: { type: "boolean", default: false }, security: { type: "boolean", default: false }, user: { type: "string" } },
  });
  if (values.compare !== undefined && values.compare !== "ws") throw new Error(`--compare takes ws (the ws package's echo server), not ${values.compare}`);
  if (values.url !== undefined && values.impl !== undefined) throw new Error("--url and --impl exclude each other: --url tests a server already running");
  const impl = (values.impl ?? "chapters") as Implementation;
  if (!IMPLEMENTATIONS.includes(impl)) throw new Error(`--impl must be one of ${IMPLEMENTATIONS.join(", ")}, not ${impl}`);
  if (values.security) return security(values.url, values.user, impl, values.compare === "ws");

  const target: Target =
    values.url !== undefined ? { url: values.url, thrown: [], stop: async () => {} } : await startServer(impl, values.deflate);
  const which = values.url !== undefined ? "" : impl === "chapters" ? " (your chapters/08-echo-server.ts)" : ` (${impl}/08-echo-server.ts)`;
  console.log(`conformance of the echo server at ${target.url}${which}`);

  const started = Date.now();
  let previous: Result | undefined;
  const results = await (values.deflate ? runDeflateConformance : runConformance)(target.url, {
    onResult: (result) => {
      printResult(result, previous);
      previous = result;
    },
  }).finally(() => target.stop());

  console.log();
  if (target.thrown.length > 0) console.log(red(describeThrown(target.thrown)), "\n");
  const failedCount = results.filter((r) => r.verdict === "FAILED").length;
  console.log(bold(`${summary(results)} (${((Date.now() - started) / 1000).toFixed(1)} s)`));
  if (values.compare === "ws") {
    const ws = await startWs(values.deflate);
    console.log(`\nthe same cases against the ws package's echo server at ${ws.url}`);
    const wsStarted = Date.now();
    const wsResults = await (values.deflate ? runDeflateConformance : runConformance)(ws.url).finally(() => ws.stop());
    for (const result of wsResults.filter((r) => r.verdict !== "OK")) {
      console.log(`  ${colour[result.verdict](result.verdict)}${formatResult(result).slice(result.verdict.length)}`);
    }
    console.log(bold(`ws: ${summary(wsResults)} (${((Date.now() - wsStarted) / 1000).toFixed(1)} s)`));
    const label = values.url !== undefined ? "server" : impl === "chapters" ? "yours" : impl;
    printComparison(label, results, wsResults);
  }
  if (failedCount > 0 && impl === "chapters" && values.url === undefined) {
    console.log(dim("Each FAILED line names the chapter whose rule the server broke: `npm run grade -- N` checks that chapter."));
  }
  return failedCount === 0 ? 0 : 1;
}

/** npm run conformance -- --security [--url URL [--user NAME:PASSWORD]] [--compare ws] */
async function security(url: string | undefined, userOption: string | undefined, impl: Implementation, compare: boolean): Promise<number> {
  let user: SecurityTarget["user"];
  if (userOption !== undefined) {
    const colon = userOption.indexOf(":");
    if (colon < 1) throw new Error(`--user ${userOption}: write NAME:PASSWORD`);
    user = { name: userOption.slice(0, colon), password: userOption.slice(colon + 1) };
  }
  const started = url === undefined ? await startAccessServer(impl) : undefined;
  const target: SecurityTarget = { url: url ?? started!.url, ...((user ?? started?.user) ? { user: user ?? started!.user } : {}) };
  const which = url !== undefined ? "" : impl === "chapters" ? " (your chapters/14-access.ts)" : ` (${impl}/14-access.ts)`;
  console.log(`security cases against the server at ${target.url}${which}`);
  const clock = Date.now();
  const results = await runSecurity(target, true).finally(() => started?.stop());
  console.log(bold(`\n${summary(results)} (${((Date.now() - clock) / 1000).toFixed(1)} s)`));
  if (compare) {
    const ws = await startWsEcho();
    console.log(`\nthe same cases against a ws server with its defaults at ${ws.url}`);
    const wsClock = Date.now();
    const wsResults = await runSecurity({ url: ws.url }, false).finally(() => ws.stop());
    for (const result of wsResults) console.log(`  ${colour[result.verdict](result.verdict)}${formatResult(result).slice(result.verdict.length)}`);
    console.log(bold(`ws: ${summary(wsResults)} (${((Date.now() - wsClock) / 1000).toFixed(1)} s)`));
  }
  return results.some((r) => r.verdict === "FAILED") ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  const message = (error as Error).message;
  console.error(red(`npm run conformance: ${message}`));
  if ((error as Error).name === "NotImplementedError") {
    console.error(dim("Finish chapter 08 first (npm run grade -- 8), or run the reference: npm run conformance -- --impl solutions"));
  }
  process.exitCode = 1;
}
// The server (if we started one) is closed; anything still pending must not keep us alive.
setTimeout(() => process.exit(), 500).unref();
