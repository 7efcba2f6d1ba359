/**
 * Close status codes by name (RFC 6455 §7.4.1, and the IANA "WebSocket Close
 * Code Number Registry" for 1012-1014). Whether a code may be *sent* in a
 * close frame is chapter 06's exercise.
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved (1004): no meaning defined. */
  Reserved: 1004,
  /** Reported by APIs when a close frame had no code; never sent (§7.4.1). */
  NoStatusReceived: 1005,
  /** Reported by APIs when the connection dropped without a close frame; never sent (§7.4.1). */
  AbnormalClosure: 1006,
  InvalidPayloadData: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reported by APIs when the TLS handshake failed; never sent (§7.4.1). */
  TlsHandshake: 1015,
} as const;

/** What a close frame says, decoded: the status code and the reason (RFC 6455 §7.1.5, §7.1.6). */
export interface CloseStatus {
  code: number;
  /** UTF-8 text, "" when the frame carried none. */
  reason: string;
}

/**
 * The longest close reason, in bytes of UTF-8: a control frame carries at
 * most 125 bytes (RFC 6455 §5.5), and the status code takes 2 of them.
 */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * `reason` cut to fit a close frame: at most 123 bytes of UTF-8, cut between
 * characters, never inside one. For failure messages, which can be long.
 */
export function fitCloseReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= MAX_CLOSE_REASON_BYTES) return reason;
  let fitted = "";
  let bytes = 0;
  for (const character of reason) {
    bytes += encoder.encode(character).length;
    if (bytes > MAX_CLOSE_REASON_BYTES) break;
    fitted += character;
  }
  return fitted;
}
