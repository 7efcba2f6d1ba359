/**
 * WebAssembly SIMD kernels for the two loops that see every payload byte:
 * masking (RFC 6455 §5.3) and UTF-8 validation (RFC 6455 §8.1). Not a chapter:
 * the reference (solutions/03, 04, 05) calls them where they run, for speed
 * alone; the chapters' plain loops give the same results, and the property
 * tests (tests/simd.test.ts) hold these to them.
 *
 * `simd` is `undefined` where WebAssembly or its SIMD instructions are missing
 * (an old browser, WebAssembly switched off, a page whose Content-Security-Policy
 * forbids compiling it): callers then use their plain loops. Pure: no `node:`
 * import, so the same file runs in the browser.
 *
 * The source is kernels.wat; `npm run simd` compiles it into kernels.wasm.ts.
 * The module is small enough to compile synchronously (browsers refuse
 * synchronous compiling only above a few KiB on their main thread).
 */
import { KERNELS_WASM } from "./kernels.wasm.ts";

export interface SimdKernels {
  /** `applyMask(data, key, offset)` (chapter 03): XORs `data` in place; `key` is 4 bytes, `offset` a whole number ≥ 0. */
  mask(data: Uint8Array, key: Uint8Array, offset: number): void;
  /**
   * Copies `source` into `target` from index `at`, unmasked with `key` as
   * payload bytes `offset`… (§5.3): the copy and the XOR in one step, so the
   * receiver's payload buffer is written once.
   */
  unmaskInto(target: Uint8Array, at: number, source: Uint8Array, key: Uint8Array, offset: number): void;
  /**
   * Checks `bytes` as the continuation of a UTF-8 stream whose state is
   * `state` (chapter 05's Utf8Validator: `needed | lower << 8 | upper << 16`,
   * `UTF8_START` between code points). Returns the new state, with
   * `UTF8_ALL_ASCII` added when every byte was ASCII (left clear when a native
   * check did the work: it cannot tell, see useNativeUtf8); or, when a byte
   * cannot be there, `-1 - i` with `i` its index in `bytes` (the same byte
   * the plain validator fails on).
   */
  utf8(bytes: Uint8Array, state: number): number;
}

/** The validator's state between code points: nothing needed, next byte 80..BF. */
export const UTF8_START = 0x80 << 8 | 0xbf << 16;
/** Set in `utf8`'s result when every byte it checked was ASCII. */
export const UTF8_ALL_ASCII = 1 << 24;
/** Bytes copied into the module's memory per call: its one 64 KiB page. */
const BLOCK = 64 * 1024;
/** From this many bytes on, a native check (useNativeUtf8) is used where there is one: below, its call costs more than it saves. */
const NATIVE_MIN = 1024;

/**
 * A whole-text UTF-8 check in native code, where the platform has one and an
 * I/O chapter supplies it (Node's `buffer.isUtf8`, from chapter 08): it reads
 * the bytes where they are, with no copy into the module's memory, 3 to 8
 * times as fast as the kernel. It only says yes or no, for whole text.
 */
let nativeUtf8: ((bytes: Uint8Array) => boolean) | undefined;

/** Supplies the native check `utf8` uses from NATIVE_MIN bytes on (undefined: the kernel alone again). */
export function useNativeUtf8(check: ((bytes: Uint8Array) => boolean) | undefined): void {
  nativeUtf8 = check;
}

/** The bytes a UTF-8 sequence takes, from its lead byte (C0..FF; those that cannot lead one fail later, in the kernel). */
const sequenceLength = (lead: number) => (lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2);

interface Exports {
  memory: WebAssembly.Memory;
  mask(at: number, length: number, key: number): void;
  utf8(at: number, length: number, state: number): number;
}

/** The 4 key bytes as one little-endian word, starting with the byte for payload position `offset` (§5.3). */
function keyWord(key: Uint8Array, offset: number): number {
  const r = offset & 3;
  return (key[r]! | (key[(r + 1) & 3]! << 8) | (key[(r + 2) & 3]! << 16) | (key[(r + 3) & 3]! << 24)) >>> 0;
}

function instantiate(): SimdKernels | undefined {
  // `WebAssembly.validate` is false where SIMD is not supported; compiling can
  // still throw (a Content-Security-Policy without 'wasm-unsafe-eval').
  if (typeof WebAssembly !== "object" || !WebAssembly.validate(KERNELS_WASM)) return undefined;
  let exports: Exports;
  try {
    exports = new WebAssembly.Instance(new WebAssembly.Module(KERNELS_WASM)).exports as unknown as Exports;
  } catch {
    return undefined;
  }
  // The memory never grows, so this view stays valid.
  const memory = new Uint8Array(exports.memory.buffer, 0, BLOCK);

  /** `source` copied into the memory, block by block, masked, and copied into `target` at `at`. */
  function unmaskInto(target: Uint8Array, at: number, source: Uint8Array, key: Uint8Array, offset: number): void {
    // Blocks are a multiple of 4 bytes: every block starts on the same key byte.
    const word = keyWord(key, offset);
    for (let start = 0; start < source.length; start += BLOCK) {
      const length = Math.min(BLOCK, source.length - start);
      memory.set(length === source.length ? source : source.subarray(start, start + length));
      exports.mask(0, length, word);
      target.set(length === BLOCK ? memory : memory.subarray(0, length), at + start);
    }
  }

  /** The kernel over `bytes`, copied into the memory block by block. */
  function viaKernel(bytes: Uint8Array, state: number): number {
    let allAscii = UTF8_ALL_ASCII;
    for (let start = 0; start < bytes.length; start += BLOCK) {
      const length = Math.min(BLOCK, bytes.length - start);
      memory.set(length === bytes.length ? bytes : bytes.subarray(start, start + length));
      const result = exports.utf8(0, length, state);
      if (result < 0) return result - start; // -1 - (index in the block) - start
      allAscii &= result;
      state = result & (UTF8_ALL_ASCII - 1);
    }
    return state | allAscii;
  }

  /**
   * `native` judges whole text only: a code point cut at either end of
   * `bytes` makes it say no. So the kernel checks the two ends (the rest of a
   * code point the last call left open, and one this call leaves open), and
   * `native` what lies between, where it is. Undefined when `native` says no:
   * the kernel then goes over all of `bytes` and finds the byte. (So a cut
   * in the wrong place would only cost time: `native` says no, and the
   * kernel decides.)
   */
  function viaNative(native: (bytes: Uint8Array) => boolean, bytes: Uint8Array, state: number): number | undefined {
    const open = state & 0xff; // continuation bytes still owed (bytes.length ≥ NATIVE_MIN > 3)
    if (open > 0) {
      const head = viaKernel(bytes.subarray(0, open), state);
      if (head < 0) return head;
    }
    // A lead byte among the last 3 whose sequence runs past the end: it starts the tail.
    let end = bytes.length;
    for (let k = 1; k <= 3 && bytes.length - k >= open; k++) {
      const byte = bytes[bytes.length - k]!;
      if (byte < 0x80) break;
      if (byte >= 0xc0) {
        if (sequenceLength(byte) > k) end = bytes.length - k;
        break;
      }
    }
    if (!native(bytes.subarray(open, end))) return undefined;
    if (end === bytes.length) return UTF8_START; // no code point left open
    const tail = viaKernel(bytes.subarray(end), UTF8_START);
    if (tail < 0) return tail - end; // its index in `bytes`
    return tail & (UTF8_ALL_ASCII - 1);
  }

  return {
    mask: (data, key, offset) => unmaskInto(data, 0, data, key, offset),
    unmaskInto,
    utf8(bytes, state) {
      if (nativeUtf8 !== undefined && bytes.length >= NATIVE_MIN) {
        const result = viaNative(nativeUtf8, bytes, state);
        if (result !== undefined) return result;
      }
      return viaKernel(bytes, state);
    },
  };
}

export const simd: SimdKernels | undefined = instantiate();
