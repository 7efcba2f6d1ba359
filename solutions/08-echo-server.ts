/**
 * Chapter 08 — The echo server (RFC 6455 §4.2, §7.1; node:http)
 *
 * Exercise, in four graded steps: (1) decide what to answer an upgrade
 * request, without a socket; (2) the HTTP side: listen, refuse, and bound the
 * handshake; (3) the pump: bytes from the socket into the connection of
 * chapter 07, its bytes back, every message echoed with its type, and the
 * closing handshake; (4) heartbeats, and a goodbye (1001) to everyone when
 * the server stops. `createEchoServer` composes the parts.
 *
 * Page: docs/chapters/08-echo-server.md · Tests: tests/08-echo-server.test.ts
 * Check: npm run grade -- 8
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import { CloseCode } from "../lib/close-codes.ts";
import type { DeflateParams, DeflateTrace } from "../lib/extensions.ts";
import type { UpgradeDecision, UpgradeRequest } from "../lib/handshake.ts";
import { getHeader } from "../lib/http-headers.ts";
import { describeDeflate, describeFrame, describeHead } from "../lib/trace.ts";
import { checkUpgradeRequest } from "./02-handshake.ts";
import { Connection, type ConnectionEvent } from "./07-connection.ts";
import {
  formatExtensionHeader,
  negotiateDeflate,
  parseExtensionHeader,
  PerMessageDeflate,
  selectSubprotocol,
  type DeflateOptions,
} from "./12-extensions.ts";
// #region reference-only
import { isUtf8 } from "node:buffer";
import { useNativeUtf8 } from "../lib/simd/index.ts";
// #endregion

export interface EchoServerOptions {
  /** The largest message echoed, in bytes; a larger one fails its connection with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /** How long a client may take, from TCP connect, to complete its upgrade request, in ms. Default 10 s. */
  handshakeTimeout?: number;
  /** How long to wait for the client's close frame, then for it to close TCP, in ms. Default 5 s. */
  closeTimeout?: number;
  /** If given and not empty: only these Origin values may connect; others get 403 (RFC 6455 §10.2). */
  origins?: readonly string[];
  /**
   * If given and not empty: the resource names (paths, without the query) this
   * server serves; a request for any other gets 404 Not Found (RFC 6455 §4.2.2).
   * Default: every path echoes.
   */
  paths?: readonly string[];
  /** Receives the handshake and every frame, one line each (`--trace`). */
  trace?: (line: string) => void;
  /**
   * Heartbeats, in ms: send a ping every `pingInterval`, and drop a client
   * from which nothing (no pong, no frame) arrived within `pongTimeout` of a
   * ping (default: `pingInterval`). Off unless given (§5.5.2).
   */
  pingInterval?: number;
  pongTimeout?: number;
  /** Told how each WebSocket connection ended: for logs, and for the tests. */
  onClose?: (info: { code: number; reason: string; clean: boolean }) => void;
  /**
   * Chapter 12: accept permessage-deflate when a client offers it (RFC 7692),
   * `true` or with what the server insists on. Default: decline every extension.
   */
  deflate?: boolean | DeflateOptions;
  /** Chapter 12: the subprotocols this server speaks; it picks the client's favourite among them (RFC 6455 §4.2.2). */
  protocols?: readonly string[];
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

/** The options with their defaults filled in (16 MiB, 10 s, 5 s): what `createEchoServer` gives each `EchoSession`. */
export type EchoSettings = EchoServerOptions & { maxMessageSize: number; handshakeTimeout: number; closeTimeout: number };

/**
 * What `decideUpgrade` reads of a request: chapter 02's `UpgradeRequest` and
 * the request target, `/chat?room=1` (the resource name and its query, §3).
 * node:http's `IncomingMessage` carries all four.
 */
export interface ServerRequest extends UpgradeRequest {
  url: string;
}

// #region reference-only
const DEFAULTS = { maxMessageSize: 16 * 1024 * 1024, handshakeTimeout: 10_000, closeTimeout: 5_000 };
/** Frames queued together and smaller than this in all are joined into one buffer before writing. */
const JOIN_LIMIT = 16 * 1024;
/** Bytes the socket may hold unwritten before reading stops (backpressure): one large echo's worth. */
const WRITE_LIMIT = 1024 * 1024;
/** Echoes waiting for the end of the event loop's turn are written at once when they reach this many bytes. */
const FLUSH_CAP = 256 * 1024;
// Performance: a text message's UTF-8 is checked by Node's native isUtf8, in place, where a
// piece of it is 1 KiB or more (lib/simd keeps the streaming check around it; tests/simd.test.ts).
useNativeUtf8(isUtf8);
// #endregion

// ---------------------------------------------------------------------------
// Step 1 — decide the upgrade: what to answer, from the request alone

/**
 * The server's verdict on a request: the origin allow-list first (if
 * `origins` is given and not empty: any other Origin, or none, is refused
 * with 403, RFC 6455 §4.2.2 item 4, §10.2), then the resource (if `paths` is
 * given and not empty: any other path, the query aside, is refused with 404,
 * §4.2.2), then chapter 02's `checkUpgradeRequest` (→ accept, or 400, 405, 426).
 * Origins compare case-insensitively, a trailing slash forgiven (RFC 6454 §6.2).
 */
export function decideUpgrade(request: ServerRequest, options: Pick<EchoServerOptions, "origins" | "paths"> = {}): UpgradeDecision {
  // #region solution step 1
  // An origin is scheme://host[:port], lower-case, no path (RFC 6454 §6.2): "http://a.example/" means "http://a.example".
  const normalize = (origin: string) => origin.toLowerCase().replace(/\/+$/, "");
  const origins = (options.origins ?? []).map(normalize);
  const header = getHeader(request.headers, "origin");
  const origin = header === undefined ? undefined : normalize(header);
  if (origins.length > 0 && (origin === undefined || !origins.includes(origin))) {
    return { ok: false, status: 403, reason: `origin ${origin ?? "(none)"} is not allowed here`, headers: {} };
  }
  // §4.2.2: a resource the server doesn't serve is answered with an HTTP error, 404 being the usual one.
  const path = request.url.split("?")[0] ?? "/";
  if (options.paths !== undefined && options.paths.length > 0 && !options.paths.includes(path)) {
    return { ok: false, status: 404, reason: `no WebSocket endpoint at ${path} (this server serves ${options.paths.join(", ")})`, headers: {} };
  }
  return checkUpgradeRequest(request);
  // #endregion
}

/**
 * The HTTP response to an upgrade request, as the text to write on the socket:
 * `101 Switching Protocols` with Upgrade, Connection and Sec-WebSocket-Accept
 * (RFC 6455 §4.2.2), or the refusal's status line, its headers, and the reason
 * as a short text body with `Connection: close`. Nothing else: not choosing a
 * subprotocol or an extension is how a server declines them (§4.2.2, §9.1).
 *
 * Chapter 12: `agreed` adds the headers of a 101 that accepts a subprotocol or
 * an extension (`Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`), after the accept value.
 */
export function handshakeResponse(decision: UpgradeDecision, agreed: Record<string, string> = {}): string {
  // #region solution step 1
  if (decision.ok) {
    return [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${decision.accept}`,
      ...Object.entries(agreed).map(([name, value]) => `${name}: ${value}`),
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

// ---------------------------------------------------------------------------
// Step 2 — the HTTP side: listen, count, refuse, and bound the handshake

/**
 * An echo server: every text message comes back as text, every binary one as
 * binary. It runs on a new node:http server, or on the one given: an
 * https server makes it a wss:// server (chapter 11), with no other change.
 */
export function createEchoServer(options: EchoServerOptions = {}, server: HttpServer | HttpsServer = createServer()): EchoServer {
  // #region solution step 2
  const settings: EchoSettings = { ...DEFAULTS, ...options };
  for (const name of ["pingInterval", "pongTimeout"] as const) {
    const ms = settings[name];
    if (ms !== undefined && !(ms > 0 && ms <= 2 ** 31 - 1)) throw new RangeError(`${name} is a number of ms, 1 to 2^31 - 1, not ${ms}`);
  }
  const sockets = new Set<Socket>();
  /** Each upgraded connection, for `close()` to say goodbye to. */
  const sessions = new Map<Socket, EchoSession>();
  /** The handshake deadline of each socket still in its HTTP phase. */
  const deadlines = new Map<Socket, NodeJS.Timeout>();
  /**
   * Over TLS, "upgrade" hands us the TLS socket, a new object over the TCP
   * socket that "connection" gave us before the TLS handshake began. Both
   * name the same TCP connection (the peer's address and port): this finds
   * the TCP socket, which is what we count, time and drop.
   */
  const byPeer = new Map<string, Socket>();
  const tcpSocketOf = (socket: Socket) => (sockets.has(socket) ? socket : (byPeer.get(peerOf(socket)) ?? socket));

  // "connection" is the TCP socket, before any TLS handshake: a client that
  // connects and never completes TLS is held to the same deadline.
  server.on("connection", (socket: Socket) => {
    const peer = peerOf(socket);
    byPeer.set(peer, socket);
    sockets.add(socket);
    // A client that never finishes its request (or trickles it byte by byte)
    // must not hold a socket forever: a deadline from connect, not an idle timer.
    deadlines.set(socket, setTimeout(() => socket.destroy(), settings.handshakeTimeout));
    // One listener for all the cleaning up ("close" comes once: `on` spares the wrapper `once` makes).
    socket.on("close", () => {
      byPeer.delete(peer);
      sockets.delete(socket);
      sessions.delete(socket);
      clearTimeout(deadlines.get(socket));
      deadlines.delete(socket);
    });
  });

  // A plain HTTP request reached a WebSocket endpoint: the same check explains why it is refused.
  server.on("request", (req: IncomingMessage, res) => {
    const decision = decideUpgrade(serverRequest(req), settings);
    const refusal = decision.ok ? { status: 400, headers: {}, reason: "send an upgrade request" } : decision;
    res.writeHead(refusal.status, { ...refusal.headers, "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
    res.end(`${refusal.reason}\n`);
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // The request is complete: the deadline's job is done. Forget it too, so
    // that a long-lived connection does not keep a dead timer (memory per connection).
    const tcp = tcpSocketOf(socket);
    clearTimeout(deadlines.get(tcp));
    deadlines.delete(tcp);
    const checked = decideUpgrade(serverRequest(req), settings);
    const agreement = checked.ok ? agree(req, settings) : undefined;
    const decision = agreement?.ok === false ? agreement.refusal : checked;
    const response = handshakeResponse(decision, agreement?.ok ? agreement.headers : {});
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
    const deflate = agreement?.ok ? agreement.deflate : undefined;
    sessions.set(tcp, new EchoSession(socket, head, settings, deflate)); // deleted on "close", with the rest
  });

  return {
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          // Listening on a TCP port, the address is an object (null or a name only for a pipe).
          const address = server.address() as AddressInfo;
          const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
          resolve(`${server instanceof TlsServer ? "wss" : "ws"}://${shownHost}:${address.port}/`);
        });
      });
    },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) if (!sessions.has(socket)) socket.destroy(); // handshakes in progress
      for (const session of sessions.values()) session.goodbye();
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
/** A TCP connection's name: the same on the TCP socket and on the TLS socket over it. */
const peerOf = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;

/** One shared do-nothing listener, rather than a new one for every connection. */
const ignore = () => {};

/** What `decideUpgrade` reads of node:http's request (its method and url are optional there). */
function serverRequest(req: IncomingMessage): ServerRequest {
  return { method: req.method ?? "", url: req.url ?? "/", httpVersion: req.httpVersion, headers: req.headers };
}

/**
 * Chapter 12: the subprotocol and the extension to accept, as response
 * headers; or a 400 for a Sec-WebSocket-Extensions header that can't be read
 * (§4.2.1: a request that doesn't match the handshake's grammar is refused).
 */
function agree(
  req: IncomingMessage,
  settings: EchoSettings,
): { ok: true; headers: Record<string, string>; deflate: DeflateParams | undefined } | { ok: false; refusal: UpgradeDecision } {
  const headers: Record<string, string> = {};
  const protocol = selectSubprotocol(getHeader(req.headers, "sec-websocket-protocol"), settings.protocols ?? []);
  if (protocol !== undefined) headers["Sec-WebSocket-Protocol"] = protocol;
  const wanted = typeof settings.deflate === "object" ? settings.deflate : settings.deflate ? {} : undefined;
  if (wanted === undefined) return { ok: true, headers, deflate: undefined };
  let offers;
  try {
    offers = parseExtensionHeader(getHeader(req.headers, "sec-websocket-extensions") ?? "");
  } catch (error) {
    return { ok: false, refusal: { ok: false, status: 400, reason: (error as Error).message, headers: {} } };
  }
  const accepted = negotiateDeflate(offers, wanted);
  if (accepted !== undefined) headers["Sec-WebSocket-Extensions"] = formatExtensionHeader([accepted.response]);
  return { ok: true, headers, deflate: accepted?.params };
}

/** The request as it came, for the trace: request line and raw headers. */
function requestHead(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return lines.join("\r\n");
}
// #endregion

// ---------------------------------------------------------------------------
// Step 3 — the pump: one upgraded connection, echoing (and step 4's heartbeat and goodbye)

/**
 * One upgraded connection: moves bytes between its socket and a server-side
 * `Connection` (chapter 07), and echoes every message with its type. It
 * answers the closing handshake and closes TCP first (§7.1.1), bounded by
 * `closeTimeout`; it stops reading from a client that stops reading
 * (backpressure); it tells `settings.onClose` how the connection ended.
 *
 * A class rather than a function with inner helpers: its methods are shared
 * by every connection, where named inner functions would be made again for
 * each one (and under tsx each gets a `name` property, 256 bytes apiece).
 * That is most of the difference in memory per idle connection with `ws`.
 */
export class EchoSession {
  // #region reference-only
  readonly #socket: Socket;
  readonly #settings: EchoSettings;
  readonly #connection: Connection;
  #closeTimer: NodeJS.Timeout | undefined;
  #ended = false;
  /** The heartbeat's next step (a ping, or the check that something answered it). */
  #heartbeat: NodeJS.Timeout | undefined;
  /** Bytes the connection produced this turn of the event loop, not yet written (see #queue), and their size. */
  #pending: Uint8Array[] | undefined;
  #pendingSize = 0;
  /** The sessions with bytes pending: each is flushed once, after the reads of this turn (see #queue). */
  static readonly #due = new Set<EchoSession>();
  // #endregion

  /**
   * Takes over `socket` once the `101` is written: reads every chunk into the
   * connection, echoes each message as its event comes, writes what the
   * connection queued; `head` (bytes that came right behind the request) is
   * read first. With `settings.pingInterval`, starts the `heartbeat()`.
   * `deflate` (chapter 12): the permessage-deflate parameters agreed, if any.
   */
  constructor(socket: Socket, head: Uint8Array, settings: EchoSettings, deflate?: DeflateParams) {
    // #region solution step 3
    this.#socket = socket;
    this.#settings = settings;
    const trace = settings.trace;
    // Chapter 12: permessage-deflate, if it was agreed; the same limit applies to the inflated size.
    const extension =
      deflate === undefined
        ? undefined
        : new PerMessageDeflate("server", deflate, {
            maxMessageSize: settings.maxMessageSize,
            ...(trace === undefined ? {} : { onMessage: (t: DeflateTrace) => trace(describeDeflate(t, t.direction === "in" ? "← client" : "→ client")) }),
          });
    this.#connection = new Connection("server", {
      maxMessageSize: settings.maxMessageSize,
      ...(extension === undefined ? {} : { extension }),
      onFrame: settings.trace && ((frame, way) => settings.trace?.(describeFrame(frame, way === "in" ? "← client" : "→ client"))),
      // Performance: an echo never reads the text it sends back, so keep it as
      // the (validated) bytes it came in: no decoding to a string, no encoding back.
      decodeText: false,
    });
    this.#connection.open();

    // Echoes are small writes, each waited for: don't let Nagle's algorithm hold them back.
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#handle(this.#connection.receive(chunk)));
    socket.on("end", () => this.#handle(this.#connection.receiveEnd()));
    socket.on("error", ignore); // ECONNRESET and the like: "close" follows, and reports 1006
    socket.on("close", () => {
      this.#handle(this.#connection.receiveEnd()); // a reset or a destroy: 1006 unless already closed
      extension?.close(); // chapter 12: its zlib streams, freed now (no frame comes or goes any more)
      clearTimeout(this.#closeTimer); // last: nothing may outlive the socket
      clearTimeout(this.#heartbeat);
    });
    if (settings.pingInterval !== undefined) this.#heartbeat = setTimeout(() => this.heartbeat(), settings.pingInterval);
    this.#handle(this.#connection.receive(head)); // frames that came with the request (usually none)
    // #endregion
  }

  /**
   * One beat of the heartbeat (§5.5.2: a ping MUST be answered by a pong).
   * A client whose network vanished sends no FIN: without this, its
   * connection would be held forever. While the connection is OPEN: a ping;
   * `pongTimeout` later, if nothing at all arrived from the client since,
   * the connection is failed and its socket destroyed ("close" reports
   * 1006, §7.1.5); otherwise the next beat, `pingInterval` after this
   * one's ping (at the check itself, if `pongTimeout` is the longer).
   */
  heartbeat(): void {
    // #region solution step 4
    if (this.#connection.state !== "OPEN") return;
    const { pingInterval = 0, pongTimeout = pingInterval } = this.#settings;
    // Any byte is a sign of life: the socket's count of bytes read, not a flag each read would have to set.
    const readBefore = this.#socket.bytesRead;
    this.#connection.ping();
    this.#flush();
    this.#heartbeat = setTimeout(() => {
      if (this.#socket.bytesRead === readBefore) {
        this.#settings.trace?.(`✗ no answer to a ping within ${pongTimeout} ms: dropping the client (1006)`);
        this.#socket.destroy();
        return;
      }
      this.#heartbeat = setTimeout(() => this.heartbeat(), Math.max(0, pingInterval - pongTimeout));
    }, pongTimeout);
    // #endregion
  }

  /**
   * The server is stopping (its `close()`): a close frame with 1001, going
   * away (§7.4.1), then at most `closeTimeout` for the client's answer and
   * its FIN (§7.1.1). Does nothing unless the connection is OPEN.
   */
  goodbye(): void {
    // #region solution step 4
    if (this.#connection.state !== "OPEN") return;
    this.#connection.close(CloseCode.GoingAway, "server going away");
    this.#flush();
    this.#startCloseTimer();
    // #endregion
  }

  // #region reference-only
  /**
   * Handles the events of one read, echoing each message as its event comes:
   * the Connection reads the next frame only after that, so an echo is queued
   * before the answer to a close (or the failure) that followed its message.
   */
  #handle(events: Iterable<ConnectionEvent>): void {
    const connection = this.#connection;
    let closed: Extract<ConnectionEvent, { type: "close" }> | undefined;
    for (const event of events) {
      if (event.type === "message-bytes" && connection.state === "OPEN") connection.send(event.message); // the echo
      else if (event.type === "close") closed = event;
    }
    if (closed === undefined) this.#queue();
    else this.#flush(); // before the socket is ended
    if (closed !== undefined && !this.#ended) {
      this.#ended = true;
      this.#settings.onClose?.({ code: closed.code, reason: closed.reason, clean: closed.clean });
      // §7.1.1: once the closing handshake is done (or the connection failed),
      // the server closes TCP first; a client that never closes its side is dropped.
      this.#socket.end();
      this.#startCloseTimer();
    }
  }

  /**
   * Takes what the connection queued, to be written once the reads of this
   * turn of the event loop are handled (setImmediate runs after them), or at
   * once from FLUSH_CAP bytes on. Performance: a socket often has several reads
   * ready at once; writing after each meant one system call per echo, and
   * writing once per turn puts several echoes in one.
   */
  #queue(): void {
    const chunks = this.#connection.bytesToSend();
    if (chunks.length === 0) return;
    if (this.#pending === undefined) this.#pending = chunks;
    else for (const chunk of chunks) this.#pending.push(chunk);
    for (const chunk of chunks) this.#pendingSize += chunk.length;
    if (this.#pendingSize >= FLUSH_CAP) return this.#flush(); // a bound on what waits, and on what is read meanwhile
    const due = EchoSession.#due;
    if (due.size === 0) setImmediate(EchoSession.#flushDue);
    due.add(this);
  }

  /** Flushes every session that queued bytes this turn (one callback for all of them). */
  static #flushDue(this: void): void {
    const due = EchoSession.#due;
    for (const session of due) session.#flush();
    due.clear();
  }

  /** Writes what is pending and what the connection queued, as one batch; stops reading from a client that stops reading. */
  #flush(): void {
    const socket = this.#socket;
    const queued = this.#connection.bytesToSend();
    let chunks = queued;
    if (this.#pending !== undefined) {
      chunks = this.#pending;
      for (const chunk of queued) chunks.push(chunk);
      this.#pending = undefined;
      this.#pendingSize = 0;
    }
    if (chunks.length === 0 || socket.destroyed) return;
    // Performance: one write for everything one read produced. Small frames
    // (many echoes of short messages) are copied into one buffer: a copy of a
    // few KiB costs less than handing the socket dozens of pieces. Large ones
    // are written as they are, corked so that they still leave together.
    const size = chunks.reduce((total, chunk) => total + chunk.length, 0);
    if (chunks.length > 1 && size <= JOIN_LIMIT) {
      socket.write(Buffer.concat(chunks, size));
    } else {
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
    }
    // Backpressure: while more than WRITE_LIMIT bytes wait in the socket (the
    // kernel would not take them), read nothing more until the client has
    // taken what we wrote, so it cannot make us buffer without bound.
    // Performance: ask `writableLength`, what is really left after the write,
    // not `writableNeedDrain`: any write of 16 KiB or more sets that flag
    // before the kernel takes the bytes, so every large echo would stop and
    // restart reading (two system calls and a turn of the event loop each).
    if (socket.writableLength > WRITE_LIMIT && !socket.isPaused()) {
      socket.pause();
      socket.once("drain", () => socket.resume());
    }
  }

  /** Wait a bounded time for the client, then drop the connection (§7.1.1). */
  #startCloseTimer(): void {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#settings.closeTimeout);
  }
  // #endregion
}
