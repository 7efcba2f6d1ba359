/**
 * npm run cluster -- [--servers N] [--port P] [--drain 10s] [--impl chapters]
 *
 * Chapter 15 on one machine: starts a redis-server of its own, N chat servers
 * (`npm run chat -- --redis URL`, default 3) and HAProxy in front of them
 * (deploy/haproxy.cfg), all on 127.0.0.1, and prints the one ws:// URL to give
 * clients. Then:
 *   r + Enter (or SIGHUP)  restarts the servers one by one: SIGTERM, the server
 *                          drains with 1001 (spread over --drain, default 10 s),
 *                          starts again, is UP in haproxy, next;
 *   Ctrl-C (or SIGTERM)    stops everything it started, and exits 0.
 * Nothing system-wide is used: the ports are free ones, the files live in a
 * temporary folder removed at the end. Every wait is bounded and names what hung.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Cluster } from "./lib/cluster/cluster.ts";
import { takeImplementation } from "./lib/impl.ts";
import { installCommand, peer } from "./lib/system-peers.ts";
import { bold, dim, red } from "./lib/terminal.ts";

const say = (line: string) => console.error(dim(line));

let cluster: Cluster | undefined;
try {
  const args = process.argv.slice(2);
  const impl = takeImplementation(args);
  const { values } = parseArgs({ args, options: { servers: { type: "string", default: "3" }, port: { type: "string" }, drain: { type: "string" } } });
  const servers = Number(values.servers);
  if (!Number.isInteger(servers) || servers < 1 || servers > 16) throw new Error(`--servers ${values.servers}: a whole number from 1 to 16`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new Error(`--port ${values.port} is not a TCP port`);
  const missing = [peer("redis-server"), peer("haproxy")].filter((p) => !p.present());
  if (missing.length > 0) throw new Error(`${missing.map((p) => p.name).join(" and ")} missing; install with: ${installCommand(missing)}`);

  cluster = await Cluster.start({
    servers,
    impl,
    ...(port === undefined ? {} : { port }),
    ...(values.drain === undefined ? {} : { drain: values.drain }),
    log: say,
  });
  console.log(cluster.url);
  say(`${servers} chat servers (${impl}) behind haproxy, one Redis. r + Enter (or kill -HUP ${process.pid}): rolling restart; Ctrl-C: stop`);
} catch (error) {
  console.error(red(`npm run cluster: ${(error as Error).message}`));
  await cluster?.stop().catch(() => {});
  process.exit(1);
}

const running = cluster;
let restarting: Promise<void> | undefined;
let stopping = false;

function restart(): void {
  if (stopping) return;
  if (restarting !== undefined) {
    say("a rolling restart is already under way");
    return;
  }
  const started = Date.now();
  restarting = running
    .rollingRestart()
    .then(() => say(`rolling restart done in ${((Date.now() - started) / 1000).toFixed(1)} s; every server UP`))
    .catch((error: Error) => console.error(red(`rolling restart failed: ${error.message}`)))
    .finally(() => (restarting = undefined));
}

async function stop(signal: string): Promise<void> {
  if (stopping) {
    console.error(red(`${signal} again: killing everything at once`));
    process.exit(1); // the exit hook (lib/cluster/child.ts) SIGKILLs every child still running
  }
  stopping = true;
  say(`${signal}: stopping the servers (1001 to their members), then haproxy, then Redis`);
  await restarting;
  await running.stop();
  say("stopped; nothing left running");
  process.exit(0);
}

process.on("SIGHUP", restart);
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
// stdin: `r` restarts. Without a terminal or a pipe (stdin closed at once), only the signals work.
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "r") restart();
  else if (line.trim() !== "") say(`${bold("r")} + Enter restarts the servers one by one; Ctrl-C stops`);
});
