/**
 * Chapter 09 — The echo client (RFC 6455 §4.1, §5.1, §7)
 *
 * Exercise: a WebSocket client on a real socket, built from your earlier
 * chapters. Its life has two phases:
 *
 *   1. HTTP: open TCP (and TLS for wss:), send the upgrade request of
 *      chapter 02, read the response head byte by byte up to its empty line,
 *      check it;
 *   2. frames: every byte after that empty line goes to the Connection of
 *      chapter 07, which masks what we send and decides what we receive.
 *
 * The socket only moves bytes; every protocol decision is in chapters 01–07.
 *
 * Page: docs/chapters/09-echo-client.md · Tests: tests/09-echo-client.test.ts
 * Check: npm run grade -- 9
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import { lookup } from "node:dns/promises";
import { connect as connectTcp, isIP, type Socket } from "node:net";
import { connect as connectTls, type ConnectionOptions as TlsOptions } from "node:tls";
import { CloseCode, type CloseStatus } from "../lib/close-codes.ts";
import { HandshakeError, InvalidStateError } from "../lib/errors.ts";
import type { DeflateParams } from "../lib/extensions.ts";
import type { UpgradeResponse } from "../lib/handshake.ts";
import { getHeader, type Headers } from "../lib/http-headers.ts";
import type { Message } from "../lib/message.ts";
import { describeDeflate, describeFrame, describeHead } from "../lib/trace.ts";
import type { WebSocketUrl } from "../lib/websocket-url.ts";
import { parseWebSocketUrl } from "./01-urls.ts";
import { checkUpgradeResponse, createClientKey, createUpgradeRequest } from "./02-handshake.ts";
import { Connection, type ConnectionEvent, type ConnectionState } from "./07-connection.ts";
import {
  checkDeflateResponse,
  checkSubprotocol,
  deflateOffer,
  formatExtensionHeader,
  parseExtensionHeader,
  PerMessageDeflate,
  subprotocolHeader,
  type DeflateOptions,
} from "./12-extensions.ts";

export interface ClientOptions {
  /** Sent as the `Origin` header (§4.1, request requirement 8); browsers always send one, other clients may. */
  origin?: string;
  /** TCP connect, TLS, request and response must all be done within this many ms (default 10 000). */
  handshakeTimeout?: number;
  /** How long to wait for the server to end TCP once the closing handshake started (default 5 000 ms, §7.1.1). */
  closeTimeout?: number;
  /** The largest message accepted, in bytes; a larger one fails the connection with 1009 (§10.4). */
  maxMessageSize?: number;
  /**
   * Heartbeats, in ms: send a ping every `pingInterval`, and drop the
   * connection (1006) if nothing arrives from the server within `pongTimeout`
   * of a ping (default: `pingInterval`). Off unless given (§5.5.2).
   */
  pingInterval?: number;
  pongTimeout?: number;
  /** Sees the handshake request and response and every frame both ways, one line at a time. */
  trace?: (line: string) => void;
  /** For wss: extra `node:tls` options, such as `ca` to trust a test certificate. */
  tls?: TlsOptions;
  /** Chapter 12: offer permessage-deflate (RFC 7692), `true` or with what to ask for. Default: offer no extension. */
  deflate?: boolean | DeflateOptions;
  /** Chapter 12: the subprotocols to offer, by preference (RFC 6455 §1.9, §4.1, request requirement 10). */
  protocols?: readonly string[];
}

/** Chapter 12: what the opening handshake agreed on, beyond the WebSocket itself. */
export interface Agreed {
  /** The subprotocol the server chose, or "" (as the WebSocket API's `protocol`). */
  protocol: string;
  /** The server's Sec-WebSocket-Extensions, or "" (as the WebSocket API's `extensions`). */
  extensions: string;
  /** permessage-deflate's agreed parameters, if it was accepted. */
  deflate?: DeflateParams | undefined;
}

/** How a WebSocket ended, as the WebSocket API's CloseEvent reports it (§7.1.5, §7.1.6). */
export interface CloseInfo extends CloseStatus {
  /** The closing handshake completed: both close frames were exchanged (§7.1.4). */
  clean: boolean;
}

/** `receive()` or `ping()` waited longer than it was allowed to. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** The largest response head we read: a server that sends more is not answering a handshake. */
export const MAX_HEAD_BYTES = 16 * 1024;

/** How long `receive()` and `ping()` wait unless told otherwise, in ms. */
export const DEFAULT_WAIT = 10_000;

/**
 * Opens a WebSocket to `url` (ws:// over TCP, wss:// over TLS) and resolves
 * once the opening handshake succeeded (RFC 6455 §4.1).
 *
 * At most one connection per IP address and port is in CONNECTING at a time
 * (§4.1, connection step 2): another connect() to the same address, under
 * any name, opens its TCP connection only once the earlier one has opened or
 * failed (any failure: a refused port, a refusal, a timeout). Its own
 * `handshakeTimeout` starts when its turn comes; the wait before it is
 * bounded by the `handshakeTimeout` of those ahead of it.
 *
 * Rejects with
 * - a `SyntaxError` for a URL that is not a WebSocket URI (chapter 01);
 * - Node's own error for the socket (`ECONNREFUSED`, `ENOTFOUND`, a TLS error), unchanged;
 * - a `HandshakeError` if the server answers anything but a valid 101 (the
 *   message names the status and its reason phrase), sends a head larger than
 *   `MAX_HEAD_BYTES`, closes the connection before answering, or does not
 *   answer within `handshakeTimeout`.
 */
export async function connect(url: string, options: ClientOptions = {}): Promise<WebSocketClient> {
  throw new NotImplementedError("connect in chapters/09-echo-client.ts");
}

/**
 * An open WebSocket, seen from the client: what `connect()` resolves with.
 * Sync methods throw, async ones reject.
 */
export interface WebSocketClient {
  /**
   * OPEN, then CLOSING once a close frame was sent or received, CLOSED once
   * the TCP connection is gone (§7.1.4) — the WebSocket API's readyState.
   */
  readonly state: ConnectionState;

  /** Resolves once the TCP connection is closed, however that happened; never rejects. */
  readonly closed: Promise<CloseInfo>;

  /**
   * Sends a string as a text message, bytes as a binary message (§5.6),
   * masked (§5.3). Throws an `InvalidStateError` once our close frame is out (§5.5.1).
   */
  send(data: string | Uint8Array): void;

  /**
   * The next message, in arrival order: messages that arrived before anyone
   * asked wait in a queue. Rejects with an `InvalidStateError` naming the
   * close code when the WebSocket has ended and no message is left, and with
   * a `TimeoutError` after `timeoutMs` (default `DEFAULT_WAIT`).
   */
  receive(timeoutMs?: number): Promise<Message>;

  /**
   * Sends a ping and resolves with the payload of the pong that answers it
   * (§5.5.2, §5.5.3). Rejects with a `TimeoutError` after `timeoutMs`
   * (default `DEFAULT_WAIT`), and with an `InvalidStateError` if the
   * WebSocket ends first.
   */
  ping(payload?: string | Uint8Array, timeoutMs?: number): Promise<Uint8Array>;

  /**
   * Starts the closing handshake (§7.1.2): sends a close frame with `code`
   * (default 1000) and `reason`, then waits for the server's close frame and
   * for the server to end TCP (§7.1.1), at most `timeoutMs` (default: the
   * `closeTimeout` option) before ending it itself. Resolves as `closed`
   * does: with the server's answer, or 1006 if none came. A code that may not
   * be sent, or a reason over 123 bytes, rejects with a RangeError. Closing
   * twice is harmless.
   */
  close(code?: number, reason?: string, timeoutMs?: number): Promise<CloseInfo>;

  /** Chapter 12: the subprotocol the server chose, "" if none (RFC 6455 §1.9). */
  readonly protocol: string;

  /** Chapter 12: the extensions in use, as the server's Sec-WebSocket-Extensions said, "" if none (§9.1). */
  readonly extensions: string;
}

/**
 * The `WebSocketClient` that `connect()` makes: a client-side `Connection`
 * (chapter 07) on a `node:net` or `node:tls` socket. It only moves bytes
 * between the two, and waits, but never forever. The methods do what
 * `WebSocketClient` says.
 */
export class ClientConnection implements WebSocketClient {
  /**
   * Takes over `socket` once the opening handshake is done. `rest` holds the
   * bytes that followed the response head in the same read: already frames.
   * The socket comes paused, so no byte is read before the listeners are in place.
   * `agreed` (chapter 12): the subprotocol and extensions the handshake agreed on.
   */
  constructor(socket: Socket, rest: Uint8Array, options: ClientOptions = {}, agreed: Agreed = { protocol: "", extensions: "" }) {
    throw new NotImplementedError("new ClientConnection in chapters/09-echo-client.ts");
  }

  get state(): ConnectionState {
    throw new NotImplementedError("ClientConnection.state in chapters/09-echo-client.ts");
  }

  get closed(): Promise<CloseInfo> {
    throw new NotImplementedError("ClientConnection.closed in chapters/09-echo-client.ts");
  }

  /** Chapter 12: the subprotocol the server chose, "" if none (written in chapter 12, graded there). */
  get protocol(): string {
    throw new NotImplementedError("ClientConnection.protocol in chapters/09-echo-client.ts");
  }

  /** Chapter 12: the server's Sec-WebSocket-Extensions, "" if none (written in chapter 12, graded there). */
  get extensions(): string {
    throw new NotImplementedError("ClientConnection.extensions in chapters/09-echo-client.ts");
  }

  send(data: string | Uint8Array): void {
    throw new NotImplementedError("ClientConnection.send in chapters/09-echo-client.ts");
  }

  async receive(timeoutMs: number = DEFAULT_WAIT): Promise<Message> {
    throw new NotImplementedError("ClientConnection.receive in chapters/09-echo-client.ts");
  }

  async ping(payload: string | Uint8Array = new Uint8Array(0), timeoutMs: number = DEFAULT_WAIT): Promise<Uint8Array> {
    throw new NotImplementedError("ClientConnection.ping in chapters/09-echo-client.ts");
  }

  async close(code: number = CloseCode.Normal, reason = "", timeoutMs?: number): Promise<CloseInfo> {
    throw new NotImplementedError("ClientConnection.close in chapters/09-echo-client.ts");
  }
}

// ---------------------------------------------------------------------------
// Step 3 — coming back after a connection is lost (RFC 6455 §7.2.3)

/** The backoff between reconnection attempts: full jitter under a doubling, capped ceiling. */
export interface BackoffOptions {
  /** The first attempt's ceiling, in ms. */
  baseMs: number;
  /** No delay is ever longer than this, in ms: at most 2^31 - 1, the longest wait setTimeout keeps. */
  capMs: number;
}

/** The longest delay `setTimeout` keeps (2^31 - 1 ms, about 24.8 days); anything longer fires after 1 ms. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * How long to wait before reconnection attempt `attempt` (0 for the first):
 * a random delay between 0 and min(capMs, baseMs × 2^attempt), "full jitter".
 * `random` returns a number in [0, 1) like Math.random (tests pass their own).
 * Misuse (a negative or fractional attempt, baseMs ≤ 0, capMs < baseMs,
 * capMs > MAX_DELAY_MS) is a RangeError.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  throw new NotImplementedError("backoffDelay in chapters/09-echo-client.ts");
}

/**
 * Whether a client should connect again after its WebSocket closed this way,
 * without its application asking: after an abnormal closure (no closing
 * handshake, §7.2.3), and after a server's clean "come back later" (1001
 * going away, 1012 service restart, 1013 try again later: the workbook's
 * policy). Any other clean close is the server's decision to end: honoured.
 */
export function shouldReconnect(close: CloseInfo): boolean {
  throw new NotImplementedError("shouldReconnect in chapters/09-echo-client.ts");
}

export interface ReconnectOptions extends ClientOptions {
  /** The backoff's ceilings, in ms. Default { baseMs: 1000, capMs: 30 000 } (§7.2.3: a first delay of 0 to 5 s is reasonable). */
  backoff?: BackoffOptions;
  /** A number in [0, 1), like Math.random (the default); tests pass their own. */
  random?: () => number;
  /** A connection open at least this long counts as a success: the next loss starts again at attempt 0. Default 5 000 ms. */
  stableMs?: number;
  /** Gives up once this many connection attempts in a row failed (the first one counts). Default: never. */
  maxAttempts?: number;
  /** Called with each WebSocket once it is open: the first, and every one after a reconnection. */
  onOpen?: (client: WebSocketClient) => void;
  /** Called before each wait: the attempt number (from 0 since the last success), the delay, and what was lost. */
  onRetry?: (attempt: number, delayMs: number, why: string) => void;
}

/** Why a `reconnecting()` loop ended: `stop()` was called, the server closed for good, or too many attempts failed. */
export type ReconnectEnd =
  | { reason: "stopped" }
  | { reason: "closed"; close: CloseInfo }
  | { reason: "gave up"; error: unknown };

export interface Reconnecting {
  /** The open WebSocket, or undefined while connecting or waiting. */
  readonly current: WebSocketClient | undefined;
  /** Resolves once no attempt will be made any more, saying why; never rejects. */
  readonly ended: Promise<ReconnectEnd>;
  /** Cancels a wait, closes the open WebSocket (default 1000) and ends; resolves as `ended` does. */
  stop(code?: number, reason?: string): Promise<ReconnectEnd>;
}

/**
 * A client that stays connected: it connects to `url`, hands each open
 * WebSocket to `onOpen`, and when one closes without the application asking
 * (and `shouldReconnect` says so), or an attempt to connect fails, it waits
 * `backoffDelay(attempt)` and connects again (§7.2.3). The attempt count
 * starts at 0 after each stable connection (open for `stableMs`).
 * A URL that is not a WebSocket URI is a SyntaxError, and bad `backoff`,
 * `stableMs` or `maxAttempts` a RangeError, at once. An `onOpen` or `random`
 * that throws ends it ("gave up", with that error; an open WebSocket is
 * closed with 1011). `stop(code)` with a code that may not be sent rejects
 * with a RangeError, after closing with 1000.
 */
export function reconnecting(url: string, options: ReconnectOptions = {}): Reconnecting {
  throw new NotImplementedError("reconnecting in chapters/09-echo-client.ts");
}
