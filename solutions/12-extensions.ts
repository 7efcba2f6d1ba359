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
import * as zlib from "node:zlib";
import { HandshakeError, ProtocolError } from "../lib/errors.ts";
import type { DeflateParams, DeflateTrace, ExtensionElement, ExtensionParam, MessageExtension } from "../lib/extensions.ts";
import { isControl, Opcode, type Frame } from "../lib/frame.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../lib/message.ts";
// #region reference-only
import { zlibStreams, type RawZlibStream } from "../lib/zlib-streams.ts";
// #endregion

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

// #region reference-only
// The patterns live inside functions, not in module-level constants: see
// docs/maintainers/mutation.md ("a module-level initialiser").
/** HTTP's token (RFC 9110 §5.6.2): what names and unquoted values are made of. */
function isToken(text: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(text);
}
/** One character of a token. */
function isTokenChar(char: string | undefined): boolean {
  return char !== undefined && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(char);
}
// #endregion

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
  // #region solution step 2
  const elements: ExtensionElement[] = [];
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`Sec-WebSocket-Extensions: ${what} at character ${at + 1} of "${value}" (RFC 6455 §9.1)`);
  };
  const skipSpace = () => {
    while (value[at] === " " || value[at] === "\t") at++;
  };
  const token = (what: string): string => {
    const start = at;
    while (isTokenChar(value[at])) at++;
    if (at === start) fail(`expected ${what}, found ${value[at] === undefined ? "the end" : JSON.stringify(value[at])}`);
    return value.slice(start, at);
  };
  const quoted = (): string => {
    at++; // the opening quote
    let text = "";
    while (value[at] !== '"') {
      if (value[at] === "\\") at++; // a quoted pair: the next character as it is
      if (at >= value.length) fail("a quoted value is never closed");
      text += value[at];
      at++;
    }
    at++; // the closing quote
    if (!isToken(text)) fail(`the quoted value "${text}" is not a token once unquoted`);
    return text;
  };

  for (;;) {
    skipSpace();
    if (at >= value.length) break;
    if (value[at] === ",") {
      at++; // an empty element: "a, , b"
      continue;
    }
    const element: ExtensionElement = { name: token("an extension name").toLowerCase(), params: [] };
    skipSpace();
    while (value[at] === ";") {
      at++;
      skipSpace();
      const param: ExtensionParam = { name: token("a parameter name").toLowerCase() };
      skipSpace();
      if (value[at] === "=") {
        at++;
        skipSpace();
        param.value = value[at] === '"' ? quoted() : token("a parameter value");
        skipSpace();
      }
      element.params.push(param);
    }
    elements.push(element);
    if (at < value.length && value[at] !== ",") fail(`expected "," or ";", found ${JSON.stringify(value[at])}`);
    at++;
  }
  return elements;
  // #endregion
}

/**
 * Writes elements as a `Sec-WebSocket-Extensions` value, the inverse of
 * `parseExtensionHeader`: `"permessage-deflate; server_no_context_takeover; client_max_window_bits=10"`.
 * A `RangeError` for a name or value that is not a token.
 */
export function formatExtensionHeader(elements: readonly ExtensionElement[]): string {
  // #region solution step 2
  const checked = (text: string) => {
    if (!isToken(text)) throw new RangeError(`"${text}" is not a token: it cannot be written in Sec-WebSocket-Extensions (RFC 6455 §9.1)`);
    return text;
  };
  return elements
    .map(({ name, params }) =>
      [checked(name), ...params.map((p) => (p.value === undefined ? checked(p.name) : `${checked(p.name)}=${checked(p.value)}`))].join("; "),
    )
    .join(", ");
  // #endregion
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
  // #region solution step 3
  checkOptions(options);
  if (offer.name !== PERMESSAGE_DEFLATE) return { ok: false, reason: `${offer.name} is not ${PERMESSAGE_DEFLATE}` };
  const problem = paramProblem(offer.params, "offer");
  if (problem !== undefined) return { ok: false, reason: problem };
  const offered = new Map(offer.params.map((p) => [p.name, p.value]));

  const offeredClientBits = offered.get("client_max_window_bits");
  if (options.clientMaxWindowBits !== undefined && !offered.has("client_max_window_bits")) {
    return {
      ok: false,
      reason: "the server limits the client's window, but this offer has no client_max_window_bits to show the client can be limited (§7.1.2.2)",
    };
  }
  const serverNoContextTakeover = offered.has("server_no_context_takeover") || options.serverNoContextTakeover === true;
  const clientNoContextTakeover = offered.has("client_no_context_takeover") || options.clientNoContextTakeover === true;
  const offeredServerBits = offered.get("server_max_window_bits");
  const serverBits =
    offeredServerBits === undefined && options.serverMaxWindowBits === undefined
      ? undefined
      : Math.min(Number(offeredServerBits ?? 15), options.serverMaxWindowBits ?? 15);
  const clientBits =
    options.clientMaxWindowBits === undefined ? undefined : Math.min(options.clientMaxWindowBits, Number(offeredClientBits ?? 15));

  const response: ExtensionElement = { name: PERMESSAGE_DEFLATE, params: [] };
  if (serverNoContextTakeover) response.params.push({ name: "server_no_context_takeover" });
  if (clientNoContextTakeover) response.params.push({ name: "client_no_context_takeover" });
  if (serverBits !== undefined) response.params.push({ name: "server_max_window_bits", value: String(serverBits) });
  if (clientBits !== undefined) response.params.push({ name: "client_max_window_bits", value: String(clientBits) });
  return {
    ok: true,
    response,
    params: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits: serverBits ?? 15,
      // Without our limit, the client keeps to its own hint (§7.1.2.2), at most 15.
      clientMaxWindowBits: clientBits ?? Number(offeredClientBits ?? 15),
    },
  };
  // #endregion
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
  // #region solution step 3
  checkOptions(options);
  for (const offer of offers) {
    const decision = acceptDeflateOffer(offer, options); // declines other extensions' offers too
    if (decision.ok) return { params: decision.params, response: decision.response };
  }
  return undefined;
  // #endregion
}

/**
 * The client's offer (RFC 7692 §5, §7.1): permessage-deflate with the
 * parameters `options` ask for, and always `client_max_window_bits` (with
 * the option's value if given), which tells the server this client can be
 * limited. `deflateOffer({})` → `{ name: "permessage-deflate", params: [{ name: "client_max_window_bits" }] }`.
 * A `RangeError` if an option's window size is not 8..15.
 */
export function deflateOffer(options: DeflateOptions = {}): ExtensionElement {
  // #region solution step 3
  checkOptions(options);
  const params: ExtensionParam[] = [];
  if (options.serverNoContextTakeover) params.push({ name: "server_no_context_takeover" });
  if (options.clientNoContextTakeover) params.push({ name: "client_no_context_takeover" });
  if (options.serverMaxWindowBits !== undefined) params.push({ name: "server_max_window_bits", value: String(options.serverMaxWindowBits) });
  params.push(
    options.clientMaxWindowBits === undefined
      ? { name: "client_max_window_bits" }
      : { name: "client_max_window_bits", value: String(options.clientMaxWindowBits) },
  );
  return { name: PERMESSAGE_DEFLATE, params };
  // #endregion
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
  // #region solution step 3
  checkOptions(options);
  if (elements.length === 0) return undefined;
  const fail = (why: string): never => {
    throw new HandshakeError(`the server's Sec-WebSocket-Extensions answer is unacceptable: ${why}`);
  };
  const foreign = elements.find((e) => e.name !== PERMESSAGE_DEFLATE);
  if (foreign !== undefined) fail(`${foreign.name} was never offered (RFC 6455 §4.1, §9.1)`);
  if (elements.length > 1) fail(`${PERMESSAGE_DEFLATE} was accepted ${elements.length} times, but offered once`);
  const params = elements[0]!.params;
  const problem = paramProblem(params, "response");
  if (problem !== undefined) fail(problem);

  const answered = new Map(params.map((p) => [p.name, p.value]));
  if (options.serverNoContextTakeover && !answered.has("server_no_context_takeover")) {
    fail("the offer asked for server_no_context_takeover, and accepting it means answering with it (RFC 7692 §7.1.1.1)");
  }
  const serverBits = answered.get("server_max_window_bits");
  if (options.serverMaxWindowBits !== undefined) {
    if (serverBits === undefined) fail("the offer asked for server_max_window_bits, and accepting it means answering with it (§7.1.2.1)");
    if (Number(serverBits) > options.serverMaxWindowBits) {
      fail(`server_max_window_bits=${serverBits} is larger than the ${options.serverMaxWindowBits} offered (§7.1.2.1)`);
    }
  }
  const clientBits = answered.get("client_max_window_bits");
  return {
    serverNoContextTakeover: answered.has("server_no_context_takeover"),
    clientNoContextTakeover: answered.has("client_no_context_takeover") || options.clientNoContextTakeover === true,
    serverMaxWindowBits: Number(serverBits ?? 15),
    // Our own hint binds us too (§7.1.2.2): the smaller of the two.
    clientMaxWindowBits: Math.min(Number(clientBits ?? 15), options.clientMaxWindowBits ?? 15),
  };
  // #endregion
}

// #region reference-only
/** What is wrong with the parameters of an offer or an answer (RFC 7692 §7), or undefined. */
function paramProblem(params: readonly ExtensionParam[], where: "offer" | "response"): string | undefined {
  // The parameters RFC 7692 §7.1 defines; any other makes an offer or an answer unacceptable.
  const known = ["server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"];
  const seen = new Set<string>();
  for (const { name, value } of params) {
    if (!known.includes(name)) return `${name} is not a parameter of ${PERMESSAGE_DEFLATE} (RFC 7692 §7)`;
    if (seen.has(name)) return `${name} appears twice (RFC 7692 §7)`;
    seen.add(name);
    if (name.endsWith("_no_context_takeover")) {
      if (value !== undefined) return `${name} takes no value, got "${value}" (§7.1.1)`;
    } else if (value === undefined) {
      // Only an offer's client_max_window_bits may come without a value (§7.1.2.2).
      if (name === "server_max_window_bits" || where === "response") return `${name} needs a value, 8 to 15 (§7.1.2)`;
    } else if (!/^(?:[89]|1[0-5])$/.test(value)) {
      // §7.1.2: 8 to 15, in decimal, without leading zeros.
      return `${name}=${value}: a window size is 8 to 15, written without leading zeros (§7.1.2)`;
    }
  }
  return undefined;
}

/** The caller's options: window sizes must be whole numbers in 8..15. */
function checkOptions(options: DeflateOptions): void {
  for (const key of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
    const bits = options[key];
    if (bits !== undefined && !(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
      throw new RangeError(`${key} is a window size in bits, 8 to 15, not ${bits} (RFC 7692 §7.1.2)`);
    }
  }
}
// #endregion

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
  // #region solution step 4
  const compressed = zlib.deflateRawSync(payload, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    // zlib refuses a 256-byte window for raw DEFLATE; node:zlib then uses 512
    // bytes, and zlib never reaches back more than the window minus 262 bytes:
    // 250 ≤ 256, so the output still fits a peer that asked for 8 (see the page).
    windowBits: options.windowBits ?? 15,
    ...(options.dictionary === undefined || options.dictionary.length === 0 ? {} : { dictionary: options.dictionary }),
  });
  // A sync flush always ends in an empty stored block: its 4 bytes go (§7.2.1 step 3).
  return new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.length - DEFLATE_TAIL.length);
  // #endregion
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
  // #region solution step 4
  const maxSize = options.maxSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const input = new Uint8Array(data.length + DEFLATE_TAIL.length);
  input.set(data);
  input.set(DEFLATE_TAIL, data.length);
  let inflated: Buffer;
  try {
    inflated = zlib.inflateRawSync(input, {
      // The stream never ends (no BFINAL, §7.2.1): flush what it has instead of waiting for an end.
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      // The largest window: enough whatever window the peer compressed with.
      windowBits: 15,
      // zlib stops and throws as soon as its output passes this: the bomb never gets its memory.
      // (At most 2^31 - 1, the largest Buffer node:zlib may return.)
      maxOutputLength: Math.max(1, Math.min(maxSize, 2 ** 31 - 1)),
      ...(options.dictionary === undefined || options.dictionary.length === 0 ? {} : { dictionary: options.dictionary }),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooBig(maxSize);
    throw new ProtocolError(1007, `a compressed message that does not inflate: ${(error as Error).message} (RFC 7692 §7.2.2)`);
  }
  // zlib's bound can't be 0 (it takes at least 1): a limit of 0 is checked here.
  if (inflated.length > maxSize) throw tooBig(maxSize);
  return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length);
  // #endregion
}

// #region reference-only
function tooBig(maxSize: number): ProtocolError {
  return new ProtocolError(1009, `a compressed message inflates to more than the ${maxSize} bytes this endpoint accepts (RFC 6455 §7.4.1, §10.4)`);
}

/** The last `size` bytes of `before` followed by `added`: the window that slides over everything compressed so far. */
function slide(before: Uint8Array, added: Uint8Array, size: number): Uint8Array {
  if (added.length >= size) return added.slice(added.length - size);
  const keep = Math.min(before.length, size - added.length);
  const window = new Uint8Array(keep + added.length);
  window.set(before.subarray(before.length - keep));
  window.set(added, keep);
  return window;
}
// #endregion

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
  // #region reference-only
  readonly #maxMessageSize: number;
  readonly #onMessage: ((trace: DeflateTrace) => void) | undefined;
  /** Sending: the window's size and whether it carries over (this side's parameters). */
  readonly #sendWindowBits: number;
  readonly #sendTakeover: boolean;
  /** Receiving: whether the peer's window carries over, and how much of it to keep. */
  readonly #receiveTakeover: boolean;
  readonly #receiveWindowSize: number;
  /** The end of what we compressed, and of what the peer's compressed messages inflated to. */
  #sentWindow: Uint8Array = new Uint8Array(0);
  #receivedWindow: Uint8Array = new Uint8Array(0);
  /** The compressed message being received: its opcode and its fragments so far. */
  #compressed: { opcode: number; chunks: Uint8Array[]; size: number } | undefined;
  /** An uncompressed message is in progress: its continuations are not ours. */
  #plainInProgress = false;
  /**
   * Performance, the reference only: with context takeover, one zlib stream per
   * direction for the connection's life (lib/zlib-streams.ts), made on first use.
   */
  #deflater: RawZlibStream | undefined;
  #inflater: RawZlibStream | undefined;
  // #endregion

  constructor(role: "client" | "server", params: DeflateParams, options: PerMessageDeflateOptions = {}) {
    // #region solution step 5
    const server = role === "server";
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#onMessage = options.onMessage;
    this.#sendWindowBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.#sendTakeover = !(server ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    this.#receiveTakeover = !(server ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    this.#receiveWindowSize = 2 ** (server ? params.clientMaxWindowBits : params.serverMaxWindowBits);
    // #endregion
  }

  receive(frame: Frame): Frame | undefined {
    // #region solution step 5
    if (isControl(frame.opcode)) {
      if (frame.rsv1) throw new ProtocolError(1002, "RSV1 on a control frame: control frames are never compressed (RFC 7692 §6)");
      return frame;
    }
    if (frame.opcode === Opcode.Continuation) {
      if (frame.rsv1) {
        throw new ProtocolError(1002, "RSV1 on a continuation frame: only a message's first frame says it is compressed (RFC 7692 §6)");
      }
      const message = this.#compressed;
      if (message === undefined) {
        if (frame.fin) this.#plainInProgress = false;
        return frame; // part of an uncompressed message, or out of place: the assembler decides (§5.4)
      }
      this.#hold(message, frame.payload);
      return frame.fin ? this.#inflate(message, frame) : undefined;
    }
    // A text or binary frame: a new message.
    if (this.#compressed !== undefined) {
      throw new ProtocolError(1002, "a new message started before the compressed message in progress ended (RFC 6455 §5.4)");
    }
    if (!frame.rsv1 || this.#plainInProgress) {
      // Uncompressed (§6: RSV1 clear), or a new message in the middle of one, which the assembler refuses.
      if (!frame.rsv1) this.#plainInProgress = !frame.fin;
      return frame;
    }
    const message = { opcode: frame.opcode, chunks: [], size: 0 };
    this.#hold(message, frame.payload);
    if (!frame.fin) {
      this.#compressed = message;
      return undefined;
    }
    return this.#inflate(message, frame);
    // #endregion
  }

  transforms(frame: Frame): boolean {
    // #region solution step 5
    // A compressed message is in progress: this frame continues it (or breaks the
    // rules, which receive will say). Otherwise RSV1 on a first frame says it (§6).
    return this.#compressed !== undefined || (frame.opcode !== Opcode.Continuation && frame.rsv1);
    // #endregion
  }

  send(opcode: number, payload: Uint8Array): { payload: Uint8Array; rsv1: boolean } {
    // #region reference-only
    // Performance, the reference only: the window kept in a zlib stream, not re-primed per message (the code below is fine).
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a fast path; the property test "the fast path and the per-message code" proves it sends what the code below sends
    if (this.#sendTakeover && zlibStreams.enabled && zlibStreams.available) return this.#sendOnStream(opcode, payload);
    // #endregion
    // #region solution step 5
    const compressed = deflateMessage(payload, {
      windowBits: this.#sendWindowBits,
      dictionary: this.#sendTakeover ? this.#sentWindow : undefined,
    });
    if (compressed.length >= payload.length) {
      // Not worth it: sent as it is, and left out of the window, as the peer
      // leaves uncompressed messages out of its own (§7.2.2 inflates only RSV1 messages).
      this.#onMessage?.({ direction: "out", opcode, compressed: false, wireSize: payload.length, size: payload.length });
      return { payload, rsv1: false };
    }
    if (this.#sendTakeover) this.#sentWindow = slide(this.#sentWindow, payload, 2 ** this.#sendWindowBits);
    this.#onMessage?.({ direction: "out", opcode, compressed: true, wireSize: compressed.length, size: payload.length });
    return { payload: compressed, rsv1: true };
    // #endregion
  }

  /**
   * The connection is over (its socket closed): frees what this extension
   * holds between messages now rather than at garbage collection. The
   * per-message code holds no zlib stream, so has nothing to free; the
   * reference's streams hold about 300 KiB a connection (see the page).
   */
  close(): void {
    // #region reference-only
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = undefined;
    this.#inflater = undefined;
    // #endregion
  }
  // #region reference-only

  /**
   * `send` with context takeover, on the stream this side keeps: the same
   * decision (compressed only if it shrinks), without a dictionary per message.
   */
  #sendOnStream(opcode: number, payload: Uint8Array): { payload: Uint8Array; rsv1: boolean } {
    const stream = (this.#deflater ??= zlibStreams.deflater(this.#sendWindowBits));
    const flushed = stream.write([payload])!;
    const compressed = flushed.subarray(0, flushed.length - DEFLATE_TAIL.length); // §7.2.1 step 3
    if (compressed.length >= payload.length) {
      // Sent as it is, so the peer's window won't hold it, and ours now does:
      // ours starts empty again. Taking the window over is a MAY (§7.2.1), so
      // compressing the next message without it is always understood.
      stream.reset();
      this.#onMessage?.({ direction: "out", opcode, compressed: false, wireSize: payload.length, size: payload.length });
      return { payload, rsv1: false };
    }
    this.#onMessage?.({ direction: "out", opcode, compressed: true, wireSize: compressed.length, size: payload.length });
    return { payload: compressed, rsv1: true };
  }

  /** Inflates on the stream kept for the peer's messages: each fragment, then the tail put back (§7.2.2), no copy to join them. */
  #inflateOnStream(chunks: readonly Uint8Array[]): Uint8Array {
    const stream = (this.#inflater ??= zlibStreams.inflater());
    let inflated: Uint8Array | undefined;
    try {
      // Bounded while inflating, as inflateMessage is: zlib never gets room for more than the limit and a byte.
      inflated = stream.write([...chunks, DEFLATE_TAIL], this.#maxMessageSize);
    } catch (error) {
      // zlib has closed the stream: the connection fails, nothing more is inflated.
      throw new ProtocolError(1007, `a compressed message that does not inflate: ${(error as Error).message} (RFC 7692 §7.2.2)`);
    }
    if (inflated === undefined) throw tooBig(this.#maxMessageSize); // the stream is closed, as above
    return inflated;
  }

  /** Keeps a fragment of compressed data, within a bound: compressed data is never much larger than what it inflates to. */
  #hold(message: { chunks: Uint8Array[]; size: number }, payload: Uint8Array): void {
    message.size += payload.length;
    // Stored blocks add 5 bytes per 64 KiB at worst; 1/1024 more, plus a little, covers any honest peer.
    if (message.size > this.#maxMessageSize + this.#maxMessageSize / 1024 + 64) {
      this.#compressed = undefined;
      throw new ProtocolError(1009, `a compressed message of more than ${message.size - payload.length} bytes, over the limit of ${this.#maxMessageSize} (RFC 6455 §10.4)`);
    }
    message.chunks.push(payload);
  }

  /** The final fragment arrived: the whole message, inflated, as one frame with RSV1 clear. */
  #inflate(message: { opcode: number; chunks: Uint8Array[]; size: number }, last: Frame): Frame {
    this.#compressed = undefined;
    let payload: Uint8Array;
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a fast path; the property test "the fast path and the per-message code" proves it inflates what the code below inflates
    if (this.#receiveTakeover && zlibStreams.enabled && zlibStreams.available) payload = this.#inflateOnStream(message.chunks);
    else {
      const data = message.chunks.length === 1 ? message.chunks[0]! : join(message.chunks, message.size);
      payload = inflateMessage(data, {
        dictionary: this.#receiveTakeover ? this.#receivedWindow : undefined,
        maxSize: this.#maxMessageSize,
      });
      if (this.#receiveTakeover) this.#receivedWindow = slide(this.#receivedWindow, payload, this.#receiveWindowSize);
    }
    this.#onMessage?.({ direction: "in", opcode: message.opcode, compressed: true, wireSize: message.size, size: payload.length });
    return { fin: true, rsv1: false, rsv2: last.rsv2, rsv3: last.rsv3, opcode: message.opcode, payload };
  }
  // #endregion
}

// #region reference-only
function join(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
// #endregion

/**
 * The client's `Sec-WebSocket-Protocol` value for the subprotocols it offers,
 * by preference (RFC 6455 §1.9, §4.1, request requirement 10): `["chat.v2", "chat.v1"]` → `"chat.v2, chat.v1"`.
 * Each name MUST be a non-empty token (printable ASCII, no separators) and
 * appear once: a `RangeError` otherwise (the caller's mistake).
 */
export function subprotocolHeader(protocols: readonly string[]): string {
  // #region solution step 1
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new RangeError(`subprotocol ${JSON.stringify(protocol)} is not a token (RFC 6455 §4.1, request requirement 10)`);
    if (seen.has(protocol)) throw new RangeError(`subprotocol ${protocol} is offered twice: each must be unique (RFC 6455 §4.1, request requirement 10)`);
    seen.add(protocol);
  }
  return protocols.join(", ");
  // #endregion
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
  // #region solution step 1
  if (header === undefined) return undefined;
  const offered = header.split(",").map((p) => p.trim());
  return offered.find((p) => supported.includes(p));
  // #endregion
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
  // #region solution step 1
  if (header === undefined) return undefined;
  const chosen = header.trim();
  if (!offered.includes(chosen)) throw new HandshakeError(`the server chose subprotocol ${chosen}, which we did not offer (RFC 6455 §4.1)`);
  return chosen;
  // #endregion
}
