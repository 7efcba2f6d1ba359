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
  // #region solution step 1
  const target = parseWebSocketUrl(url);
  for (const name of ["pingInterval", "pongTimeout"] as const) {
    const ms = options[name];
    if (ms !== undefined && !(ms > 0 && ms <= 2 ** 31 - 1)) throw new RangeError(`${name} is a number of ms, 1 to 2^31 - 1, not ${ms}`);
  }
  const key = createClientKey();
  const timeout = options.handshakeTimeout ?? 10_000;
  // Chapter 12: the offers go in as extra header lines, before the empty line that ends the head.
  const deflate = typeof options.deflate === "object" ? options.deflate : options.deflate ? {} : undefined;
  const protocols = options.protocols ?? [];
  const offers: string[] = [];
  if (protocols.length > 0) offers.push(`Sec-WebSocket-Protocol: ${subprotocolHeader(protocols)}`);
  if (deflate !== undefined) offers.push(`Sec-WebSocket-Extensions: ${formatExtensionHeader([deflateOffer(deflate)])}`);
  const request = createUpgradeRequest(target, key, options.origin === undefined ? {} : { origin: options.origin }).replace(
    /\r\n$/,
    offers.map((line) => `${line}\r\n`).join("") + "\r\n",
  );

  // §4.1, connection step 2: one connection in CONNECTING per remote address and port. Another
  // attempt to the same one, under any name, waits here until the attempt before it has opened or failed.
  const remote = `${await addressOf(target.host)} port ${target.port}`;
  return inTurn(remote, async () => {
    const socket = openSocket(target, options.tls);
    try {
      const { head, rest } = await exchangeHeads(socket, target.secure, request, timeout, options.trace);
      const response = parseResponseHead(head);
      // §4.1: any status but 101 is plain HTTP. We neither follow redirects nor
      // authenticate, so it ends here; the reason phrase helps whoever reads the error.
      if (response.status !== 101) {
        throw new HandshakeError(`the server refused the upgrade: HTTP ${response.status} ${response.reason}`.trimEnd());
      }
      // Chapter 02 refuses any extension; with an offer out, chapter 12 judges that header instead.
      const { "sec-websocket-extensions": extensions, ...others } = response.headers; // names are lower-case (parseResponseHead)
      checkUpgradeResponse(deflate === undefined ? response : { ...response, headers: others }, key, { protocols });
      const agreed: Agreed = {
        protocol: checkSubprotocol(getHeader(response.headers, "sec-websocket-protocol"), protocols) ?? "",
        extensions: getHeader(response.headers, "sec-websocket-extensions") ?? "",
      };
      if (deflate !== undefined) agreed.deflate = checkDeflateResponse(readExtensions(agreed.extensions), deflate);
      return new ClientConnection(socket, rest, options, agreed);
    } catch (error) {
      // §4.1: the client MUST fail the connection; there is no WebSocket yet, so no close frame.
      socket.destroy();
      throw error;
    }
  });
  // #endregion
}

// #region reference-only
/**
 * §4.1, connection step 2: for each remote address and port ("127.0.0.1 port
 * 8080"), the last attempt in line, as a promise that settles once it has
 * opened or failed. Shared by every connect() in this process, as a browser
 * shares it between its pages: that is what makes it a limit.
 */
const attempts = new Map<string, Promise<void>>();

/** Runs `attempt` once every earlier attempt to `remote` has opened or failed. */
async function inTurn<T>(remote: string, attempt: () => Promise<T>): Promise<T> {
  const result = (attempts.get(remote) ?? Promise.resolve()).then(attempt);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  attempts.set(remote, settled);
  try {
    return await result;
  } finally {
    // The last in line empties its entry, so the map never keeps addresses of the past.
    if (attempts.get(remote) === settled) attempts.delete(remote);
  }
}

/**
 * The IP address `host` stands for: itself when it is one, else the first
 * address the resolver gives, the one `net.connect` tries first. §4.1 counts
 * connections per address, "even if the remote host is known by another name".
 */
async function addressOf(host: string): Promise<string> {
  return isIP(host) === 0 ? (await lookup(host)).address : host;
}

/** The server's Sec-WebSocket-Extensions, read; unreadable is a failed handshake (§4.1). */
function readExtensions(header: string) {
  try {
    return parseExtensionHeader(header);
  } catch (error) {
    throw new HandshakeError((error as Error).message);
  }
}

/** TCP for ws:, TLS over TCP for wss: (§4.1: the TLS handshake comes before any HTTP). */
function openSocket(url: WebSocketUrl, tls: TlsOptions = {}): Socket {
  if (!url.secure) return connectTcp({ host: url.host, port: url.port });
  // §4.1: a client MUST send the host name in SNI, which may not carry an IP address (RFC 6066 §3).
  const servername = isIP(url.host) === 0 ? url.host : undefined;
  return connectTls({ host: url.host, port: url.port, ...(servername === undefined ? {} : { servername }), ...tls });
}

/**
 * Sends the request once the socket is up, and reads the response head: the
 * bytes up to and including the first CRLF CRLF. Whatever came after it in
 * the same chunk is already WebSocket frames, returned as `rest`. The socket
 * is left paused, so no byte is lost before the frame reader takes over.
 */
function exchangeHeads(
  socket: Socket,
  secure: boolean,
  request: string,
  timeoutMs: number,
  trace: ((line: string) => void) | undefined,
): Promise<{ head: string; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);

    const onReady = () => {
      trace?.(describeHead(request, "→ server"));
      socket.write(request);
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      const headLength = end === -1 ? received.length : end + 4;
      if (headLength > MAX_HEAD_BYTES) {
        return fail(new HandshakeError(`the response head is larger than ${MAX_HEAD_BYTES} bytes: not a handshake`));
      }
      if (end === -1) return; // the head continues in a later chunk
      socket.pause();
      // HTTP heads are ASCII (RFC 9112 §2.2); latin1 maps each byte to one character.
      const head = received.subarray(0, end + 4).toString("latin1");
      trace?.(describeHead(head, "← server"));
      finish();
      resolve({ head, rest: received.subarray(end + 4) });
    };
    const onEnd = () => fail(new HandshakeError("the server closed the connection before it answered the handshake"));
    const onTimeout = () =>
      fail(new HandshakeError(`no handshake within ${timeoutMs} ms (handshakeTimeout): the server did not answer`));

    const ready = secure ? "secureConnect" : "connect";
    const timer = setTimeout(onTimeout, timeoutMs);
    socket.once(ready, onReady);
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", fail); // ECONNREFUSED and friends pass through as they are

    function finish() {
      clearTimeout(timer);
      socket.off(ready, onReady);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", fail);
    }
    function fail(error: Error) {
      finish();
      reject(error);
    }
  });
}

/** "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n..." → status, reason phrase, headers. */
function parseResponseHead(head: string): UpgradeResponse & { reason: string } {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = /^HTTP\/1\.\d (\d{3})(?: (.*))?$/.exec(statusLine);
  if (status === null) throw new HandshakeError(`the server did not answer with HTTP: "${statusLine}"`);

  const headers: Headers = {};
  for (const line of lines) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HandshakeError(`malformed header line in the response: "${line}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const earlier = headers[name];
    // A repeated header keeps every value; getHeader joins them (RFC 9110 §5.3).
    headers[name] = earlier === undefined ? value : [earlier, value].flat();
  }
  return { status: Number(status[1]), reason: status[2] ?? "", headers };
}

/** Someone waiting for a value: settling it also stops its timer. */
interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/**
 * Puts a waiter, wrapped by `entry`, at the end of `queue` and returns its
 * promise. Every wait is bounded: after `timeoutMs` the entry leaves the
 * queue and the promise rejects with a TimeoutError.
 */
function enqueue<T, E>(queue: E[], entry: (waiter: Waiter<T>) => E, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    // setTimeout would turn anything it cannot hold (over 2^31 - 1 ms, or NaN) into 1 ms.
    if (!(timeoutMs >= 0 && timeoutMs <= 2 ** 31 - 1)) {
      return reject(new RangeError(`a timeout is a number of ms from 0 to 2^31 - 1, not ${timeoutMs}`));
    }
    const timer = setTimeout(() => {
      queue.splice(queue.indexOf(queued), 1);
      reject(new TimeoutError(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const queued = entry({
      resolve: (value) => (clearTimeout(timer), resolve(value)),
      reject: (error) => (clearTimeout(timer), reject(error)),
    });
    queue.push(queued);
  });
}
// #endregion

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
  // #region reference-only
  readonly #socket: Socket;
  readonly #connection: Connection;
  readonly #closeTimeout: number;
  /** Messages that arrived before anyone asked for them, oldest first. */
  readonly #inbox: Message[] = [];
  /** `receive()` calls waiting for a message, oldest first. */
  readonly #receivers: Waiter<Message>[] = [];
  /** `ping()` calls waiting for their pong, oldest first. */
  readonly #pings: { payload: Uint8Array; waiter: Waiter<Uint8Array> }[] = [];
  /** How the WebSocket ended: set by the Connection's close event. */
  #ending: CloseInfo | undefined;
  #tcpClosed = false;
  #closeTimer: NodeJS.Timeout | undefined;
  /** The heartbeat's next step, and whether anything arrived since our last ping. */
  #heartbeat: NodeJS.Timeout | undefined;
  #heard = true; // first read only after #ping cleared it
  readonly #options: ClientOptions;
  readonly #closed: Promise<CloseInfo>;
  #resolveClosed: (info: CloseInfo) => void = () => {};
  readonly #agreed: Agreed;
  // #endregion

  /**
   * Takes over `socket` once the opening handshake is done. `rest` holds the
   * bytes that followed the response head in the same read: already frames.
   * The socket comes paused, so no byte is read before the listeners are in place.
   * `agreed` (chapter 12): the subprotocol and extensions the handshake agreed on.
   */
  constructor(socket: Socket, rest: Uint8Array, options: ClientOptions = {}, agreed: Agreed = { protocol: "", extensions: "" }) {
    // #region solution step 1
    this.#socket = socket;
    this.#options = options;
    this.#closeTimeout = options.closeTimeout ?? 5_000;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#agreed = agreed;
    const trace = options.trace;
    const maxMessageSize = options.maxMessageSize; // undefined: chapter 07's default
    // Chapter 12: permessage-deflate, if the server accepted it; the limit applies to the inflated size.
    const extension =
      agreed.deflate === undefined
        ? undefined
        : new PerMessageDeflate("client", agreed.deflate, {
            maxMessageSize,
            ...(trace === undefined ? {} : { onMessage: (t) => trace(describeDeflate(t, t.direction === "in" ? "← server" : "→ server")) }),
          });
    this.#connection = new Connection("client", {
      maxMessageSize,
      extension, // undefined: none
      ...(trace === undefined ? {} : { onFrame: (frame, way) => trace(describeFrame(frame, way === "in" ? "← server" : "→ server")) }),
    });
    this.#connection.open();

    // Frames are small and an echo waits for each one: don't let Nagle's algorithm hold them back.
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receiveBytes(chunk));
    // A socket error is followed by "close", which reports 1006 (§7.1.5).
    socket.on("error", () => {});
    socket.on("close", () => this.#onTcpClosed());
    this.#receiveBytes(rest);
    socket.resume(); // exchangeHeads paused it at the end of the head
    if (options.pingInterval !== undefined) this.#heartbeat = setTimeout(() => this.#ping(), options.pingInterval);
    // #endregion
  }

  get state(): ConnectionState {
    // #region solution step 1
    if (this.#tcpClosed) return "CLOSED";
    return this.#connection.state === "OPEN" ? "OPEN" : "CLOSING";
    // #endregion
  }

  get closed(): Promise<CloseInfo> {
    // #region solution step 1
    return this.#closed;
    // #endregion
  }

  /** Chapter 12: the subprotocol the server chose, "" if none (written in chapter 12, graded there). */
  get protocol(): string {
    // #region solution step 1
    return this.#agreed.protocol;
    // #endregion
  }

  /** Chapter 12: the server's Sec-WebSocket-Extensions, "" if none (written in chapter 12, graded there). */
  get extensions(): string {
    // #region solution step 1
    return this.#agreed.extensions;
    // #endregion
  }

  send(data: string | Uint8Array): void {
    // #region solution step 1
    this.#connection.send(typeof data === "string" ? { type: "text", data } : { type: "binary", data });
    this.#flush();
    // #endregion
  }

  async receive(timeoutMs: number = DEFAULT_WAIT): Promise<Message> {
    // #region solution step 1
    const queued = this.#inbox.shift();
    if (queued !== undefined) return queued;
    // After *our* close frame the server may still send data until it answers
    // (§5.5.1), so only the end of the WebSocket stops the wait.
    if (this.#ending !== undefined) throw this.#closedError("receive a message");
    return enqueue(this.#receivers, (waiter) => waiter, timeoutMs, "message");
    // #endregion
  }

  async ping(payload: string | Uint8Array = new Uint8Array(0), timeoutMs: number = DEFAULT_WAIT): Promise<Uint8Array> {
    // #region solution step 2
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    this.#connection.ping(bytes);
    this.#flush();
    return enqueue(this.#pings, (waiter) => ({ payload: bytes, waiter }), timeoutMs, "pong");
    // #endregion
  }

  async close(code: number = CloseCode.Normal, reason = "", timeoutMs?: number): Promise<CloseInfo> {
    // #region solution step 1
    if (this.#connection.state === "OPEN") {
      this.#connection.close(code, reason);
      this.#flush();
      this.#awaitTcpClose(timeoutMs ?? this.#closeTimeout);
    }
    return this.#closed;
    // #endregion
  }

  // #region reference-only
  /**
   * Bytes from the socket in, events out, each handled as it comes (the
   * Connection queues a pong or a close reply when it reaches that frame);
   * then write what it queued. Handling the close event first is harmless:
   * it only settles the waiters and starts the timer of §7.1.1.
   */
  #receiveBytes(bytes: Uint8Array): void {
    this.#heard = true; // anything from the server answers the heartbeat's ping
    for (const event of this.#connection.receive(bytes)) this.#handle(event);
    this.#flush();
  }

  /** A heartbeat (§5.5.2): a ping, and the connection dropped (1006) if nothing answers within pongTimeout. */
  #ping(): void {
    // Not after a close frame (ours or the server's): a ping would follow it. (The end of TCP clears the timer.)
    if (this.#connection.state !== "OPEN") return;
    const { pingInterval = 0, pongTimeout = pingInterval } = this.#options;
    this.#heard = false;
    this.#connection.ping();
    this.#flush();
    this.#heartbeat = setTimeout(() => {
      if (!this.#heard) {
        this.#options.trace?.(`✗ no answer to a ping within ${pongTimeout} ms: dropping the connection (1006)`);
        this.#socket.destroy();
        return;
      }
      this.#heartbeat = setTimeout(() => this.#ping(), Math.max(0, pingInterval - pongTimeout));
    }, pongTimeout);
  }

  #handle(event: ConnectionEvent): void {
    switch (event.type) {
      case "message":
        this.#deliver(event.message);
        return;
      case "pong":
        this.#answerPings(event.payload);
        return;
      case "ping":
        return; // the Connection already queued the pong (§5.5.2)
      case "close":
        this.#onWebSocketClosed(event);
        return;
    }
  }

  #deliver(message: Message): void {
    const receiver = this.#receivers.shift();
    if (receiver === undefined) this.#inbox.push(message);
    else receiver.resolve(message);
  }

  /**
   * A pong answers the ping with the same payload (§5.5.3) — and every
   * earlier one, since a peer may answer only the most recent of several
   * pings. A pong that answers no ping is a heartbeat: nothing to do.
   */
  #answerPings(payload: Uint8Array): void {
    const same = (a: Uint8Array) => a.length === payload.length && a.every((b, i) => b === payload[i]);
    const answered = this.#pings.findIndex((ping) => same(ping.payload));
    for (const { waiter } of this.#pings.splice(0, answered + 1)) waiter.resolve(payload);
  }

  /** No frame will be processed any more: the server's close frame came, or we failed the connection. */
  #onWebSocketClosed(event: Extract<ConnectionEvent, { type: "close" }>): void {
    this.#ending = { code: event.code, reason: event.reason, clean: event.clean };
    const error = this.#closedError("wait any longer");
    for (const receiver of this.#receivers.splice(0)) receiver.reject(error);
    for (const { waiter } of this.#pings.splice(0)) waiter.reject(error);
    if (this.#tcpClosed) return;
    // §7.1.1: the server closes TCP first, and we wait, a bounded time: after
    // a closing handshake, and also after we failed the connection (§7.1.7
    // says to close it, and §7.1.1 says how; closing first is only for when
    // the server does not).
    this.#awaitTcpClose(this.#closeTimeout);
  }

  /** §7.1.1: the server should close TCP first; if it has not after `timeoutMs`, the client MAY. */
  #awaitTcpClose(timeoutMs: number): void {
    if (this.#closeTimer !== undefined || this.#tcpClosed) return;
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), timeoutMs);
  }

  #onTcpClosed(): void {
    this.#tcpClosed = true;
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#heartbeat);
    // No close frame before the end of TCP: 1006, abnormal closure (§7.1.5).
    for (const event of this.#connection.receiveEnd()) this.#handle(event);
    this.#resolveClosed(this.#ending ?? { code: CloseCode.AbnormalClosure, reason: "", clean: false });
  }

  /**
   * Writes what the Connection queued. Node buffers what the network cannot
   * take yet; an echo client sends little, so it does not wait for "drain".
   */
  #flush(): void {
    if (this.#tcpClosed) return;
    for (const bytes of this.#connection.bytesToSend()) this.#socket.write(bytes);
  }

  #closedError(action: string): InvalidStateError {
    const { code, reason } = this.#ending ?? { code: CloseCode.AbnormalClosure, reason: "" };
    return new InvalidStateError(`cannot ${action}: the WebSocket is closed (${code}${reason === "" ? "" : ` "${reason}"`})`);
  }
  // #endregion
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

// #region reference-only
const isWhole = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
// #endregion

/**
 * How long to wait before reconnection attempt `attempt` (0 for the first):
 * a random delay between 0 and min(capMs, baseMs × 2^attempt), "full jitter".
 * `random` returns a number in [0, 1) like Math.random (tests pass their own).
 * Misuse (a negative or fractional attempt, baseMs ≤ 0, capMs < baseMs,
 * capMs > MAX_DELAY_MS) is a RangeError.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  // #region solution step 3
  const { baseMs, capMs } = options;
  if (!isWhole(attempt)) throw new RangeError(`attempt is a whole number from 0, not ${attempt}`);
  if (!(baseMs > 0) || !(capMs >= baseMs)) throw new RangeError(`backoff needs 0 < baseMs ≤ capMs, not ${baseMs} and ${capMs}`);
  // A delay is for setTimeout, which fires after 1 ms for anything past 2^31 - 1 ms: a hot loop, not a wait.
  if (!(capMs <= MAX_DELAY_MS)) throw new RangeError(`capMs is at most 2^31 - 1 ms (setTimeout's range), not ${capMs}`);
  // 2 ** attempt grows past any cap quickly; Math.min keeps the ceiling finite.
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
  // Full jitter: anywhere from 0 to the ceiling, so clients dropped together come back apart.
  return Math.floor(random() * ceiling);
  // #endregion
}

/**
 * Whether a client should connect again after its WebSocket closed this way,
 * without its application asking: after an abnormal closure (no closing
 * handshake, §7.2.3), and after a server's clean "come back later" (1001
 * going away, 1012 service restart, 1013 try again later: the workbook's
 * policy). Any other clean close is the server's decision to end: honoured.
 */
export function shouldReconnect(close: CloseInfo): boolean {
  // #region solution step 3
  if (!close.clean) return true;
  return close.code === CloseCode.GoingAway || close.code === CloseCode.ServiceRestart || close.code === CloseCode.TryAgainLater;
  // #endregion
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
  // #region solution step 3
  parseWebSocketUrl(url); // a SyntaxError now, not an endless loop of them later
  const backoff = options.backoff ?? { baseMs: 1_000, capMs: 30_000 };
  const stableMs = options.stableMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? Infinity;
  backoffDelay(0, backoff, () => 0); // checks the backoff's numbers
  if (!(stableMs >= 0) || !Number.isFinite(stableMs)) throw new RangeError(`stableMs is a duration in ms, not ${stableMs}`);
  if (!(maxAttempts >= 1)) throw new RangeError(`maxAttempts is at least 1, not ${maxAttempts}`);

  let current: WebSocketClient | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  let end!: (why: ReconnectEnd) => void;
  const ended = new Promise<ReconnectEnd>((resolve) => (end = resolve));

  /** Waits `ms`, or less if stop() comes first. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const run = async (): Promise<ReconnectEnd> => {
    let attempt = 0; // waits since the last stable connection: the backoff's exponent
    let failures = 0; // connection attempts in a row that did not open
    let why = "";
    for (let first = true; ; first = false) {
      if (!first) {
        const delayMs = backoffDelay(attempt, backoff, options.random);
        options.onRetry?.(attempt, delayMs, why);
        attempt += 1;
        await pause(delayMs);
      }
      if (stopped) return { reason: "stopped" };
      let client: WebSocketClient;
      try {
        client = await connect(url, options);
      } catch (error) {
        failures += 1;
        if (stopped) return { reason: "stopped" };
        if (failures >= maxAttempts) return { reason: "gave up", error };
        why = error instanceof Error ? error.message : String(error);
        continue;
      }
      failures = 0;
      if (stopped) {
        await client.close();
        return { reason: "stopped" };
      }
      const openedAt = performance.now();
      current = client;
      try {
        options.onOpen?.(client);
      } catch (error) {
        await client.close(CloseCode.InternalError);
        return { reason: "gave up", error };
      }
      const close = await client.closed;
      current = undefined;
      if (stopped) return { reason: "stopped" };
      if (!shouldReconnect(close)) return { reason: "closed", close };
      // Only a connection that lasted resets the schedule: one that a server
      // accepts and drops at once must not be retried at the first delay forever.
      if (performance.now() - openedAt >= stableMs) attempt = 0;
      why = `closed with ${close.code}${close.reason === "" ? "" : ` "${close.reason}"`}`;
    }
  };
  void run().then(end, (error: unknown) => end({ reason: "gave up", error }));

  return {
    get current() {
      return current;
    },
    ended,
    async stop(code: number = CloseCode.Normal, reason = "") {
      if (!stopped) {
        stopped = true;
        wake?.();
        try {
          await current?.close(code, reason);
        } catch (error) {
          await current?.close(); // a code that may not be sent: close with 1000 anyway, then say why
          throw error;
        }
      }
      return ended;
    },
  };
  // #endregion
}
