/**
 * npm run bench -- --deflate [--rounds N] [--seconds S] [--sizes 1K,16K,256K] [--connections 1,20]
 *
 * Echo throughput with permessage-deflate on (chapter 12): the reference echo
 * server (`deflate: true`) against the `ws` package's (`perMessageDeflate:
 * true`), on compressible text (JSON-like), each server in its own process,
 * driven by the same ws clients (every message compressed) in another. For
 * every scenario the servers take turns, in a different order each round; the
 * table gives the median over the rounds of messages/s, MB/s of text echoed,
 * the p50/p99 round trip, the server's CPU, and the ratio reference / ws.
 */
import { parseArgs } from "node:util";
import { pinning, startChild, type Child } from "./children.ts";
import { bold, dim } from "../terminal.ts";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { root } from "../workbook.ts";

const KINDS = ["reference", "ws"] as const;
type Kind = (typeof KINDS)[number];
interface Sample {
  messagesPerSecond: number;
  mbPerSecond: number;
  p50: number;
  p99: number;
  serverCpu: number;
}

const parseSize = (s: string) => Number(s.replace(/[KM]$/i, "")) * (/k$/i.test(s) ? 1024 : /m$/i.test(s) ? 1024 * 1024 : 1);
const sizeName = (n: number) => (n >= 1024 * 1024 ? `${n / 1024 / 1024} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–");

/** Runs the load generator once against `url`, pinned to the generator's CPU; its JSON line. */
function load(url: string, size: number, connections: number, seconds: number): Promise<Omit<Sample, "serverCpu">> {
  const node = [process.execPath, "--import", "tsx", join(root, "scripts/lib/bench/deflate-load.ts"), url, String(size), String(connections), String(seconds)];
  const command = pinning === undefined ? node : ["taskset", "-c", String(pinning.generator), ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"));
      else reject(new Error(`the load generator exited with ${code}`));
    });
  });
}

export async function benchDeflate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      deflate: { type: "boolean" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      sizes: { type: "string", default: "1K,16K,256K" },
      connections: { type: "string", default: "1,20" },
      quick: { type: "boolean", default: false },
    },
  });
  const rounds = values.quick ? 1 : Number(values.rounds);
  const seconds = values.quick ? 1 : Number(values.seconds);
  const sizes = values.sizes.split(",").map(parseSize);
  const connectionCounts = values.connections.split(",").map(Number);

  const servers = new Map<Kind, { child: Child; url: string }>();
  try {
    for (const kind of KINDS) {
      const child = startChild("deflate-server.ts", [kind], pinning === undefined ? {} : { cpu: pinning.server });
      const ready = await child.next<{ ready?: boolean; url?: string; failed?: string }>();
      if (ready.url === undefined) throw new Error(`the ${kind} server did not start: ${ready.failed}`);
      servers.set(kind, { child, url: ready.url });
    }
    console.log(bold(`echo with permessage-deflate, compressible text (JSON-like), ${rounds} round(s) of ${seconds} s, medians`));
    console.log(dim(pinning === undefined ? "no CPU pinning (one CPU, or no taskset)" : `servers on CPU ${pinning.server}, the ws clients on CPU ${pinning.generator}`));
    console.log(`${"scenario".padEnd(22)}${"server".padEnd(11)}${"msg/s".padStart(10)}${"MB/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"CPU".padStart(7)}`);
    for (const size of sizes) {
      for (const connections of connectionCounts) {
        const samples = new Map<Kind, Sample[]>(KINDS.map((k) => [k, []]));
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? KINDS : [...KINDS].reverse();
          for (const kind of order) {
            const server = servers.get(kind)!;
            const before = await server.child.ask<{ cpu: number }>({ cmd: "usage" });
            const result = await load(server.url, size, connections, seconds);
            const after = await server.child.ask<{ cpu: number }>({ cmd: "usage" });
            samples.get(kind)!.push({ ...result, serverCpu: (after.cpu - before.cpu) / 1e6 / (seconds + 0.5) });
          }
        }
        const scenario = `${sizeName(size)} × ${connections} conn`;
        const rates: number[] = [];
        for (const kind of KINDS) {
          const s = samples.get(kind)!;
          const rate = median(s.map((x) => x.messagesPerSecond));
          rates.push(rate);
          console.log(
            `${scenario.padEnd(22)}${kind.padEnd(11)}${fmt(rate).padStart(10)}${fmt(median(s.map((x) => x.mbPerSecond)), 1).padStart(9)}` +
              `${fmt(median(s.map((x) => x.p50)), 2).padStart(9)}${fmt(median(s.map((x) => x.p99)), 2).padStart(9)}${`${fmt(100 * median(s.map((x) => x.serverCpu)))}%`.padStart(7)}`,
          );
        }
        console.log(dim(`${"".padEnd(22)}reference / ws: ${fmt((rates[0] ?? NaN) / (rates[1] ?? NaN), 2)}`));
      }
    }
  } finally {
    for (const { child } of servers.values()) await child.stop();
  }
}
