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
import { NotImplementedError } from "../lib/not-implemented.ts";
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

export class Connection {
  constructor(role: Role, options: ConnectionOptions = {}) {
    throw new NotImplementedError("new Connection in chapters/07-connection.ts");
  }

  /** CONNECTING until `open()`, then OPEN, CLOSING after our close frame, CLOSED at the end. */
  get state(): ConnectionState {
    throw new NotImplementedError("Connection.state in chapters/07-connection.ts");
  }

  /** The opening handshake succeeded (chapter 02): frames may flow (§4.1, §4.2.2). */
  open(): void {
    throw new NotImplementedError("Connection.open in chapters/07-connection.ts");
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
    throw new NotImplementedError("Connection.receive in chapters/07-connection.ts");
  }

  /**
   * The peer ended the TCP connection. Unless the closing handshake was
   * complete, that is an abnormal closure, reported as 1006 (§7.1.5, §7.4.1).
   */
  receiveEnd(): ConnectionEvent[] {
    throw new NotImplementedError("Connection.receiveEnd in chapters/07-connection.ts");
  }

  /**
   * Queues a message as one frame: text as a text frame, bytes as a binary
   * frame (§5.6). Text may also be given as its UTF-8 bytes (`MessageBytes`,
   * as a "message-bytes" event reports it): they are sent as they are.
   * A server may queue a large payload itself rather than a copy: leave it
   * unchanged until its bytes are written.
   */
  send(message: Message | MessageBytes): void {
    throw new NotImplementedError("Connection.send in chapters/07-connection.ts");
  }

  /** Queues a ping (at most 125 bytes of payload, §5.5). */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    throw new NotImplementedError("Connection.ping in chapters/07-connection.ts");
  }

  /**
   * Starts the closing handshake: queues a close frame and moves to CLOSING,
   * where no more data may be sent (§5.5.1, §7.1.2). The connection is
   * CLOSED when the peer's close frame arrives. Closing twice does nothing.
   * A code that may not be sent, or a reason over 123 bytes, is a RangeError.
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    throw new NotImplementedError("Connection.close in chapters/07-connection.ts");
  }

  /** The bytes to write to the socket, in order, since the last call (then forgotten here). */
  bytesToSend(): Uint8Array[] {
    throw new NotImplementedError("Connection.bytesToSend in chapters/07-connection.ts");
  }
}

