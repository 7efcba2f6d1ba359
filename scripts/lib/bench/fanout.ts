/**
 * npm run bench -- --fanout [--subscribers 10,100,1000] [--size 64] [--rounds N] [--seconds S] [--quick]
 *
 * Broadcast (chapter 13): one publisher, N subscribers in one room. The
 * reference chat server (solutions/13-rooms.ts: each message encoded once,
 * the same bytes written to every member) against a chat.v1 server on the
 * `ws` package written the usual way (`members.forEach(c => c.send(text))`,
 * one frame made per member), without and with bufferutil. Each server in its
 * own process, the same load generator (scripts/lib/bench/fanout-load.ts) in
 * another; servers take turns, in a different order each round. The table
 * gives the median over the rounds of deliveries per second (one message to
 * one subscriber), messages per second, p50/p99 delivery latency and the
 * server's CPU, then the ratios.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pinning, startChild, type Child } from "./children.ts";
import { bold, dim } from "../terminal.ts";
import { root } from "../workbook.ts";

const KINDS = ["reference", "ws", "ws-bufferutil"] as const;
type Kind = (typeof KINDS)[number];
const LABEL: Record<Kind, string> = { reference: "reference", ws: "ws", "ws-bufferutil": "ws+bufferutil" };
interface Sample {
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  p50: number;
  p99: number;
  serverCpu: number;
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–");

function load(url: string, subscribers: number, size: number, seconds: number): Promise<Omit<Sample, "serverCpu">> {
  const node = [process.execPath, "--import", "tsx", join(root, "scripts/lib/bench/fanout-load.ts"), url, String(subscribers), String(size), String(seconds)];
  const command = pinning === undefined ? node : ["taskset", "-c", String(pinning.generator), ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000); // a hang guard: connecting 1,000 clients included
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"));
      else reject(new Error(`the fan-out load generator exited with ${code} (against ${url}, ${subscribers} subscribers)`));
    });
  });
}

export async function benchFanout(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      fanout: { type: "boolean" },
      subscribers: { type: "string", default: "10,100,1000" },
      size: { type: "string", default: "64" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      quick: { type: "boolean", default: false },
    },
  });
  const rounds = values.quick ? 1 : Number(values.rounds);
  const seconds = values.quick ? 1 : Number(values.seconds);
  const size = Number(values.size);
  const counts = values.subscribers.split(",").map(Number);

  const servers = new Map<Kind, { child: Child; url: string }>();
  try {
    for (const kind of KINDS) {
      const env: Record<string, string> = kind === "ws" ? { WS_NO_BUFFER_UTIL: "1" } : {};
      const child = startChild("fanout-server.ts", [kind === "ws-bufferutil" ? "ws" : kind], { env, ...(pinning === undefined ? {} : { cpu: pinning.server }) });
      const ready = await child.next<{ ready?: boolean; url?: string; failed?: string; bufferutil?: boolean }>();
      if (ready.url === undefined) throw new Error(`the ${kind} chat server did not start: ${ready.failed}`);
      if (kind !== "reference" && ready.bufferutil !== (kind === "ws-bufferutil")) throw new Error(`${LABEL[kind]}: bufferutil ${ready.bufferutil ? "loaded" : "missing"}`);
      servers.set(kind, { child, url: ready.url });
    }
    console.log(bold(`fan-out: one publisher, N subscribers in one room, ${size}-byte texts, ${rounds} round(s) of ${seconds} s, medians`));
    console.log(dim(pinning === undefined ? "no CPU pinning (one CPU, or no taskset)" : `servers on CPU ${pinning.server}, publisher and subscribers on CPU ${pinning.generator}`));
    console.log(`${"subscribers".padEnd(13)}${"server".padEnd(15)}${"deliveries/s".padStart(14)}${"msg/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"CPU".padStart(7)}`);
    for (const subscribers of counts) {
      const samples = new Map<Kind, Sample[]>(KINDS.map((k) => [k, []]));
      for (let round = 0; round < rounds; round++) {
        const order = [...KINDS.slice(round % KINDS.length), ...KINDS.slice(0, round % KINDS.length)];
        for (const kind of order) {
          const server = servers.get(kind)!;
          const before = await server.child.ask<{ cpu: number }>({ cmd: "usage" });
          const result = await load(server.url, subscribers, size, seconds);
          const after = await server.child.ask<{ cpu: number }>({ cmd: "usage" });
          samples.get(kind)!.push({ ...result, serverCpu: (after.cpu - before.cpu) / 1e6 / (seconds + 0.5) });
        }
      }
      const rates = new Map<Kind, number>();
      for (const kind of KINDS) {
        const s = samples.get(kind)!;
        const rate = median(s.map((x) => x.deliveriesPerSecond));
        rates.set(kind, rate);
        console.log(
          `${String(subscribers).padEnd(13)}${LABEL[kind].padEnd(15)}${fmt(rate).padStart(14)}${fmt(median(s.map((x) => x.messagesPerSecond))).padStart(9)}` +
            `${fmt(median(s.map((x) => x.p50)), 2).padStart(9)}${fmt(median(s.map((x) => x.p99)), 2).padStart(9)}${`${fmt(100 * median(s.map((x) => x.serverCpu)))}%`.padStart(7)}`,
        );
      }
      const ratio = (k: Kind) => fmt((rates.get("reference") ?? NaN) / (rates.get(k) ?? NaN), 2);
      console.log(dim(`${"".padEnd(13)}reference / ws ${ratio("ws")}×, reference / ws+bufferutil ${ratio("ws-bufferutil")}×`));
    }
  } finally {
    for (const { child } of servers.values()) await child.stop();
  }
}
