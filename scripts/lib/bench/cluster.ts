/**
 * npm run bench -- --cluster [--subscribers 3,300] [--size 64] [--rounds N] [--seconds S] [--quick]
 *
 * Fan-out through Redis (chapter 15): one publisher, N subscribers in one
 * room, on three set-ups of the reference chat server (`npm run chat`):
 *   1 process          the in-process bus: chapter 13's broadcast, the baseline;
 *   1 process + Redis  the same server with --redis: every message goes to
 *                      Redis and back before anyone gets it (the bus's own cost);
 *   3 processes + Redis  three servers, the subscribers dealt to them in turn,
 *                      the publisher on the first: a message crosses processes.
 * Subscribers connect to each server directly (no balancer: its hop is not
 * what is measured). The load generator is fanout-load.ts, as for --fanout.
 * With 3 subscribers (one per server) messages are many and deliveries few:
 * Redis's CPU per message is measured there; with 300, the servers' fan-out.
 * For each: deliveries per second (one message to one subscriber), messages
 * per second, p50/p99 delivery latency, and the CPU time every process of the
 * set-up used (servers and redis-server, from /proc), per delivery and per
 * message: CPU time is what stays true on a loaded machine, where rates do not.
 * Then the memory a joined, idle member costs a server, and this machine's
 * ephemeral port range: the figures the chapter's "Past one machine" page uses.
 *
 * What two cores cannot show: three servers plus Redis plus the generator on
 * two CPUs share them, so "3 processes" can't deliver more per second than one
 * here; its CPU per delivery, and Redis's CPU per message, are what carry over
 * to a machine with a core per process.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { ChatServerProcess } from "../cluster/chat-server.ts";
import { RedisServer } from "../cluster/redis.ts";
import { installCommand, peer } from "../system-peers.ts";
import { bold, dim } from "../terminal.ts";
import { root } from "../workbook.ts";

const SETUPS = ["1 process", "1 process + Redis", "3 processes + Redis"] as const;
type Setup = (typeof SETUPS)[number];

interface Sample {
  deliveriesPerSecond: number;
  messagesPerSecond: number;
  p50: number;
  p99: number;
  /** CPU seconds of the servers, and of redis-server, over the run. */
  serversCpu: number;
  redisCpu: number;
  deliveries: number;
  messages: number;
}

const TICKS_PER_SECOND = 100; // Linux's USER_HZ, what /proc/<pid>/stat counts in

/** CPU seconds a process used so far (user + system), from /proc; NaN where there is no /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime: fields 14 and 15 of the line
  } catch {
    return NaN;
  }
}

/** Resident memory of a process in bytes (VmRSS), or NaN. */
function rss(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const found = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return found === null ? NaN : Number(found[1]) * 1024;
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–");

/**
 * Runs the load generator against `urls`; `mark` is called as its timed part
 * starts and ends (so CPU time is read over exactly that part).
 */
function load(urls: string[], subscribers: number, size: number, seconds: number, mark: (counting: boolean) => void) {
  const args = ["--import", "tsx", join(root, "scripts/lib/bench/fanout-load.ts"), urls.join(","), String(subscribers), String(size), String(seconds)];
  return new Promise<{ deliveriesPerSecond: number; messagesPerSecond: number; p50: number; p99: number }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const lines = out.split("\n");
      out = lines.pop() ?? "";
      for (const line of lines) {
        const message = JSON.parse(line) as { counting?: boolean };
        if (message.counting !== undefined) mark(message.counting);
        else result = message as typeof result;
      }
    });
    let result: { deliveriesPerSecond: number; messagesPerSecond: number; p50: number; p99: number } | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 90) * 1000); // a hang guard, connecting included
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`the fan-out load generator exited with ${String(code)} (against ${urls.join(", ")})`));
    });
  });
}

/** RSS growth of one server per joined, idle member, over `count` members (after a first 200 not counted). */
async function memoryPerMember(server: ChatServerProcess, count: number): Promise<number> {
  const open = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () => {
        const ws = new WebSocket(server.url, ["chat.v1"], { perMessageDeflate: false });
        return new Promise<WebSocket>((resolve, reject) =>
          ws.once("open", () => {
            ws.once("message", () => resolve(ws));
            ws.send(JSON.stringify({ type: "join", room: "idle" }));
          }).once("error", reject),
        );
      }),
    );
  const all: WebSocket[] = [];
  for (let i = 0; i < 200; i += 100) all.push(...(await open(100)));
  await new Promise((r) => setTimeout(r, 500));
  const before = rss(server.pid);
  for (let i = 0; i < count; i += 100) all.push(...(await open(Math.min(100, count - i))));
  await new Promise((r) => setTimeout(r, 500));
  const after = rss(server.pid);
  for (const ws of all) ws.terminate();
  return (after - before) / count;
}

export async function benchCluster(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      cluster: { type: "boolean" },
      subscribers: { type: "string", default: "3,300" },
      size: { type: "string", default: "64" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      quick: { type: "boolean", default: false },
    },
  });
  if (!peer("redis-server").present()) throw new Error(`--cluster needs redis-server: ${installCommand([peer("redis-server")])}`);
  const rounds = values.quick ? 1 : Number(values.rounds);
  const seconds = values.quick ? 1 : Number(values.seconds);
  const size = Number(values.size);
  const counts = values.subscribers.split(",").map(Number);
  for (const n of counts) if (!Number.isInteger(n) || n < 3) throw new Error(`--subscribers ${values.subscribers}: each at least 3 (one per server)`);

  const dir = mkdtempSync(join(tmpdir(), "workbook-bench-cluster-"));
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const redis = await RedisServer.start(dir);
    started.push(redis);
    // As --fanout does: no rate limit (one publisher says as fast as the window lets it) and room to queue.
    const extraArgs = ["--rate", "off", "--max-queued-bytes", String(64 * 1024 * 1024)];
    const alone = await ChatServerProcess.start("alone", { impl: "solutions", extraArgs });
    started.push(alone);
    const withRedis: ChatServerProcess[] = [];
    for (let i = 1; i <= 3; i++) {
      const server = await ChatServerProcess.start(`chat${i}`, { impl: "solutions", redisUrl: redis.url, extraArgs });
      withRedis.push(server);
      started.push(server);
    }
    const serversOf: Record<Setup, ChatServerProcess[]> = {
      "1 process": [alone],
      "1 process + Redis": withRedis.slice(0, 1),
      "3 processes + Redis": withRedis,
    };

    console.log(bold(`cluster fan-out: one publisher, N subscribers in one room, ${size}-byte texts, ${rounds} round(s) of ${seconds} s, medians`));
    console.log(dim("no CPU pinning: servers, redis-server and the load generator share this machine's CPUs; CPU time per delivery is the figure that carries over"));
    console.log(
      `${"subscribers".padEnd(13)}${"set-up".padEnd(21)}${"deliveries/s".padStart(13)}${"msg/s".padStart(8)}${"p50 ms".padStart(10)}${"p99 ms".padStart(10)}` +
        `${"servers µs/delivery".padStart(21)}${"Redis µs/msg".padStart(14)}`,
    );
    for (const subscribers of counts) {
      const samples = new Map<Setup, Sample[]>(SETUPS.map((s) => [s, []]));
      for (let round = 0; round < rounds; round++) {
        const order = [...SETUPS.slice(round % SETUPS.length), ...SETUPS.slice(0, round % SETUPS.length)];
        for (const setup of order) {
          const servers = serversOf[setup];
          const cpu = () => servers.reduce((sum, s) => sum + cpuSeconds(s.pid), 0);
          const usesRedis = setup !== "1 process";
          let [serversBefore, redisBefore, serversAfter, redisAfter] = [NaN, NaN, NaN, NaN];
          const result = await load(servers.map((s) => s.url), subscribers, size, seconds, (counting) => {
            if (counting) [serversBefore, redisBefore] = [cpu(), cpuSeconds(redis.pid)];
            else [serversAfter, redisAfter] = [cpu(), cpuSeconds(redis.pid)];
          });
          // CPU time over the timed part only (/proc counts in 10 ms ticks: runs of a few seconds are needed).
          const deliveries = result.deliveriesPerSecond * seconds;
          samples.get(setup)!.push({
            ...result,
            serversCpu: serversAfter - serversBefore,
            redisCpu: usesRedis ? redisAfter - redisBefore : NaN,
            deliveries,
            messages: deliveries / subscribers,
          });
        }
      }
      for (const setup of SETUPS) {
        const s = samples.get(setup)!;
        console.log(
          `${String(subscribers).padEnd(13)}${setup.padEnd(21)}${fmt(median(s.map((x) => x.deliveriesPerSecond))).padStart(13)}${fmt(median(s.map((x) => x.messagesPerSecond))).padStart(8)}` +
            `${fmt(median(s.map((x) => x.p50)), 2).padStart(10)}${fmt(median(s.map((x) => x.p99)), 2).padStart(10)}` +
            `${fmt(median(s.map((x) => (1e6 * x.serversCpu) / x.deliveries)), 1).padStart(21)}${fmt(median(s.map((x) => (1e6 * x.redisCpu) / x.messages)), 1).padStart(14)}`,
        );
      }
    }

    // A server of its own, fresh: the fan-out above grew the others' heaps, and a collection
    // shrinking one of them during the count would hide what a member costs (it did: a negative figure).
    const fresh = await ChatServerProcess.start("memory", { impl: "solutions", redisUrl: redis.url, extraArgs });
    started.push(fresh);
    const members = values.quick ? 2000 : 5000;
    const perMember = await memoryPerMember(fresh, members);
    const shown = perMember > 0 ? `${fmt(perMember / 1024, 1)} KiB` : "not measured (the server's RSS shrank during the count: run it again)";
    console.log(bold(`\nMemory per joined, idle member of one server (--redis): ${shown}`) + dim(` (RSS growth of a fresh server over ${members} members, after 200 not counted; no forced GC)`));
    let range = "unknown (no /proc/sys/net/ipv4/ip_local_port_range)";
    try {
      const [low = 0, high = 0] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
      range = `${low}–${high}: ${fmt(high - low + 1)} source ports per (balancer address, server address and port)`;
    } catch {}
    console.log(bold(`Ephemeral ports here: ${range}`));
  } finally {
    for (const child of started.reverse()) await child.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
