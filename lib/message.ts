/** A whole message (RFC 6455 §1.2, §5.6): text is a string, binary is bytes. */
export type Message = { type: "text"; data: string } | { type: "binary"; data: Uint8Array };

/**
 * The largest message a `MessageAssembler` accepts unless told otherwise:
 * 64 MiB. RFC 6455 §10.4 requires endpoints to protect themselves against
 * messages larger than they can handle; a peer that sends more gets close
 * code 1009 (§7.4.1).
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
