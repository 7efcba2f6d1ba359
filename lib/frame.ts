/**
 * A frame as plain data (RFC 6455 §5.2): what `encodeFrame` writes and
 * `FrameParser` reads. No I/O, no classes: easy to build, compare and print.
 */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  // 0x3-0x7: reserved for further non-control frames
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
  // 0xB-0xF: reserved for further control frames
} as const;

/** Opcode names for messages and traces ("text", "ping", "reserved 0x3"). */
export function opcodeName(opcode: number): string {
  const names: Record<number, string> = {
    0x0: "continuation",
    0x1: "text",
    0x2: "binary",
    0x8: "close",
    0x9: "ping",
    0xa: "pong",
  };
  return names[opcode] ?? `reserved 0x${opcode.toString(16)}`;
}

/** Control frames have the opcode's top bit set: 0x8-0xF (RFC 6455 §5.5). */
export const isControl = (opcode: number): boolean => (opcode & 0x8) !== 0;

export interface Frame {
  /** The final fragment of a message (§5.4). */
  fin: boolean;
  /** Reserved bits, zero unless an extension was negotiated (§5.2). */
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** 4 bits; see `Opcode`. */
  opcode: number;
  /** The application data, unmasked. */
  payload: Uint8Array;
  /** The 4-byte masking key if the frame is (to be) masked (§5.3); absent if not. */
  maskKey?: Uint8Array | undefined;
}
