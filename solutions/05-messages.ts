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
import { ProtocolError } from "../lib/errors.ts";
import { isControl, Opcode, opcodeName, type Frame } from "../lib/frame.ts";
import type { FrameInProgress } from "./04-frames.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, type Message, type MessageBytes } from "../lib/message.ts";

// #region reference-only
import { simd } from "../lib/simd/index.ts";

const encoder = new TextEncoder();
/** From this many bytes on, the SIMD validator (lib/simd) is faster than the loop in push, copying included (measured). */
const SIMD_MIN = 64;
// #endregion

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
  // #region reference-only
  /** Continuation bytes still expected for the current code point (0 between code points). */
  #needed = 0;
  /** The range the next continuation byte must fall in: 80..BF, except right after E0, ED, F0, F4. */
  #lower = 0x80;
  #upper = 0xbf;
  /** Bytes seen since the start of the text, so errors can say where. */
  #offset = 0;
  // #endregion

  push(bytes: Uint8Array): void {
    // #region reference-only
    // Performance, the reference only: WebAssembly SIMD where it runs (lib/simd). On a bad byte it
    // stops, and the loop below runs from the same state, failing on the same byte with its reason.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,BlockStatement: a fast path; tests/simd.test.ts proves it gives the loop's verdicts
    if (simd !== undefined && bytes.length >= SIMD_MIN) {
      const result = simd.utf8(bytes, this.#needed | (this.#lower << 8) | (this.#upper << 16));
      if (result >= 0) {
        this.#needed = result & 0xff;
        this.#lower = (result >>> 8) & 0xff;
        this.#upper = (result >>> 16) & 0xff;
        this.#offset += bytes.length;
        return;
      }
    }
    // #endregion
    // #region solution step 1
    // This loop sees every byte of every text message: keep the state in
    // locals while it runs and store it back once at the end.
    let needed = this.#needed;
    let lower = this.#lower;
    let upper = this.#upper;
    // Performance: most text is mostly ASCII, and ASCII needs no state machine.
    // Between code points, at a 4-byte boundary, skip whole 32-bit words in
    // which no byte has its top bit set: two words per test while they last,
    // then one (measured: 4 to 7 times faster than byte by byte on such text).
    // (The fast path's conditions carry "Stryker disable" comments: switched off or
    // narrowed, it leaves more bytes to the plain loop, which gives the same verdict.
    // The property tests "mostly-ASCII text ... is judged as a strict decoder does"
    // and "one bad byte anywhere in long ASCII text" prove the two agree.)
    const { words, start } = alignedWords(bytes);
    for (let i = 0; i < bytes.length; i++) {
      // `(i - start) & 3` is 0 only at the word boundaries from `start` on (start is 0 to 3).
      // Stryker disable next-line ConditionalExpression,BlockStatement: fast path (see above)
      if (needed === 0 && ((i - start) & 3) === 0) {
        let w = (i - start) >>> 2;
        // Stryker disable next-line ConditionalExpression: fast path (see above)
        while (w + 1 < words.length && ((words[w]! | words[w + 1]!) & 0x80808080) === 0) w += 2;
        // Stryker disable next-line ConditionalExpression: fast path (see above)
        while (w < words.length && (words[w]! & 0x80808080) === 0) w++;
        i = start + w * 4;
        if (i >= bytes.length) break;
      }
      const byte = bytes[i] as number;
      if (needed > 0) {
        if (byte < lower || byte > upper) {
          throw invalidUtf8(this.#offset + i, byte, `expected a continuation byte in ${hex(lower)}..${hex(upper)}`);
        }
        needed--;
        lower = 0x80;
        upper = 0xbf;
      } else if (byte <= 0x7f) {
        // ASCII: a code point on its own.
      } else if (byte >= 0xc2 && byte <= 0xdf) {
        needed = 1;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        needed = 2;
        if (byte === 0xe0) lower = 0xa0; // E0 80..9F would be overlong (below U+0800)
        if (byte === 0xed) upper = 0x9f; // ED A0..BF would be a surrogate, U+D800..DFFF
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        needed = 3;
        if (byte === 0xf0) lower = 0x90; // F0 80..8F would be overlong (below U+10000)
        if (byte === 0xf4) upper = 0x8f; // F4 90..BF would be above U+10FFFF
      } else {
        throw invalidUtf8(this.#offset + i, byte, "no code point starts with it (80..BF only continue one; C0, C1 and F5..FF never appear)");
      }
    }
    this.#needed = needed;
    this.#lower = lower;
    this.#upper = upper;
    this.#offset += bytes.length;
    // #endregion
  }

  end(): void {
    // #region solution step 1
    if (this.#needed > 0) {
      throw new ProtocolError(
        1007,
        `invalid UTF-8: the text ends in the middle of a code point (${this.#needed} more byte(s) expected) (RFC 6455 §8.1)`,
      );
    }
    this.#offset = 0;
    // #endregion
  }
}

// #region reference-only
function invalidUtf8(offset: number, byte: number, why: string): ProtocolError {
  return new ProtocolError(1007, `invalid UTF-8 at byte ${offset} of the text: ${hex(byte)}, ${why} (RFC 6455 §8.1)`);
}

/**
 * `bytes` as 32-bit words, from its first byte on a 4-byte boundary of its
 * buffer (`start`, 0 to 3): a Uint32Array view cannot start anywhere else.
 */
function alignedWords(bytes: Uint8Array): { words: Uint32Array; start: number } {
  const start = (4 - (bytes.byteOffset & 3)) & 3;
  // Not one whole word: no view to make (a short chunk costs no allocation).
  // Stryker disable next-line ConditionalExpression,EqualityOperator: fast path (see Utf8Validator.push)
  if (bytes.length < start + 4) return { words: NO_WORDS, start };
  return { words: new Uint32Array(bytes.buffer, bytes.byteOffset + start, (bytes.length - start) >>> 2), start };
}
const NO_WORDS = new Uint32Array(0);

const hex = (byte: number): string => byte.toString(16).toUpperCase().padStart(2, "0");
// #endregion

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
  // #region reference-only
  readonly #maxMessageSize: number;
  /** The message in progress: its type, its fragments so far and their total length. */
  #type: "text" | "binary" | undefined = undefined;
  #fragments: Uint8Array[] = [];
  #size = 0;
  readonly #utf8 = new Utf8Validator();
  /**
   * Text is validated as it arrives (§8.1), so decoding never meets a bad byte.
   * `ignoreBOM` keeps a leading U+FEFF, which is part of the message's text.
   */
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** The frame being received was started by checkInProgress; `#checked` of its bytes are validated. */
  #frameStarted = false;
  #checked = 0;
  // #endregion

  constructor(options: { maxMessageSize?: number } = {}) {
    // #region solution step 2
    const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (!(Number.isInteger(max) || max === Infinity) || max < 0) {
      throw new RangeError(`maxMessageSize must be a whole number of bytes ≥ 0 (or Infinity), got ${max}`);
    }
    this.#maxMessageSize = max;
    // #endregion
  }

  push(frame: Frame): Message | undefined {
    // #region solution step 2
    const message = this.pushBytes(frame);
    if (message?.type !== "text") return message; // binary, or no message yet
    return { type: "text", data: this.#decoder.decode(message.data) };
    // #endregion
  }

  /**
   * Does what `push` does, but returns text as its bytes (`MessageBytes`):
   * checked as UTF-8 like any text, not decoded to a string. For code that
   * only passes messages on, like an echo server, which sends the same bytes
   * back: decoding them to a string and encoding it again would be wasted.
   */
  pushBytes(frame: Frame): MessageBytes | undefined {
    // #region solution step 2
    // The frame's start was checked already if checkInProgress saw its first bytes.
    if (!this.#frameStarted) this.#start(frame, frame.payload.length);
    // Validate text as it arrives, so bad UTF-8 fails now, not at the last
    // fragment; only the bytes checkInProgress has not seen yet.
    if (this.#type === "text") this.#utf8.push(frame.payload.subarray(this.#checked));
    this.#frameStarted = false;
    this.#checked = 0;
    this.#fragments.push(frame.payload);
    this.#size += frame.payload.length;
    return frame.fin ? this.#finish() : undefined;
    // #endregion
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
    // #region solution step 2
    if (!this.#frameStarted) {
      this.#start(frame, frame.length);
      this.#frameStarted = true;
    }
    if (this.#type === "text") {
      this.#utf8.push(frame.payload.subarray(this.#checked)); // the new bytes, maybe none
      this.#checked = frame.payload.length;
    }
    // #endregion
  }
  // #region reference-only

  /** The rules a frame meets as soon as its header is known: its place in the message (§5.4), the size limit (§10.4). */
  #start(frame: Frame, length: number): void {
    if (isControl(frame.opcode)) {
      throw new TypeError(
        `a ${opcodeName(frame.opcode)} frame is a control frame: the connection handles it, the assembler only takes data frames`,
      );
    }

    // §5.4: a message is one text/binary frame, then continuation frames, the last one with FIN.
    if (frame.opcode === Opcode.Text || frame.opcode === Opcode.Binary) {
      if (this.#type !== undefined) {
        throw new ProtocolError(
          1002,
          `a ${opcodeName(frame.opcode)} frame arrived while a ${this.#type} message was still in progress: ` +
            "its fragments must be continuation frames, and messages must not interleave (§5.4)",
        );
      }
      this.#type = frame.opcode === Opcode.Text ? "text" : "binary";
    } else if (frame.opcode === Opcode.Continuation) {
      if (this.#type === undefined) {
        throw new ProtocolError(1002, "a continuation frame arrived with no message in progress to continue (§5.4)");
      }
    } else {
      throw new ProtocolError(1002, `opcode ${opcodeName(frame.opcode)} is not defined and no extension gave it a meaning (§5.2)`);
    }

    // Check the size before keeping anything: a peer must not make us buffer
    // more than the limit, however it splits the message (§10.4).
    if (this.#size + length > this.#maxMessageSize) {
      this.#startOver();
      throw new ProtocolError(1009, `the message is over the limit of ${this.#maxMessageSize} bytes (§7.4.1, §10.4)`);
    }
  }

  /** The final fragment arrived: join the fragments (one copy, none for a single fragment). */
  #finish(): MessageBytes {
    const type = this.#type!; // a final fragment always has a message to end: #start checked it
    const data = concat(this.#fragments, this.#size);
    if (type === "text") this.#utf8.end(); // §5.6: the whole message must be valid, so no cut-off code point
    this.#startOver();
    return { type, data };
  }

  #startOver(): void {
    this.#type = undefined;
    this.#frameStarted = false;
    this.#checked = 0;
    this.#fragments = [];
    this.#size = 0;
  }
  // #endregion
}

// #region reference-only
/** The fragments as one array, copying each byte once (a single fragment needs no copy). */
function concat(fragments: Uint8Array[], size: number): Uint8Array {
  if (fragments.length === 1) return fragments[0] as Uint8Array;
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const fragment of fragments) {
    joined.set(fragment, offset);
    offset += fragment.length;
  }
  return joined;
}
// #endregion

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
  // #region solution step 3
  if (!(Number.isInteger(maxFramePayload) || maxFramePayload === Infinity) || maxFramePayload < 1) {
    throw new RangeError(`maxFramePayload must be a whole number of bytes ≥ 1, got ${maxFramePayload}`);
  }
  const payload = message.type === "text" ? encoder.encode(message.data) : message.data;
  const opcode = message.type === "text" ? Opcode.Text : Opcode.Binary;

  const frames: Frame[] = [];
  let start = 0;
  // do…while: an empty message still needs its one frame.
  do {
    const end = Math.min(start + maxFramePayload, payload.length);
    frames.push({
      fin: end === payload.length,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: start === 0 ? opcode : Opcode.Continuation,
      payload: payload.subarray(start, end),
    });
    start = end;
  } while (start < payload.length);
  return frames;
  // #endregion
}
