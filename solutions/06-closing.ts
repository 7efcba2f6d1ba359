/**
 * Chapter 06 — The closing handshake and close codes (RFC 6455 §5.5.1, §7, §7.4)
 *
 * Exercise: the body of a close frame. Sending, `encodeClosePayload` writes
 * a status code and a reason; receiving, `parseClosePayload` reads them back
 * and fails the connection if the peer sent something no endpoint may send.
 * Both rely on `isValidCloseCode`, which knows which codes may travel in a
 * close frame at all.
 *
 * The handshake itself (who sends what, and when the TCP connection closes)
 * is the connection's job in chapter 07; the page explains it step by step.
 *
 * Page: docs/chapters/06-closing.md · Tests: tests/06-closing.test.ts
 * Check: npm run grade -- 6
 */
import { ProtocolError } from "../lib/errors.ts";
import { CloseCode, MAX_CLOSE_REASON_BYTES, type CloseStatus } from "../lib/close-codes.ts";

// #region reference-only
const encoder = new TextEncoder();
// `fatal`: bad UTF-8 must fail the connection (§8.1), not turn into U+FFFD.
// `ignoreBOM`: a leading U+FEFF is part of the reason, not a marker to strip.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// #endregion

/**
 * May `code` travel in a close frame (RFC 6455 §7.4)?
 * - yes: 1000-1003 and 1007-1011 (§7.4.1), 1012-1014 (registered with IANA
 *   later), 3000-3999 (registered with IANA by libraries and frameworks) and
 *   4000-4999 (private use) (§7.4.2);
 * - no: 1004 (reserved), 1005, 1006 and 1015 (for APIs to report, never sent),
 *   1016-2999 (reserved for the protocol, nothing assigned), anything below
 *   1000 or above 4999, and anything that is not a whole number.
 */
export function isValidCloseCode(code: number): boolean {
  // #region solution step 1
  if (!Number.isInteger(code)) return false;
  // §7.4.2: 3000-3999 are registered with IANA, 4000-4999 are private; any of them may be sent.
  if (code >= 3000 && code <= 4999) return true;
  // Of 1000-2999, only the assigned codes that an endpoint is allowed to put in a frame.
  return (
    (code >= CloseCode.Normal && code <= CloseCode.UnsupportedData) ||
    (code >= CloseCode.InvalidPayloadData && code <= CloseCode.BadGateway)
  );
  // #endregion
}

/**
 * The payload of a close frame (RFC 6455 §5.5.1): the status code as two
 * bytes, big-endian, then the reason in UTF-8. With no code, the payload is
 * empty (a close frame may have no body).
 *
 * `encodeClosePayload(1000)` → `03 e8`
 *
 * Throws (all the caller's mistakes):
 * - a `TypeError` for a reason without a code (the reason can only follow a
 *   code), or a reason that is not a string;
 * - a `RangeError` for a code that may not be sent (see `isValidCloseCode`);
 * - a `RangeError` for a reason longer than 123 bytes once encoded in UTF-8
 *   (a control frame's payload is at most 125 bytes, §5.5).
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  // #region solution step 2
  if (typeof reason !== "string") throw new TypeError(`a close reason must be a string, got ${typeof reason}`);
  if (code === undefined) {
    if (reason !== "") {
      throw new TypeError("a close reason needs a status code: the reason can only follow the 2-byte code (§5.5.1)");
    }
    return new Uint8Array(0);
  }
  if (!isValidCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent in a close frame (§7.4.1, §7.4.2)`);
  }
  const reasonBytes = encoder.encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(
      `the close reason is ${reasonBytes.length} bytes of UTF-8: at most ${MAX_CLOSE_REASON_BYTES} fit in a control frame (§5.5)`,
    );
  }
  const payload = new Uint8Array(2 + reasonBytes.length);
  // DataView writes big-endian unless told otherwise: network byte order (§5.5.1).
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(reasonBytes, 2);
  return payload;
  // #endregion
}

/**
 * Reads the payload of a close frame the peer sent (RFC 6455 §5.5.1, §7.1.5, §7.1.6).
 *
 * An empty payload is allowed: the code to report is then 1005, "no status
 * received", and the reason "". Otherwise the first two bytes are the code
 * (big-endian) and the rest is the reason.
 *
 * Throws a `ProtocolError`:
 * - 1002 for a 1-byte payload (half a status code), or a code that may not be
 *   sent (`isValidCloseCode` says no: 1005, 999, 2000, ...);
 * - 1007 for a reason that is not valid UTF-8 (§8.1).
 * (That the payload is at most 125 bytes is the frame parser's check, chapter 04.)
 */
export function parseClosePayload(bytes: Uint8Array): CloseStatus {
  // #region solution step 3
  if (bytes.length === 0) return { code: CloseCode.NoStatusReceived, reason: "" };
  if (bytes.length === 1) {
    throw new ProtocolError(1002, "a close frame's payload is 1 byte: a status code takes 2 (§5.5.1)");
  }
  // The payload may be a view into a larger buffer: read from its own offset.
  const code = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(0);
  if (!isValidCloseCode(code)) {
    throw new ProtocolError(1002, `close code ${code} may not be sent in a close frame (§7.4.1, §7.4.2)`);
  }
  let reason: string;
  try {
    reason = decoder.decode(bytes.subarray(2));
  } catch {
    throw new ProtocolError(1007, "the close reason is not valid UTF-8 (§5.5.1, §8.1)");
  }
  return { code, reason };
  // #endregion
}
