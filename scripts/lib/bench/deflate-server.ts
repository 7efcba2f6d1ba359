/**
 * One echo server with permessage-deflate for `npm run bench -- --deflate`, in
 * its own process: `reference` (solutions/08-echo-server.ts with `deflate: true`)
 * or `ws` (the ws package with `perMessageDeflate: true`, its defaults
 * otherwise: messages under 1 KiB go uncompressed).
 *
 * IPC: sends { ready, url } or { failed }; answers "usage" with its CPU time in µs.
 */
import type * as EchoServerChapter from "../../../solutions/08-echo-server.ts";
import { loadChapter } from "../impl.ts";

async function start(kind: string): Promise<string> {
  if (kind === "reference") {
    const { createEchoServer } = await loadChapter<typeof EchoServerChapter>("08-echo-server", "solutions");
    return createEchoServer({ deflate: true }).listen(0, "127.0.0.1");
  }
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on("error", () => {});
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP server");
  return `ws://127.0.0.1:${address.port}/`;
}

try {
  const url = await start(process.argv[2] ?? "reference");
  process.on("message", () => {
    const cpu = process.cpuUsage();
    process.send!({ cpu: cpu.user + cpu.system });
  });
  process.send!({ ready: true, url });
} catch (error) {
  process.send!({ failed: `${(error as Error).name}: ${(error as Error).message}` });
}
process.on("disconnect", () => process.exit(0));
