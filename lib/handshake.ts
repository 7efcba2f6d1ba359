import type { Headers } from "./http-headers.ts";

/**
 * The GUID every server appends to the client's key before hashing
 * (RFC 6455 §1.3, §4.2.2). It is fixed by the RFC: a value no other protocol
 * would produce by accident.
 */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version RFC 6455 defines (§4.1, §4.4). */
export const WEBSOCKET_VERSION = "13";

/** An HTTP request as plain data: what the server-side check needs to see. */
export interface UpgradeRequest {
  method: string;
  /** "1.1" for HTTP/1.1, as node:http reports it. */
  httpVersion: string;
  headers: Headers;
}

/** An HTTP response as plain data: what the client-side check needs to see. */
export interface UpgradeResponse {
  status: number;
  headers: Headers;
}

/** The server's verdict on an upgrade request. */
export type UpgradeDecision =
  /** Accept: answer `101 Switching Protocols` with `Sec-WebSocket-Accept: accept`. */
  | { ok: true; accept: string }
  /** Refuse: answer with this status, these headers, and the reason as the body. */
  | { ok: false; status: 400 | 403 | 404 | 405 | 426; reason: string; headers: Record<string, string> };
