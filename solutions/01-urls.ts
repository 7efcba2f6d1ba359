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
import type { WebSocketUrl } from "../lib/websocket-url.ts";

// #region reference-only
/** RFC 6455 §3: the default ports, the same as http: and https:. */
const DEFAULT_PORTS = { ws: 80, wss: 443 } as const;

/** scheme "://" authority, then the rest: path, query (and a fragment, which we refuse). */
const URI_SHAPE = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/** A host name (RFC 3986 reg-name, the usual subset) or an IPv4 address. */
const NAME_SHAPE = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/;

/** Four decimal numbers separated by dots: the IPv4 tail of an IPv6 address. */
const IPV4_SHAPE = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;
// #endregion

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
  // #region solution step 1
  if (typeof input !== "string") throw new TypeError(`a WebSocket URI must be a string, got ${typeof input}`);
  // A request target cannot carry whitespace or control characters (RFC 3986 §2).
  if (/[\u0000-\u0020\u007f]/.test(input)) {
    throw new SyntaxError(`"${input}" contains whitespace or a control character: percent-encode it`);
  }
  // RFC 6455 §3: fragment identifiers are meaningless in the context of WebSocket
  // URIs and MUST NOT be used; a literal "#" must be written %23.
  if (input.includes("#")) {
    throw new SyntaxError(`"${input}" has a fragment ("#..."): WebSocket URIs must not have one (RFC 6455 §3)`);
  }

  const parts = URI_SHAPE.exec(input);
  if (parts === null) {
    throw new SyntaxError(`"${input}" is not an absolute URI: it needs ws:// or wss:// and a host`);
  }
  const [, rawScheme = "", authority = "", rest = ""] = parts;

  // Schemes are case-insensitive (RFC 3986 §3.1): WSS://X is wss://x.
  const scheme = rawScheme.toLowerCase();
  if (scheme !== "ws" && scheme !== "wss") {
    throw new SyntaxError(`scheme "${rawScheme}:" is not a WebSocket scheme: use ws: or wss: (RFC 6455 §3)`);
  }
  if (authority.includes("@")) {
    throw new SyntaxError(`"${input}" carries user info ("user@"): the ws-URI grammar has only host and port`);
  }

  const { host, port } = parseAuthority(authority, DEFAULT_PORTS[scheme]);

  // The resource name is the path ("/" if empty), then "?" and the query if
  // the query is not empty (RFC 6455 §3). Characters beyond ASCII cannot go
  // in a request line: they travel percent-encoded as UTF-8, as browsers do.
  const [path = "", query = ""] = splitOnce(rest.replace(/[^\u0000-\u007f]+/g, encodeURIComponent), "?");
  const resourceName = (path === "" ? "/" : path) + (query === "" ? "" : `?${query}`);

  return { secure: scheme === "wss", host, port, resourceName };
  // #endregion
}

// #region reference-only
/** "a?b?c" → ["a", "b?c"]: only the first "?" starts the query. */
function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** Splits "host", "host:port", "[v6]" or "[v6]:port", checking each part. */
function parseAuthority(authority: string, defaultPort: number): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;

  if (authority.startsWith("[")) {
    // An IPv6 literal is bracketed so its colons are not mistaken for a port (RFC 3986 §3.2.2).
    const close = authority.indexOf("]");
    if (close === -1) throw new SyntaxError(`"${authority}": an IPv6 address needs its closing "]"`);
    host = authority.slice(1, close).toLowerCase();
    if (!isIPv6Address(host)) throw new SyntaxError(`"[${host}]" is not an IPv6 address (RFC 3986 §3.2.2)`);
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) throw new SyntaxError(`unexpected "${after}" after "[${host}]": only ":port" may follow`);
    portText = after.slice(1); // "" when nothing follows: the default port
  } else {
    const colon = authority.lastIndexOf(":");
    host = (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase();
    portText = colon === -1 ? undefined : authority.slice(colon + 1);
    if (host === "") throw new SyntaxError("the URI has no host: ws://<host>[:port]/...");
    if (!NAME_SHAPE.test(host)) {
      throw new SyntaxError(`"${host}" is not a host name: letters, digits, "-" and "." only, or an IP address`);
    }
  }

  // "ws://host:/" (an empty port) means the default port (RFC 3986 §3.2.3).
  if (portText === undefined || portText === "") return { host, port: defaultPort };
  // A port is decimal digits only (RFC 3986 §3.2.3): Number() would also take
  // "0x50", "+80", "8e1" or "80.5", which are not ports.
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new SyntaxError(`port "${portText}" is not a TCP port: it must be a number from 1 to 65535`);
  }
  return { host, port };
}

/**
 * RFC 3986 §3.2.2's IPv6address: eight groups of 1 to 4 hex digits separated
 * by ":", where one "::" may stand for one or more groups of zeros, and the
 * last two groups may be written as an IPv4 address ("::ffff:192.0.2.1").
 */
function isIPv6Address(text: string): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false; // "::" may appear only once
  const groups = halves.map((half) => (half === "" ? [] : half.split(":")));
  const all = groups.flat();
  // An IPv4 tail counts as two groups, and only at the very end ("1.2.3.4::" is not one).
  const last = groups[groups.length - 1]?.at(-1) ?? "";
  const ipv4Tail = IPV4_SHAPE.test(last) && last.split(".").every((n) => Number(n) <= 255);
  const hexGroups = ipv4Tail ? all.slice(0, -1) : all;
  if (!hexGroups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return false;
  const count = hexGroups.length + (ipv4Tail ? 2 : 0);
  return halves.length === 2 ? count <= 7 : count === 8;
}
// #endregion

/**
 * The value of the `Host` header for this URI (RFC 6455 §4.1, request requirement 4):
 * the host, then ":port" unless the port is the scheme's default; an IPv6
 * address goes back into brackets.
 *
 * `{ secure: true, host: "::1", port: 8443 }` → `"[::1]:8443"`
 */
export function hostHeader(url: WebSocketUrl): string {
  // #region solution step 2
  const host = url.host.includes(":") ? `[${url.host}]` : url.host;
  return url.port === DEFAULT_PORTS[url.secure ? "wss" : "ws"] ? host : `${host}:${url.port}`;
  // #endregion
}
