/**
 * Chapter 10 — The `ws` library (RFC 6455 through a library; RFC 7692)
 *
 * Exercise: the echo server of chapter 08 and the echo client of chapter 09
 * again, this time on the npm `ws` package. Everything you wrote by hand is
 * still there, inside the library: what is left for you is choosing its
 * options and listening to its events. Go's `golang.org/x/net/websocket`
 * makes the same choices with other names; the page sets the two side by side.
 *
 * Page: docs/chapters/10-ws-library.md · Tests: tests/10-ws-library.test.ts
 * Check: npm run grade -- 10
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

export interface WsEchoServerOptions {
  /** The largest message echoed, in bytes; a larger one fails its connection with 1009 (§10.4). Default 16 MiB. */
  maxPayload?: number;
  /** If given and not empty: only these Origin values may connect; others get 403 Forbidden (§4.2.2, §10.2). */
  origins?: string[];
}

export interface WsEchoServer {
  /** Where the server listens: `ws://127.0.0.1:<port>/`. */
  url: string;
  /**
   * Stops accepting, says 1001 (going away) to every connected client, and
   * resolves once every connection is gone, waiting at most a few seconds
   * for the clients' answers before cutting the rest off.
   */
  close(): Promise<void>;
}

/**
 * An echo server on `ws`, on 127.0.0.1 (reachable from this machine only)
 * and a free port: every text message comes back as text, every binary one
 * as binary, as in chapter 08.
 * Compression (permessage-deflate, RFC 7692) stays off, as in chapter 08.
 */
export async function createWsEchoServer(options: WsEchoServerOptions = {}): Promise<WsEchoServer> {
  throw new NotImplementedError("createWsEchoServer in chapters/10-ws-library.ts");
}

/**
 * Connects to `url` with a `ws` client, sends `message` (a string as text, bytes
 * as binary), waits for one message back, closes with 1000 and resolves with
 * that message: a string if it came as text, a Uint8Array if it came as binary.
 *
 * It offers no extension (perMessageDeflate off, as chapter 09's client
 * without `deflate`). Rejects if the connection fails, with the error `ws`
 * reported (Node's `ECONNREFUSED`, or the refused handshake's status), or if
 * it closes before an echo arrives (the error names the close code).
 * `timeoutMs` bounds the whole exchange: with no echo by then it rejects with
 * an error that names timeoutMs; with the echo in hand but the closing
 * handshake unfinished, it cuts the connection and still resolves. The
 * connection is never left open.
 */
export function wsEcho(url: string, message: string | Uint8Array, timeoutMs = 5_000): Promise<string | Uint8Array> {
  throw new NotImplementedError("wsEcho in chapters/10-ws-library.ts");
}
