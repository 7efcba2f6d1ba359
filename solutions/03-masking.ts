/**
 * Chapter 03 — Masking (RFC 6455 §5.3, §10.3)
 *
 * Exercise: the XOR every client applies to the payload of every frame it
 * sends, and the random key it applies it with. Masking is its own inverse,
 * so the same function masks on the client and unmasks on the server.
 *
 * Page: docs/chapters/03-masking.md · Tests: tests/03-masking.test.ts
 * Check: npm run grade -- 3
 */

// #region reference-only
import { simd } from "../lib/simd/index.ts";

/** A masking key is one 32-bit value, sent as 4 bytes (RFC 6455 §5.2, §5.3). */
const KEY_LENGTH = 4;
/** Below this many bytes, setting up the 32-bit loop costs more than it saves (measured). */
const WORD_LOOP_MIN = 16;
/**
 * 4 bytes seen both ways: write the rotated key as bytes, read it back as the
 * 32-bit mask. Made once and reused: allocating them on every call cost more
 * than masking a short payload.
 */
const maskBytes = new Uint8Array(KEY_LENGTH);
const maskWord = new Uint32Array(maskBytes.buffer);
/** From this many bytes on, the SIMD kernel (lib/simd) is faster than the loop below, copying included (measured). */
const SIMD_MIN = 64;
// #endregion

/**
 * Masks (or unmasks: it is the same operation) `data` in place with a 4-byte
 * `key` (RFC 6455 §5.3): byte i of the payload is XORed with byte
 * (i mod 4) of the key; byte j of `data` is byte offset + j of the payload,
 * so it takes key byte (offset + j) mod 4.
 *
 * `offset` is where `data` starts in the payload, so a payload that arrives
 * in pieces can be unmasked piece by piece: masking bytes 0..9 with offset 0
 * and then bytes 10..19 with offset 10 is the same as masking 0..19 at once.
 *
 * `data` may be any view, of any length, starting anywhere in its buffer;
 * only its own bytes change.
 *
 * `applyMask(hello, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]))` turns "Hello" (48 65 6c 6c 6f)
 * into 7f 9f 4d 51 58 (the example of §5.7).
 *
 * Throws a `RangeError` if `key` is not 4 bytes long, or if `offset` is not a
 * whole number ≥ 0.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  // #region reference-only
  // Performance, the reference only: WebAssembly SIMD where it runs (lib/simd), the loop below elsewhere; a plain loop is fine.
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: a fast path; tests/simd.test.ts proves it gives the loop's bytes
  if (simd !== undefined && data.length >= SIMD_MIN && key.length === KEY_LENGTH && Number.isSafeInteger(offset) && offset >= 0) return simd.mask(data, key, offset);
  // #endregion
  // #region solution step 1
  if (key.length !== KEY_LENGTH) {
    throw new RangeError(`a masking key is 4 bytes (RFC 6455 §5.3), this one is ${key.length}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset is a position in the payload: a whole number ≥ 0, not ${offset}`);
  }

  // Byte i of `data` is byte offset + i of the payload: it takes key byte (offset + i) mod 4.
  // (`& 3` is `% 4` for whole numbers ≥ 0.)
  const length = data.length;
  let i = 0;
  // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: a fast path; the property test "masking follows the rule for any payload, key, alignment and offset" proves it gives the byte loop's bytes
  if (length >= WORD_LOOP_MIN) {
    // Performance: XOR 4 bytes at once through a Uint32Array view, 4 to 10
    // times faster than byte by byte. Such a view must start on a 4-byte
    // boundary of the buffer, and payloads often do not (a frame's header is
    // 2 to 14 bytes long; Node's Buffers share pools): do the bytes up to the
    // first boundary one by one.
    const head = (4 - (data.byteOffset & 3)) & 3;
    for (; i < head; i++) data[i]! ^= key[(offset + i) & 3]!;

    // The key rotated to start at byte i, read as one 32-bit word: a Uint32Array
    // uses the machine's byte order, the same order the view reads the payload in.
    maskBytes[0] = key[(offset + i) & 3]!;
    maskBytes[1] = key[(offset + i + 1) & 3]!;
    maskBytes[2] = key[(offset + i + 2) & 3]!;
    maskBytes[3] = key[(offset + i + 3) & 3]!;
    const mask = maskWord[0]!;

    // Four words (16 bytes) per turn: the loop's own bookkeeping is then paid
    // once per 16 bytes (measured: about twice as fast on large payloads). The
    // last 0 to 15 bytes are left to the byte loop below.
    const view = new Uint32Array(data.buffer, data.byteOffset + i, (length - i) >>> 2);
    let w = 0;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a fast path; the same property test proves that the words it leaves to the byte loop come out the same
    for (; w + 4 <= view.length; w += 4) {
      view[w]! ^= mask;
      view[w + 1]! ^= mask;
      view[w + 2]! ^= mask;
      view[w + 3]! ^= mask;
    }
    i += w * 4;
  }

  // Short payloads, and the last 0 to 15 bytes of long ones, one by one.
  for (; i < length; i++) data[i]! ^= key[(offset + i) & 3]!;
  // #endregion
}

/**
 * A fresh masking key: 4 bytes from a cryptographically strong random source
 * (`crypto.getRandomValues`), new for every frame a client sends (RFC 6455
 * §5.3). Predictable keys would let a script choose the bytes on the wire,
 * which is what masking exists to prevent (§10.3).
 */
export function createMaskKey(): Uint8Array {
  // #region solution step 2
  return crypto.getRandomValues(new Uint8Array(KEY_LENGTH));
  // #endregion
}
