/**
 * The bytes the load generator puts on the wire, built once: the upgrade
 * request, a message's masked frame, the echo frame expected back, and a
 * close frame. Self-contained on purpose: the bench must not lean on the
 * code it measures (an encoder with a bug would skew every figure).
 */

export type MessageType = "text" | "binary";

/** Opcodes (RFC 6455 §5.2). */
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;

/**
 * The payload of a benchmark message: `size` bytes.
 * Text is what most WebSocket traffic carries, JSON: records of mostly ASCII
 * with one two-byte character each (about 1 byte in 60 is not ASCII), cut on
 * a code point boundary and padded with spaces to the exact size.
 * Binary is pseudo-random bytes.
 */
export function payloadFor(type: MessageType, size: number): Uint8Array {
  if (type === "binary") {
    const bytes = new Uint8Array(size);
    let x = 0x9e3779b9;
    for (let i = 0; i < size; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      bytes[i] = x >>> 24;
    }
    return bytes;
  }
  const unit = new TextEncoder().encode('{"id":4711,"user":"zoë","text":"see you at eight","tags":["a","b"],"n":[1,2,3]}\n');
  const bytes = new Uint8Array(size).fill(0x20);
  let at = 0;
  // Whole units, then the ASCII-only prefix of one more unit: never half a code point.
  while (at + unit.length <= size) {
    bytes.set(unit, at);
    at += unit.length;
  }
  for (let i = 0; at < size && unit[i]! < 0x80; i++, at++) bytes[at] = unit[i]!;
  return bytes;
}

/** Header of a frame with FIN set and a `length`-byte payload (§5.2), masked or not. */
function header(opcode: number, length: number, masked: boolean): Uint8Array {
  const maskBit = masked ? 0x80 : 0;
  if (length <= 125) return Uint8Array.of(0x80 | opcode, maskBit | length);
  if (length <= 0xffff) return Uint8Array.of(0x80 | opcode, maskBit | 126, length >>> 8, length & 0xff);
  const bytes = new Uint8Array(10);
  bytes[0] = 0x80 | opcode;
  bytes[1] = maskBit | 127;
  new DataView(bytes.buffer).setBigUint64(2, BigInt(length));
  return bytes;
}

/** A client's frame: header, key, payload masked with the key (§5.3). */
export function maskedFrame(opcode: number, payload: Uint8Array, key: Uint8Array): Uint8Array {
  const head = header(opcode, payload.length, true);
  const frame = new Uint8Array(head.length + 4 + payload.length);
  frame.set(head, 0);
  frame.set(key, head.length);
  const at = head.length + 4;
  for (let i = 0; i < payload.length; i++) frame[at + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** What the generator sends and expects for one scenario. */
export interface Wire {
  payload: Uint8Array;
  /** One masked frame carrying the message. */
  frame: Uint8Array;
  /** The header of the unmasked echo the server must send back. */
  echoHeader: Uint8Array;
  /** The echo's total length: header + payload. */
  echoLength: number;
  /** The echo, byte for byte (for the probe). */
  echo: Uint8Array;
}

/**
 * `raw`: the server is the raw TCP echo (server.ts), which sends every byte
 * back as it came: the "echo" is the masked frame itself, key included.
 */
export function wireFor(type: MessageType, size: number, raw = false): Wire {
  const opcode = type === "text" ? TEXT : BINARY;
  const payload = payloadFor(type, size);
  const key = crypto.getRandomValues(new Uint8Array(4));
  const frame = maskedFrame(opcode, payload, key);
  if (raw) return { payload, frame, echoHeader: frame.subarray(0, frame.length - size), echoLength: frame.length, echo: frame };
  const echoHeader = header(opcode, size, false);
  const echo = new Uint8Array(echoHeader.length + size);
  echo.set(echoHeader, 0);
  echo.set(payload, echoHeader.length);
  return { payload, frame, echoHeader, echoLength: echo.length, echo };
}

/** A masked close frame with status 1000 (§5.5.1). */
export const CLOSE_FRAME = maskedFrame(CLOSE, Uint8Array.of(0x03, 0xe8), Uint8Array.of(1, 2, 3, 4));

/** The opening handshake request (§4.1); any key will do, the bench does not check the accept value. */
export function upgradeRequest(host: string, port: number): string {
  return [
    "GET / HTTP/1.1",
    `Host: ${host}:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
}
