/** A whole message (RFC 6455 §1.2, §5.6): text is a string, binary is bytes. */
export type Message = { type: "text"; data: string } | { type: "binary"; data: Uint8Array };
