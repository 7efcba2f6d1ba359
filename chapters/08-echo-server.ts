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
import { NotImplementedError } from "../lib/not-implemented.ts";
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
  throw new NotImplementedError("decideUpgrade in chapters/08-echo-server.ts");
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
  throw new NotImplementedError("handshakeResponse in chapters/08-echo-server.ts");
}

// ---------------------------------------------------------------------------
// Step 2 — the HTTP side: listen, count, refuse, and bound the handshake

/**
 * An echo server: every text message comes back as text, every binary one as
 * binary. It runs on a new node:http server, or on the one given: an
 * https server makes it a wss:// server (chapter 11), with no other change.
 */
export function createEchoServer(options: EchoServerOptions = {}, server: HttpServer | HttpsServer = createServer()): EchoServer {
  throw new NotImplementedError("createEchoServer in chapters/08-echo-server.ts");
}

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
  /**
   * Takes over `socket` once the `101` is written: reads every chunk into the
   * connection, echoes each message as its event comes, writes what the
   * connection queued; `head` (bytes that came right behind the request) is
   * read first. With `settings.pingInterval`, starts the `heartbeat()`.
   * `deflate` (chapter 12): the permessage-deflate parameters agreed, if any.
   */
  constructor(socket: Socket, head: Uint8Array, settings: EchoSettings, deflate?: DeflateParams) {
    throw new NotImplementedError("new EchoSession in chapters/08-echo-server.ts");
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
    throw new NotImplementedError("EchoSession.heartbeat in chapters/08-echo-server.ts");
  }

  /**
   * The server is stopping (its `close()`): a close frame with 1001, going
   * away (§7.4.1), then at most `closeTimeout` for the client's answer and
   * its FIN (§7.1.1). Does nothing unless the connection is OPEN.
   */
  goodbye(): void {
    throw new NotImplementedError("EchoSession.goodbye in chapters/08-echo-server.ts");
  }
}
