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
import { NotImplementedError } from "../lib/not-implemented.ts";
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import { CloseCode } from "../lib/close-codes.ts";
import type { DeflateParams, DeflateTrace } from "../lib/extensions.ts";
import type { UpgradeDecision } from "../lib/handshake.ts";
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

/**
 * An echo server: every text message comes back as text, every binary one as
 * binary. It runs on a new node:http server, or on the one given: an
 * https server makes it a wss:// server (chapter 11), with no other change.
 */
export function createEchoServer(options: EchoServerOptions = {}, server: HttpServer | HttpsServer = createServer()): EchoServer {
  throw new NotImplementedError("createEchoServer in chapters/08-echo-server.ts");
}

