/**
 * Extensions as plain data (RFC 6455 §9.1) and the one hook a connection
 * offers them (chapter 12). Given to the reader: chapter 12 fills these in,
 * chapter 07 only calls the hook.
 */
import type { Frame } from "./frame.ts";

/** One parameter of an extension: `client_max_window_bits=10` (value "10") or `server_no_context_takeover` (no value). */
export interface ExtensionParam {
  name: string;
  /** The value, unquoted; absent for a parameter written without `=`. */
  value?: string | undefined;
}

/** One element of a `Sec-WebSocket-Extensions` list: an extension's name and its parameters, in order. */
export interface ExtensionElement {
  name: string;
  params: ExtensionParam[];
}

/**
 * What both ends agreed on for permessage-deflate (RFC 7692 §7.1): the
 * "agreed parameters", with the defaults filled in (no flag: context
 * takeover allowed; no window size: 15, a 32 KiB window).
 */
export interface DeflateParams {
  /** The server starts every message it compresses with an empty window (§7.1.1.1; the MUST is §7.2.1's). */
  serverNoContextTakeover: boolean;
  /** The client starts every message it compresses with an empty window (§7.1.1.2; the MUST is §7.2.1's). */
  clientNoContextTakeover: boolean;
  /** log2 of the largest window the server compresses with, 8..15 (§7.1.2.1; the MUST NOT is §7.2.1's). */
  serverMaxWindowBits: number;
  /** log2 of the largest window the client compresses with, 8..15 (§7.1.2.2; the MUST NOT is §7.2.1's). */
  clientMaxWindowBits: number;
}

/**
 * A negotiated extension, as a connection sees it (RFC 6455 §9): it sees
 * every frame received before the connection does, and every message sent.
 * Chapter 07's `Connection` takes one as its `extension` option; without one,
 * an RSV bit on the wire fails the connection (§5.2).
 */
export interface MessageExtension {
  /** RSV bits the extension gives a meaning to, here only RSV1 (RFC 7692 §6). */
  readonly rsv1: boolean;
  /**
   * A frame as received (unmasked). Returns the frame the connection should
   * handle instead, or undefined while it holds frames back (the fragments
   * of a compressed message). Throws a `ProtocolError` to fail the connection.
   */
  receive(frame: Frame): Frame | undefined;
  /** A whole data message about to be sent: the payload to put on the wire, and whether RSV1 says it is transformed. */
  send(opcode: number, payload: Uint8Array): { payload: Uint8Array; rsv1: boolean };
  /**
   * Does `frame`, a data frame whose payload is still arriving (chapter 04's
   * `inProgress`), belong to a message this extension transforms? Its bytes
   * are then not yet what they stand for (compressed), and the connection
   * leaves them alone until `receive` hands the message on; otherwise it checks
   * them as they arrive, so that bad text fails at its first bad byte (§8.1).
   * Optional: a connection takes every message of an extension without it as
   * transformed.
   */
  transforms?(frame: Frame): boolean;
}

/** One message through permessage-deflate, for `--trace`: its size on the wire and as the application sees it. */
export interface DeflateTrace {
  direction: "in" | "out";
  opcode: number;
  /** RSV1: sent or received compressed. */
  compressed: boolean;
  /** Payload bytes on the wire (all fragments). */
  wireSize: number;
  /** Payload bytes of the message itself. */
  size: number;
}
