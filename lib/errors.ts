/**
 * The errors the workbook's code throws, given to the reader so every chapter
 * reports problems the same way.
 *
 * Two kinds of mistakes, two kinds of error:
 * - the *peer* broke the protocol: a `ProtocolError` carrying the close code
 *   to send back (RFC 6455 §7.4.1), so the connection can fail properly;
 * - the *caller* misused our API: a plain `TypeError` or `RangeError`, as the
 *   JavaScript built-ins do.
 */

/** Close codes a `ProtocolError` may carry (RFC 6455 §7.4.1). */
export type FailureCode =
  | 1002 // protocol error
  | 1003 // unsupported data
  | 1007 // invalid payload data (bad UTF-8 in a text message)
  | 1008 // policy violation
  | 1009 // message too big
  | 1011; // internal error

/** The peer sent something RFC 6455 forbids; `code` is the close code to answer with. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The opening handshake failed on the client side (RFC 6455 §4.1: the client
 * "MUST _Fail the WebSocket Connection_"). No close frame is involved: the
 * connection never became a WebSocket.
 */
export class HandshakeError extends Error {
  override name = "HandshakeError";
}

/**
 * The caller asked for something the connection's state does not allow:
 * sending before the opening handshake completed or after a close frame was
 * sent (RFC 6455 §5.5.1: no data frames after a close). Named after the
 * WebSocket API's DOMException of the same name.
 */
export class InvalidStateError extends Error {
  override name = "InvalidStateError";
}
