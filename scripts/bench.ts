/**
 * npm run bench [-- --quick] [--with-bufferutil] [--binary] [--rounds N] [--seconds S]
 *                  [--sizes 32,1K,64K,1M] [--connections 1,50]
 *
 * An echo benchmark over loopback: the reference echo server
 * (solutions/08-echo-server.ts), yours (chapters/08-echo-server.ts, once your
 * chapters are done), the `ws` package's, and a raw TCP echo (the handshake,
 * then the bytes piped back: the limit no WebSocket server can pass; each
 * server's share of it is printed), each in its own process, driven
 * by a load generator of our own (scripts/lib/bench/load.ts) in another.
 * With two CPUs or more, servers run on CPU 0 and the generator on CPU 1
 * (taskset), so neither steals the other's core.
 *
 * For every scenario (message size × connections), in every round, the
 * servers take turns, in a different order each round. The table gives the
 * median over the rounds of messages/s, MB/s (payload bytes echoed per
 * second), the p50/p99 round trip and the CPU each side used, then the ratio
 * reference / ws. A run during which other processes took more than a
 * quarter of a CPU is run again (this machine may be shared).
 * Then: GB/s of the loops that see every byte (masking, the UTF-8 check), and
 * the memory an idle connection costs.
 *
 *   --quick            one round of 1 s runs: under a minute, indicative only
 *   --with-bufferutil  adds ws with its native addon, bufferutil, as a fourth server
 *   --binary           binary messages instead of text
 *   --rounds N         rounds (default 3)
 *   --seconds S        timed seconds per run (default 2; --quick 1)
 *   --sizes, --connections   another matrix (sizes in bytes, K or M suffix)
 *   --idle N           idle connections measured for the memory figure (default 1000; 10000
 *                      for idle capacity), after a first 1000 that are not counted
 *   --cpu-prof         servers run under `node --cpu-prof`; where each spent its busy
 *                      time is printed at the end (profiles in .cache/profiles/)
 *   --deflate          permessage-deflate on (chapter 12): the reference (and its per-message
 *                      path) against ws, on compressible text and binary, 16 B to 1 MiB
 *                      (scripts/lib/bench/deflate.ts)
 *   --fanout           broadcast (chapter 13): one publisher, 10/100/1000 subscribers, the
 *                      reference chat server against ws (scripts/lib/bench/fanout.ts)
 *   --cluster          fan-out through Redis (chapter 15): one process, one process with
 *                      Redis, three processes with Redis (scripts/lib/bench/cluster.ts)
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pinning, runScript, startChild, type Child } from "./lib/bench/children.ts";
import { topFunctions } from "./lib/bench/profile.ts";
import { root } from "./lib/workbook.ts";
import type { Command, RunResult } from "./lib/bench/load.ts";
import type { ServerKind, Usage } from "./lib/bench/server.ts";
import type { MessageType } from "./lib/bench/wire.ts";
import { bold, dim, red } from "./lib/terminal.ts";

const IDLE_CONNECTIONS = 1000;
/** Runs during which other processes took more than this (in CPUs) are run again, at most MAX_RETRIES times. */
const FOREIGN_LIMIT = 0.25;
const MAX_RETRIES = 2;
const LABEL: Record<ServerKind, string> = {
  reference: "reference",
  chapters: "yours",
  ws: "ws",
  "ws-bufferutil": "ws+bufferutil",
  "raw-tcp": "raw TCP",
};

/** Messages in flight per connection: 16, or fewer for large messages (about 1 MiB in flight), but at least 2. */
const windowFor = (size: number) => Math.max(2, Math.min(16, Math.floor((1024 * 1024) / size)));

const sizeName = (n: number) => (n >= 1024 * 1024 ? `${n / 1024 / 1024} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`);
const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, digits = 0) =>
  Number.isFinite(x) ? x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–";
const pad = (s: string, n: number) => s.padStart(n);
const percent = (x: number) => `${fmt(100 * x)}%`;
const progress = (line: string) => process.stderr.write(dim(`${line}\n`));

interface Scenario {
  size: number;
  connections: number;
}
interface Sample extends RunResult {
  /** CPU the server used during warm-up and timed part, as a fraction of one CPU. */
  serverCpu: number;
  /** CPU other processes took meanwhile, in CPUs (0.3: 30 % of one); NaN where /proc/stat is missing. */
  foreign: number;
}
type Options = ReturnType<typeof parse>;

function parse() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      "with-bufferutil": { type: "boolean", default: false },
      binary: { type: "boolean", default: false },
      rounds: { type: "string" },
      seconds: { type: "string" },
      sizes: { type: "string", default: "32,1K,64K,1M" },
      connections: { type: "string", default: "1,50" },
      "cpu-prof": { type: "boolean", default: false },
      idle: { type: "string", default: String(IDLE_CONNECTIONS) },
    },
  });
  const idle = Number(values.idle);
  if (!Number.isInteger(idle) || idle < 1) throw new Error(`--idle ${values.idle} is not a number of connections`);
  const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
  const seconds = Number(values.seconds ?? (values.quick ? 1 : 2));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds} is not a whole number ≥ 1`);
  if (!(seconds > 0)) throw new Error(`--seconds ${values.seconds} is not a positive number`);
  const sizes = values.sizes.split(",").map((s) => {
    const n = Number(s.replace(/[KM]$/i, "")) * (/K$/i.test(s) ? 1024 : /M$/i.test(s) ? 1024 * 1024 : 1);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes: ${s} is not a message size`);
    return n;
  });
  const connections = values.connections.split(",").map((s) => {
    if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(`--connections: ${s} is not a number of connections`);
    return Number(s);
  });
  return {
    cpuProf: values["cpu-prof"],
    idle,
    quick: values.quick,
    rounds,
    durationMs: seconds * 1000,
    warmupMs: values.quick ? 250 : 500,
    type: (values.binary ? "binary" : "text") as MessageType,
    kinds: ["reference", "chapters", "ws", ...(values["with-bufferutil"] ? ["ws-bufferutil"] : []), "raw-tcp"] as ServerKind[],
    scenarios: sizes.flatMap((size) => connections.map((n) => ({ size, connections: n }))) as Scenario[],
  };
}

/**
 * Busy CPU time of the whole machine so far, in µs, from /proc/stat (Linux;
 * undefined elsewhere). Set against what the server and the generator used,
 * it tells whether other processes took CPU during a run.
 */
function machineBusy(): number | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / 100; // 100 ticks per second (USER_HZ)
  } catch {
    return undefined;
  }
}

interface Server {
  kind: ServerKind;
  child: Child;
  url: string;
}

/** Starts a server of `kind` in its own process; resolves with it, or with the reason it could not start. */
async function startServer(kind: ServerKind, nodeOptions: string[] = []): Promise<Server | string> {
  const child = startChild("server.ts", [kind], {
    ...(pinning ? { cpu: pinning.server } : {}),
    // Plain ws must run without its native addon, though bufferutil is installed.
    env: kind === "ws" ? { WS_NO_BUFFER_UTIL: "1" } : {},
    nodeOptions,
  });
  const hello = await child.next<{ ready?: true; url?: string; bufferutil?: boolean; failed?: string }>();
  if (hello.ready === undefined) {
    await child.stop();
    return hello.failed ?? "it did not start";
  }
  if (hello.bufferutil !== (kind === "ws-bufferutil")) {
    await child.stop();
    throw new Error(`${LABEL[kind]} ${hello.bufferutil ? "loaded" : "did not load"} bufferutil`);
  }
  return { kind, child, url: hello.url! };
}

const usage = async (server: Server) => (await server.child.ask<{ usage: Usage }>({ cmd: "usage" })).usage;

async function ask<T>(generator: Child, command: Command): Promise<T> {
  const reply = await generator.ask<{ ok: boolean; result: T; error?: string; failed?: string }>(command);
  if (!reply.ok) throw new Error(reply.error ?? reply.failed ?? "the load generator failed");
  return reply.result;
}

/** One timed run of `scenario` against `server`, with the CPU each side used and what others took meanwhile. */
async function measure(generator: Child, server: Server, scenario: Scenario, options: Options): Promise<Sample> {
  const busy0 = machineBusy();
  const own0 = process.cpuUsage();
  const wall0 = performance.now();
  const before = await usage(server);
  const result = await ask<RunResult>(generator, {
    cmd: "run",
    url: server.url,
    raw: server.kind === "raw-tcp",
    type: options.type,
    size: scenario.size,
    connections: scenario.connections,
    window: windowFor(scenario.size),
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
  });
  const serverCpu = (await usage(server)).cpu - before.cpu;
  const own = process.cpuUsage(own0);
  const wall = (performance.now() - wall0) * 1000;
  const busy1 = machineBusy();
  const ours = serverCpu + result.cpuTotal + own.user + own.system;
  const foreign = busy0 === undefined || busy1 === undefined ? NaN : Math.max(0, busy1 - busy0 - ours) / wall;
  return { ...result, serverCpu: serverCpu / 1e6 / (result.seconds + options.warmupMs / 1000), foreign };
}

/** A run, run again (at most MAX_RETRIES times) while other processes took too much CPU; the least disturbed is kept. */
async function measureUndisturbed(generator: Child, server: Server, scenario: Scenario, options: Options): Promise<Sample> {
  let sample = await measure(generator, server, scenario, options);
  for (let retry = 0; retry < MAX_RETRIES && sample.foreign > FOREIGN_LIMIT; retry++) {
    progress(`  other processes took ${percent(sample.foreign)} of a CPU during that run: once more`);
    const again = await measure(generator, server, scenario, options);
    if (again.foreign < sample.foreign) sample = again;
  }
  return sample;
}

/** GB/s of the loops that see every byte: masking (chapter 03) and the UTF-8 check (chapter 05). */
async function perByteBenchmark(quick: boolean): Promise<void> {
  const out = await runScript("per-byte.ts", [quick ? "150" : "400"], { WS_NO_BUFFER_UTIL: "1" });
  type Results = Record<string, Record<string, number> | { error: string }>;
  const results = JSON.parse(out) as { mask: Results; utf8: Results };
  const table = (title: string, rows: Results, chapter: string) => {
    console.log(bold(`\n${title}`));
    console.log(`  ${"".padEnd(26)}${pad("1 KiB", 9)}${pad("1 MiB", 9)}`);
    for (const [name, result] of Object.entries(rows)) {
      if ("error" in result) {
        const error = String(result.error);
        const why = name.startsWith("your ") && error.startsWith("NotImplementedError") ? `chapter ${chapter} is not done yet` : error;
        console.log(dim(`  ${name.padEnd(26)}skipped: ${why}`));
        continue;
      }
      console.log(`  ${name.padEnd(26)}${pad(fmt(result["1024"]!, 2), 9)}${pad(fmt(result["1048576"]!, 2), 9)}`);
    }
  };
  table("Masking: GB/s of an unmask in place", results.mask, "03");
  table("UTF-8 check: GB/s on the benchmark's text (JSON-like, mostly ASCII)", results.utf8, "05");
}

async function memoryBenchmark(kinds: ServerKind[], generator: Child, repeats: number, counted: number): Promise<void> {
  const what = repeats > 1 ? `median of ${repeats} fresh servers each` : "one fresh server each";
  console.log(
    bold(`\nMemory per idle connection: growth over ${counted} idle connections opened after ${IDLE_CONNECTIONS} others, after a full GC; ${what}`),
  );
  console.log(dim("  (servers run with --expose-gc --max-semi-space-size=1 for this part only: see memoryBenchmark)"));
  console.log(`  ${"".padEnd(15)}${pad("RSS", 10)}${pad("JS heap + external", 20)}`);
  const growth = new Map<ServerKind, { rss: number[]; heap: number[] }>(kinds.map((kind) => [kind, { rss: [], heap: [] }]));
  for (let round = 0; round < repeats; round++) {
    for (const kind of kinds) {
      // A fresh process, so the figure is not blurred by what earlier runs left in the heap;
      // with a young generation of 1 MiB, so that it counts what a connection keeps, not the
      // garbage its handshake made (a default young generation grows by 8 MiB meanwhile, and
      // its pages, touched as garbage is made, would count as growth).
      const server = await startServer(kind, ["--expose-gc", "--max-semi-space-size=1"]);
      if (typeof server === "string") continue;
      try {
        // A first thousand, not counted, takes the one-time costs: code compiled on first use,
        // and the young generation growing to its working size (8 MiB, the same for every server).
        await ask(generator, { cmd: "idle-open", url: server.url, count: IDLE_CONNECTIONS });
        await new Promise((r) => setTimeout(r, 300));
        const before = await usage(server);
        await ask(generator, { cmd: "idle-open", url: server.url, count: counted });
        await new Promise((r) => setTimeout(r, 300));
        const after = await usage(server);
        await ask(generator, { cmd: "idle-close" });
        growth.get(kind)!.rss.push((after.rss - before.rss) / counted / 1024);
        growth.get(kind)!.heap.push((after.heapUsed + after.external - before.heapUsed - before.external) / counted / 1024);
      } finally {
        await server.child.stop();
      }
    }
  }
  for (const [kind, { rss, heap }] of growth) {
    console.log(`  ${LABEL[kind].padEnd(15)}${pad(`${fmt(median(rss), 1)} KiB`, 10)}${pad(`${fmt(median(heap), 1)} KiB`, 20)}`);
  }
}

function printTable(options: Options, servers: Server[], samples: Map<string, Sample[]>, key: (s: Scenario, kind: ServerKind) => string): void {
  console.log(
    bold(`\nEcho, ${options.type} messages: median of ${options.rounds} round(s)`) +
      dim("  (MB/s: payload bytes echoed per second; round trip: from the write of a message to the read that completes its echo)"),
  );
  console.log(
    `  ${"scenario".padEnd(16)}${"server".padEnd(15)}${pad("msg/s", 10)}${pad("MB/s", 9)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}` +
      `${pad("server CPU", 12)}${pad("gen CPU", 9)}${pad("of raw TCP", 12)}`,
  );
  const ratios: { scenario: Scenario; ratio: number; vsNative: number }[] = [];
  const rate = (s: Sample) => s.messages / s.seconds;
  for (const scenario of options.scenarios) {
    const name = `${sizeName(scenario.size)} × ${scenario.connections}`;
    const medians = new Map<ServerKind, number>();
    const raw = median((samples.get(key(scenario, "raw-tcp")) ?? []).map(rate));
    servers.forEach((server, i) => {
      const list = samples.get(key(scenario, server.kind)) ?? [];
      const msgs = median(list.map(rate));
      medians.set(server.kind, msgs);
      const share = server.kind === "raw-tcp" ? "" : percent(msgs / raw);
      console.log(
        `  ${(i === 0 ? name : "").padEnd(16)}${LABEL[server.kind].padEnd(15)}${pad(fmt(msgs), 10)}` +
          `${pad(fmt((msgs * scenario.size) / 1e6, 1), 9)}${pad(fmt(median(list.map((s) => s.p50)), 2), 9)}` +
          `${pad(fmt(median(list.map((s) => s.p99)), 2), 9)}${pad(percent(median(list.map((s) => s.serverCpu))), 12)}` +
          `${pad(percent(median(list.map((s) => s.cpu))), 9)}${pad(share, 12)}`,
      );
    });
    const ratio = medians.get("reference")! / medians.get("ws")!;
    const ws = samples.get(key(scenario, "ws")) ?? [];
    const perRound = (samples.get(key(scenario, "reference")) ?? []).map((s, r) => rate(s) / rate(ws[r]!));
    const vsNative = medians.get("reference")! / (medians.get("ws-bufferutil") ?? NaN);
    ratios.push({ scenario, ratio, vsNative });
    const spread = options.rounds > 1 ? dim(`  (each round: ${perRound.map((r) => fmt(r, 2)).join(", ")})`) : "";
    const native = Number.isNaN(vsNative) ? "" : `, reference / ws+bufferutil ${fmt(vsNative, 2)}×`;
    console.log(`  ${"".padEnd(16)}${bold(`reference / ws ${fmt(ratio, 2)}×`)}${native}${spread}`);
  }
  const worst = ratios.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  const where = `${sizeName(worst.scenario.size)} × ${worst.scenario.connections}`;
  console.log(
    bold(`\nreference / ws, msg/s: worst ${fmt(worst.ratio, 2)}× (${where}), median ${fmt(median(ratios.map((r) => r.ratio)), 2)}× over ${ratios.length} scenarios`),
  );
  if (servers.some((s) => s.kind === "ws-bufferutil")) {
    const big = ratios.filter((r) => r.scenario.size >= 64 * 1024);
    const bigText = big.length === 0 ? "" : `; ${big.map((r) => `${sizeName(r.scenario.size)} × ${r.scenario.connections}: ${fmt(r.vsNative, 2)}×`).join(", ")}`;
    console.log(bold(`reference / ws+bufferutil, msg/s: median ${fmt(median(ratios.map((r) => r.vsNative)), 2)}×${bigText}`));
  }
}

const PROFILES = join(root, ".cache/profiles");

/** The main thread's profile in `dir`: Node names it CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile, thread 0. */
function mainThreadProfile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const name = readdirSync(dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  return name === undefined ? undefined : join(dir, name);
}

/** Where each server spent its busy time during the whole run, from its CPU profile. */
function printProfiles(kinds: ServerKind[]): void {
  for (const kind of kinds) {
    const file = mainThreadProfile(join(PROFILES, kind));
    if (file === undefined) {
      console.log(dim(`\n${LABEL[kind]}: no profile was written`));
      continue;
    }
    const { lines, busyMs, idleMs } = topFunctions(file);
    console.log(bold(`\nProfile of ${LABEL[kind]}: self time, busy ${fmt(busyMs)} ms, idle ${fmt(idleMs)} ms`) + dim(`  (${file.slice(root.length + 1)})`));
    for (const line of lines) console.log(`  ${pad(percent(line.share), 5)}  ${pad(fmt(line.ms), 7)} ms  ${line.where}`);
  }
}

async function main(): Promise<void> {
  const options = parse();
  const started = Date.now();
  console.log(bold("npm run bench: echo over loopback, every server and the load generator in a process of its own"));
  console.log(
    pinning
      ? `  servers pinned to CPU ${pinning.server}, the load generator (one process) to CPU ${pinning.generator}, with taskset`
      : "  not pinned (one CPU, or no taskset): servers and load generator share the CPUs, so figures are rougher",
  );
  console.log(
    `  ${options.type} messages; ${options.rounds} round(s), servers taking turns; ` +
      `${options.warmupMs / 1000} s warm-up + ${options.durationMs / 1000} s timed per run; ` +
      `window: 16 messages in flight per connection (2 for 1 MiB)`,
  );

  const generator = startChild("load.ts", [], pinning ? { cpu: pinning.generator } : {});
  await generator.next();
  const servers: Server[] = [];
  try {
    if (options.cpuProf) rmSync(PROFILES, { recursive: true, force: true });
    for (const kind of options.kinds) {
      // A directory per server, no --cpu-prof-name: tsx's loader runs in a thread
      // of its own, whose profile would overwrite the main thread's under one name.
      const profiling = options.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${join(PROFILES, kind)}`] : [];
      const server = await startServer(kind, profiling);
      const sizes = [...new Set(options.scenarios.map((s) => s.size))];
      // Every server must echo one message of each size exactly before it is timed.
      const why =
        typeof server === "string"
          ? server
          : await ask(generator, { cmd: "probe", url: server.url, type: options.type, sizes, raw: kind === "raw-tcp" }).then(() => undefined, (e: Error) => e.message);
      if (why === undefined && typeof server !== "string") {
        servers.push(server);
        continue;
      }
      if (typeof server !== "string") await server.child.stop();
      if (kind !== "chapters") throw new Error(`the ${LABEL[kind]} server does not work: ${why}`);
      const reason = why?.startsWith("NotImplementedError") ? "your chapters are not done yet" : `your server does not echo yet: ${why}`;
      console.log(`  yours: skipped, ${reason} (npm run grade shows what is left)`);
    }
    console.log(`  servers: ${servers.map((s) => LABEL[s.kind]).join(", ")} (ws without bufferutil: WS_NO_BUFFER_UTIL=1, checked)`);

    const samples = new Map<string, Sample[]>();
    const key = (s: Scenario, kind: ServerKind) => `${s.size}/${s.connections}/${kind}`;
    for (let round = 0; round < options.rounds; round++) {
      for (const scenario of options.scenarios) {
        // Each round starts with a different server, so that none always goes first.
        const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
        for (const server of order) {
          const sample = await measureUndisturbed(generator, server, scenario, options);
          samples.set(key(scenario, server.kind), [...(samples.get(key(scenario, server.kind)) ?? []), sample]);
          progress(
            `round ${round + 1}/${options.rounds}  ${sizeName(scenario.size).padStart(7)} × ${String(scenario.connections).padStart(2)}  ` +
              `${LABEL[server.kind].padEnd(13)} ${pad(fmt(sample.messages / sample.seconds), 9)} msg/s  ` +
              `CPU: server ${percent(sample.serverCpu)}, generator ${percent(sample.cpu)}, others ${percent(sample.foreign)}`,
          );
        }
      }
    }

    printTable(options, servers, samples, key);
    if (options.cpuProf) {
      // The profiles are written when the servers exit.
      await Promise.all(servers.map((s) => s.child.stop()));
      printProfiles(servers.map((s) => s.kind));
    }
    await perByteBenchmark(options.quick);
    // The raw TCP echo keeps nothing per connection worth comparing: memory is for WebSocket servers.
    await memoryBenchmark(servers.map((s) => s.kind).filter((k) => k !== "raw-tcp"), generator, options.quick ? 1 : 3, options.idle);
    console.log(dim(`\n(${Math.round((Date.now() - started) / 1000)} s)`));
  } finally {
    await Promise.all([...servers.map((s) => s.child.stop()), generator.stop()]);
  }
}

try {
  // --deflate is a benchmark of its own (chapter 12): the reference against ws, both compressing.
  if (process.argv.includes("--deflate")) await (await import("./lib/bench/deflate.ts")).benchDeflate(process.argv.slice(2));
  // --fanout too (chapter 13): one publisher, N subscribers, the reference chat server against ws.
  else if (process.argv.includes("--fanout")) await (await import("./lib/bench/fanout.ts")).benchFanout(process.argv.slice(2));
  // --cluster (chapter 15): the fan-out through Redis, across processes.
  else if (process.argv.includes("--cluster")) await (await import("./lib/bench/cluster.ts")).benchCluster(process.argv.slice(2));
  else await main();
} catch (error) {
  console.error(red(`npm run bench: ${(error as Error).message}`));
  process.exitCode = 1;
}
