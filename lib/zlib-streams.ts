/**
 * The reference's fast path for chapter 12 (not a chapter's exercise): one raw
 * DEFLATE stream per direction that lives as long as the connection, driven
 * synchronously.
 *
 * Why: with context takeover (RFC 7692 §7.2.1, §7.2.2) each message is
 * compressed and inflated from the window of the messages before. Chapter 12's
 * per-message code starts a new zlib stream for every message and primes it
 * with that window as a dictionary: for a small message the set-up and the
 * dictionary's hashing cost about 50 times the compression itself. A stream
 * kept for the connection already holds its window.
 *
 * How: node:zlib has no public synchronous call on a stream that lives on.
 * `deflateRawSync` and `inflateRawSync` make a new stream each time, and a
 * stream object's own synchronous `_processChunk` closes the stream after one
 * call (Node.js 20, 22 and 24 alike). So this runs the loop node:zlib's
 * synchronous functions run (`handle.writeSync` on the stream's native handle,
 * the counts left in `_writeState`), without closing at the end. Those two
 * are node:zlib internals: `zlibStreams.available` checks them once, on first
 * use, on a known input; where they are missing (another Node.js, or the
 * browser, where node:zlib is an empty stand-in) chapter 12 keeps its
 * per-message code, which is always right.
 *
 * Page: docs/chapters/12-extensions.md, "One stream per direction"
 */
import * as zlib from "node:zlib";

/** What node:zlib's streams hold, as its own synchronous loop uses them. */
interface Internals {
  _handle: {
    writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  } | null;
  /** After each write: [output room left, input bytes left]. */
  _writeState: Uint32Array;
}

/** Output is collected in pieces of this size (node:zlib's default chunk). */
const PIECE = 16 * 1024;

/** One raw DEFLATE stream, either way, flushed with Z_SYNC_FLUSH after each write (RFC 7692 §7.2.1). */
export class RawZlibStream {
  readonly #stream: zlib.DeflateRaw | zlib.InflateRaw;
  /** Small outputs land here first, then are copied out: no new 16 KiB buffer per message. */
  readonly #scratch = new Uint8Array(PIECE);

  constructor(stream: zlib.DeflateRaw | zlib.InflateRaw) {
    this.#stream = stream;
    // A zlib error destroys the stream, which then also emits "error" on the next
    // tick: the error is read synchronously (`errored`), this only keeps it from
    // being unhandled.
    stream.on("error", () => {});
  }

  /**
   * Runs `inputs`, in order, through the stream, each ended with a sync flush;
   * returns everything it produced. Stops, returning undefined, as soon as the
   * output would pass `limit` bytes: zlib is never given room for more than
   * `limit + 1` (the inflate bound of RFC 6455 §10.4, exact). Throws zlib's
   * error (bad data); the stream is closed after an error or a refusal.
   */
  write(inputs: readonly Uint8Array[], limit = Number.MAX_SAFE_INTEGER): Uint8Array | undefined {
    const { _handle: handle, _writeState: state } = this.#stream as unknown as Internals;
    if (handle === null) throw new Error("this zlib stream is closed");
    const pieces: Uint8Array[] = [];
    let out = this.#scratch;
    let used = 0;
    let size = 0;
    for (const input of inputs) {
      let inOff = 0;
      let inLen = input.length;
      for (;;) {
        const room = Math.min(out.length - used, limit + 1 - size);
        handle.writeSync(zlib.constants.Z_SYNC_FLUSH, input, inOff, inLen, out, used, room);
        if (this.#stream.errored) throw this.#stream.errored;
        const produced = room - state[0]!;
        used += produced;
        size += produced;
        if (size > limit) {
          this.close();
          return undefined;
        }
        inOff += inLen - state[1]!;
        inLen = state[1]!;
        if (state[0] !== 0) break; // room left over: all of the input is in, and flushed
        if (used === out.length) {
          pieces.push(out === this.#scratch ? out.slice() : out);
          out = new Uint8Array(PIECE);
          used = 0;
        }
      }
    }
    const last = out === this.#scratch ? out.slice(0, used) : out.subarray(0, used);
    if (pieces.length === 0) return last;
    pieces.push(last);
    const all = new Uint8Array(size);
    let at = 0;
    for (const piece of pieces) {
      all.set(piece, at);
      at += piece.length;
    }
    return all;
  }

  /** Back to an empty window, keeping the stream's memory (zlib's deflateReset / inflateReset). */
  reset(): void {
    this.#stream.reset();
  }

  /** Frees the stream's memory (zlib's state and window) now rather than at garbage collection. */
  close(): void {
    this.#stream.close();
  }

  /** Closed: by `close()`, by an error, or at the output limit. */
  get closed(): boolean {
    return this.#stream.destroyed;
  }
}

let checked: boolean | undefined;

/** The internals are there and give what `deflateRawSync` gives, checked on "Hello" (RFC 7692 §7.2.3.1). */
function internalsWork(): boolean {
  try {
    if (typeof zlib.DeflateRaw !== "function") return false;
    const stream = new zlib.DeflateRaw({ windowBits: 15 });
    const internals = stream as unknown as Partial<Internals>;
    if (typeof internals._handle?.writeSync !== "function" || !(internals._writeState instanceof Uint32Array)) return false;
    const hello = new TextEncoder().encode("Hello");
    const ours = new RawZlibStream(stream);
    const first = ours.write([hello]);
    const second = ours.write([hello]); // the second time, from the window of the first
    ours.close();
    const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("hex");
    return hex(first) === "f248cdc9c90700" + "0000ffff" && hex(second) === "f200110000" + "0000ffff";
  } catch {
    return false;
  }
}

/**
 * New raw DEFLATE streams, if node:zlib's internals work here. `enabled` is
 * for tests, which turn the fast path off to reach chapter 12's per-message
 * code and compare the two.
 */
export const zlibStreams = {
  enabled: true,
  /** The internals work in this runtime (checked once). */
  get available(): boolean {
    checked ??= internalsWork();
    return checked;
  },
  /** A compressor with a window of 2^windowBits bytes (8..15; node:zlib makes 8 into 9 for raw DEFLATE). */
  deflater(windowBits: number): RawZlibStream {
    return new RawZlibStream(new zlib.DeflateRaw({ windowBits }));
  },
  /** A decompressor with the largest window: enough whatever window the peer compressed with. */
  inflater(): RawZlibStream {
    return new RawZlibStream(new zlib.InflateRaw({ windowBits: 15 }));
  },
};
