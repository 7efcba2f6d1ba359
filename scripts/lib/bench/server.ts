/**
 * One echo server for `npm run bench`, in its own process (pinned to its own
 * CPU when the orchestrator can): `reference` (solutions/08-echo-server.ts),
 * `chapters` (the reader's), `ws` (the ws package, default options,
 * perMessageDeflate off) or `ws-bufferutil` (the same, with its native
 * addon), or `raw-tcp`: the opening handshake, then every byte piped back as
 * it came, no WebSocket at all: the physical limit of this machine's loopback
 * and event loop, which no WebSocket server can beat.
 * Plain `ws` is started with WS_NO_BUFFER_UTIL=1 by the orchestrator;
 * this process reports whether bufferutil got loaded, so the table can say so.
 *
 * IPC: sends { ready, url, bufferutil } or { failed }; answers "usage"
 * (CPU time and memory, after a full GC when --expose-gc is on).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createServer as createTcpServer, type Socket } from "node:net";
import type * as EchoServerChapter from "../../../solutions/08-echo-server.ts";
import { loadChapter } from "../impl.ts";

export const SERVER_KINDS = ["reference", "chapters", "ws", "ws-bufferutil", "raw-tcp"] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export interface Usage {
  /** process.cpuUsage(), user + system, in µs. */
  cpu: number;
  rss: number;
  heapUsed: number;
  external: number;
}

const require = createRequire(import.meta.url);

/**
 * The floor under every WebSocket server: read the upgrade request, answer
 * 101 with the accept value (RFC 6455 §4.2.2), then pipe the socket into
 * itself. The generator gets its own masked frames back and reads them as such.
 */
function startRawTcp(): Promise<string> {
  const server = createTcpServer({ noDelay: true }, (socket: Socket) => {
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head.subarray(0, end).toString("latin1"))?.[1] ?? "";
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.write(rest);
      socket.pipe(socket); // backpressure included: pipe pauses the reading side while the writing side is full
    };
    socket.on("data", onData);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("not a TCP server"));
      resolve(`ws://127.0.0.1:${address.port}/`);
    });
  });
}

async function start(kind: ServerKind): Promise<string> {
  if (kind === "raw-tcp") return startRawTcp();
  if (kind === "reference" || kind === "chapters") {
    const { createEchoServer } = await loadChapter<typeof EchoServerChapter>("08-echo-server", kind === "reference" ? "solutions" : "chapters");
    return createEchoServer().listen(0, "127.0.0.1");
  }
  // Imported only here: loading `ws` loads bufferutil too (when installed and not switched off),
  // which the check below would then rightly report for the reference.
  const { startWsEcho } = await import("../ws-echo.ts");
  return (await startWsEcho({ perMessageDeflate: false })).url;
}

function usage(): Usage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpu: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external };
}

/**
 * Under `node --cpu-prof`: writes the moment the server is ready (µs on the
 * monotonic clock V8's profiler stamps its samples with) as `ready` in the profile's directory,
 * so that profile.ts can leave start-up (tsx compiling, imports) out.
 */
function markReady(): void {
  const option = (name: string) => process.execArgv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const dir = option("cpu-prof-dir");
  if (dir === undefined) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "ready"), String(process.hrtime.bigint() / 1000n));
}

const kind = process.argv[2] as ServerKind;
try {
  if (!SERVER_KINDS.includes(kind)) throw new Error(`unknown server kind ${kind}`);
  const url = await start(kind);
  const bufferutil = Object.keys(require.cache).some((path) => path.includes(`${"/node_modules/bufferutil/"}`));
  process.on("message", (message: { cmd: "usage" }) => {
    if (message.cmd === "usage") process.send!({ usage: usage() });
  });
  markReady();
  process.send!({ ready: true, url, bufferutil });
} catch (error) {
  process.send!({ failed: `${(error as Error).name}: ${(error as Error).message}` });
}
// A server that threw in a handler must not leave the run hanging: report and stop.
process.on("uncaughtException", (error) => {
  process.send?.({ crashed: `${error.name}: ${error.message}` });
  process.exit(1);
});
process.on("disconnect", () => process.exit(0));
