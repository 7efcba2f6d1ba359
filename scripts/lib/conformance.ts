/**
 * A conformance suite for any echo server, in the spirit of the Autobahn
 * test suite: each case opens its own raw connection, sends something (good,
 * odd or forbidden) and judges what the server does. `npm run conformance`
 * prints the results; tests/08-echo-server.test.ts requires every case OK.
 *
 * The cases are in conformance-cases.ts, the verdicts and the kinds of case
 * in conformance-kit.ts; this file runs them and reports.
 */
import { cases } from "./conformance-cases.ts";
import { CASE_TIME, failed, runWithTime, type Case, type Outcome, type Result, type Verdict } from "./conformance-kit.ts";
import { curriculum } from "./curriculum.ts";

export { cases } from "./conformance-cases.ts";
export { CASE_TIME, type Case, type Outcome, type Result, type Verdict } from "./conformance-kit.ts";

// ---------------------------------------------------------------------------
// Running

/** Runs one case within its bound, turning anything it throws into FAILED. */
async function runCase(c: Case, url: string): Promise<Result> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  // A safety net above the case's own deadline: a bug in a case must not hang the run.
  const bound = new Promise<Outcome>((resolve) => {
    const time = (c.time ?? CASE_TIME) + 1_000;
    timer = setTimeout(() => resolve(failed(`the case did not finish within ${time / 1000} s`)), time);
  });
  const outcome = await Promise.race([runWithTime(c.time ?? CASE_TIME, () => c.run(url)).catch((error: Error) => failed(error.message)), bound]);
  clearTimeout(timer);
  const { run: _run, ...info } = c;
  return { ...info, ...outcome, ms: Date.now() - started };
}

/** How many slow cases (large messages, byte-per-write) run at once. */
const SLOW_CONCURRENCY = 3;

export interface RunOptions {
  /** How many cases run at once (each on its own connection). Default 16. */
  concurrency?: number;
  /** Called with each result, in the order of `cases`, as soon as it and all before it are done. */
  onResult?: (result: Result) => void;
}

/**
 * Runs every case against the echo server at `url` (ws://) and returns the
 * results in the order of `cases`. The opening handshake goes first: if a
 * valid request does not get its 101, the cases that need a WebSocket are
 * reported FAILED without being run (each would only wait out its 2 s).
 */
export async function runConformance(url: string, options: RunOptions = {}): Promise<Result[]> {
  if (new URL(url).protocol !== "ws:") throw new Error(`the conformance runner speaks ws://, not ${url}`);
  const { concurrency = 16, onResult } = options;
  const results: Result[] = [];
  let reported = 0;
  // (The counter moves outside the call: `onResult?.(x++)` skips `x++` when there is no onResult.)
  const report = () => {
    for (; results[reported] !== undefined; reported++) onResult?.(results[reported]!);
  };

  const [gate, ...rest] = cases;
  results[0] = await runCase(gate!, url);
  report();
  const skip = results[0].verdict === "FAILED" ? `not run: ${gate!.id} failed (${results[0].detail})` : undefined;

  // All but `fresh-client`: the quick cases many at a time, then the slow ones a few at a time.
  const indexes = rest.slice(0, -1).map((_, i) => i + 1);
  const slow = (i: number) => (cases[i]!.time ?? CASE_TIME) > CASE_TIME;
  for (const [pool, width] of [[indexes.filter((i) => !slow(i)), concurrency], [indexes.filter(slow), SLOW_CONCURRENCY]] as const) {
    let next = 0;
    const worker = async () => {
      while (next < pool.length) {
        const index = pool[next++]!;
        const c = cases[index]!;
        results[index] = skip !== undefined && c.group !== "handshake" ? notRun(c, skip) : await runCase(c, url);
        report();
      }
    };
    await Promise.all(Array.from({ length: width }, worker));
  }

  const last = cases.at(-1)!;
  results[cases.length - 1] = skip !== undefined ? notRun(last, skip) : await runCase(last, url);
  report();
  return results;
}

function notRun(c: Case, why: string): Result {
  const { run: _run, ...info } = c;
  return { ...info, verdict: "FAILED", detail: why, ms: 0 };
}

// ---------------------------------------------------------------------------
// Reporting

/** "chapter 04 · Frames" */
export function chapterLabel(chapter: number): string {
  const title = curriculum.find((c) => c.number === chapter)?.title ?? "";
  return `chapter ${String(chapter).padStart(2, "0")} · ${title}`;
}

/**
 * One line per case: the verdict, the id, the rule; and for a case that is
 * not OK, what the server did; for a FAILED one, the chapter to look in.
 */
export function formatResult(r: Result): string {
  const head = `${r.verdict.padEnd(10)}  ${r.id.padEnd(30)}`;
  if (r.verdict === "OK") return `${head}  ${r.title}`;
  if (r.verdict === "NON-STRICT") return `${head}  ${r.title} — ${r.detail}`;
  return `${head}  ${chapterLabel(r.chapter)}: ${r.title} — ${r.detail}`;
}

/** Per group, in the order of `cases`: how many cases are OK, NON-STRICT and FAILED. */
export function countsByGroup(results: readonly Result[]): Map<string, Record<Verdict, number>> {
  const groups = new Map<string, Record<Verdict, number>>();
  for (const r of results) {
    const counts = groups.get(r.group) ?? { OK: 0, "NON-STRICT": 0, FAILED: 0 };
    counts[r.verdict]++;
    groups.set(r.group, counts);
  }
  return groups;
}

/** "12 OK" or "10 OK, 1 non-strict, 1 failed": one group's counts, short. */
export function shortCounts(counts: Record<Verdict, number>): string {
  const parts = [`${counts.OK} OK`];
  if (counts["NON-STRICT"] > 0) parts.push(`${counts["NON-STRICT"]} non-strict`);
  if (counts.FAILED > 0) parts.push(`${counts.FAILED} failed`);
  return parts.join(", ");
}

/** "202 cases: 200 OK, 1 non-strict, 1 failed" */
export function summary(results: readonly Result[]): string {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  return `${results.length} cases: ${count("OK")} OK, ${count("NON-STRICT")} non-strict, ${count("FAILED")} failed`;
}
