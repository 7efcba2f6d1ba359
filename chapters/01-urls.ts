/**
 * Chapter 01 — WebSocket URIs (RFC 6455 §3)
 *
 * Exercise: take a ws:// or wss:// URI apart into what a client needs to
 * connect (host and port), to secure the connection (wss or not) and to ask
 * for the right resource (path and query). Then build the Host header value.
 *
 * Page: docs/chapters/01-urls.md · Tests: tests/01-urls.test.ts
 * Check: npm run grade -- 1
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import type { WebSocketUrl } from "../lib/websocket-url.ts";

/**
 * Parses a WebSocket URI (RFC 6455 §3).
 *
 * `ws://example.com/chat` → `{ secure: false, host: "example.com", port: 80, resourceName: "/chat" }`
 *
 * The resource name is the path (or "/") and, if not empty, "?" and the query;
 * characters beyond ASCII in it are percent-encoded as UTF-8 (`é` → `%C3%A9`).
 *
 * Throws a `TypeError` if `input` is not a string, and a `SyntaxError` whose
 * message names the problem for anything else that is not a ws:/wss: URI:
 * another scheme, a relative URI, a fragment, user info, a missing or malformed
 * host (a name DNS can't look up, or brackets around something that isn't an
 * IPv6 address, RFC 3986 §3.2.2) or a port that isn't 1 to 65535 in decimal digits.
 */
export function parseWebSocketUrl(input: string): WebSocketUrl {
  throw new NotImplementedError("parseWebSocketUrl in chapters/01-urls.ts");
}

/**
 * The value of the `Host` header for this URI (RFC 6455 §4.1, request requirement 4):
 * the host, then ":port" unless the port is the scheme's default; an IPv6
 * address goes back into brackets.
 *
 * `{ secure: true, host: "::1", port: 8443 }` → `"[::1]:8443"`
 */
export function hostHeader(url: WebSocketUrl): string {
  throw new NotImplementedError("hostHeader in chapters/01-urls.ts");
}
