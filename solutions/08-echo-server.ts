/**
 * Chapter 08 — The echo server (RFC 6455 §4.2, §7.1; node:http)
 *
 * Exercise: wire the handshake check of chapter 02 and the connection of
 * chapter 07 to node:http's `upgrade` event, and echo every message with its
 * type. Then make it survive its users: every wait bounded, every bad input
 * failing one connection only, memory bounded when a client stops reading,
 * and a clean goodbye (1001) to everyone when the server stops.
 *
 * Page: docs/chapters/08-echo-server.md · Tests: tests/08-echo-server.test.ts
 * Check: npm run grade -- 8
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import { CloseCode } from "../lib/close-codes.ts";
import type { UpgradeDecision } from "../lib/handshake.ts";
import { describeFrame, describeHead } from "../lib/trace.ts";
import { checkUpgradeRequest } from "./02-handshake.ts";
import { Connection, type ConnectionEvent } from "./07-connection.ts";

export interface EchoServerOptions {
  /** The largest message echoed, in bytes; a larger one fails its connection with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /** How long a client may take, from TCP connect, to complete its upgrade request, in ms. Default 10 s. */
  handshakeTimeout?: number;
  /** How long to wait for the client's close frame, then for it to close TCP, in ms. Default 5 s. */
  closeTimeout?: number;
  /** If given and not empty: only these Origin values may connect; others get 403 (RFC 6455 §10.2). */
  origins?: readonly string[];
  /** Receives the handshake and every frame, one line each (`--trace`). */
  trace?: (line: string) => void;
  /** Told how each WebSocket connection ended: for logs, and for the tests. */
  onClose?: (info: { code: number; reason: string; clean: boolean }) => void;
}

export interface EchoServer {
  /** Starts listening (port 0: any free port); resolves with the server's ws:// (or wss://) URL. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Stops accepting, sends every open connection a close frame with 1001
   * (going away), waits at most `closeTimeout` for the replies, then drops
   * whatever is left. Resolves when every socket is gone.
   */
  close(): Promise<void>;
  /** TCP connections open right now, upgraded or not: 0 once everything is cleaned up. */
  readonly connectionCount: number;
}

// #region reference-only
const DEFAULTS = { maxMessageSize: 16 * 1024 * 1024, handshakeTimeout: 10_000, closeTimeout: 5_000 };
// #endregion

/**
 * The HTTP response to an upgrade request, as the text to write on the socket:
 * `101 Switching Protocols` with Upgrade, Connection and Sec-WebSocket-Accept
 * (RFC 6455 §4.2.2), or the refusal's status line, its headers, and the reason
 * as a short text body with `Connection: close`. Nothing else: not choosing a
 * subprotocol or an extension is how a server declines them (§4.2.2, §9.1).
 */
export function handshakeResponse(decision: UpgradeDecision): string {
  // #region solution
  if (decision.ok) {
    return [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${decision.accept}`,
      "",
      "",
    ].join("\r\n");
  }
  const body = `${decision.reason}\n`;
  const headers = {
    ...decision.headers,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(new TextEncoder().encode(body).length),
    Connection: "close",
  };
  const lines = [`HTTP/1.1 ${decision.status} ${STATUS_CODES[decision.status]}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
  // #endregion
}

/**
 * An echo server: every text message comes back as text, every binary one as
 * binary. It runs on a new node:http server, or on the one given: an
 * https server makes it a wss:// server (chapter 11), with no other change.
 */
export function createEchoServer(options: EchoServerOptions = {}, server: HttpServer | HttpsServer = createServer()): EchoServer {
  // #region solution
  const settings = { ...DEFAULTS, ...options };
  const sockets = new Set<Socket>();
  /** What `close()` calls on each upgraded connection to say goodbye. */
  const goodbyes = new Map<Socket, () => void>();
  /** The handshake deadline of each socket still in its HTTP phase. */
  const deadlines = new Map<Socket, NodeJS.Timeout>();
  // Over TLS the socket to watch is the encrypted one, which comes after the TLS handshake.
  const connectionEvent = server instanceof TlsServer ? "secureConnection" : "connection";

  server.on(connectionEvent, (socket: Socket) => {
    sockets.add(socket);
    // A client that never finishes its request (or trickles it byte by byte)
    // must not hold a socket forever: a deadline from connect, not an idle timer.
    const deadline = setTimeout(() => socket.destroy(), settings.handshakeTimeout);
    deadlines.set(socket, deadline);
    socket.once("close", () => {
      sockets.delete(socket);
      deadlines.delete(socket);
      clearTimeout(deadline);
    });
  });

  // A plain HTTP request reached a WebSocket endpoint: the same check explains why it is refused.
  server.on("request", (req: IncomingMessage, res) => {
    const decision = decide(req, settings);
    const refusal = decision.ok ? { status: 400, headers: {}, reason: "send an upgrade request" } : decision;
    res.writeHead(refusal.status, { ...refusal.headers, "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
    res.end(`${refusal.reason}\n`);
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    clearTimeout(deadlines.get(socket)); // the request is complete: the deadline's job is done
    const decision = decide(req, settings);
    const response = handshakeResponse(decision);
    settings.trace?.(describeHead(requestHead(req), "← client"));
    settings.trace?.(describeHead(response, "→ client"));
    if (!decision.ok) {
      // §4.2.1: refuse, then close: this never became a WebSocket. A client
      // that keeps its side open is dropped after closeTimeout.
      socket.end(response);
      const timer = setTimeout(() => socket.destroy(), settings.closeTimeout);
      socket.once("close", () => clearTimeout(timer));
      return;
    }
    socket.write(response);
    goodbyes.set(socket, serve(socket, head, settings));
    socket.once("close", () => goodbyes.delete(socket));
  });

  return {
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address();
          if (address === null || typeof address === "string") return reject(new Error("not a TCP server"));
          const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
          resolve(`${server instanceof TlsServer ? "wss" : "ws"}://${shownHost}:${address.port}/`);
        });
      });
    },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) if (!goodbyes.has(socket)) socket.destroy(); // handshakes in progress
      for (const goodbye of goodbyes.values()) goodbye();
      // Each goodbye bounds its own wait; this deadline is only a safety net.
      const deadline = Date.now() + settings.closeTimeout + 1_000;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
    get connectionCount() {
      return sockets.size;
    },
  };
  // #endregion
}

// #region reference-only
type Settings = typeof DEFAULTS & EchoServerOptions;

/** Chapter 02's check, after the origin allow-list (RFC 6455 §4.2.2 item 4, §10.2). */
function decide(req: IncomingMessage, settings: Settings): UpgradeDecision {
  // An origin is scheme://host[:port], lower-case, no path (RFC 6454 §6.2): "http://a.example/" means "http://a.example".
  const normalize = (origin: string) => origin.toLowerCase().replace(/\/+$/, "");
  const origins = (settings.origins ?? []).map(normalize);
  const origin = req.headers.origin === undefined ? undefined : normalize(req.headers.origin);
  if (origins.length > 0 && (origin === undefined || !origins.includes(origin))) {
    return { ok: false, status: 403, reason: `origin ${origin ?? "(none)"} is not allowed here`, headers: {} };
  }
  return checkUpgradeRequest({ method: req.method ?? "", httpVersion: req.httpVersion, headers: req.headers });
}

/** The request as it came, for the trace: request line and raw headers. */
function requestHead(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return lines.join("\r\n");
}

/**
 * Moves bytes between one upgraded socket and its Connection, echoing each
 * message. Returns the goodbye that `close()` calls: a close frame with 1001.
 */
function serve(socket: Socket, head: Buffer, settings: Settings): () => void {
  const connection = new Connection("server", {
    maxMessageSize: settings.maxMessageSize,
    onFrame: settings.trace && ((frame, way) => settings.trace?.(describeFrame(frame, way === "in" ? "← client" : "→ client"))),
  });
  connection.open();
  let closeTimer: NodeJS.Timeout | undefined;
  let ended = false;

  /** Writes what the connection queued, as one batch; stops reading from a client that stops reading. */
  const flush = () => {
    const chunks = connection.bytesToSend();
    if (chunks.length === 0 || socket.destroyed) return;
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
    // Backpressure: past the socket's high-water mark, read nothing more until
    // the client has taken what we wrote, so it cannot make us buffer without bound.
    if (socket.writableNeedDrain && !socket.isPaused()) {
      socket.pause();
      socket.once("drain", () => socket.resume());
    }
  };

  /** Wait a bounded time for the client, then drop the connection (§7.1.1). */
  const startCloseTimer = () => {
    clearTimeout(closeTimer);
    closeTimer = setTimeout(() => socket.destroy(), settings.closeTimeout);
  };

  const handle = (events: ConnectionEvent[]) => {
    let closed: Extract<ConnectionEvent, { type: "close" }> | undefined;
    for (const event of events) {
      if (event.type === "message" && connection.state === "OPEN") connection.send(event.message); // the echo
      if (event.type === "close") closed = event;
    }
    flush();
    if (closed !== undefined && !ended) {
      ended = true;
      settings.onClose?.({ code: closed.code, reason: closed.reason, clean: closed.clean });
      // §7.1.1: once the closing handshake is done (or the connection failed),
      // the server closes TCP first; a client that never closes its side is dropped.
      socket.end();
      startCloseTimer();
    }
  };

  socket.on("data", (chunk: Buffer) => handle(connection.receive(chunk)));
  socket.on("end", () => handle(connection.receiveEnd()));
  socket.on("error", () => {}); // ECONNRESET and the like: "close" follows, and reports 1006
  socket.on("close", () => {
    handle(connection.receiveEnd()); // a reset or a destroy: 1006 unless already closed
    clearTimeout(closeTimer); // last: nothing may outlive the socket
  });
  if (head.length > 0) handle(connection.receive(head)); // frames that came with the request

  return () => {
    if (connection.state !== "OPEN") return;
    connection.close(CloseCode.GoingAway, "server going away");
    flush();
    startCloseTimer();
  };
}
// #endregion
