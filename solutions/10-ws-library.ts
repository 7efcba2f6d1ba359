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

// #region reference-only
/** Our default limit: ws's own is 100 MiB. Leaving `maxPayload: undefined` in the options would mean no limit at all. */
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;
/** How long `close()` waits for the clients' close frames before terminating them. */
const CLOSE_GRACE = 2_000;
// #endregion

/**
 * An echo server on `ws`, on 127.0.0.1 (reachable from this machine only)
 * and a free port: every text message comes back as text, every binary one
 * as binary, as in chapter 08.
 * Compression (permessage-deflate, RFC 7692) stays off, as in chapter 08.
 */
export async function createWsEchoServer(options: WsEchoServerOptions = {}): Promise<WsEchoServer> {
  // #region solution step 1
  const origins = options.origins ?? [];
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    // §4.2.2 item 4, §10.2: a foreign origin gets 403. With two parameters,
    // verifyClient may choose the status; a one-parameter verifyClient that
    // returns false always answers 401, which is about credentials, not origins.
    verifyClient: origins.length === 0 ? undefined : (info, done) => done(origins.includes(info.origin), 403),
  });

  server.on("connection", (ws) => {
    // isBinary is the opcode of the message's first frame: echo with the same type (§5.6).
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    // A peer's protocol error is emitted here, and ws has already sent the close
    // frame (1002, 1007, 1009...). Without a listener, Node would throw it and crash the server.
    ws.on("error", () => {});
  });

  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `ws://127.0.0.1:${port}/`,
    close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // ws's close() stops accepting but leaves open connections alone: say goodbye ourselves.
      for (const ws of server.clients) ws.close(1001, "server shutting down");
      const deadline = setTimeout(() => {
        for (const ws of server.clients) ws.terminate();
      }, CLOSE_GRACE);
      return stopped.finally(() => clearTimeout(deadline));
    },
  };
  // #endregion
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
  // #region solution step 2
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    let echo: string | Uint8Array | undefined;
    let failure: Error | undefined;

    // One deadline for everything. terminate() drops TCP, which ends in 'close' below.
    const timer = setTimeout(() => {
      failure ??= new Error(`no echo from ${url} within ${timeoutMs} ms`);
      ws.terminate();
    }, timeoutMs);

    ws.on("open", () => ws.send(message));
    ws.on("message", (data: Buffer, isBinary) => {
      echo ??= isBinary ? new Uint8Array(data) : data.toString("utf8");
      ws.close(1000);
    });
    ws.on("error", (error) => (failure ??= error)); // 'close' always follows
    ws.on("close", (code) => {
      clearTimeout(timer);
      if (echo !== undefined) resolve(echo);
      else reject(failure ?? new Error(`the connection closed with ${code} before an echo arrived`));
    });
  });
  // #endregion
}
