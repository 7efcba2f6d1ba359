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
import { ProtocolError } from "../lib/errors.ts";
import { Opcode, isControl, opcodeName, type Frame } from "../lib/frame.ts";
import { applyMask } from "./03-masking.ts";
// #region reference-only
import { simd } from "../lib/simd/index.ts";
// #endregion

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

// #region reference-only
/** §5.5: a control frame carries at most 125 bytes, so its length always fits the 7-bit field. */
const MAX_CONTROL_PAYLOAD = 125;
/** §5.2: 126 and 127 in the 7-bit field announce a 16-bit or a 64-bit length. */
const LENGTH_16 = 126;
const LENGTH_64 = 127;
/** §5.2: the opcodes RFC 6455 defines; the other ten are reserved. */
const DEFINED_OPCODES = new Set<number>(Object.values(Opcode));
/** From this many bytes on, a masked piece is copied and unmasked in one step by the SIMD kernel (lib/simd). */
const SIMD_MIN = 64;
/** From this size on, a payload buffer is not zero-filled first (Node only; see allocPayload). */
const UNFILLED_MIN = 4 * 1024;
/** Node's Buffer, where there is one: the pure chapters also run in a browser, which has none. */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;
// #endregion

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
  // #region solution step 1
  checkFrame(frame);
  const { payload, maskKey } = frame;
  const payloadAt = headerSize(payload.length, maskKey !== undefined);
  const bytes = new Uint8Array(payloadAt + payload.length);
  writeHeader(bytes, frame);
  bytes.set(payload, payloadAt);
  // Mask the copy, never the caller's payload: once a frame is being sent,
  // the application must not be able to change it (§10.3).
  if (maskKey !== undefined) applyMask(bytes.subarray(payloadAt), maskKey);
  return bytes;
  // #endregion
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
  // #region solution step 1
  checkFrame(frame);
  const bytes = new Uint8Array(headerSize(frame.payload.length, frame.maskKey !== undefined));
  writeHeader(bytes, frame);
  return bytes;
  // #endregion
}

// #region reference-only
/** What no sender may put on the wire: the caller's mistake, a TypeError or a RangeError. */
function checkFrame({ fin = true, opcode, payload, maskKey }: FrameInit): void {
  if (!(payload instanceof Uint8Array)) throw new TypeError("a frame's payload must be a Uint8Array");
  if (!Number.isInteger(opcode) || opcode < 0x0 || opcode > 0xf) {
    throw new RangeError(`an opcode is 4 bits, 0 to 15, not ${opcode} (RFC 6455 §5.2)`);
  }
  if (maskKey !== undefined && maskKey.length !== 4) {
    throw new RangeError(`a masking key is 4 bytes, this one is ${maskKey.length} (RFC 6455 §5.3)`);
  }
  if (isControl(opcode) && payload.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(`a ${opcodeName(opcode)} frame carries at most 125 bytes, not ${payload.length} (RFC 6455 §5.5)`);
  }
  if (isControl(opcode) && !fin) {
    throw new RangeError(`a ${opcodeName(opcode)} frame cannot be fragmented: fin must be true (RFC 6455 §5.5)`);
  }
}

/** §5.2: the shortest length encoding that fits is the only one allowed: 0, 2 or 8 bytes after the first two. */
const extendedLengthSize = (length: number) => (length <= 125 ? 0 : length <= 0xffff ? 2 : 8);

/** Bytes before the payload: the first two, the extended length, the masking key if any. */
const headerSize = (length: number, masked: boolean) => 2 + extendedLengthSize(length) + (masked ? 4 : 0);

/** Writes the header of `frame` at the start of `bytes`. */
function writeHeader(bytes: Uint8Array, frame: FrameInit): void {
  const { fin = true, rsv1 = false, rsv2 = false, rsv3 = false, opcode, payload, maskKey } = frame;
  const length = payload.length;
  const size = extendedLengthSize(length);
  bytes[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | opcode;
  const maskBit = maskKey === undefined ? 0 : 0x80;
  if (size === 0) {
    bytes[1] = maskBit | length;
  } else if (size === 2) {
    bytes[1] = maskBit | LENGTH_16;
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(2, length); // DataView writes big-endian, network byte order (§5.2)
  } else {
    bytes[1] = maskBit | LENGTH_64;
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(2, BigInt(length)); // a JS length is < 2^53: the top bit is 0
  }
  if (maskKey !== undefined) bytes.set(maskKey, 2 + size);
}
// #endregion

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
  // #region reference-only
  readonly #maxPayload: number;
  /** RSV1 has a meaning on this connection (chapter 12): an extension that uses it was negotiated. */
  readonly #allowRsv1: boolean;
  /** Bytes received and not yet read, in arrival order: never concatenated. */
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** The frame whose payload is arriving, if any, and how many of its bytes are in. */
  #current: FrameInProgress | undefined;
  #filled = 0;
  /** The violation that broke the stream: every later push throws it again. */
  #failure: unknown;
  // #endregion
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
    // #region solution step 2
    this.#allowRsv1 = options.allowRsv1 === true;
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isSafeInteger(maxPayload) || maxPayload < 0) {
      throw new RangeError(`maxPayload is a number of bytes, a whole number ≥ 0, not ${maxPayload}`);
    }
    this.#maxPayload = maxPayload;
    // #endregion
  }

  /**
   * Adds `bytes` to the stream; returns the frames completed so far (often
   * none, sometimes several), read one at a time as the caller iterates.
   */
  push(bytes: Uint8Array): Iterable<Frame> {
    // #region solution step 2
    if (this.#failure !== undefined) throw this.#failure;
    if (!(bytes instanceof Uint8Array)) throw new TypeError("push takes the bytes received, as a Uint8Array");
    // Performance: keep a plain Uint8Array view of the same bytes (no copy).
    // Node's sockets deliver Buffers, a subclass whose `subarray` costs twice
    // as much, and the parser takes several subarrays per frame.
    if (bytes.constructor !== Uint8Array) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    if (bytes.length > 0) {
      this.#chunks.push(bytes);
      this.#buffered += bytes.length;
    }
    return this.#frames();
    // #endregion
  }

  /**
   * The frame whose header is read and whose payload is still arriving, or
   * undefined between frames. Its `payload` grows as bytes are pushed (and
   * read): a new view each time, on the same buffer.
   */
  get inProgress(): FrameInProgress | undefined {
    // #region solution step 3
    const current = this.#current;
    if (current === undefined) return undefined;
    return { ...current, payload: current.payload.subarray(0, this.#filled) };
    // #endregion
  }
  // #region reference-only

  /** The frames the buffered bytes complete, one at a time; a violation is thrown where it is read. */
  *#frames(): Generator<Frame, void, undefined> {
    try {
      for (;;) {
        if (this.#current === undefined) {
          this.#current = this.#readHeader();
          if (this.#current === undefined) return; // the header is not all here yet
        }
        const frame = this.#fill(this.#current);
        if (frame === undefined) return; // the payload is not all here yet
        this.#current = undefined;
        this.#filled = 0;
        yield frame;
      }
    } catch (error) {
      // Every error here is a violation read off the stream (a ProtocolError):
      // the stream is broken from that point on.
      this.#failure = error;
      throw error;
    }
  }

  /** The next frame's header, consumed from the stream; undefined while it is incomplete. */
  #readHeader(): FrameInProgress | undefined {
    if (this.#buffered < 2) return undefined;
    // Performance: index the bytes; `const [b0, b1] = ...` would go through
    // the typed array's iterator, a real cost when frames are small and many.
    const first = this.#peek(2);
    const b0 = first[0]!;
    const b1 = first[1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const rsv2 = (b0 & 0x20) !== 0;
    const rsv3 = (b0 & 0x10) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;

    // Everything the first two bytes can get wrong fails right away (§5.2, §5.5).
    if ((rsv1 && !this.#allowRsv1) || rsv2 || rsv3) {
      throw new ProtocolError(1002, "an RSV bit is set, but no extension was negotiated to give it a meaning (RFC 6455 §5.2)");
    }
    if (!DEFINED_OPCODES.has(opcode)) {
      throw new ProtocolError(1002, `opcode 0x${opcode.toString(16)} is reserved: no frame may use it yet (RFC 6455 §5.2)`);
    }
    if (isControl(opcode) && !fin) {
      throw new ProtocolError(1002, `a ${opcodeName(opcode)} frame with FIN clear: control frames are never fragmented (RFC 6455 §5.5)`);
    }
    if (isControl(opcode) && length7 > MAX_CONTROL_PAYLOAD) {
      throw new ProtocolError(1002, `a ${opcodeName(opcode)} frame longer than 125 bytes (RFC 6455 §5.5)`);
    }

    const lengthSize = length7 === LENGTH_16 ? 2 : length7 === LENGTH_64 ? 8 : 0;
    const size = 2 + lengthSize + (masked ? 4 : 0);
    if (this.#buffered < size) return undefined;

    const header = this.#peek(size);
    let length = length7;
    // A DataView only for an extended length: most small frames need none.
    if (lengthSize === 2) {
      const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
      length = view.getUint16(2); // DataView reads big-endian, network byte order (§5.2)
      if (length <= 125) throw nonMinimal(length, "16");
    } else if (lengthSize === 8) {
      const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
      const length64 = view.getBigUint64(2);
      if (length64 >> 63n !== 0n) {
        throw new ProtocolError(1002, "the 64-bit payload length has its most significant bit set (RFC 6455 §5.2)");
      }
      if (length64 <= 0xffffn) throw nonMinimal(Number(length64), "64");
      // A length above 2^53 is not exact as a number, but it cannot round down
      // to maxPayload or below (a safe integer): the check below still refuses it.
      length = Number(length64);
    }
    // Refuse before buffering a single payload byte: the header is enough (§10.4).
    if (length > this.#maxPayload) throw tooBig(length, this.#maxPayload);

    // The payload's own buffer, filled as its bytes arrive: each byte is copied
    // once, and can be checked (UTF-8) before the frame is complete. Its size is
    // bounded by maxPayload; the system commits memory only as it is written.
    const frame: FrameInProgress = { fin, rsv1, rsv2, rsv3, opcode, payload: allocPayload(length), length };
    if (masked) frame.maskKey = header.slice(size - 4, size);
    this.#consume(size);
    return frame;
  }

  /**
   * Moves the buffered payload bytes of `current` into its payload, unmasking
   * them (§5.3: masking is its own inverse); the complete frame once all are in.
   */
  #fill(current: FrameInProgress): Frame | undefined {
    const { payload, maskKey } = current;
    while (this.#filled < current.length && this.#buffered > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, current.length - this.#filled);
      const piece = take === chunk.length ? chunk : chunk.subarray(0, take);
      const at = this.#filled;
      // Performance: a large masked piece is copied and unmasked in one step
      // (WebAssembly SIMD, lib/simd), so the payload is written once, not twice.
      // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: a fast path; tests/simd.test.ts proves it gives the same bytes
      if (maskKey !== undefined && simd !== undefined && take >= SIMD_MIN) {
        simd.unmaskInto(payload, at, piece, maskKey, at);
      } else {
        payload.set(piece, at);
        // The bytes that just arrived: `offset` keeps the key in step (§5.3).
        if (maskKey !== undefined) applyMask(payload.subarray(at, at + take), maskKey, at);
      }
      this.#filled += take;
      this.#consume(take);
    }
    if (this.#filled < current.length) return undefined;
    // The frame without the announced length, which is now its payload's length.
    const { length: _announced, ...frame } = current;
    return frame;
  }

  /** The first `n` buffered bytes (n ≤ 14: a header): a view if they sit in one chunk, else a small copy. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const bytes = new Uint8Array(n);
    // There are at least n bytes buffered: the chunks do not run out first.
    for (let filled = 0, c = 0; filled < n; c++) {
      const chunk = this.#chunks[c]!;
      const take = Math.min(chunk.length, n - filled);
      bytes.set(chunk.subarray(0, take), filled);
      filled += take;
    }
    return bytes;
  }

  /** Drops the first `n` buffered bytes. */
  #consume(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const chunk = this.#chunks[0]!;
      if (chunk.length > n) {
        this.#chunks[0] = chunk.subarray(n);
        return;
      }
      this.#chunks.shift();
      n -= chunk.length;
    }
  }
  // #endregion
}

// #region reference-only
/**
 * A payload's buffer. Performance: in Node, a large one is not zero-filled
 * first (Buffer.allocUnsafeSlow, a buffer of its own, not a slice of a shared
 * pool): #fill writes every byte before any is read (`inProgress` shows only
 * the bytes filled). Elsewhere, and for small payloads, a plain Uint8Array.
 */
function allocPayload(length: number): Uint8Array {
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: a fast path; the bytes are the same either way
  if (NodeBuffer === undefined || length < UNFILLED_MIN) return new Uint8Array(length);
  const buffer = NodeBuffer.allocUnsafeSlow(length);
  // A plain view of it (see push: Buffer's subarray is slower, and callers expect a Uint8Array).
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}

function nonMinimal(length: number, bits: "16" | "64"): ProtocolError {
  return new ProtocolError(1002, `a ${length}-byte payload announced with a ${bits}-bit length: the shortest encoding must be used (RFC 6455 §5.2)`);
}

function tooBig(length: number | bigint, max: number): ProtocolError {
  return new ProtocolError(1009, `a frame announces ${length} bytes of payload, more than the ${max} this endpoint accepts (RFC 6455 §7.4.1)`);
}
// #endregion
