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

// #region reference-only
/** 16 bytes in base64 are always 22 characters and "==" (RFC 4648 §4). */
const KEY_SHAPE = /^[A-Za-z0-9+/]{22}==$/;
// #endregion

/**
 * The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`
 * (RFC 6455 §4.2.2, item 5.4): base64( SHA-1( key + GUID ) ), with the key
 * used exactly as received, as text, not decoded.
 *
 * `computeAccept("dGhlIHNhbXBsZSBub25jZQ==")` → `"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="`
 */
export function computeAccept(key: string): string {
  // #region solution step 1
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
  // #endregion
}

/**
 * A fresh `Sec-WebSocket-Key` (RFC 6455 §4.1, request requirement 7): 16 random bytes,
 * base64-encoded, new for every connection.
 */
export function createClientKey(): string {
  // #region solution step 1
  // A nonce, not a secret: it only has to be unpredictable enough that a
  // non-WebSocket server cannot echo a valid accept by accident (§10.3).
  return randomBytes(16).toString("base64");
  // #endregion
}

/**
 * The client's upgrade request as the text to write on the socket
 * (RFC 6455 §4.1): the request line with the resource name, then Host,
 * Upgrade, Connection, Sec-WebSocket-Key and Sec-WebSocket-Version, and an
 * Origin when one is given, each line ending in CRLF, and an empty line.
 */
export function createUpgradeRequest(url: WebSocketUrl, key: string, options: { origin?: string } = {}): string {
  // #region solution step 2
  const lines = [
    `GET ${url.resourceName} HTTP/1.1`,
    `Host: ${hostHeader(url)}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}`,
  ];
  // Browsers always send Origin (§4.1, request requirement 8, §10.2); other clients may.
  if (options.origin !== undefined) lines.push(`Origin: ${options.origin}`);
  // HTTP ends the header block with an empty line (RFC 9112 §2.1).
  return `${lines.join("\r\n")}\r\n\r\n`;
  // #endregion
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
  // #region solution step 3
  const { headers } = request;
  if (request.method.toUpperCase() !== "GET") {
    return refuse(405, `the opening handshake must be a GET request, not ${request.method}`, { Allow: "GET" });
  }
  const [major = 0, minor = 0] = request.httpVersion.split(".").map(Number);
  if (major < 1 || (major === 1 && minor < 1)) {
    return refuse(400, `the opening handshake needs HTTP/1.1 or later, not HTTP/${request.httpVersion}`);
  }
  if (getHeader(headers, "host") === undefined) {
    return refuse(400, "the request has no Host header");
  }
  if (!headerTokens(getHeader(headers, "upgrade")).includes("websocket")) {
    // RFC 9110 §15.5.22: a 426 names the protocol to switch to in Upgrade.
    return refuse(426, "this is a WebSocket endpoint: the request needs Upgrade: websocket", {
      Upgrade: "websocket",
    });
  }
  if (!headerTokens(getHeader(headers, "connection")).includes("upgrade")) {
    return refuse(400, "the Connection header must contain the token Upgrade");
  }
  const version = getHeader(headers, "sec-websocket-version");
  if (version?.trim() !== WEBSOCKET_VERSION) {
    // §4.4: tell the client which versions we speak, so it can retry with one.
    return refuse(426, `unsupported Sec-WebSocket-Version ${version ?? "(missing)"}: this server speaks 13`, {
      "Sec-WebSocket-Version": WEBSOCKET_VERSION,
    });
  }
  const key = getHeader(headers, "sec-websocket-key")?.trim();
  if (key === undefined || !KEY_SHAPE.test(key)) {
    // A repeated key arrives comma-joined, which fails this check too (§11.3.1).
    return refuse(400, `Sec-WebSocket-Key must be 16 random bytes in base64, got ${key ?? "(missing)"}`);
  }
  return { ok: true, accept: computeAccept(key) };
  // #endregion
}

// #region reference-only
function refuse(status: 400 | 405 | 426, reason: string, headers: Record<string, string> = {}): UpgradeDecision {
  return { ok: false, status, reason, headers };
}
// #endregion

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
  // #region solution step 4
  const { status, headers } = response;
  if (status !== 101) {
    throw new HandshakeError(`the server answered ${status} instead of 101 Switching Protocols`);
  }
  const upgrade = getHeader(headers, "upgrade");
  if (upgrade?.trim().toLowerCase() !== "websocket") {
    throw new HandshakeError(`the response's Upgrade header is ${upgrade ?? "missing"}, not websocket`);
  }
  if (!headerTokens(getHeader(headers, "connection")).includes("upgrade")) {
    throw new HandshakeError("the response's Connection header does not contain Upgrade");
  }
  const accept = getHeader(headers, "sec-websocket-accept")?.trim();
  const expected = computeAccept(key);
  if (accept !== expected) {
    // The proof that this server read *our* key: anything else may be a cache
    // or a server that does not speak WebSocket at all (§1.3).
    throw new HandshakeError(`Sec-WebSocket-Accept should be ${expected} for our key, got ${accept ?? "nothing"}`);
  }
  const extensions = getHeader(headers, "sec-websocket-extensions");
  if (extensions !== undefined) {
    throw new HandshakeError(`the server chose extensions we did not offer: ${extensions}`);
  }
  const protocol = getHeader(headers, "sec-websocket-protocol")?.trim();
  if (protocol !== undefined && !(options.protocols ?? []).includes(protocol)) {
    throw new HandshakeError(`the server chose subprotocol ${protocol}, which we did not offer`);
  }
  // #endregion
}
