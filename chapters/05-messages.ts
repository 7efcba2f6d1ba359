/**
 * Chapter 05 — Messages: fragmentation and UTF-8 (RFC 6455 §5.4, §5.6, §8.1)
 *
 * Exercise: the layer between frames and messages. Receiving, a
 * `MessageAssembler` takes data frames in order and hands back a whole
 * message when the final fragment arrives, checking on the way that the
 * fragments follow each other properly (§5.4), that a text message is valid
 * UTF-8 (§5.6, §8.1) and that the message stays under a size limit (§10.4).
 * Sending, `fragmentMessage` cuts a message into frames.
 *
 * The UTF-8 check is its own small state machine, `Utf8Validator`, fed one
 * fragment at a time so that bad text fails as soon as its first bad byte
 * arrives, not after the whole message has been buffered.
 *
 * Page: docs/chapters/05-messages.md · Tests: tests/05-messages.test.ts
 * Check: npm run grade -- 5
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import { ProtocolError } from "../lib/errors.ts";
import { isControl, Opcode, opcodeName, type Frame } from "../lib/frame.ts";
import type { FrameInProgress } from "./04-frames.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, type Message, type MessageBytes } from "../lib/message.ts";

/**
 * Checks that a stream of bytes is UTF-8 (RFC 3629 §4), one chunk at a time.
 * A code point may be split across chunks: `push(E2 82)` then `push(AC)` is
 * "€". Throws a `ProtocolError` with close code 1007 (RFC 6455 §8.1, §7.4.1)
 * at the first byte that cannot be part of valid UTF-8:
 * - a byte that can never appear: C0, C1 (only overlong forms start with
 *   them) and F5..FF (they would encode more than U+10FFFF);
 * - a continuation byte (80..BF) where a lead byte was expected;
 * - a lead byte not followed by enough continuation bytes;
 * - a second byte outside the narrower ranges after E0 (A0..BF, else
 *   overlong), ED (80..9F, else a surrogate U+D800..DFFF), F0 (90..BF, else
 *   overlong) and F4 (80..8F, else above U+10FFFF).
 *
 * `end()` says the text is over: it throws 1007 if a code point was cut off,
 * and otherwise makes the validator ready for the next message.
 */
export class Utf8Validator {
  // State between pushes: where we are inside the current code point.

  push(bytes: Uint8Array): void {
    throw new NotImplementedError("Utf8Validator.push in chapters/05-messages.ts");
  }

  end(): void {
    throw new NotImplementedError("Utf8Validator.end in chapters/05-messages.ts");
  }
}

/**
 * Reassembles messages from data frames (RFC 6455 §5.4), given in the order
 * they arrived: a text or binary frame starts a message, continuation frames
 * carry on, and the frame with FIN set ends it. `push` returns the message
 * when its final frame arrives, and `undefined` before.
 *
 * Control frames (close, ping, pong) are not for the assembler: they may
 * arrive between the fragments of a message, and the connection (chapter 07)
 * answers them itself. Passing one is a caller's mistake: `TypeError`.
 *
 * A large frame arrives in many reads: `checkInProgress` checks what has
 * arrived of a frame still in progress, so bad text fails at its first bad
 * byte, even in the middle of one frame.
 *
 * Throws a `ProtocolError` when the peer breaks the rules:
 * - 1002: a continuation frame with no message in progress, or a text or
 *   binary frame while a message is still in progress (§5.4), or a reserved opcode;
 * - 1007: a text message that is not UTF-8, as soon as the bad byte arrives (§8.1);
 * - 1009: a message longer than `maxMessageSize` bytes, as soon as the fragment
 *   that goes over arrives (default `DEFAULT_MAX_MESSAGE_SIZE`; §10.4).
 * `maxMessageSize` must be a whole number ≥ 0, or `Infinity` (RangeError otherwise).
 */
export class MessageAssembler {
  // State between pushes: the limit, the message in progress (its type, its fragments so far),
  // and how much of the frame still arriving checkInProgress has already checked.

  constructor(options: { maxMessageSize?: number } = {}) {
    throw new NotImplementedError("new MessageAssembler in chapters/05-messages.ts");
  }

  push(frame: Frame): Message | undefined {
    throw new NotImplementedError("MessageAssembler.push in chapters/05-messages.ts");
  }

  /**
   * Does what `push` does, but returns text as its bytes (`MessageBytes`):
   * checked as UTF-8 like any text, not decoded to a string. For code that
   * only passes messages on, like an echo server, which sends the same bytes
   * back: decoding them to a string and encoding it again would be wasted.
   */
  pushBytes(frame: Frame): MessageBytes | undefined {
    throw new NotImplementedError("MessageAssembler.pushBytes in chapters/05-messages.ts");
  }

  /**
   * Checks a data frame whose payload is still arriving (chapter 04's
   * `FrameParser.inProgress`): the rules `push` checks at its start (§5.4,
   * the size limit against the announced `length`), and the UTF-8 of the
   * text bytes received so far, so a bad byte fails as soon as it is in
   * (§8.1), even in the middle of one large frame. Each byte is checked once:
   * called again with more of the same frame, and then `push` (or
   * `pushBytes`) with the complete frame, only the new bytes are checked.
   * Throws what `push` throws; returns nothing (the message is not complete).
   */
  checkInProgress(frame: FrameInProgress): void {
    throw new NotImplementedError("MessageAssembler.checkInProgress in chapters/05-messages.ts");
  }
}

/**
 * Splits a message into frames of at most `maxFramePayload` payload bytes
 * (RFC 6455 §5.4): the first frame carries the message's opcode (text or
 * binary), the others are continuation frames, and only the last has FIN set.
 * An empty message is one empty frame with FIN set. Text is cut by bytes, so a
 * code point may be split between two frames: the receiver joins them again.
 *
 * The frames are unmasked and their RSV bits clear; their payloads are views
 * into the message's bytes, not copies.
 * Throws a `RangeError` unless `maxFramePayload` is a whole number ≥ 1 (or Infinity).
 */
export function fragmentMessage(message: Message, maxFramePayload: number): Frame[] {
  throw new NotImplementedError("fragmentMessage in chapters/05-messages.ts");
}
