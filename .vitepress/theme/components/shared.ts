/**
 * What the widgets share: hex in and out, the byte layout of a frame (for
 * colouring), the close codes in words, and the way a widget hands bytes to
 * the frame inspector. The protocol itself is never re-implemented here: the
 * widgets call the reference chapters in solutions/.
 */
/// <reference types="vite/client" />
import { ref } from "vue";
import { CloseCode } from "../../../lib/close-codes.ts";

// ---------------------------------------------------------------- hex

/** Bytes as lowercase hex pairs separated by spaces: "81 05 48". */
export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

/**
 * Hex as people paste it: "81 85 37fa", "0x81, 0x85", one byte per line...
 * Whitespace, commas and colons separate; a `0x` before a group is dropped; a
 * lone digit is one byte ("5" is 05); otherwise each group is pairs of digits.
 */
export function parseHex(text: string): { bytes: Uint8Array<ArrayBuffer> } | { error: string } {
  const groups = text.split(/[\s,:;]+/).filter((g) => g !== "");
  const out: number[] = [];
  for (const raw of groups) {
    const group = raw.replace(/^0x/i, "");
    const bad = /[^0-9a-f]/i.exec(group);
    if (bad !== null) return { error: `“${bad[0]}” in “${raw}” is not a hex digit (0-9, a-f)` };
    if (group.length === 0) return { error: `“${raw}” has no digits after 0x` };
    const digits = group.length === 1 ? `0${group}` : group;
    if (digits.length % 2 !== 0) {
      return { error: `“${raw}” has an odd number of hex digits: write each byte as two digits` };
    }
    for (let i = 0; i < digits.length; i += 2) out.push(Number.parseInt(digits.slice(i, i + 2), 16));
  }
  return { bytes: Uint8Array.from(out) };
}

/** UTF-8 text, or undefined if the bytes are not valid UTF-8. */
export function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Text that is safe and useful to show as text: valid UTF-8 without control characters other than tab and newlines. */
export function printable(bytes: Uint8Array): string | undefined {
  const text = utf8(bytes);
  return text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? text : undefined;
}

export const plural = (n: number | bigint, one: string, many = `${one}s`) => `${n} ${n === 1 || n === 1n ? one : many}`;

// ---------------------------------------------------------------- frame layout

/** The parts of a frame's bytes, coloured alike in every widget (RFC 6455 §5.2). */
export type ByteField = "b0" | "b1" | "extlen" | "key" | "payload";

export const FIELD_LEGEND: readonly { field: ByteField; label: string }[] = [
  { field: "b0", label: "FIN, RSV1-3, opcode" },
  { field: "b1", label: "MASK, 7-bit length" },
  { field: "extlen", label: "extended length" },
  { field: "key", label: "masking key" },
  { field: "payload", label: "payload" },
];

/**
 * Where one frame's fields sit, read from its first bytes only (RFC 6455 §5.2):
 * what the widgets colour. Validity is not judged here: that is FrameParser's job.
 */
export interface FrameLayout {
  /** Offset of the frame's first byte in the pasted stream. */
  start: number;
  /** Bytes of this frame present in the stream (it may be cut short). */
  available: number;
  /** Byte 0 and 1 decoded, when present. */
  fin?: boolean;
  rsv?: [boolean, boolean, boolean];
  opcode?: number;
  masked?: boolean;
  /** The 7-bit length field as sent: 0-125, or 126 / 127 announcing an extended length. */
  length7?: number;
  /** Size of the extended length field in bytes: 0, 2 or 8. */
  extSize?: number;
  /** Header size (2 to 14) once byte 1 is known. */
  headerSize?: number;
  /** The announced payload length once the header is complete (a bigint: 64 bits may not fit a number). */
  length?: bigint;
  /** Bytes still missing: exact once the header is complete, a lower bound before. */
  needed: bigint;
  /** True when the whole header is present but not the payload, or more: `needed` is exact. */
  neededExact: boolean;
}

export function layoutFrame(stream: Uint8Array, start: number): FrameLayout {
  const available = stream.length - start;
  const layout: FrameLayout = { start, available, needed: 0n, neededExact: false };
  if (available < 2) {
    layout.needed = BigInt(2 - available);
    if (available === 1) decodeByte0(layout, stream[start]!);
    return layout;
  }
  decodeByte0(layout, stream[start]!);
  const b1 = stream[start + 1]!;
  layout.masked = (b1 & 0x80) !== 0;
  layout.length7 = b1 & 0x7f;
  layout.extSize = layout.length7 === 126 ? 2 : layout.length7 === 127 ? 8 : 0;
  layout.headerSize = 2 + layout.extSize + (layout.masked ? 4 : 0);
  if (available < layout.headerSize) {
    layout.needed = BigInt(layout.headerSize - available);
    return layout;
  }
  let length = BigInt(layout.length7);
  if (layout.extSize > 0) {
    length = 0n;
    for (let i = 0; i < layout.extSize; i++) length = (length << 8n) | BigInt(stream[start + 2 + i]!);
  }
  layout.length = length;
  const total = BigInt(layout.headerSize) + length;
  layout.needed = total > BigInt(available) ? total - BigInt(available) : 0n;
  layout.neededExact = true;
  return layout;
}

function decodeByte0(layout: FrameLayout, b0: number): void {
  layout.fin = (b0 & 0x80) !== 0;
  layout.rsv = [(b0 & 0x40) !== 0, (b0 & 0x20) !== 0, (b0 & 0x10) !== 0];
  layout.opcode = b0 & 0x0f;
}

/** The frame's size in the stream: all of it if complete, else what is there. */
export function frameEnd(layout: FrameLayout): number {
  if (layout.length === undefined || layout.headerSize === undefined || layout.needed > 0n) {
    return layout.start + layout.available;
  }
  return layout.start + layout.headerSize + Number(layout.length);
}

/** Which field byte `i` of the frame (counted from its first byte) belongs to. */
export function fieldOf(layout: FrameLayout, i: number): ByteField {
  if (i === 0) return "b0";
  if (i === 1) return "b1";
  const ext = layout.extSize ?? 0;
  if (i < 2 + ext) return "extlen";
  if (layout.masked && i < 2 + ext + 4) return "key";
  return "payload";
}

export interface ColouredByte {
  hex: string;
  field: ByteField;
  /** Position in the frame, for the tooltip. */
  index: number;
}

/**
 * The frame's bytes with their field, for display. Long payloads are cut:
 * `limit` payload bytes are shown, the rest is counted in `hidden`.
 */
export function colourBytes(stream: Uint8Array, layout: FrameLayout, limit = 256): { bytes: ColouredByte[]; hidden: number } {
  const end = frameEnd(layout);
  const bytes: ColouredByte[] = [];
  let payloadShown = 0;
  let hidden = 0;
  for (let at = layout.start; at < end; at++) {
    const index = at - layout.start;
    const field = fieldOf(layout, index);
    if (field === "payload" && payloadShown++ >= limit) {
      hidden = end - at;
      break;
    }
    bytes.push({ hex: stream[at]!.toString(16).padStart(2, "0"), field, index });
  }
  return { bytes, hidden };
}

// ---------------------------------------------------------------- RFC sections

/** "… (RFC 6455 §5.2)" → the sections a message cites, for links. */
export function sectionsIn(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(/§(\d+(?:\.\d+)*)/g), (m) => m[1]!))];
}

export const rfcLink = (section: string) => `https://www.rfc-editor.org/rfc/rfc6455#section-${section}`;

// ---------------------------------------------------------------- close codes

export interface CloseCodeInfo {
  name: string;
  meaning: string;
  source: string;
}

/** Every assigned close code, in the workbook's words (chapter 06; RFC 6455 §7.4.1 and the IANA registry). */
export const CLOSE_CODES: Readonly<Record<number, CloseCodeInfo>> = {
  [CloseCode.Normal]: { name: "Normal Closure", meaning: "The connection did what it was opened for; nothing went wrong.", source: "§7.4.1" },
  [CloseCode.GoingAway]: {
    name: "Going Away",
    meaning: "The endpoint is leaving: a server shutting down, a browser navigating away from the page.",
    source: "§7.4.1",
  },
  [CloseCode.ProtocolError]: { name: "Protocol Error", meaning: "The peer broke a rule of the protocol.", source: "§7.4.1" },
  [CloseCode.UnsupportedData]: {
    name: "Unsupported Data",
    meaning: "A kind of data this endpoint cannot take, such as binary sent to an endpoint that only understands text.",
    source: "§7.4.1",
  },
  [CloseCode.Reserved]: { name: "Reserved", meaning: "Set aside by the RFC with no meaning yet.", source: "§7.4.1" },
  [CloseCode.NoStatusReceived]: {
    name: "No Status Received",
    meaning: "Not a message but a report: an API uses it to say that the close frame carried no status code.",
    source: "§7.4.1, §7.1.5",
  },
  [CloseCode.AbnormalClosure]: {
    name: "Abnormal Closure",
    meaning: "Not a message but a report: an API uses it to say that the connection ended without any close frame.",
    source: "§7.4.1, §7.1.5",
  },
  [CloseCode.InvalidPayloadData]: {
    name: "Invalid Payload Data",
    meaning: "Data that does not match its message type, such as a text message that is not valid UTF-8.",
    source: "§7.4.1, §8.1",
  },
  [CloseCode.PolicyViolation]: {
    name: "Policy Violation",
    meaning: "A message broke this endpoint's rules; the catch-all when no other code fits, or when the details are best kept quiet.",
    source: "§7.4.1",
  },
  [CloseCode.MessageTooBig]: { name: "Message Too Big", meaning: "A message larger than this endpoint is willing to process.", source: "§7.4.1" },
  [CloseCode.MandatoryExtension]: {
    name: "Mandatory Extension",
    meaning: "Sent by a client: the server did not agree to an extension the client cannot do without (the reason names it).",
    source: "§7.4.1",
  },
  [CloseCode.InternalError]: {
    name: "Internal Error",
    meaning: "Something unexpected went wrong inside the endpoint, and it cannot go on.",
    source: "§7.4.1",
  },
  [CloseCode.ServiceRestart]: { name: "Service Restart", meaning: "The server is restarting; try again shortly.", source: "IANA registry" },
  [CloseCode.TryAgainLater]: {
    name: "Try Again Later",
    meaning: "A passing condition such as overload; the client may come back later.",
    source: "IANA registry",
  },
  [CloseCode.BadGateway]: {
    name: "Bad Gateway",
    meaning: "A gateway or proxy got an invalid answer from the server behind it.",
    source: "IANA registry",
  },
  [CloseCode.TlsHandshake]: {
    name: "TLS Handshake",
    meaning: "Not a message but a report: an API uses it to say that the TLS handshake failed (a certificate that could not be verified, say).",
    source: "§7.4.1",
  },
};

/** The range a code falls in (RFC 6455 §7.4.2). */
export function closeCodeRange(code: number): { range: string; meaning: string; source: string } {
  if (code < 1000) return { range: "0–999", meaning: "not used for anything: invalid", source: "§7.4.2" };
  if (code < 3000) {
    return {
      range: "1000–2999",
      meaning: "reserved for the protocol: RFC 6455, its revisions, and extensions with a public specification",
      source: "§7.4.2",
    };
  }
  if (code < 4000) {
    return { range: "3000–3999", meaning: "for libraries, frameworks and applications, registered with IANA", source: "§7.4.2" };
  }
  if (code < 5000) {
    return { range: "4000–4999", meaning: "private use, by agreement between the two applications; never registered", source: "§7.4.2" };
  }
  // §7.4.2 ends at 4999: nothing in RFC 6455 (or the registry, §11.7) defines these.
  return { range: "5000–65535", meaning: "beyond the ranges of §7.4.2, defined by no one: invalid", source: "" };
}

/** The close code's name, when it has one, for one-line descriptions: "1000 Normal Closure". */
export const closeCodeLabel = (code: number) => `${code}${CLOSE_CODES[code] ? ` ${CLOSE_CODES[code].name}` : ""}`;

// ---------------------------------------------------------------- SHA-1 and base64

/**
 * SHA-1 (FIPS 180-4), used only when WebCrypto is missing: `crypto.subtle`
 * exists only in secure contexts (https, or http on localhost / 127.0.0.1),
 * and a reader may open the dev server by another address.
 */
export function sha1Fallback(message: Uint8Array): Uint8Array {
  const bitLength = message.length * 8;
  const padded = new Uint8Array((((message.length + 8) >> 6) + 1) * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!, 1);
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    for (let i = 0; i < 80; i++) {
      const [f, k] =
        i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1] : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const t = (rotl(a, 5) + f + e + k + w[i]!) >>> 0;
      e = d;
      d = c;
      c = rotl(b, 30) >>> 0;
      b = a;
      a = t;
    }
    h[0] = (h[0]! + a) >>> 0;
    h[1] = (h[1]! + b) >>> 0;
    h[2] = (h[2]! + c) >>> 0;
    h[3] = (h[3]! + d) >>> 0;
    h[4] = (h[4]! + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(i * 4, word));
  return out;
}

export const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

// ---------------------------------------------------------------- the inspector as a destination

/** The window event a page's frame inspector listens to: `detail.hex` is the bytes to show. */
export const INSPECT_EVENT = "workbook:inspect";

/** How many inspectors stand on the page itself (not embedded in another widget). */
export const pageInspectors = ref(0);

/**
 * Sends bytes to the page's frame inspector. Returns false if the page has
 * none, so the caller can show an inspector of its own instead.
 */
export function openInInspector(bytes: Uint8Array): boolean {
  if (pageInspectors.value === 0) return false;
  window.dispatchEvent(new CustomEvent(INSPECT_EVENT, { detail: { hex: toHex(bytes) } }));
  return true;
}

// ---------------------------------------------------------------- the echo server

/**
 * The echo server `npm start` runs beside the site (scripts/start.ts sets
 * VITE_ECHO_URL); a site built without it assumes `npm run server`'s default.
 */
export const DEFAULT_ECHO_URL: string = import.meta.env.VITE_ECHO_URL || "ws://127.0.0.1:8080/";
