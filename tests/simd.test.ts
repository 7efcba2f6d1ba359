/**
 * The reference's WebAssembly SIMD kernels (lib/simd) against the plain loops
 * of chapters 03 and 05, which stay the fallback and are the oracle here.
 * Not a chapter's test: maintainers' (npm test runs it on the reference only,
 * in its own stage); a reader's work never goes through these kernels.
 *
 * The plain loops are reached by feeding them short pieces: the reference
 * takes its SIMD path only from 64 bytes on, so a piece of at most PLAIN bytes
 * always runs the chapter's own loop.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isUtf8 } from "node:buffer";
import { simd, UTF8_ALL_ASCII, UTF8_START, useNativeUtf8, type SimdKernels } from "../lib/simd/index.ts";
import { ProtocolError } from "../lib/errors.ts";
import { applyMask } from "../solutions/03-masking.ts";
import { Utf8Validator } from "../solutions/05-messages.ts";

/** Pieces this short (or shorter) always take the chapters' plain loops. */
const PLAIN = 15;
/** The kernels copy through one 64 KiB page: lengths around it and past it are where blocks meet. */
const BLOCK = 64 * 1024;

/** `kernels` is there: Node has had WebAssembly SIMD since 16.4 (V8 9.1). */
function kernels(): SimdKernels {
  expect(simd, "WebAssembly SIMD should be available in Node.js").toBeDefined();
  return simd!;
}

/** `bytes` masked by chapter 03's plain loop, PLAIN bytes at a time. */
function maskedPlainly(bytes: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  const copy = bytes.slice();
  for (let i = 0; i < copy.length; i += PLAIN) applyMask(copy.subarray(i, i + PLAIN), key, offset + i);
  return copy;
}

/** The first index at which `a` and `b` differ, -1 if none (toEqual is slow on long arrays). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Some bytes at some alignment in their buffer (0 to 15 bytes in), and often long: up to 2 blocks and a bit. */
const lengths = fc.oneof(
  { arbitrary: fc.nat({ max: 300 }), weight: 6 },
  { arbitrary: fc.nat({ max: 5000 }), weight: 3 },
  { arbitrary: fc.integer({ min: BLOCK - 40, max: 2 * BLOCK + 40 }), weight: 1 },
);
const placed = fc
  .tuple(lengths, fc.nat({ max: 15 }), fc.integer())
  .map(([length, at, seed]) => {
    const buffer = new Uint8Array(at + length);
    let x = seed | 1;
    for (let i = 0; i < buffer.length; i++) buffer[i] = (x = (x * 1103515245 + 12345) | 0) >>> 24;
    return buffer.subarray(at);
  });
const keys = fc.uint8Array({ minLength: 4, maxLength: 4 });

describe("masking (RFC 6455 §5.3): the SIMD kernel gives chapter 03's bytes", () => {
  it("§5.3: mask(data, key, offset) XORs byte i with key[(offset + i) mod 4], as the plain loop does, at any length, alignment, key and offset", () => {
    const k = kernels();
    fc.assert(
      fc.property(placed, keys, fc.nat({ max: 1_000_000 }), (data, key, offset) => {
        const expected = maskedPlainly(data, key, offset);
        const before = data.buffer.slice(0);
        k.mask(data, key, offset);
        expect(firstDifference(data, expected)).toBe(-1);
        // Only the view's own bytes change.
        const whole = new Uint8Array(data.buffer);
        const old = new Uint8Array(before);
        expect(firstDifference(whole.subarray(0, data.byteOffset), old.subarray(0, data.byteOffset))).toBe(-1);
      }),
      { numRuns: 150 },
    );
  });

  it("§5.3: unmaskInto copies and unmasks in one step: the target holds what copying then masking gives, the source is unchanged, nothing else in the target changes", () => {
    const k = kernels();
    fc.assert(
      fc.property(placed, keys, fc.nat({ max: 1_000_000 }), fc.nat({ max: 40 }), (source, key, offset, at) => {
        const sourceBefore = source.slice();
        const target = new Uint8Array(at + source.length + 7).fill(0x5a);
        k.unmaskInto(target, at, source, key, offset);
        expect(firstDifference(source, sourceBefore)).toBe(-1);
        expect(firstDifference(target.subarray(at, at + source.length), maskedPlainly(source, key, offset))).toBe(-1);
        expect(target.subarray(0, at).every((b) => b === 0x5a)).toBe(true);
        expect(target.subarray(at + source.length).every((b) => b === 0x5a)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

/** Where chapter 05's validator, fed one byte at a time from `state`, first throws; -1 if it never does. */
function plainFailure(validator: Utf8Validator, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) {
    try {
      validator.push(bytes.subarray(i, i + 1));
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(1007);
      return i;
    }
  }
  return -1;
}

/** plainFailure without an expect() per call: for a loop that makes 100 000 of them. */
function quickPlainFailure(bytes: Uint8Array): number {
  const validator = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) {
    try {
      validator.push(bytes.subarray(i, i + 1));
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 1007) return i;
      throw error;
    }
  }
  return -1;
}

/** Text that is mostly valid: ASCII runs, every length of code point, and the edges of each range. */
const edgy = fc.constantFrom(
  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
);
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c));
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom("a", " ", "~", "\n"), maxLength: 300 }),
  fc.string({ unit: anyCodePoint, maxLength: 200 }),
  fc.string({ unit: fc.oneof({ arbitrary: fc.constantFrom("x", "y"), weight: 20 }, { arbitrary: anyCodePoint, weight: 1 }), maxLength: 3000 }),
).map((s) => new TextEncoder().encode(s));
/** Valid text, maybe with a few bytes overwritten (anything, or an edge byte): a corrupted input, or still valid. */
const texts = fc
  .tuple(text, fc.array(fc.tuple(fc.nat(), fc.oneof(edgy, fc.nat({ max: 255 }))), { maxLength: 3 }))
  .map(([bytes, changes]) => {
    for (const [at, byte] of changes) if (bytes.length > 0) bytes[at % bytes.length] = byte;
    return bytes;
  });

describe("UTF-8 (RFC 3629 §4, RFC 6455 §8.1): the SIMD kernel gives chapter 05's verdicts", () => {
  it("§8.1: on any text, valid or corrupted, cut anywhere, utf8() accepts what the plain validator accepts, fails on the same byte, and reports all-ASCII pieces", () => {
    const k = kernels();
    fc.assert(
      fc.property(texts, fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const pieces: Uint8Array[] = [];
        let from = 0;
        for (const to of [...points, bytes.length]) {
          pieces.push(bytes.subarray(from, to));
          from = to;
        }
        const plain = new Utf8Validator();
        let state = UTF8_START;
        let seen = 0;
        for (const piece of pieces) {
          const result = k.utf8(piece, state);
          const failedAt = plainFailure(plain, piece);
          if (failedAt >= 0) {
            expect(result, `the plain loop fails at byte ${seen + failedAt}`).toBe(-1 - failedAt);
            return;
          }
          expect(result, `the plain loop accepts bytes ${seen}..${seen + piece.length}`).toBeGreaterThanOrEqual(0);
          expect((result & UTF8_ALL_ASCII) !== 0).toBe(piece.every((b) => b < 0x80));
          state = result & (UTF8_ALL_ASCII - 1);
          seen += piece.length;
        }
        // Cut off in a code point: both say so at the end.
        let cutOff = false;
        try {
          plain.end();
        } catch {
          cutOff = true;
        }
        expect(state !== UTF8_START && (state & 0xff) !== 0).toBe(cutOff);
      }),
      { numRuns: 400 },
    );
  });

  it("§8.1: every pair of bytes, followed by a continuation byte or by ASCII, at the end of a 16-byte block and across two, gets the plain validator's verdict on the same byte", () => {
    const k = kernels();
    // The kernel judges each byte by the one before it (three table lookups) and
    // by the 2nd and 3rd before it, and an all-ASCII block (16 or 64 bytes) by
    // the end of the block before it. Every pair, with its third byte, placed so
    // that they end a block or straddle two, followed by ASCII in 16 or in 64
    // bytes, is every case it can meet.
    const placements = [
      { at: 13, bytes: new Uint8Array(48) },
      { at: 13, bytes: new Uint8Array(96) },
      { at: 14, bytes: new Uint8Array(48) },
      { at: 15, bytes: new Uint8Array(96) },
    ];
    for (const { bytes } of placements) bytes.fill(0x61);
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // some 100 000 errors thrown below: no stacks needed
    try {
      for (let first = 0; first < 256; first++) {
        for (let second = 0; second < 256; second++) {
          for (const third of [0xbf, 0x61]) {
            // The plain loop needs only these bytes (and the next, where a code point is cut short): the rest is ASCII.
            const failedAt = quickPlainFailure(Uint8Array.of(first, second, third, 0x61));
            const ascii = first < 0x80 && second < 0x80 && third < 0x80 ? UTF8_ALL_ASCII : 0;
            for (const { at, bytes } of placements) {
              bytes[at] = first;
              bytes[at + 1] = second;
              bytes[at + 2] = third;
              const expected = failedAt >= 0 ? -1 - (at + failedAt) : UTF8_START | ascii;
              const result = k.utf8(bytes, UTF8_START);
              if (result !== expected) {
                const where = `at byte ${at} of ${bytes.length}`;
                expect(result, `${[first, second, third].map((b) => b.toString(16)).join(" ")} ${where}`).toBe(expected);
              }
              bytes.fill(0x61, at, at + 3);
            }
          }
        }
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  });

  /** UTF-8 text of `unit` code points, `minLength` to `maxLength` of them, with up to two bytes changed and up to three cuts. */
  const corruptedAndCut = (unit: fc.Arbitrary<string>, minLength: number, maxLength: number) =>
    fc
      .tuple(
        fc.string({ unit, minLength, maxLength, size: "large" }).map((s) => new TextEncoder().encode(s)),
        fc.array(fc.tuple(fc.nat(), fc.oneof(edgy, fc.nat({ max: 255 }))), { maxLength: 2 }),
        fc.array(fc.nat(), { maxLength: 3 }),
      )
      .map(([bytes, changes, cuts]) => {
        for (const [at, byte] of changes) bytes[at % bytes.length] = byte;
        return { bytes, cuts: [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b) };
      });

  /** The kernel's verdicts piece by piece, against the plain validator's on the whole text: the same failing byte, or none. */
  function agreesWithPlain(k: SimdKernels, { bytes, cuts }: { bytes: Uint8Array; cuts: number[] }): void {
    const whole = plainFailure(new Utf8Validator(), bytes);
    let state = UTF8_START;
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      const piece = bytes.subarray(from, to);
      const result = k.utf8(piece, state);
      if (whole >= from && whole < to) {
        expect(result, `the plain loop fails at byte ${whole}`).toBe(-1 - (whole - from));
        return;
      }
      expect(result, `the plain loop accepts bytes ${from}..${to}`).toBeGreaterThanOrEqual(0);
      // A native check cannot tell ASCII: the flag may stay clear, but is never set wrongly.
      if ((result & UTF8_ALL_ASCII) !== 0) expect(piece.every((b) => b < 0x80), `bytes ${from}..${to} flagged all ASCII`).toBe(true);
      state = result & (UTF8_ALL_ASCII - 1);
      from = to;
    }
    expect(whole).toBe(-1);
  }

  it("§8.1: long text of 2-, 3- and 4-byte code points, corrupted or not, cut anywhere, gets the plain validator's verdicts on the same bytes", () => {
    const k = kernels();
    fc.assert(
      fc.property(corruptedAndCut(anyCodePoint, 16, 2000), (text) => agreesWithPlain(k, text)),
      { numRuns: 300 },
    );
  });

  it("§8.1: with a native whole-text check supplied (Node's isUtf8, as chapter 08 does), utf8() still gives the plain validator's verdicts on the same bytes, however the text is cut", () => {
    const k = kernels();
    // Long enough for the native path (1 KiB and more), short pieces too: JSON-like
    // or 2-4-byte text, corrupted or not, cut anywhere (code points cut at both ends).
    const unit = fc.oneof(fc.constantFrom("{", "\"", "a", " ", "é", "€", "😀"), anyCodePoint);
    let nativeCalls = 0;
    useNativeUtf8((bytes) => (nativeCalls++, isUtf8(bytes)));
    try {
      fc.assert(
        fc.property(corruptedAndCut(unit, 400, 3000), (text) => agreesWithPlain(k, text)),
        { numRuns: 300 },
      );
    } finally {
      useNativeUtf8(undefined);
    }
    expect(nativeCalls, "the native path was taken").toBeGreaterThan(100);
  });

  it("§8.1: with the native check supplied, a long piece that ends in a bad or unfinished code point fails on the plain validator's byte, or leaves its state", () => {
    const k = kernels();
    const text = new TextEncoder().encode("zoë sees € and 😀, ".repeat(100)); // 2 KiB and more, whole code points
    const endings = [[0xc0], [0xc1], [0xf5], [0xff], [0xe0, 0x80], [0xed, 0xa0], [0xf0, 0x8f], [0xf4, 0x90], [0xf4, 0x8f, 0xc0], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]];
    useNativeUtf8(isUtf8);
    try {
      for (const ending of endings) {
        const bytes = new Uint8Array([...text, ...ending]);
        const whole = plainFailure(new Utf8Validator(), bytes);
        const result = k.utf8(bytes, UTF8_START);
        const plain = new Utf8Validator();
        plain.push(text);
        if (whole >= 0) expect(result, ending.map((b) => b.toString(16)).join(" ")).toBe(-1 - whole);
        else expect(result & 0xff, ending.map((b) => b.toString(16)).join(" ")).toBe(k.utf8(Uint8Array.from(ending), UTF8_START) & 0xff);
      }
    } finally {
      useNativeUtf8(undefined);
    }
  });

  it("§8.1: one bad byte in long ASCII text, at the edges of the kernel's 16- and 64-byte steps and of its 64 KiB blocks, fails on that byte", () => {
    const k = kernels();
    const length = 2 * BLOCK + 100;
    const positions = [0, 15, 16, 17, 63, 64, 65, 127, 128, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK - 1, 2 * BLOCK, length - 1];
    for (const at of positions) {
      for (const bad of [0x80, 0xc0, 0xff]) {
        const bytes = new Uint8Array(length).fill(0x61);
        bytes[at] = bad;
        expect(k.utf8(bytes, UTF8_START), `${bad.toString(16)} at ${at}`).toBe(-1 - at);
        expect(plainFailure(new Utf8Validator(), bytes.subarray(Math.max(0, at - 3), at + 1))).toBe(Math.min(at, 3));
      }
    }
    expect(k.utf8(new Uint8Array(length).fill(0x61), UTF8_START)).toBe(UTF8_START | UTF8_ALL_ASCII);
  });
});
