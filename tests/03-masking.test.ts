import fc from "fast-check";
import { afterEach, describe, expect, test, vi } from "vitest";
import { applyMask, createMaskKey } from "@workbook/03-masking";
import { escapeRegExp, expectThrows } from "./helpers/errors.ts";
import { expectBytes } from "./helpers/frame-dump.ts";
import { hex, toHex } from "./helpers/hex.ts";
import { pattern } from "./helpers/bytes.ts";

/** The key and the payload of the masked examples of RFC 6455 §5.7. */
const RFC_KEY = hex("37 fa 21 3d");
const HELLO = hex("48 65 6c 6c 6f");
const HELLO_MASKED = hex("7f 9f 4d 51 58");

/** The rule of §5.3, one byte at a time: byte i of the payload XOR byte (i mod 4) of the key. */
function maskedByTheRule(data: Uint8Array, key: Uint8Array, offset = 0): Uint8Array {
  return data.map((b, i) => b ^ key[(offset + i) % 4]!);
}


/** `data` copied into a larger buffer at `byteOffset`, between runs of 0xee that must not change. */
function placed(data: Uint8Array, byteOffset: number): { view: Uint8Array; whole: Uint8Array } {
  const whole = new Uint8Array(byteOffset + data.length + 11).fill(0xee);
  whole.set(data, byteOffset);
  return { view: whole.subarray(byteOffset, byteOffset + data.length), whole };
}

const keys = fc.uint8Array({ minLength: 4, maxLength: 4 });
/** A payload somewhere in a larger buffer: at any byteOffset, aligned to 4 bytes or not. */
const payloads = fc.record({ data: fc.uint8Array({ maxLength: 300 }), byteOffset: fc.nat({ max: 7 }) });

describe("Step 1 — mask and unmask: applyMask", () => {
  test("§5.7: the RFC's example: \"Hello\" masked with key 37 fa 21 3d is 7f 9f 4d 51 58", () => {
    const data = HELLO.slice();
    applyMask(data, RFC_KEY);
    expectBytes(data, HELLO_MASKED, "RFC 6455 §5.7: \"Hello\" masked with key 37 fa 21 3d, in place", "bytes");
  });

  test("§5.3 MUST: byte i of the payload is XORed with byte (i mod 4) of the key, for lengths 0 to 64", () => {
    const key = hex("01 20 ff 7e");
    for (let length = 0; length <= 64; length++) {
      const data = pattern(length, length + 1);
      const want = maskedByTheRule(data, key);
      applyMask(data, key);
      expectBytes(data, want, `RFC 6455 §5.3: a ${length}-byte payload masked with key ${toHex(key)}`, "bytes");
    }
  });

  test("§5.3 MUST: masking follows the rule for any payload, key, alignment and offset (property)", () => {
    fc.assert(
      fc.property(payloads, keys, fc.nat({ max: 1000 }), ({ data, byteOffset }, key, offset) => {
        const { view } = placed(data, byteOffset);
        applyMask(view, key, offset);
        expectBytes(
          view,
          maskedByTheRule(data, key, offset),
          `RFC 6455 §5.3: ${data.length} bytes at byteOffset ${byteOffset}, key ${toHex(key)}, offset ${offset}: ` +
            `byte i takes key byte (offset + i) mod 4`,
          "bytes",
        );
      }),
      { numRuns: 200 },
    );
  });

  test("§5.3: unmasking is masking again: masking twice gives back the original bytes (property)", () => {
    fc.assert(
      fc.property(payloads, keys, fc.nat({ max: 1000 }), ({ data, byteOffset }, key, offset) => {
        const { view } = placed(data, byteOffset);
        applyMask(view, key, offset);
        applyMask(view, key, offset);
        expectBytes(view, data, "RFC 6455 §5.3: XOR with the same key twice is the identity: the server unmasks with the client's function", "bytes");
      }),
      { numRuns: 100 },
    );
  });

  test("§5.3: the offset continues the mask: \"Hel\" at offset 0 then \"lo\" at offset 3 is the §5.7 example", () => {
    const data = HELLO.slice();
    applyMask(data.subarray(0, 3), RFC_KEY, 0);
    applyMask(data.subarray(3), RFC_KEY, 3);
    expectBytes(data, HELLO_MASKED, "RFC 6455 §5.3: \"lo\" is bytes 3-4 of the payload, so it takes key bytes 3 and 0", "bytes");
  });

  test("§5.3: a payload masked in pieces, each at its offset, equals the payload masked whole (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), keys, fc.array(fc.nat(), { maxLength: 6 }), (data, key, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        const inPieces = data.slice();
        let from = 0;
        for (const to of [...points, data.length]) {
          applyMask(inPieces.subarray(from, to), key, from);
          from = to;
        }
        expectBytes(
          inPieces,
          maskedByTheRule(data, key),
          `RFC 6455 §5.3: masked in pieces cut at [${points.join(", ")}], each piece starting at its offset in the payload`,
          "bytes",
        );
      }),
      { numRuns: 150 },
    );
  });

  test("§5.3: a view into a larger buffer, at any byteOffset: only the view's bytes change", () => {
    const key = hex("a1 b2 c3 d4");
    for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
      for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100]) {
        const data = pattern(length, byteOffset * 100 + length);
        const { view, whole } = placed(data, byteOffset);
        const want = whole.slice();
        want.set(maskedByTheRule(data, key), byteOffset);
        applyMask(view, key);
        expectBytes(
          whole,
          want,
          `RFC 6455 §5.3: ${length} bytes at byteOffset ${byteOffset} of their buffer: mask them, ` +
            `and leave the bytes before and after the view (0xee) alone`,
          "bytes",
        );
      }
    }
  });

  test("§5.3: large payloads: 3 MiB + 3 bytes at an odd byteOffset", () => {
    const length = 3 * 1024 * 1024 + 3;
    const data = pattern(length, 7);
    const { view, whole } = placed(data, 3);
    const want = whole.slice();
    want.set(maskedByTheRule(data, RFC_KEY), 3);
    applyMask(view, RFC_KEY);
    expectBytes(whole, want, "RFC 6455 §5.3: every byte of a 3 MiB payload is masked, and nothing around it", "bytes");
  });

  test("§5.3: the masking key is 4 bytes: any other length is the caller's mistake, a RangeError", () => {
    for (const length of [0, 3, 5, 8]) {
      expectThrows(
        () => applyMask(HELLO.slice(), new Uint8Array(length)),
        RangeError,
        `RFC 6455 §5.3: a masking key is 32 bits; a ${length}-byte key cannot be used`,
        new RegExp(`4|32|${length}`),
      );
    }
  });

  test("§5.3: an offset below 0 or not a whole number is the caller's mistake, a RangeError", () => {
    for (const offset of [-1, 1.5, Number.NaN]) {
      expectThrows(() => applyMask(HELLO.slice(), RFC_KEY, offset), RangeError, `offset ${offset} is not a position in a payload`, new RegExp(`offset|${escapeRegExp(String(offset))}`));
    }
  });
});

describe("Step 2 — a fresh key: createMaskKey", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test("§5.2, §5.3: a masking key is one 32-bit value: a Uint8Array of 4 bytes", () => {
    const key = createMaskKey();
    expect(key instanceof Uint8Array, "createMaskKey() should return a Uint8Array").toBe(true);
    expect(key.length, "RFC 6455 §5.2: the masking key field is 4 bytes").toBe(4);
  });

  test("§5.3 MUST: a fresh key for every frame: 100 keys all differ", () => {
    const keys = new Set(Array.from({ length: 100 }, () => toHex(createMaskKey())));
    expect(
      keys.size,
      "RFC 6455 §5.3: each frame needs a new, unpredictable key; 100 random 32-bit keys should all be different",
    ).toBe(100);
  });

  test("§5.3 MUST: the key comes from a strong source of entropy: crypto.getRandomValues", () => {
    const spy = vi.spyOn(crypto, "getRandomValues");
    createMaskKey();
    expect(
      spy.mock.calls.length,
      "RFC 6455 §5.3, §10.3: a predictable key (a counter, Math.random) lets a script choose the bytes on the wire. " +
        "This chapter is pure (no node: imports, so it runs in browsers too): take the 4 bytes from crypto.getRandomValues",
    ).toBeGreaterThan(0);
  });
});
