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
import { NotImplementedError } from "../lib/not-implemented.ts";
import { ProtocolError } from "../lib/errors.ts";
import { CloseCode, MAX_CLOSE_REASON_BYTES, type CloseStatus } from "../lib/close-codes.ts";

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
  throw new NotImplementedError("isValidCloseCode in chapters/06-closing.ts");
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
  throw new NotImplementedError("encodeClosePayload in chapters/06-closing.ts");
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
  throw new NotImplementedError("parseClosePayload in chapters/06-closing.ts");
}
