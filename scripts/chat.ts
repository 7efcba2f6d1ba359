/**
 * npm run chat -- [--port N] [--host H] [--impl chapters]
 *                 [--max-queued-bytes BYTES] [--history N] [--rate BURST/PERSECOND | --rate off]
 *                 [--allow-origin ORIGIN]... [--user NAME:PASSWORD]... [--max-connections N]
 *                 [--max-per-address N] [--handshake-rate BURST/PERSECOND | --handshake-rate off]
 *
 * Starts the chat server of chapter 13 (the reference, or with --impl
 * chapters your own) and prints its ws:// URL on stdout. It speaks chat.v1
 * (DESIGN.md): a client must offer that subprotocol. Ctrl-C (SIGINT) or
 * SIGTERM closes every member with 1001 and exits 0; a second Ctrl-C stops at once.
 *
 * Try it with two `ws` clients from a Node prompt, or the site's chat page.
 * With any option of chapter 14 (--allow-origin, --user, the limits), the
 * server is chapter 14's: the same chat behind its gate (403 for another
 * origin, 401 without credentials once --user is given, 429/503 past a limit),
 * with POST /login and POST /ticket.
 *
 * Chapter 15: --redis redis://127.0.0.1:6379 [--drain 10s] [--server-id NAME]
 * runs chapter 15's cluster server instead: its rooms on a Redis bus shared
 * with every other server given the same URL, GET /health, and on SIGTERM a
 * graceful shutdown (health 503, 1001 to every member spread over --drain).
 * It does not take chapter 14's options (its server is not behind the gate).
 */
import { parseArgs } from "node:util";
import type * as RoomsChapter from "../solutions/13-rooms.ts";
import type * as AccessChapter from "../solutions/14-access.ts";
import type * as ClusterChapter from "../solutions/15-cluster.ts";
import { parseDuration } from "./lib/duration.ts";
import { loadChapter, takeImplementation } from "./lib/impl.ts";
import { dim, red } from "./lib/terminal.ts";
import { stopOnSignals } from "./lib/stop-on-signal.ts";

try {
  const args = process.argv.slice(2);
  const impl = takeImplementation(args);
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8090" },
      host: { type: "string", default: "127.0.0.1" },
      "max-queued-bytes": { type: "string" },
      history: { type: "string" },
      rate: { type: "string" },
      // chapter 14
      "allow-origin": { type: "string", multiple: true },
      user: { type: "string", multiple: true },
      "max-connections": { type: "string" },
      "max-per-address": { type: "string" },
      "handshake-rate": { type: "string" },
      // chapter 15
      redis: { type: "string" },
      drain: { type: "string" },
      "server-id": { type: "string" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a TCP port`);
  const whole = (text: string | undefined, name: string) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} ${text} is not a whole number`);
    return n;
  };
  const maxQueuedBytes = whole(values["max-queued-bytes"], "--max-queued-bytes");
  const history = whole(values.history, "--history");
  let rate: RoomsChapter.HubOptions["rate"];
  if (values.rate === "off") rate = false;
  else if (values.rate !== undefined) {
    const found = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(values.rate);
    if (found === null) throw new Error(`--rate ${values.rate}: write BURST/PERSECOND (20/10), or off`);
    rate = { burst: Number(found[1]), perSecond: Number(found[2]) };
  }

  // Chapter 14's options: any of them puts the chat behind chapter 14's gate.
  const access: AccessChapter.AccessServerOptions = {};
  if (values["allow-origin"] !== undefined) access.allowOrigins = values["allow-origin"];
  if (values.user !== undefined) {
    access.users = Object.fromEntries(
      values.user.map((entry) => {
        const colon = entry.indexOf(":");
        if (colon < 1) throw new Error(`--user ${entry}: write NAME:PASSWORD`);
        return [entry.slice(0, colon), entry.slice(colon + 1)];
      }),
    );
  }
  const atLeastOne = (text: string | undefined, name: string) => {
    const n = whole(text, name);
    if (n === 0) throw new Error(`${name} 0 would let nobody in`);
    return n;
  };
  const maxConnections = atLeastOne(values["max-connections"], "--max-connections");
  const maxPerAddress = atLeastOne(values["max-per-address"], "--max-per-address");
  if (maxConnections !== undefined) access.maxConnections = maxConnections;
  if (maxPerAddress !== undefined) access.maxConnectionsPerAddress = maxPerAddress;
  if (values["handshake-rate"] === "off") access.handshakeRate = false;
  else if (values["handshake-rate"] !== undefined) {
    const found = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(values["handshake-rate"]);
    if (found === null || Number(found[1]) < 1 || Number(found[2]) <= 0) throw new Error(`--handshake-rate ${values["handshake-rate"]}: write BURST/PERSECOND (10/2), or off`);
    access.handshakeRate = { burst: Number(found[1]), perSecond: Number(found[2]) };
  }
  const gated = Object.keys(access).length > 0;
  const common = {
    ...(maxQueuedBytes === undefined ? {} : { maxQueuedBytes }),
    ...(history === undefined ? {} : { history }),
    ...(rate === undefined ? {} : { rate }),
    onClose: ({ id, code, reason }: { id: string; code: number; reason: string }) => {
      if (code !== 1000 && code !== 1001 && code !== 1005) console.error(dim(`${id} closed: ${code}${reason ? ` ${reason}` : ""}`));
    },
  };

  let server: { listen(port: number, host: string): Promise<string>; close(): Promise<unknown> };
  if (values.redis === undefined && gated) {
    // Chapter 14: the same chat behind the gate.
    const { createAccessServer } = await loadChapter<typeof AccessChapter>("14-access", impl);
    server = createAccessServer({ ...common, ...access, onRefused: ({ address, status, reason }) => console.error(dim(`${address} refused: ${status} ${reason}`)) });
  } else if (values.redis === undefined) {
    // One process (chapter 13): the rooms live in this process's memory.
    const { createChatServer } = await loadChapter<typeof RoomsChapter>("13-rooms", impl);
    server = createChatServer(common);
  } else {
    if (gated) throw new Error("--redis runs chapter 15's server, which is not behind chapter 14's gate: leave out --allow-origin, --user and the limits");
    // Chapter 15: the rooms live on a Redis bus that every server given this URL shares.
    if (!/^rediss?:\/\//.test(values.redis)) throw new Error(`--redis ${values.redis}: write a URL like redis://127.0.0.1:6379`);
    const drainMs = values.drain === undefined ? 10_000 : parseDuration(values.drain, "--drain");
    const { createClusterChatServer } = await loadChapter<typeof ClusterChapter>("15-cluster", impl);
    const cluster = createClusterChatServer({
      ...common,
      redisUrl: values.redis,
      ...(values["server-id"] === undefined ? {} : { serverId: values["server-id"] }),
      onBusHealth: (up, reason) => console.error(up ? dim(`the bus is up: ${reason}`) : red(`the bus is down: ${reason}`)),
    });
    server = { listen: (p, h) => cluster.listen(p, h), close: () => cluster.shutdown({ drainMs }) };
  }
  const url = await server.listen(port, values.host);
  console.log(url);
  const where = values.redis === undefined ? "in one process" : `on the Redis bus at ${values.redis}`;
  console.error(dim(`chat server (${impl}${gated ? ", chapter 14's gate" : ""}) listening ${where}, subprotocol chat.v1; Ctrl-C stops it`));

  stopOnSignals(server, "members");
} catch (error) {
  console.error(red(`npm run chat: ${(error as Error).message}`));
  process.exit(1);
}
