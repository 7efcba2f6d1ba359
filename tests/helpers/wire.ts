/**
 * The tests' own frame encoder and decoder: small, plain, written once for
 * the tests (RFC 6455 §5.2, §5.3, §5.5.1). The code under test is never its
 * own oracle: a test builds its input and reads what came out with these,
 * not with the reference chapters 04 and 06.
 *
 * They check nothing: a test may build any frame, forbidden ones included.
 */
import type { Frame } from "../../lib/frame.ts";

export interface WireFrame {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  opcode: number;
  payload: Uint8Array;
  /** Masks the payload with this 4-byte key (§5.3); unmasked if absent. */
  maskKey?: Uint8Array | undefined;
}

/** The bytes of one frame, as §5.2 lays them out (shortest length encoding). */
export function wireFrame({ fin = true, rsv1 = false, rsv2 = false, rsv3 = false, opcode, payload, maskKey }: WireFrame): Uint8Array {
  const n = payload.length;
  const lengthBytes = n <= 125 ? 0 : n <= 0xffff ? 2 : 8;
  const keyBytes = maskKey === undefined ? 0 : 4;
  const out = new Uint8Array(2 + lengthBytes + keyBytes + n);
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | (opcode & 0x0f);
  out[1] = (maskKey === undefined ? 0 : 0x80) | (lengthBytes === 0 ? n : lengthBytes === 2 ? 126 : 127);
  for (let i = 0; i < lengthBytes; i++) out[2 + i] = Math.floor(n / 2 ** (8 * (lengthBytes - 1 - i))) & 0xff;
  const at = 2 + lengthBytes + keyBytes;
  if (maskKey !== undefined) out.set(maskKey, 2 + lengthBytes);
  for (let i = 0; i < n; i++) out[at + i] = payload[i]! ^ (maskKey === undefined ? 0 : maskKey[i & 3]!);
  return out;
}

/** A close frame's payload (§5.5.1): the code in 2 bytes, big-endian, then the reason's UTF-8; any code at all. */
export function closeBody(code: number, reason: string | Uint8Array = ""): Uint8Array {
  const bytes = typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + bytes.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(bytes, 2);
  return out;
}

/** A close frame's code and reason as received; 1005 for an empty payload (§7.1.5). No checks. */
export function readCloseBody(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  return { code: (payload[0]! << 8) | payload[1]!, reason: new TextDecoder().decode(payload.subarray(2)) };
}

/**
 * Reads frames out of a byte stream, however it is cut: a test's view of
 * what an endpoint wrote. Payloads come out unmasked; `maskKey` tells
 * whether the frame was masked.
 */
export class WireReader {
  #buffer = new Uint8Array(0);

  push(bytes: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.#buffer.length + bytes.length);
    joined.set(this.#buffer);
    joined.set(bytes, this.#buffer.length);
    const frames: Frame[] = [];
    let at = 0;
    for (;;) {
      const frame = readFrame(joined, at);
      if (frame === undefined) break;
      frames.push(frame.frame);
      at = frame.end;
    }
    this.#buffer = joined.slice(at);
    return frames;
  }

  /** Bytes received that do not make a whole frame (yet). */
  get pending(): number {
    return this.#buffer.length;
  }
}

/** Every frame in `bytes`; throws if bytes are left over (half a frame). */
export function readFrames(bytes: Uint8Array): Frame[] {
  const reader = new WireReader();
  const frames = reader.push(bytes);
  if (reader.pending > 0) throw new Error(`${reader.pending} bytes after the last whole frame`);
  return frames;
}

function readFrame(bytes: Uint8Array, at: number): { frame: Frame; end: number } | undefined {
  if (bytes.length - at < 2) return undefined;
  const b0 = bytes[at]!;
  const b1 = bytes[at + 1]!;
  const length7 = b1 & 0x7f;
  const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const keyBytes = b1 & 0x80 ? 4 : 0;
  const headerEnd = at + 2 + lengthBytes + keyBytes;
  if (bytes.length < headerEnd) return undefined;
  let length = lengthBytes === 0 ? length7 : 0;
  for (let i = 0; i < lengthBytes; i++) length = length * 256 + bytes[at + 2 + i]!;
  if (bytes.length < headerEnd + length) return undefined;
  const maskKey = keyBytes === 0 ? undefined : bytes.slice(headerEnd - 4, headerEnd);
  const payload = bytes.slice(headerEnd, headerEnd + length);
  if (maskKey !== undefined) for (let i = 0; i < length; i++) payload[i]! ^= maskKey[i & 3]!;
  const frame: Frame = {
    fin: (b0 & 0x80) !== 0,
    rsv1: (b0 & 0x40) !== 0,
    rsv2: (b0 & 0x20) !== 0,
    rsv3: (b0 & 0x10) !== 0,
    opcode: b0 & 0x0f,
    payload,
  };
  if (maskKey !== undefined) frame.maskKey = maskKey;
  return { frame, end: headerEnd + length };
}
