/**
 * Chapter 02 — The opening handshake (RFC 6455 §1.3, §4)
 *
 * Exercise: both halves of the HTTP exchange that turns a TCP connection into
 * a WebSocket. The client sends a GET with a fresh random key; the server
 * checks the request and proves it read the key by hashing it with a GUID;
 * the client checks that proof.
 *
 * Everything here works on plain header data (lib/handshake.ts), not on
 * node:http objects, so the same code serves the echo server, the client
 * and the tests.
 *
 * Page: docs/chapters/02-handshake.md · Tests: tests/02-handshake.test.ts
 * Check: npm run grade -- 2
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import { createHash, randomBytes } from "node:crypto";
import { HandshakeError } from "../lib/errors.ts";
import { getHeader, headerTokens } from "../lib/http-headers.ts";
import {
  WEBSOCKET_GUID,
  WEBSOCKET_VERSION,
  type UpgradeDecision,
  type UpgradeRequest,
  type UpgradeResponse,
} from "../lib/handshake.ts";
import type { WebSocketUrl } from "../lib/websocket-url.ts";
import { hostHeader } from "./01-urls.ts";

/**
 * The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`
 * (RFC 6455 §4.2.2, item 5.4): base64( SHA-1( key + GUID ) ), with the key
 * used exactly as received, as text, not decoded.
 *
 * `computeAccept("dGhlIHNhbXBsZSBub25jZQ==")` → `"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="`
 */
export function computeAccept(key: string): string {
  throw new NotImplementedError("computeAccept in chapters/02-handshake.ts");
}

/**
 * A fresh `Sec-WebSocket-Key` (RFC 6455 §4.1, request requirement 7): 16 random bytes,
 * base64-encoded, new for every connection.
 */
export function createClientKey(): string {
  throw new NotImplementedError("createClientKey in chapters/02-handshake.ts");
}

/**
 * The client's upgrade request as the text to write on the socket
 * (RFC 6455 §4.1): the request line with the resource name, then Host,
 * Upgrade, Connection, Sec-WebSocket-Key and Sec-WebSocket-Version, and an
 * Origin when one is given, each line ending in CRLF, and an empty line.
 */
export function createUpgradeRequest(url: WebSocketUrl, key: string, options: { origin?: string } = {}): string {
  throw new NotImplementedError("createUpgradeRequest in chapters/02-handshake.ts");
}

/**
 * The server's check of an upgrade request (RFC 6455 §4.2.1), in this order:
 * - method not GET → 405, with `Allow: GET`;
 * - HTTP older than 1.1 or no Host header → 400;
 * - no `websocket` token in Upgrade → 426, with `Upgrade: websocket`;
 * - no `upgrade` token in Connection → 400;
 * - Sec-WebSocket-Version missing or not 13 → 426, with `Sec-WebSocket-Version: 13` (§4.4);
 * - Sec-WebSocket-Key missing, or not the base64 of exactly 16 bytes → 400.
 * Header names and the Upgrade/Connection tokens are case-insensitive.
 * Otherwise it accepts, with the `Sec-WebSocket-Accept` value to send.
 */
export function checkUpgradeRequest(request: UpgradeRequest): UpgradeDecision {
  throw new NotImplementedError("checkUpgradeRequest in chapters/02-handshake.ts");
}

/**
 * The client's check of the server's answer (RFC 6455 §4.1, the list after
 * "the client MUST validate the server's response"). Throws a `HandshakeError`
 * naming the problem if:
 * - the status is not 101;
 * - Upgrade is not `websocket` or Connection lacks `upgrade` (case-insensitive);
 * - Sec-WebSocket-Accept is missing or not `computeAccept(key)`;
 * - the server picked an extension (we offer none) or a subprotocol we did not offer.
 */
export function checkUpgradeResponse(
  response: UpgradeResponse,
  key: string,
  options: { protocols?: readonly string[] } = {},
): void {
  throw new NotImplementedError("checkUpgradeResponse in chapters/02-handshake.ts");
}
