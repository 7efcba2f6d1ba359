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
import { NotImplementedError } from "../lib/not-implemented.ts";

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
  throw new NotImplementedError("applyMask in chapters/03-masking.ts");
}

/**
 * A fresh masking key: 4 bytes from a cryptographically strong random source
 * (`crypto.getRandomValues`), new for every frame a client sends (RFC 6455
 * §5.3). Predictable keys would let a script choose the bytes on the wire,
 * which is what masking exists to prevent (§10.3).
 */
export function createMaskKey(): Uint8Array {
  throw new NotImplementedError("createMaskKey in chapters/03-masking.ts");
}
