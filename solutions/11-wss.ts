/**
 * Chapter 11 — wss: WebSockets over TLS (RFC 6455 §3, §4.1, §10.6; node:tls)
 *
 * Exercise: put the echo server of chapter 08 and the client of chapter 09
 * on TLS. The point is how little changes: TLS is a layer *under* the
 * WebSocket. It starts right after TCP connects and before the first byte
 * of HTTP; the handshake, the frames, the masking and the closing handshake
 * then run inside it exactly as they did over plain TCP. What is new is all
 * about TLS itself:
 *
 *   - the client names the server (SNI) and checks its certificate, and
 *     refuses to go on when the certificate doesn't check out (§4.1, §10.6);
 *   - the server has a new phase, the TLS handshake, before the HTTP phase
 *     chapter 08 bounded: it needs a deadline and a clean shutdown too.
 *
 * Why `node:tls` (through `node:https`): TLS needs a vetted cryptographic
 * library, the certificate checks and a list of trusted authorities. Node
 * has OpenSSL inside; a browser does all of it for `new WebSocket("wss://…")`.
 * Chapters 01–07 stay pure: TLS only carries their bytes. The one new
 * protocol decision, which TLS options a wss: URI calls for, is pure too
 * (`tlsOptionsFor`).
 *
 * Page: docs/chapters/11-wss.md · Tests: tests/11-wss.test.ts
 * Check: npm run grade -- 11
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { KeyAndCertificate } from "../lib/test-certificate.ts";
import { parseWebSocketUrl } from "./01-urls.ts";
import { createEchoServer, type EchoServer, type EchoServerOptions } from "./08-echo-server.ts";
import { connect, type ClientOptions, type WebSocketClient } from "./09-echo-client.ts";

/**
 * What `tls.connect()` needs for a wss: URI. Every field is plain data, so it
 * can be worked out (and tested) without opening a socket; it fits Node's
 * `tls.ConnectionOptions`.
 */
export interface TlsClientOptions {
  /** Where to open TCP: the URI's host (an IPv6 address without brackets). */
  host: string;
  /** The URI's port, 443 when it has none (§3). */
  port: number;
  /**
   * The Server Name Indication: the host name the client asks the server to
   * present a certificate for (§4.1). Absent when the host is an IP address:
   * SNI carries only DNS names (RFC 6066 §3).
   */
  servername?: string;
  /**
   * Certificates to trust, PEM: when given, Node trusts these *instead of*
   * its built-in list of public authorities. For a test server's
   * self-signed certificate.
   */
  ca?: string | string[];
  /**
   * Always `true`: a certificate that doesn't verify for this host fails the
   * connection (§10.6). Written out, so that NODE_TLS_REJECT_UNAUTHORIZED=0
   * in the environment cannot switch the checks off behind the caller's back.
   */
  rejectUnauthorized: true;
}

/** The client's options, with one TLS knob instead of chapter 09's `tls`: which certificates to trust. */
export interface SecureClientOptions extends Omit<ClientOptions, "tls"> {
  /** Trust these certificates (PEM) instead of the public authorities, as in `TlsClientOptions.ca`. */
  ca?: string | string[];
}

/**
 * The TLS options for a wss: URI: where to connect, the SNI name, what to
 * trust, and certificate checks on (RFC 6455 §3, §4.1, §10.6).
 *
 * `wss://example.com/chat` → `{ host: "example.com", port: 443, servername: "example.com", rejectUnauthorized: true }`
 *
 * Throws chapter 01's `SyntaxError` for anything that isn't a WebSocket URI,
 * and a `SyntaxError` for a ws: URI: a caller who asked for TLS must not get
 * a connection in the clear.
 */
export function tlsOptionsFor(url: string, trust: { ca?: string | string[] } = {}): TlsClientOptions {
  // #region solution step 1
  const target = parseWebSocketUrl(url);
  if (!target.secure) {
    throw new SyntaxError(`"${url}" is a ws: URI: TLS needs wss:// (RFC 6455 §3), and we won't fall back to plain TCP`);
  }
  // An address as chapter 01 leaves it: IPv6 contains ":", IPv4 is four decimal numbers.
  const isAddress = target.host.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(target.host);
  return {
    host: target.host,
    port: target.port,
    ...(isAddress ? {} : { servername: target.host }),
    ...(trust.ca === undefined ? {} : { ca: trust.ca }),
    rejectUnauthorized: true,
  };
  // #endregion
}

/**
 * Opens a WebSocket over TLS: chapter 09's `connect()` with the options of
 * `tlsOptionsFor()`. Resolves with the same `WebSocketClient`; from there on
 * nothing differs from ws:.
 *
 * Rejects with a `SyntaxError` for a ws: URI (no silent downgrade), and with
 * Node's TLS error, unchanged, when the certificate doesn't verify: its `code`
 * says why (`DEPTH_ZERO_SELF_SIGNED_CERT`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`…). No HTTP has been
 * sent then: TLS comes first (§4.1).
 */
export async function connectSecure(url: string, options: SecureClientOptions = {}): Promise<WebSocketClient> {
  // #region solution step 2
  const { ca, ...clientOptions } = options;
  const tls = tlsOptionsFor(url, ca === undefined ? {} : { ca });
  return connect(url, { ...clientOptions, tls });
  // #endregion
}

/**
 * The echo server of chapter 08 on `node:https`: a wss:// server. It presents
 * `credentials.cert` and proves it holds `credentials.key` in every TLS
 * handshake; then chapter 08 takes over, unchanged, and `listen()` reports a
 * wss:// URL.
 *
 * TLS adds a phase before the HTTP one: from TCP connect to the end of the
 * TLS handshake. Chapter 08 already bounds it: its handshake deadline starts
 * at TCP connect (the "connection" event, before TLS), `close()` drops the
 * connections still in it, and `connectionCount` counts them.
 *
 * A TLS handshake that fails (a plain ws:// client, a client that doesn't
 * trust the certificate) is one line of `options.trace`, naming Node's error
 * code: `ERR_SSL_HTTP_REQUEST` for a plain ws:// client.
 */
export function createSecureEchoServer(credentials: KeyAndCertificate, options: EchoServerOptions = {}): EchoServer {
  // #region solution step 3
  const server = createHttpsServer({ key: credentials.key, cert: credentials.cert });
  // A plain ws:// client, an untrusting client, a timeout: the TLS handshake failed, Node drops the socket.
  server.on("tlsClientError", (error: Error & { code?: string; reason?: string }) => {
    // OpenSSL's messages are long; its short `reason` ("http request", "tlsv1 alert unknown ca") says enough.
    options.trace?.(`✗ TLS handshake failed: ${error.code ?? error.name} (${error.reason ?? error.message})`);
  });
  return createEchoServer(options, server);
  // #endregion
}
