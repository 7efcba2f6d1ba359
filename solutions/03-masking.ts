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
/** A masking key is one 32-bit value, sent as 4 bytes (RFC 6455 §5.2, §5.3). */
const KEY_LENGTH = 4;
// #endregion

/**
 * Masks (or unmasks: it is the same operation) `data` in place with a 4-byte
 * `key` (RFC 6455 §5.3): byte i of the payload is XORed with byte
 * (i mod 4) of the key.
 *
 * `offset` is where `data` starts in the payload, so a payload that arrives
 * in pieces can be unmasked piece by piece: masking bytes 0..9 with offset 0
 * and then bytes 10..19 with offset 10 is the same as masking 0..19 at once.
 *
 * `data` may be any view, of any length, starting anywhere in its buffer;
 * only its own bytes change.
 *
 * `applyMask(hello, [0x37, 0xfa, 0x21, 0x3d])` turns "Hello" (48 65 6c 6c 6f)
 * into 7f 9f 4d 51 58 (the example of §5.7).
 *
 * Throws a `RangeError` if `key` is not 4 bytes long, or if `offset` is not a
 * whole number ≥ 0.
 */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  // #region solution
  if (key.length !== KEY_LENGTH) {
    throw new RangeError(`a masking key is 4 bytes (RFC 6455 §5.3), this one is ${key.length}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset is a position in the payload: a whole number ≥ 0, not ${offset}`);
  }

  // The key as the payload sees it from byte 0 of `data`: rotated by `offset`.
  // (`& 3` is `% 4` for whole numbers ≥ 0.)
  const stream = Uint8Array.from({ length: KEY_LENGTH }, (_, i) => key[(offset + i) & 3]!);

  // A Uint32Array view must start on a 4-byte boundary of the buffer, and
  // payloads often do not (a frame's header is 2 to 14 bytes long; Node's
  // Buffers share pools): do the bytes up to the first boundary one by one.
  const misalignment = data.byteOffset & 3;
  const head = Math.min(data.length, misalignment === 0 ? 0 : KEY_LENGTH - misalignment);
  let i = 0;
  for (; i < head; i++) data[i]! ^= stream[i & 3]!;

  // Then 4 bytes per XOR. Reading the rotated key through a Uint32Array uses
  // the machine's byte order, the same order the payload words are read in.
  const words = (data.length - i) >>> 2;
  if (words > 0) {
    const rotated = Uint8Array.from({ length: KEY_LENGTH }, (_, j) => stream[(i + j) & 3]!);
    const mask = new Uint32Array(rotated.buffer)[0]!;
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w]! ^= mask;
    i += words * KEY_LENGTH;
  }

  // And the last 0 to 3 bytes one by one.
  for (; i < data.length; i++) data[i]! ^= stream[i & 3]!;
  // #endregion
}

/**
 * A fresh masking key: 4 bytes from a cryptographically strong random source
 * (`crypto.getRandomValues`), new for every frame a client sends (RFC 6455
 * §5.3). Predictable keys would let a script choose the bytes on the wire,
 * which is what masking exists to prevent (§10.3).
 */
export function createMaskKey(): Uint8Array {
  // #region solution
  return crypto.getRandomValues(new Uint8Array(KEY_LENGTH));
  // #endregion
}
