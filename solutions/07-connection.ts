/**
 * Chapter 07 — A connection as a state machine (RFC 6455 §4–§7), sans-I/O
 *
 * Exercise: everything an endpoint decides, with no socket in sight. Bytes
 * received go in and come out as events (message, ping, pong, close); sending
 * text, binary, a ping or a close queues bytes to write. The echo server and
 * client of the next chapters only move bytes between a socket and this class.
 *
 *   CONNECTING --open()--> OPEN --close()--> CLOSING --peer's close--> CLOSED
 *                           |                                            ^
 *                           +---- peer's close (answered) / failure -----+
 *
 * Page: docs/chapters/07-connection.md · Tests: tests/07-connection.test.ts
 * Check: npm run grade -- 7
 */
import { CloseCode, fitCloseReason } from "../lib/close-codes.ts";
import { InvalidStateError, ProtocolError } from "../lib/errors.ts";
import type { MessageExtension } from "../lib/extensions.ts";
import { isControl, Opcode, type Frame } from "../lib/frame.ts";
import type { Message, MessageBytes } from "../lib/message.ts";
import { createMaskKey } from "./03-masking.ts";
import { encodeFrame, encodeFrameHeader, FrameParser } from "./04-frames.ts";
import { MessageAssembler } from "./05-messages.ts";
import { encodeClosePayload, parseClosePayload } from "./06-closing.ts";

/** Which end of the connection this is: it decides who masks (RFC 6455 §5.1). */
export type Role = "client" | "server";

/** The four states of the WebSocket API's readyState (RFC 6455 §4.1, §7). */
export type ConnectionState = "CONNECTING" | "OPEN" | "CLOSING" | "CLOSED";

/** What the application hears about, in the order it happened. */
export type ConnectionEvent =
  | { type: "message"; message: Message }
  /** Instead of "message" on a connection made with `{ decodeText: false }`: text stays bytes. */
  | { type: "message-bytes"; message: MessageBytes }
  /** A ping arrived; the pong was already queued (§5.5.2). */
  | { type: "ping"; payload: Uint8Array }
  | { type: "pong"; payload: Uint8Array }
  /**
   * The connection is closed. `clean`: both close frames were exchanged.
   * `code` is the peer's (1005 if its frame had none), 1006 if the TCP
   * connection ended without a closing handshake, or ours if we failed the
   * connection, with the `error` that made us.
   */
  | { type: "close"; code: number; reason: string; clean: boolean; error?: ProtocolError };

export interface ConnectionOptions {
  /** The largest message accepted, in bytes; a larger one fails the connection with 1009. */
  maxMessageSize?: number;
  /** Where a client's masking keys come from: `createMaskKey` unless a test needs fixed ones. */
  maskKey?: () => Uint8Array;
  /** Sees every frame received ("in") and sent ("out"): for `--trace`. */
  onFrame?: (frame: Frame, direction: "in" | "out") => void;
  /**
   * false: report every message as a "message-bytes" event, text as its
   * UTF-8 bytes (still validated, never decoded). For an echo or a relay,
   * which can send those bytes back as they are. Default true.
   */
  decodeText?: boolean;
  /**
   * A negotiated extension (chapter 12, RFC 6455 §9): it sees every frame
   * received before this connection does, and transforms every message
   * sent. RSV1 is allowed on the wire only if it uses RSV1 (§5.2). Default: none.
   */
  extension?: MessageExtension;
}

// #region reference-only
/** One encoder for every message: making a new one per message cost as much as the rest of a short echo. */
const encoder = new TextEncoder();
/** Unmasked payloads from this size on are sent as they are, after their header, not copied (see #sendFrame). */
const COPY_LIMIT = 16 * 1024;
/** What `onFrame` does unless given: nothing (one function shared by every connection). */
const noTrace = () => {};
// #endregion

export class Connection {
  // #region reference-only
  #state: ConnectionState = "CONNECTING";
  readonly #role: Role;
  readonly #parser: FrameParser;
  readonly #assembler: MessageAssembler;
  readonly #maskKey: () => Uint8Array;
  readonly #onFrame: (frame: Frame, direction: "in" | "out") => void;
  readonly #decodeText: boolean;
  readonly #extension: MessageExtension | undefined;
  /** Bytes waiting for the I/O layer, in order. */
  #outgoing: Uint8Array[] = [];
  // #endregion

  constructor(role: Role, options: ConnectionOptions = {}) {
    // #region solution step 1
    this.#role = role;
    const limit = options.maxMessageSize === undefined ? {} : { maxPayload: options.maxMessageSize };
    this.#extension = options.extension;
    this.#parser = new FrameParser({ ...limit, allowRsv1: this.#extension?.rsv1 === true });
    this.#assembler = new MessageAssembler(
      options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize },
    );
    this.#maskKey = options.maskKey ?? createMaskKey;
    this.#onFrame = options.onFrame ?? noTrace;
    this.#decodeText = options.decodeText ?? true;
    // #endregion
  }

  /** CONNECTING until `open()`, then OPEN, CLOSING after our close frame, CLOSED at the end. */
  get state(): ConnectionState {
    // #region solution step 1
    return this.#state;
    // #endregion
  }

  /** The opening handshake succeeded (chapter 02): frames may flow (§4.1, §4.2.2). */
  open(): void {
    // #region solution step 1
    if (this.#state !== "CONNECTING") throw new InvalidStateError(`open() on a connection that is ${this.#state}`);
    this.#state = "OPEN";
    // #endregion
  }

  /**
   * Feeds bytes read from the socket; returns the events they complete, one
   * at a time, as the caller iterates (write it as a generator).
   *
   * Each frame is acted upon when the caller asks for its event: a ping's
   * pong is queued then, a close frame is answered then, a violation fails
   * the connection then. So whatever the application sends while handling an
   * event (the echo of a message) is queued before anything the connection
   * says about the frames after it, and TCP's cuts change neither the events
   * nor the bytes out. Iterate to the end: what is not read waits for the
   * next `receive`.
   *
   * A protocol error does not throw: it queues a close frame with the
   * error's code (§7.1.7) and ends the events with a `close` event. The
   * peer's close frame ends them too (§5.5.1: nothing after it is read).
   * Once CLOSED, bytes received are ignored.
   */
  receive(bytes: Uint8Array): Iterable<ConnectionEvent> {
    // #region solution step 2
    if (this.#state === "CONNECTING") throw new InvalidStateError("receive() before open(): the handshake is not done");
    if (this.#state === "CLOSED") return []; // §7.1.1: nothing more is read after the close
    return this.#events(this.#parser.push(bytes));
    // #endregion
  }

  /**
   * The peer ended the TCP connection. Unless the closing handshake was
   * complete, that is an abnormal closure, reported as 1006 (§7.1.5, §7.4.1).
   */
  receiveEnd(): ConnectionEvent[] {
    // #region solution step 3
    if (this.#state === "CLOSED") return [];
    this.#state = "CLOSED";
    return [{ type: "close", code: CloseCode.AbnormalClosure, reason: "", clean: false }];
    // #endregion
  }

  /**
   * Queues a message as one frame: text as a text frame, bytes as a binary
   * frame (§5.6). Text may also be given as its UTF-8 bytes (`MessageBytes`,
   * as a "message-bytes" event reports it): they are sent as they are.
   * A server may queue a large payload itself rather than a copy: leave it
   * unchanged until its bytes are written.
   */
  send(message: Message | MessageBytes): void {
    // #region solution step 1
    this.#requireOpen("send a message");
    if (message.type === "binary") this.#sendData(Opcode.Binary, message.data);
    else if (typeof message.data === "string") this.#sendData(Opcode.Text, encoder.encode(message.data));
    else this.#sendData(Opcode.Text, message.data); // already UTF-8: nothing to encode
    // #endregion
  }

  /** Queues a ping (at most 125 bytes of payload, §5.5). */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    // #region solution step 1
    this.#requireOpen("send a ping");
    this.#sendFrame(Opcode.Ping, payload);
    // #endregion
  }

  /**
   * Starts the closing handshake: queues a close frame and moves to CLOSING,
   * where no more data may be sent (§5.5.1, §7.1.2). The connection is
   * CLOSED when the peer's close frame arrives. Closing twice does nothing.
   * A code that may not be sent, or a reason over 123 bytes, is a RangeError.
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    // #region solution step 3
    if (this.#state === "CLOSING" || this.#state === "CLOSED") return;
    this.#requireOpen("close");
    const payload = encodeClosePayload(code, reason); // validates before anything changes
    this.#sendFrame(Opcode.Close, payload);
    this.#state = "CLOSING";
    // #endregion
  }

  /** The bytes to write to the socket, in order, since the last call (then forgotten here). */
  bytesToSend(): Uint8Array[] {
    // #region solution step 1
    const out = this.#outgoing;
    this.#outgoing = [];
    return out;
    // #endregion
  }

  // #region reference-only
  /** The events of `frames`, each frame handled when its event is asked for. */
  *#events(frames: Iterable<Frame>): Generator<ConnectionEvent, void, undefined> {
    let failure: ProtocolError;
    try {
      for (const frame of frames) {
        if (this.#isClosed()) return; // ended meanwhile (receiveEnd) while these events waited
        this.#onFrame(frame, "in");
        const event = this.#handle(frame);
        if (event !== undefined) yield event; // the application's turn
        // §5.5.1, §1.4: after the peer's close frame (or a failure), nothing more is read.
        if (this.#isClosed()) return;
      }
      // A data frame still arriving: check what is in, so that bad text fails
      // at its first bad byte even inside one frame (§8.1).
      const partial = this.#parser.inProgress;
      if (partial !== undefined && !isControl(partial.opcode) && !this.#transformed(partial)) {
        this.#checkMasking(partial);
        this.#assembler.checkInProgress(partial);
      }
      return;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (this.#isClosed()) return; // nothing is read after the end, not even a violation
      failure = error;
    }
    yield this.#fail(failure);
  }

  /**
   * Chapter 12: whether the message `frame` belongs to is one the extension
   * transforms (a compressed one): its bytes on the wire are then checked only
   * once the extension hands on what they stand for. An extension that cannot
   * tell (no `transforms`) is taken to transform every message.
   */
  #transformed(frame: Frame): boolean {
    return this.#extension !== undefined && this.#extension.transforms?.(frame) !== false;
  }

  /** A method, not a comparison in place: the state changes inside the calls TypeScript cannot see into. */
  #isClosed(): boolean {
    return this.#state === "CLOSED";
  }

  /** §5.1: a server MUST fail a connection whose client does not mask, and a client MUST fail one whose server does. */
  #checkMasking(frame: Frame): void {
    const masked = frame.maskKey !== undefined;
    if (this.#role === "server" && !masked) throw new ProtocolError(1002, "a client must mask every frame (RFC 6455 §5.1)");
    if (this.#role === "client" && masked) throw new ProtocolError(1002, "a server must not mask its frames (RFC 6455 §5.1)");
  }

  /** One frame, already unmasked by the parser: route it by opcode; its event, if any. */
  #handle(frame: Frame): ConnectionEvent | undefined {
    this.#checkMasking(frame);
    if (this.#extension !== undefined) {
      // Chapter 12: the extension may hold the frame back (a compressed message's fragments) or transform it.
      const transformed = this.#extension.receive(frame);
      if (transformed === undefined) return undefined;
      frame = transformed;
    }
    switch (frame.opcode) {
      case Opcode.Ping:
        // §5.5.2, §5.5.3: answer with a pong carrying the same payload, as soon
        // as practical, unless the peer's close frame came first (then we are
        // CLOSED and never get here). After our own close frame a pong may
        // still go: §5.5.1 stops data frames, not control frames.
        this.#sendFrame(Opcode.Pong, frame.payload);
        return { type: "ping", payload: frame.payload };
      case Opcode.Pong:
        return { type: "pong", payload: frame.payload };
      case Opcode.Close: {
        const { code, reason } = parseClosePayload(frame.payload);
        // §5.5.1: answer a close frame with one of our own, unless we sent ours
        // already; echoing the code is what endpoints usually do. The messages
        // before it were answered already: their events came first.
        if (this.#state === "OPEN") this.#sendFrame(Opcode.Close, code === CloseCode.NoStatusReceived ? new Uint8Array(0) : frame.payload);
        this.#state = "CLOSED";
        return { type: "close", code, reason, clean: true };
      }
      default: {
        // Data frames (and continuations); control frames were handled above,
        // so the assembler never sees a ping in the middle of a message (§5.4).
        if (this.#decodeText) {
          const message = this.#assembler.push(frame);
          return message === undefined ? undefined : { type: "message", message };
        }
        const message = this.#assembler.pushBytes(frame);
        return message === undefined ? undefined : { type: "message-bytes", message };
      }
    }
  }

  /** §7.1.7 "Fail the WebSocket Connection": send a close frame with the error's code, then stop. */
  #fail(error: ProtocolError): ConnectionEvent {
    if (this.#state === "OPEN") {
      this.#sendFrame(Opcode.Close, encodeClosePayload(error.code, fitCloseReason(error.message)));
    }
    this.#state = "CLOSED";
    return { type: "close", code: error.code, reason: error.message, clean: false, error };
  }

  #requireOpen(action: string): void {
    if (this.#state !== "OPEN") throw new InvalidStateError(`cannot ${action}: the connection is ${this.#state}`);
  }

  /** A data message: through the extension if there is one (chapter 12), which may set RSV1. */
  #sendData(opcode: number, payload: Uint8Array): void {
    if (this.#extension === undefined) return this.#sendFrame(opcode, payload);
    const sent = this.#extension.send(opcode, payload);
    this.#sendFrame(opcode, sent.payload, sent.rsv1);
  }

  /** A client masks every frame with a fresh key; a server never masks (§5.1, §5.3). */
  #sendFrame(opcode: number, payload: Uint8Array, rsv1 = false): void {
    const maskKey = this.#role === "client" ? this.#maskKey() : undefined;
    const frame = { fin: true, rsv1, rsv2: false, rsv3: false, opcode, payload, maskKey };
    if (maskKey === undefined && payload.length >= COPY_LIMIT) {
      // Performance: a large unmasked payload is queued as it is, after its
      // header: copying it into one buffer with a few bytes of header would
      // cost more than the socket writing two pieces.
      this.#outgoing.push(encodeFrameHeader(frame), payload);
    } else {
      this.#outgoing.push(encodeFrame(frame));
    }
    this.#onFrame(frame, "out"); // after encoding: the trace shows only what really goes out
  }
  // #endregion
}

