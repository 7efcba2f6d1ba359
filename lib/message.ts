/** A whole message (RFC 6455 §1.2, §5.6): text is a string, binary is bytes. */
export type Message = { type: "text"; data: string } | { type: "binary"; data: Uint8Array };

/**
 * A whole message as bytes, text included: what `MessageAssembler.pushBytes`
 * returns, and a `Connection` made with `{ decodeText: false }` reports. The
 * text was checked as UTF-8 on arrival (RFC 6455 §8.1); it just is not
 * decoded. For code that passes messages on without reading them, such as an
 * echo server: decoding text to a string only to encode it back to the same
 * bytes costs more than everything else the echo does.
 */
export type MessageBytes = { type: "text"; data: Uint8Array } | { type: "binary"; data: Uint8Array };

/**
 * The largest message a `MessageAssembler` accepts unless told otherwise:
 * 64 MiB. RFC 6455 §10.4 requires endpoints to protect themselves against
 * messages larger than they can handle; a peer that sends more gets close
 * code 1009 (§7.4.1).
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
