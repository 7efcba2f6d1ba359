/**
 * The masking micro-benchmark of `npm run bench`: how many GB/s an unmask
 * gets through, for 1 KiB and 1 MiB payloads, in a process of its own.
 * Run with WS_NO_BUFFER_UTIL=1, so that ws's own unmask is its JavaScript
 * loop; bufferutil's native unmask is measured by calling it directly.
 *
 * Prints one JSON line: { name: { "1024": GB/s, "1048576": GB/s } | { error } }.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import type * as MaskingChapter from "../../../solutions/03-masking.ts";
import { loadChapter } from "../impl.ts";

type Unmask = (data: Uint8Array, key: Uint8Array) => void;

const require = createRequire(import.meta.url);
export const MASK_SIZES = [1024, 1024 * 1024];

/** GB/s (10^9 bytes per second) of `unmask` on a `size`-byte buffer, over about `ms` milliseconds. */
function measure(unmask: Unmask, size: number, ms: number): number {
  const data = new Uint8Array(size).fill(0x5a);
  const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
  // Warm up (the JIT compiles the loop), and find how many calls take about 10 ms.
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) unmask(data, key);
    if (performance.now() - t0 > 10) break;
    calls *= 2;
  }
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < calls; i++) unmask(data, key);
    bytes += calls * size;
  }
  return bytes / ((performance.now() - t0) / 1000) / 1e9;
}

async function main(): Promise<void> {
  const ms = Number(process.argv[2] ?? 300);
  const candidates: [string, () => Promise<Unmask>][] = [
    ["reference applyMask", async () => (await loadChapter<typeof MaskingChapter>("03-masking", "solutions")).applyMask],
    ["your applyMask", async () => (await loadChapter<typeof MaskingChapter>("03-masking", "chapters")).applyMask],
    ["ws unmask (JS)", async () => require(join(dirname(require.resolve("ws")), "lib", "buffer-util.js")).unmask],
    ["bufferutil (native)", async () => require("bufferutil").unmask],
  ];
  const out: Record<string, Record<string, number> | { error: string }> = {};
  for (const [name, load] of candidates) {
    try {
      const unmask = await load();
      const probe = Uint8Array.of(1, 2, 3, 4, 5);
      unmask(probe, Uint8Array.of(1, 2, 3, 4)); // a stub throws here, before any timing
      if (probe.join() !== "0,0,0,0,4") throw new Error("does not mask by the rule of §5.3");
      out[name] = Object.fromEntries(MASK_SIZES.map((size) => [size, measure(unmask, size, ms)]));
    } catch (error) {
      out[name] = { error: `${(error as Error).name}: ${(error as Error).message}` };
    }
  }
  console.log(JSON.stringify(out));
}

await main();
