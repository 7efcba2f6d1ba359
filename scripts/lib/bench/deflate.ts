/**
 * npm run bench -- --deflate [--rounds N] [--seconds S] [--sizes 16,1K,16K,256K,1M]
 *                            [--connections 1,20] [--payloads text,binary] [--quick]
 *
 * Echo throughput with permessage-deflate on (chapter 12): the reference echo
 * server (`deflate: true`) against the `ws` package's (`perMessageDeflate:
 * true`), on compressible data (JSON-like, sent as text or as binary), each
 * server in its own process, driven by the same ws clients (every message
 * compressed) in another. A third server, `per-message`, is the reference with
 * its zlib streams switched off: chapter 12's per-message code, what the
 * reference did before it kept one stream per direction. For every scenario
 * the servers take turns, in a different order each round; the table gives the
 * median over the rounds of messages/s, MB/s echoed, the p50/p99 round trip,
 * the server's CPU (share of one core, and CPU time per message echoed: the
 * figure to trust on a busy machine), and the ratios to ws. Before the table:
 * the CPU time per 16-byte compressed message, in one process (deflate-tiny.ts).
 */
import { parseArgs } from "node:util";
import { pinning, startChild, type Child } from "./children.ts";
import { bold, dim } from "../terminal.ts";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { root } from "../workbook.ts";
import { tinyDeflateCpu } from "./deflate-tiny.ts";

const KINDS = ["reference", "per-message", "ws"] as const;
type Kind = (typeof KINDS)[number];
interface Sample {
  messagesPerSecond: number;
  mbPerSecond: number;
  p50: number;
  p99: number;
  serverCpu: number;
  /** Server CPU time per message echoed, µs. */
  cpuPerMessage: number;
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
function load(url: string, size: number, connections: number, seconds: number, payload: string): Promise<Omit<Sample, "serverCpu" | "cpuPerMessage"> & { echoed: number }> {
  const node = [process.execPath, "--import", "tsx", join(root, "scripts/lib/bench/deflate-load.ts"), url, String(size), String(connections), String(seconds), payload];
  const command = pinning === undefined ? node : ["taskset", "-c", String(pinning.generator), ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    // A hang guard, generous: on a busy machine starting tsx alone can take tens of seconds.
    const bound = seconds + 180;
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, bound * 1000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"));
      else reject(new Error(hung ? `the load generator (${size} B × ${connections}, ${payload}) gave no result within ${bound} s and was stopped` : `the load generator exited with ${code}`));
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
      sizes: { type: "string", default: "16,1K,16K,256K,1M" },
      connections: { type: "string", default: "1,20" },
      payloads: { type: "string", default: "text,binary" },
      quick: { type: "boolean", default: false },
    },
  });
  const rounds = values.quick ? 1 : Number(values.rounds);
  const seconds = values.quick ? 1 : Number(values.seconds);
  const sizes = values.sizes.split(",").map(parseSize);
  const connectionCounts = values.connections.split(",").map(Number);
  const payloads = values.payloads.split(",");

  // First the CPU per tiny compressed message, in this process (scripts/lib/bench/deflate-tiny.ts).
  const tiny = await tinyDeflateCpu(16, values.quick ? 1000 : 4000, values.quick ? 3 : 7);
  console.log(bold("CPU per 16-byte compressed message, inflated and echoed (context takeover, one process, median µs)"));
  console.log(`${Object.entries(tiny).map(([kind, us]) => `${kind} ${fmt(us, 1)}`).join(" · ")}   ${dim(`reference / ws: ${fmt((tiny.reference ?? NaN) / (tiny.ws ?? NaN), 2)}`)}\n`);

  const servers = new Map<Kind, { child: Child; url: string }>();
  try {
    for (const kind of KINDS) {
      const child = startChild("deflate-server.ts", [kind], pinning === undefined ? {} : { cpu: pinning.server });
      const ready = await child.next<{ ready?: boolean; url?: string; failed?: string }>();
      if (ready.url === undefined) throw new Error(`the ${kind} server did not start: ${ready.failed}`);
      servers.set(kind, { child, url: ready.url });
    }
    console.log(bold(`echo with permessage-deflate, compressible data (JSON-like), ${rounds} round(s) of ${seconds} s, medians`));
    console.log(dim(pinning === undefined ? "no CPU pinning (one CPU, or no taskset)" : `servers on CPU ${pinning.server}, the ws clients on CPU ${pinning.generator}`));
    console.log(`${"scenario".padEnd(30)}${"server".padEnd(13)}${"msg/s".padStart(10)}${"MB/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"CPU".padStart(7)}${"µs/msg".padStart(9)}`);
    const matrix = sizes.flatMap((size) => connectionCounts.flatMap((connections) => payloads.map((payload) => ({ size, connections, payload }))));
    for (const { size, connections, payload } of matrix) {
      const samples = new Map<Kind, Sample[]>(KINDS.map((k) => [k, []]));
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? KINDS : [...KINDS].reverse();
        for (const kind of order) {
          const server = servers.get(kind)!;
          const before = await server.child.ask<{ cpu: number }>({ cmd: "usage" });
          const result = await load(server.url, size, connections, seconds, payload);
          const after = await server.child.ask<{ cpu: number }>({ cmd: "usage" });
          samples.get(kind)!.push({ ...result, serverCpu: (after.cpu - before.cpu) / 1e6 / (seconds + 0.5), cpuPerMessage: (after.cpu - before.cpu) / result.echoed });
        }
      }
      const scenario = `${sizeName(size)} ${payload} × ${connections} conn`;
      const rates: number[] = [];
      const cpus: number[] = [];
      for (const kind of KINDS) {
        const s = samples.get(kind)!;
        const rate = median(s.map((x) => x.messagesPerSecond));
        rates.push(rate);
        const cpu = median(s.map((x) => x.cpuPerMessage));
        cpus.push(cpu);
        console.log(
          `${scenario.padEnd(30)}${kind.padEnd(13)}${fmt(rate).padStart(10)}${fmt(median(s.map((x) => x.mbPerSecond)), 1).padStart(9)}` +
            `${fmt(median(s.map((x) => x.p50)), 2).padStart(9)}${fmt(median(s.map((x) => x.p99)), 2).padStart(9)}${`${fmt(100 * median(s.map((x) => x.serverCpu)))}%`.padStart(7)}${fmt(cpu, 1).padStart(9)}`,
        );
      }
      const ws = KINDS.indexOf("ws");
      console.log(
        dim(
          `${"".padEnd(30)}msg/s vs ws: reference ${fmt((rates[0] ?? NaN) / (rates[ws] ?? NaN), 2)}, per-message ${fmt((rates[1] ?? NaN) / (rates[ws] ?? NaN), 2)}; ` +
            `CPU per message vs ws: reference ${fmt((cpus[0] ?? NaN) / (cpus[ws] ?? NaN), 2)}, per-message ${fmt((cpus[1] ?? NaN) / (cpus[ws] ?? NaN), 2)}`,
        ),
      );
    }
  } finally {
    for (const { child } of servers.values()) await child.stop();
  }
}
