/**
 * Chapter 04 — Frames (RFC 6455 §5.2, §5.5, §5.6)
 *
 * Exercise: the two directions of the wire format. `encodeFrame` turns a frame
 * into bytes; `FrameParser` turns bytes, in whatever pieces TCP delivers them,
 * back into frames, and fails the connection on anything RFC 6455 forbids.
 *
 * What a frame *means* (messages, close frames, who must mask) comes in the
 * next chapters; this one is about getting every bit in the right place.
 *
 * Page: docs/chapters/04-frames.md · Tests: tests/04-frames.test.ts
 * Check: npm run grade -- 4
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import { ProtocolError } from "../lib/errors.ts";
import { Opcode, isControl, opcodeName, type Frame } from "../lib/frame.ts";
import { applyMask } from "./03-masking.ts";

/**
 * What `encodeFrame` takes: a `Frame` whose FIN defaults to true (a whole
 * message in one frame) and whose RSV bits default to false (no extension).
 */
export interface FrameInit {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  opcode: number;
  payload: Uint8Array;
  /** Given: the frame is masked with this 4-byte key (a client's frames, §5.3). */
  maskKey?: Uint8Array | undefined;
}

/**
 * The largest payload a `FrameParser` accepts unless told otherwise: 64 MiB.
 * RFC 6455 allows up to 2^63 - 1 bytes in a frame (§5.2); a receiver picks
 * what it can afford to hold in memory and refuses more with 1009 (§7.4.1).
 */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

/**
 * The bytes of one frame (RFC 6455 §5.2), masked if `frame.maskKey` is given.
 * The payload passed in is left as it was: the frame gets a masked copy.
 *
 * `encodeFrame({ opcode: 0x1, payload: new TextEncoder().encode("Hello") })` → 81 05 48 65 6c 6c 6f
 *
 * Throws a `RangeError` for what no sender may put on the wire: an opcode
 * outside 0..15, a masking key that is not 4 bytes, or a control frame
 * (opcode 8 and up) that is fragmented (fin false) or carries more than 125
 * bytes (§5.5). RSV bits and reserved opcodes are encoded as given: extensions
 * define them, and the tests need such frames to feed to the parser.
 */
export function encodeFrame(frame: FrameInit): Uint8Array {
  throw new NotImplementedError("encodeFrame in chapters/04-frames.ts");
}

/**
 * The header alone of the frame `encodeFrame` would make: its first 2 to 14
 * bytes (the first two, the extended length, the masking key), with the same
 * checks and the same errors.
 *
 * For a sender that writes a large unmasked payload as it is, right after its
 * header, instead of copying it into one buffer with the header (a server's
 * frames, §5.1). A masked payload still has to be masked (§5.3).
 *
 * `encodeFrameHeader({ opcode: 0x2, payload: new Uint8Array(256) })` → 82 7e 01 00
 */
export function encodeFrameHeader(frame: FrameInit): Uint8Array {
  throw new NotImplementedError("encodeFrameHeader in chapters/04-frames.ts");
}

/**
 * The frame `FrameParser` is in the middle of: its header is read, its
 * payload is still arriving. `length` is the payload length the header
 * announced; `payload` holds the bytes received so far (fewer than `length`),
 * already unmasked. For a receiver that checks a frame before it is complete,
 * such as text that must fail as soon as a byte is not UTF-8 (chapter 05).
 */
export interface FrameInProgress extends Frame {
  length: number;
}

/**
 * Reads frames out of a byte stream (RFC 6455 §5.2). Feed it the bytes as
 * they arrive; `push` returns the frames they completed, in order, payloads
 * unmasked. Any way of cutting the stream into pieces gives the same frames.
 *
 * `push` takes the bytes at once, and gives the frames one at a time: what
 * it returns is an iterator (write it as a generator, `function*`), and each
 * frame is read off the stream when the caller asks for it. A violation is
 * thrown when reading reaches it: the frames before it, even those that came
 * in the same push, have been handed out first (§5.4: frames are processed in
 * order; nothing received before a violation is lost). A caller that stops
 * asking leaves the rest in the stream for the next push.
 *
 * The violations, each a `ProtocolError`:
 * - 1002 for a frame no peer may send without an extension: an RSV bit set,
 *   a reserved opcode (0x3-0x7, 0xB-0xF); a control frame that is fragmented
 *   or longer than 125 bytes (§5.5); a 64-bit length with its top bit set;
 *   a length not in its shortest encoding (§5.2);
 * - 1009 as soon as a header announces more than `maxPayload` bytes, before
 *   any of the payload is buffered (§7.4.1, §10.4).
 * After an error the stream is broken: every later `push` throws the same error.
 *
 * Who must mask (clients) and who must not (servers) is checked by the
 * connection, in chapter 07: this parser accepts both and reports `maskKey`.
 *
 * `push` never modifies the bytes it is given, and keeps a reference to them
 * only until the header they belong to is read (at most 14 bytes): a payload
 * is copied, once, into the frame's own buffer as its bytes arrive.
 */
export class FrameParser {
  /**
   * `maxPayload`: the largest payload accepted in one frame, in bytes
   * (default `DEFAULT_MAX_PAYLOAD`, 64 MiB). A `RangeError` if it is not a
   * whole number ≥ 0.
   *
   * `allowRsv1` (chapter 12, default false): an extension that gives RSV1 a
   * meaning was negotiated (RFC 6455 §5.2, RFC 7692 §6), so a frame with RSV1
   * set is reported, not refused; RSV2 and RSV3 are still refused.
   */
  constructor(options: { maxPayload?: number; allowRsv1?: boolean } = {}) {
    throw new NotImplementedError("new FrameParser in chapters/04-frames.ts");
  }

  /**
   * Adds `bytes` to the stream; returns the frames completed so far (often
   * none, sometimes several), read one at a time as the caller iterates.
   */
  push(bytes: Uint8Array): Iterable<Frame> {
    throw new NotImplementedError("FrameParser.push in chapters/04-frames.ts");
  }

  /**
   * The frame whose header is read and whose payload is still arriving, or
   * undefined between frames. Its `payload` grows as bytes are pushed (and
   * read): a new view each time, on the same buffer.
   */
  get inProgress(): FrameInProgress | undefined {
    throw new NotImplementedError("FrameParser.inProgress in chapters/04-frames.ts");
  }
}

