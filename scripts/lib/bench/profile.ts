/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and lists where the time went:
 * self time per function, the largest first. `npm run bench -- --cpu-prof`
 * prints this for every server, so that speed work starts from a measurement.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { root } from "../workbook.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  /** µs, on the same monotonic clock as process.hrtime. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  /** "function file:line", files relative to the workbook (or node:… for Node's own). */
  where: string;
  /** Self time, in ms. */
  ms: number;
  /** Share of the busy time (idle excluded), 0..1. */
  share: number;
}

/**
 * The `top` functions by self time, and the busy time in all (ms), idle time
 * left out. Samples taken before the server was ready (start-up: tsx
 * compiling, imports) are left out too when server.ts wrote `ready` next to it.
 */
export function topFunctions(file: string, top = 12): { lines: ProfileLine[]; busyMs: number; idleMs: number } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const ready = join(dirname(file), "ready");
  const readyAt = existsSync(ready) ? Number(readFileSync(ready, "utf8")) : -Infinity;
  const timeOf = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= readyAt) timeOf.set(id, (timeOf.get(id) ?? 0) + delta);
  });
  const bySite = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const us = timeOf.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    const file = url.startsWith("file://") ? relative(root, new URL(url).pathname) : url;
    const where = file === "" ? functionName : `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    bySite.set(where, (bySite.get(where) ?? 0) + us);
  }
  const busy = [...bySite.values()].reduce((a, b) => a + b, 0);
  const lines = [...bySite]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, ms: us / 1000, share: busy === 0 ? 0 : us / busy }));
  return { lines, busyMs: busy / 1000, idleMs: idle / 1000 };
}
