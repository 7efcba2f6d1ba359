/**
 * Frames and handshakes as a reader would draw them, for `--trace` on the
 * echo server and client (stderr, so stdout stays the client's contract).
 *
 *   ← client  FIN text  MASK 37 fa 21 3d  len 5 (7-bit)  unmasked: 48 65 6c 6c 6f  "Hello"
 */
import type { DeflateTrace } from "./extensions.ts";
import { opcodeName, type Frame } from "./frame.ts";

const PREVIEW_BYTES = 16;

/** Which length field a payload of `n` bytes needs (RFC 6455 §5.2). */
export function lengthEncoding(n: number): "7-bit" | "16-bit" | "64-bit" {
  return n <= 125 ? "7-bit" : n <= 0xffff ? "16-bit" : "64-bit";
}

const hexBytes = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

/** The payload's first bytes in hex, and as text when they decode as UTF-8. */
function preview(payload: Uint8Array): string {
  if (payload.length === 0) return "(empty)";
  const head = payload.subarray(0, PREVIEW_BYTES);
  const more = payload.length > PREVIEW_BYTES ? " …" : "";
  let text = "";
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(head);
    if (!/[\u0000-\u001f\u007f]/.test(decoded)) text = `  ${JSON.stringify(decoded)}${more}`;
  } catch {
    // not text (or cut inside a character): the hex says it all
  }
  return `${hexBytes(head)}${more}${text}`;
}

/** A close frame's payload read as the RFC lays it out (§5.5.1): code, then reason. */
function closePreview(payload: Uint8Array): string {
  if (payload.length < 2) return preview(payload);
  const code = (payload[0]! << 8) | payload[1]!;
  const reason = new TextDecoder().decode(payload.subarray(2));
  return `${hexBytes(payload.subarray(0, 2))}  code ${code}${reason === "" ? "" : ` ${JSON.stringify(reason)}`}`;
}

/** One line per frame: direction, FIN, RSV, opcode, MASK and key, length and its encoding, payload. */
export function describeFrame(frame: Frame, direction: string): string {
  const rsv = [frame.rsv1, frame.rsv2, frame.rsv3].map((bit, i) => (bit ? `RSV${i + 1} ` : "")).join("");
  const fin = frame.fin ? "FIN" : "---";
  const mask = frame.maskKey === undefined ? "no mask" : `MASK ${hexBytes(frame.maskKey)}`;
  const length = `len ${frame.payload.length} (${lengthEncoding(frame.payload.length)})`;
  // A parsed frame holds its payload unmasked: say so, since the wire carried it masked.
  const payload = (frame.maskKey === undefined ? "" : "unmasked: ") + (frame.opcode === 0x8 ? closePreview(frame.payload) : preview(frame.payload));
  return `${direction}  ${fin} ${rsv}${opcodeName(frame.opcode).padEnd(12)} ${mask}  ${length}  ${payload}`;
}

/** An HTTP head (request or response), each line prefixed with the direction. */
export function describeHead(head: string, direction: string): string {
  return head
    .trimEnd()
    .split("\r\n")
    .map((line) => `${direction}  ${line}`)
    .join("\n");
}

/** One message through permessage-deflate (chapter 12): RSV1, and its size on the wire and inflated. */
export function describeDeflate(trace: DeflateTrace, direction: string): string {
  const kind = opcodeName(trace.opcode);
  if (!trace.compressed) return `${direction}  permessage-deflate: ${kind} of ${trace.size} bytes sent uncompressed (RSV1 clear): it would not shrink`;
  return trace.direction === "in"
    ? `${direction}  permessage-deflate: ${kind} RSV1, ${trace.wireSize} bytes on the wire, inflated to ${trace.size}`
    : `${direction}  permessage-deflate: ${kind} of ${trace.size} bytes, deflated to ${trace.wireSize} on the wire, RSV1`;
}
