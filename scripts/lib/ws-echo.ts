/**
 * An echo server made with the `ws` package: the bar the workbook's own server
 * is compared with (npm run bench, npm run conformance -- --compare ws).
 * Every message goes back with its type; errors of one client touch no other.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer, type ServerOptions } from "ws";

export interface WsEcho {
  url: string;
  /** Ends every connection at once and stops listening. */
  stop(): Promise<void>;
}

/** Starts it on 127.0.0.1, on a free port; `options` are ws's own (perMessageDeflate, maxPayload, ...). */
export async function startWsEcho(options: ServerOptions = {}): Promise<WsEcho> {
  const server = new WebSocketServer({ ...options, host: "127.0.0.1", port: 0 });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on("error", () => {});
  });
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async stop() {
      for (const ws of server.clients) ws.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
