/**
 * Chapter 12 — Extensions and subprotocols: permessage-deflate (RFC 7692; RFC 6455 §1.9, §4, §9)
 *
 * Exercise: the one extension the whole web uses, in four layers.
 *   1. The header: `Sec-WebSocket-Extensions` as a list of elements with
 *      parameters (RFC 6455 §9.1), read and written.
 *   2. Negotiation: the server picks an offer it can honour and answers
 *      with the agreed parameters; the client checks that answer (RFC 7692 §5, §7.1).
 *   3. Compression: DEFLATE with a sync flush, the 4-byte tail taken off and
 *      put back, the window kept from message to message or not (§7.2).
 *   4. Frames: RSV1 on the first frame of a compressed message, nowhere else,
 *      and the size limit applied to what a message inflates to (§6, RFC 6455 §10.4).
 * And subprotocols, which are only names agreed in the handshake (RFC 6455 §1.9).
 *
 * Everything here is synchronous and does no I/O: DEFLATE is node:zlib's
 * synchronous raw deflate and inflate (the page says why). Chapter 07's
 * Connection calls a `PerMessageDeflate` through its `extension` option.
 *
 * Page: docs/chapters/12-extensions.md · Tests: tests/12-extensions.test.ts
 * Check: npm run grade -- 12
 */
// A namespace import: the site's widgets bundle this file for the browser, where
// node:zlib is an empty stand-in; only the functions that compress touch it.
import { NotImplementedError } from "../lib/not-implemented.ts";
import * as zlib from "node:zlib";
import { HandshakeError, ProtocolError } from "../lib/errors.ts";
import type { DeflateParams, DeflateTrace, ExtensionElement, ExtensionParam, MessageExtension } from "../lib/extensions.ts";
import { isControl, Opcode, type Frame } from "../lib/frame.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../lib/message.ts";

/** The extension's registered name (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/**
 * What a sync flush ends with, and what RFC 7692 §7.2.1 takes off every
 * compressed message: the 4 bytes of an empty stored DEFLATE block.
 */
export const DEFLATE_TAIL: Uint8Array = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

/**
 * What an endpoint wants from permessage-deflate. A server: what it insists
 * on in every answer. A client: what it asks for in its offer.
 */
export interface DeflateOptions {
  /** The server compresses each message from an empty window (RFC 7692 §7.1.1.1). */
  serverNoContextTakeover?: boolean;
  /** The client compresses each message from an empty window (§7.1.1.2). */
  clientNoContextTakeover?: boolean;
  /** The server's window is at most 2^n bytes, n in 8..15 (§7.1.2.1). */
  serverMaxWindowBits?: number;
  /** The client's window is at most 2^n bytes, n in 8..15 (§7.1.2.2). */
  clientMaxWindowBits?: number;
}

/**
 * Reads a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1): a comma-separated
 * list of extensions, each a token followed by `; parameter` or
 * `; parameter=value`, the value a token or a quoted string. Names are
 * returned lower-cased, values unquoted; empty list elements are skipped
 * (RFC 9110 §5.6.1).
 *
 * `parseExtensionHeader('permessage-deflate; client_max_window_bits, x-foo; a="1"')`
 * → `[{ name: "permessage-deflate", params: [{ name: "client_max_window_bits" }] },
 *    { name: "x-foo", params: [{ name: "a", value: "1" }] }]`
 *
 * Throws a `SyntaxError` for anything else: a name or value that is not a
 * token, an unterminated quoted string, or a quoted value that is not a token
 * once unquoted (§9.1 requires it to be one).
 */
export function parseExtensionHeader(value: string): ExtensionElement[] {
  throw new NotImplementedError("parseExtensionHeader in chapters/12-extensions.ts");
}

/**
 * Writes elements as a `Sec-WebSocket-Extensions` value, the inverse of
 * `parseExtensionHeader`: `"permessage-deflate; server_no_context_takeover; client_max_window_bits=10"`.
 * A `RangeError` for a name or value that is not a token.
 */
export function formatExtensionHeader(elements: readonly ExtensionElement[]): string {
  throw new NotImplementedError("formatExtensionHeader in chapters/12-extensions.ts");
}

/** The server's verdict on one permessage-deflate offer. */
export type DeflateDecision =
  /** Accept: `response` is the element to answer with, `params` what both ends will do. */
  | { ok: true; params: DeflateParams; response: ExtensionElement }
  /** Decline this offer, for this reason (RFC 7692 §7). */
  | { ok: false; reason: string };

/**
 * The server's verdict on one offer of permessage-deflate (RFC 7692 §7,
 * §7.1), given what the server insists on (`options`).
 *
 * Declined, with a reason, if the offer (§7: the server MUST decline it)
 * - is not permessage-deflate, has a parameter RFC 7692 does not define, or one twice;
 * - gives a value to a `*_no_context_takeover`, or a window size that is not
 *   8..15 in decimal without leading zeros (`server_max_window_bits` needs one,
 *   `client_max_window_bits` may have none);
 * - can't be honoured: the server wants to limit the client's window but the
 *   offer has no `client_max_window_bits` to say the client supports that.
 *
 * Accepted otherwise, answering with (in this order)
 * - `server_no_context_takeover` if offered or if the server insists;
 * - `client_no_context_takeover` if offered (the client said it won't use the
 *   window anyway; saying so lets the server drop its own copy) or insisted on;
 * - `server_max_window_bits` = the smaller of the offer's and the server's, if either gave one;
 * - `client_max_window_bits` = the server's value, capped by the offer's if
 *   it had one, only if the server gave one (never when not offered, §7.1.2.2).
 * Window sizes default to 15. A `RangeError` if an option's window size is not 8..15.
 */
export function acceptDeflateOffer(offer: ExtensionElement, options: DeflateOptions = {}): DeflateDecision {
  throw new NotImplementedError("acceptDeflateOffer in chapters/12-extensions.ts");
}

/**
 * The server's side of the negotiation (RFC 7692 §5): the first
 * permessage-deflate offer in the client's list that `acceptDeflateOffer`
 * accepts (the client lists them by preference, RFC 6455 §9.1), or
 * undefined to go on without compression. Other extensions are ignored.
 * A `RangeError` if an option's window size is not 8..15.
 */
export function negotiateDeflate(
  offers: readonly ExtensionElement[],
  options: DeflateOptions = {},
): { params: DeflateParams; response: ExtensionElement } | undefined {
  throw new NotImplementedError("negotiateDeflate in chapters/12-extensions.ts");
}

/**
 * The client's offer (RFC 7692 §5, §7.1): permessage-deflate with the
 * parameters `options` ask for, and always `client_max_window_bits` (with
 * the option's value if given), which tells the server this client can be
 * limited. `deflateOffer({})` → `{ name: "permessage-deflate", params: [{ name: "client_max_window_bits" }] }`.
 * A `RangeError` if an option's window size is not 8..15.
 */
export function deflateOffer(options: DeflateOptions = {}): ExtensionElement {
  throw new NotImplementedError("deflateOffer in chapters/12-extensions.ts");
}

/**
 * The client's check of the server's `Sec-WebSocket-Extensions` answer to
 * `deflateOffer(options)` (RFC 6455 §4.1, §9.1; RFC 7692 §7). Returns the
 * agreed parameters, or undefined if the server declined (an empty list).
 *
 * Throws a `HandshakeError` (the client MUST fail the connection) if the answer
 * - names an extension that was never offered, or permessage-deflate twice;
 * - has a parameter RFC 7692 does not define, the same one twice, a value on
 *   a `*_no_context_takeover`, or a window size that is missing or not 8..15;
 * - is a configuration this client did not agree to: a `server_max_window_bits`
 *   larger than offered, or missing `server_no_context_takeover` or
 *   `server_max_window_bits` that the offer asked for.
 */
export function checkDeflateResponse(elements: readonly ExtensionElement[], options: DeflateOptions = {}): DeflateParams | undefined {
  throw new NotImplementedError("checkDeflateResponse in chapters/12-extensions.ts");
}

/**
 * Compresses one message's payload (RFC 7692 §7.2.1): raw DEFLATE (no zlib
 * header, RFC 1951), ended with a sync flush, whose last 4 bytes
 * `00 00 ff ff` are then removed. `dictionary`: the end of what was compressed
 * before on this connection, when context takeover is allowed; `windowBits`
 * (8..15, default 15): the window the peer agreed to.
 *
 * `deflateMessage(utf8("Hello"))` → `f2 48 cd c9 c9 07 00` (RFC 7692 §7.2.3.1)
 */
export function deflateMessage(
  payload: Uint8Array,
  options: { windowBits?: number; dictionary?: Uint8Array | undefined } = {},
): Uint8Array {
  throw new NotImplementedError("deflateMessage in chapters/12-extensions.ts");
}

/**
 * Decompresses one message's payload (RFC 7692 §7.2.2): puts `00 00 ff ff`
 * back at its end and inflates it as raw DEFLATE, starting from `dictionary`
 * (what the peer compressed before, when it may take its context over).
 *
 * `maxSize` (default `DEFAULT_MAX_MESSAGE_SIZE`) bounds the output *while*
 * inflating: a ProtocolError 1009 as soon as the message grows past it, so a
 * few KiB that would inflate to a GiB never get the memory (RFC 6455 §10.4).
 * Data that is not DEFLATE fails with 1007 (the workbook's policy, as `ws`
 * does: the message's data is not what its frame says it is, RFC 6455 §7.4.1;
 * RFC 7692 names no code, and 1002 would be right too).
 */
export function inflateMessage(
  data: Uint8Array,
  options: { dictionary?: Uint8Array | undefined; maxSize?: number } = {},
): Uint8Array {
  throw new NotImplementedError("inflateMessage in chapters/12-extensions.ts");
}

export interface PerMessageDeflateOptions {
  /** The largest message accepted once inflated, in bytes (default `DEFAULT_MAX_MESSAGE_SIZE`); larger fails with 1009. */
  maxMessageSize?: number;
  /** Told about every message compressed or inflated, for `--trace`. */
  onMessage?: (trace: DeflateTrace) => void;
}

/**
 * permessage-deflate on one connection, once negotiated (RFC 7692 §6, §7.2),
 * for chapter 07's `Connection` (`extension` option): `role` is this end,
 * `params` what `negotiateDeflate` or `checkDeflateResponse` agreed.
 *
 * `receive(frame)`, for every frame received, in order:
 * - RSV1 on a control frame, or on a continuation frame: ProtocolError 1002 (§6);
 * - a text or binary frame with RSV1 starts a compressed message: it and its
 *   continuation frames are held back (undefined is returned) until the
 *   final one, then the message comes out as one frame, inflated, RSV1 clear;
 *   a text or binary frame arriving before that final frame: 1002 (RFC 6455 §5.4);
 * - every other frame passes unchanged (uncompressed messages, control frames).
 * The inflated size is bounded by `maxMessageSize` while inflating (1009), and
 * so is the compressed data held back. With context takeover (no
 * `*_no_context_takeover` for the peer's side), each message inflates from
 * the end of the ones before it.
 *
 * `transforms(frame)`, for a data frame still arriving: whether it belongs to a
 * compressed message (its first frame has RSV1, RFC 7692 §6), whose bytes are
 * not text yet; an uncompressed message is checked as it arrives (chapter 07).
 *
 * `send(opcode, payload)`: the payload compressed with RSV1, from the end of
 * the messages sent before unless this side's `*_no_context_takeover` was
 * agreed (§7.2.1), within this side's window size. A message that would not
 * shrink goes uncompressed (RSV1 clear), as §6 allows: the workbook's policy.
 */
export class PerMessageDeflate implements MessageExtension {
  readonly rsv1 = true;

  constructor(role: "client" | "server", params: DeflateParams, options: PerMessageDeflateOptions = {}) {
    throw new NotImplementedError("new PerMessageDeflate in chapters/12-extensions.ts");
  }

  receive(frame: Frame): Frame | undefined {
    throw new NotImplementedError("PerMessageDeflate.receive in chapters/12-extensions.ts");
  }

  transforms(frame: Frame): boolean {
    throw new NotImplementedError("PerMessageDeflate.transforms in chapters/12-extensions.ts");
  }

  send(opcode: number, payload: Uint8Array): { payload: Uint8Array; rsv1: boolean } {
    throw new NotImplementedError("PerMessageDeflate.send in chapters/12-extensions.ts");
  }

  /**
   * The connection is over (its socket closed): frees what this extension
   * holds between messages now rather than at garbage collection. The
   * per-message code holds no zlib stream, so has nothing to free; the
   * reference's streams hold about 300 KiB a connection (see the page).
   */
  close(): void {
  }
}

/**
 * The client's `Sec-WebSocket-Protocol` value for the subprotocols it offers,
 * by preference (RFC 6455 §1.9, §4.1, request requirement 10): `["chat.v2", "chat.v1"]` → `"chat.v2, chat.v1"`.
 * Each name MUST be a non-empty token (printable ASCII, no separators) and
 * appear once: a `RangeError` otherwise (the caller's mistake).
 */
export function subprotocolHeader(protocols: readonly string[]): string {
  throw new NotImplementedError("subprotocolHeader in chapters/12-extensions.ts");
}

/**
 * The server's choice (RFC 6455 §4.2.2 step 4, "/subprotocol/": one the
 * client offered): the first subprotocol in the client's `Sec-WebSocket-Protocol`
 * value (its order of preference: the workbook's policy, which §4.2.2 leaves
 * open) that the server `supported`, compared exactly; undefined if
 * none, or if the client offered none: then the answer has no
 * `Sec-WebSocket-Protocol` at all.
 */
export function selectSubprotocol(header: string | undefined, supported: readonly string[]): string | undefined {
  throw new NotImplementedError("selectSubprotocol in chapters/12-extensions.ts");
}

/**
 * The client's check of the server's `Sec-WebSocket-Protocol` answer (RFC 6455
 * §4.1: fail if it names a subprotocol that was not offered; a list of several,
 * which §11.3.4 forbids, is never one of the names offered). Returns the
 * subprotocol, or undefined if the server chose none (§4.2.2's null: the
 * workbook's client goes on, see the page).
 * A `HandshakeError` for anything but one of the names in `offered`.
 */
export function checkSubprotocol(header: string | undefined, offered: readonly string[]): string | undefined {
  throw new NotImplementedError("checkSubprotocol in chapters/12-extensions.ts");
}
