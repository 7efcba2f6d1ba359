/**
 * Byte comparisons that a learner can act on: when bytes differ, the failure
 * names the rule, shows the expected and the received bytes as labelled dumps
 * (FIN, RSV, opcode, MASK, length, key, payload for frames), and points at the
 * first byte that differs and the field it belongs to.
 *
 *   expectBytes(encodeFrame(f), hex("82 7e 00 7e ..."), "RFC 6455 §5.2: a 126-byte payload needs the 16-bit extended length");
 *   expectBytes(masked, hex("7f 9f 4d 51 58"), "RFC 6455 §5.3: ...", "bytes");
 *
 * Layouts:
 * - "frames" (the default): the bytes are a stream of WebSocket frames, one or
 *   more, back to back; each header is decoded field by field. Garbage and
 *   truncated frames are shown as such, never thrown on.
 * - "bytes": plain bytes (a masked payload, a close payload): a hex dump.
 *
 * Long runs of bytes are shortened to their first and last bytes, always
 * keeping the bytes around the first difference in view.
 */
import { assert } from "vitest";

export type Layout = "frames" | "bytes";

/**
 * Passes if `actual` holds exactly the bytes of `expected`; otherwise fails
 * with `rule`, the first difference and a labelled dump of both.
 */
export function expectBytes(actual: unknown, expected: Uint8Array, rule: string, layout: Layout = "frames"): void {
  if (!(actual instanceof Uint8Array)) {
    assert.fail(`${rule}\nexpected bytes (a Uint8Array), received ${describeValue(actual)}\n\n` +
      `expected (${expected.length} bytes):\n${dumpBytes(expected, layout)}`);
  }
  const at = firstDifference(actual, expected);
  if (at === -1) return;
  const fields = layout === "frames" ? frameFields(expected) : [];
  const field = fields.find((f) => at >= f.start && at < f.end)?.name;
  const where = `byte ${at}${field === undefined ? "" : ` (${field})`}`;
  const what =
    at >= actual.length
      ? `the received bytes end there, expected continues with ${byte(expected[at])}`
      : at >= expected.length
        ? `expected ends there, received continues with ${byte(actual[at])}`
        : `expected ${byte(expected[at])}, received ${byte(actual[at])}`;
  assert.fail(
    `${rule}\nfirst difference at ${where}: ${what}\n\n` +
      `expected (${expected.length} bytes):\n${dumpBytes(expected, layout, at)}\n` +
      `received (${actual.length} bytes):\n${dumpBytes(actual, layout, at)}`,
  );
}

/**
 * A labelled dump of `bytes`, one field (frames) or one run (bytes) per line;
 * the line holding byte `mark`, if given, starts with "→" and shows that byte
 * in brackets.
 */
export function dumpBytes(bytes: Uint8Array, layout: Layout = "frames", mark = -1): string {
  const fields = layout === "frames" ? frameFields(bytes) : byteRows(bytes);
  if (fields.length === 0) return "    (no bytes)";
  return fields
    .map((f) => {
      const marked = mark >= f.start && (mark < f.end || (mark === f.end && f === fields.at(-1)));
      const range = f.end === f.start ? "" : f.end - f.start === 1 ? `byte ${f.start}` : `bytes ${f.start}-${f.end - 1}`;
      const hexText = hexRun(bytes, f.start, f.end, marked ? mark : -1);
      const label = f.note === "" ? f.name : `${f.name}: ${f.note}`;
      const line = `${marked ? "  → " : "    "}${range.padEnd(14)} ${layout === "frames" ? hexText.padEnd(14) : hexText}`;
      return label === "" ? line : `${line}  ${label}`;
    })
    .join("\n");
}

// ---------------------------------------------------------------------------

interface Field {
  start: number;
  /** Exclusive. */
  end: number;
  name: string;
  note: string;
}

/** Walks a stream of frames (RFC 6455 §5.2), naming every field, tolerating anything. */
function frameFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  for (let n = 1; at < bytes.length; n++) {
    const prefix = n === 1 && !looksLikeMore(bytes, at) ? "" : `frame ${n}, `;
    const b0 = bytes[at]!;
    const opcode = b0 & 0x0f;
    const rsv = `${(b0 >> 6) & 1}${(b0 >> 5) & 1}${(b0 >> 4) & 1}`;
    fields.push({
      start: at,
      end: at + 1,
      name: `${prefix}FIN, RSV1-3, opcode`,
      note: `FIN=${b0 >> 7} RSV=${rsv} opcode=0x${opcode.toString(16)} (${OPCODES[opcode] ?? "reserved"})`,
    });
    at += 1;
    if (at >= bytes.length) return truncated(fields, at, "the second header byte");

    const b1 = bytes[at]!;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    fields.push({
      start: at,
      end: at + 1,
      name: `${prefix}MASK, payload length`,
      note: `MASK=${masked ? 1 : 0} length=${len7}${extra === 0 ? "" : ` (a ${extra * 8}-bit length follows)`}`,
    });
    at += 1;

    let length = len7;
    if (extra > 0) {
      if (at + extra > bytes.length) return truncated(fields, at, `the ${extra * 8}-bit extended length`);
      let value = 0n;
      for (let i = 0; i < extra; i++) value = (value << 8n) | BigInt(bytes[at + i]!);
      const notes = [`= ${value}`];
      if (extra === 8 && value >> 63n !== 0n) notes.push("(most significant bit set: not allowed)");
      if ((extra === 2 && value < 126n) || (extra === 8 && value < 65536n)) notes.push("(not the minimal encoding)");
      fields.push({ start: at, end: at + extra, name: `${prefix}extended payload length`, note: notes.join(" ") });
      at += extra;
      length = value > BigInt(bytes.length) ? bytes.length + 1 : Number(value);
    }

    let key: Uint8Array | undefined;
    if (masked) {
      if (at + 4 > bytes.length) return truncated(fields, at, "the masking key");
      key = bytes.subarray(at, at + 4);
      fields.push({ start: at, end: at + 4, name: `${prefix}masking key`, note: "" });
      at += 4;
    }

    const end = Math.min(bytes.length, at + length);
    const payload = bytes.slice(at, end);
    if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    const shortBy = at + length - end;
    if (length === 0) continue; // "length=0" above says it all
    fields.push({
      start: at,
      end,
      name: `${prefix}payload`,
      note: [
        shortBy > 0 ? `${end - at} bytes, truncated (the header announces more)` : `${length} bytes`,
        payloadPreview(opcode, payload, key !== undefined),
      ]
        .filter(Boolean)
        .join(", "),
    });
    at = end;
  }
  return fields;
}

/** Plain bytes: rows of 16 while short, one shortened run when long. */
function byteRows(bytes: Uint8Array): Field[] {
  if (bytes.length > 128) return [{ start: 0, end: bytes.length, name: "", note: "" }];
  const rows: Field[] = [];
  for (let at = 0; at < bytes.length; at += 16) rows.push({ start: at, end: Math.min(at + 16, bytes.length), name: "", note: "" });
  return rows;
}

const OPCODES: Record<number, string> = { 0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong" };

/** True if another frame would start after the one at `at`: numbering frames only helps when there are several. */
function looksLikeMore(bytes: Uint8Array, at: number): boolean {
  const b1 = bytes[at + 1];
  if (b1 === undefined) return false;
  const len7 = b1 & 0x7f;
  let length = len7;
  let header = 2 + ((b1 & 0x80) !== 0 ? 4 : 0);
  if (len7 === 126) {
    header += 2;
    length = ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0);
  } else if (len7 === 127) {
    return false; // a 64-bit length frame is the last one we bother numbering
  }
  return at + header + length < bytes.length;
}

function truncated(fields: Field[], at: number, what: string): Field[] {
  fields.push({ start: at, end: at, name: "(end of bytes)", note: `the frame stops before ${what}` });
  return fields;
}

/** What a short payload says: text as a string, a close payload as its code and reason. */
function payloadPreview(opcode: number, payload: Uint8Array, masked: boolean): string {
  const unmasked = masked ? " once unmasked" : "";
  if (opcode === 8 && payload.length >= 2) {
    const reason = decodeText(payload.subarray(2));
    return `close code ${(payload[0]! << 8) | payload[1]!}${reason === undefined ? "" : `, reason ${JSON.stringify(reason)}`}${unmasked}`;
  }
  if (payload.length === 0 || payload.length > 48) return "";
  const text = decodeText(payload);
  return text === undefined || !/^[\x20-\x7e\u00a0-\uffff]*$/.test(text) ? "" : `${JSON.stringify(text)}${unmasked}`;
}

function decodeText(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Bytes start..end as hex; long runs keep their first and last bytes and the bytes around `mark`. */
function hexRun(bytes: Uint8Array, start: number, end: number, mark: number): string {
  const shown = (from: number, to: number) =>
    Array.from(bytes.subarray(from, to), (b, i) => (from + i === mark ? `[${hex2(b)}]` : hex2(b))).join(" ");
  if (end - start <= 24) return shown(start, end) + (mark === end && mark >= bytes.length ? " []" : "");
  const parts = [shown(start, start + 8)];
  if (mark >= start + 8 && mark < end - 8) {
    if (mark - 4 > start + 8) parts.push("…");
    parts.push(shown(Math.max(start + 8, mark - 4), Math.min(end - 8, mark + 5)));
    if (mark + 5 < end - 8) parts.push("…");
  } else {
    parts.push("…");
  }
  parts.push(shown(end - 8, end));
  return parts.join(" ");
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

const hex2 = (b: number) => b.toString(16).padStart(2, "0");
const byte = (b: number | undefined) => (b === undefined ? "nothing" : `0x${hex2(b)}`);

function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return `an array [${value.slice(0, 16).join(", ")}${value.length > 16 ? ", …" : ""}] (use a Uint8Array)`;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `a ${value.constructor.name} (use a Uint8Array)`;
  return `${typeof value} ${String(value).slice(0, 60)}`;
}
