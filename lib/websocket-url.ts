/** A ws:// or wss:// URI taken apart (RFC 6455 §3). */
export interface WebSocketUrl {
  /** true for wss: (TLS), false for ws:. */
  secure: boolean;
  /** Host name or IP address, lower-cased; an IPv6 address without its brackets. */
  host: string;
  /** The TCP port: the explicit one, or 80 (ws) / 443 (wss) by default. */
  port: number;
  /** Path and query: what goes in the request line, `GET <resourceName> HTTP/1.1`. Never empty. */
  resourceName: string;
}
