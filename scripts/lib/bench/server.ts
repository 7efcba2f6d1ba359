/**
 * One echo server for `npm run bench`, in its own process (pinned to its own
 * CPU when the orchestrator can): `reference` (solutions/08-echo-server.ts),
 * `chapters` (the reader's), `ws` (the ws package, default options,
 * perMessageDeflate off) or `ws-bufferutil` (the same, with its native
 * addon). Plain `ws` is started with WS_NO_BUFFER_UTIL=1 by the orchestrator;
 * this process reports whether bufferutil got loaded, so the table can say so.
 *
 * IPC: sends { ready, url, bufferutil } or { failed }; answers "usage"
 * (CPU time and memory, after a full GC when --expose-gc is on).
 */
import { createRequire } from "node:module";
import type * as EchoServerChapter from "../../../solutions/08-echo-server.ts";
import { loadChapter } from "../impl.ts";

export const SERVER_KINDS = ["reference", "chapters", "ws", "ws-bufferutil"] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export interface Usage {
  /** process.cpuUsage(), user + system, in µs. */
  cpu: number;
  rss: number;
  heapUsed: number;
  external: number;
}

const require = createRequire(import.meta.url);

async function start(kind: ServerKind): Promise<string> {
  if (kind === "reference" || kind === "chapters") {
    const { createEchoServer } = await loadChapter<typeof EchoServerChapter>("08-echo-server", kind === "reference" ? "solutions" : "chapters");
    return createEchoServer().listen(0, "127.0.0.1");
  }
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on("error", () => {});
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP server");
  return `ws://127.0.0.1:${address.port}/`;
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

const kind = process.argv[2] as ServerKind;
try {
  if (!SERVER_KINDS.includes(kind)) throw new Error(`unknown server kind ${kind}`);
  const url = await start(kind);
  const bufferutil = Object.keys(require.cache).some((path) => path.includes(`${"/node_modules/bufferutil/"}`));
  process.on("message", (message: { cmd: "usage" }) => {
    if (message.cmd === "usage") process.send!({ usage: usage() });
  });
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
