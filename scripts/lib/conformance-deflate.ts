/**
 * permessage-deflate conformance cases (RFC 7692), in the style of the
 * Autobahn test suite's sections 12 and 13: compressed echoes of many sizes,
 * each parameter combination a client may offer, fragmented compressed
 * messages, and what a server must refuse. `npm run conformance -- --deflate`
 * runs them against an echo server that accepts permessage-deflate.
 *
 * The client here is raw TCP with the reference chapters as its measuring
 * tools: chapter 12 for the offer, the check of the answer and the inflating,
 * chapter 07 for reading the server's frames (RSV1 allowed), chapter 04 for
 * writing any frame, forbidden ones included. Every case is bounded by
 * DEFLATE_CASE_TIME; verdicts as in scripts/lib/conformance.ts.
 */
import { connect, type Socket } from "node:net";
import { constants as zlib, deflateRawSync, inflateRawSync } from "node:zlib";
import type { DeflateParams } from "../../lib/extensions.ts";
import { Opcode, type Frame } from "../../lib/frame.ts";
import { createClientKey, computeAccept } from "../../solutions/02-handshake.ts";
import { createMaskKey } from "../../solutions/03-masking.ts";
import { encodeFrame } from "../../solutions/04-frames.ts";
import { Connection, type ConnectionEvent } from "../../solutions/07-connection.ts";
import {
  checkDeflateResponse,
  DEFLATE_TAIL,
  deflateMessage,
  deflateOffer,
  formatExtensionHeader,
  parseExtensionHeader,
  PerMessageDeflate,
  type DeflateOptions,
} from "../../solutions/12-extensions.ts";
import type { Case, Outcome, Result, RunOptions } from "./conformance.ts";

/**
 * The most a case may take, in ms: a hang guard, far more than the 2 s of the
 * other cases, since a case moves up to 10 MiB through DEFLATE both ways, four
 * cases run at a time, and a server started by `npm run conformance` (or by
 * chapter 12's test) shares its one thread with the runner: on a busy machine
 * (a mutation run beside it) a case waits its turn for seconds, and 10 s was
 * not enough.
 */
export const DEFLATE_CASE_TIME = 30_000;
const CASE_TIME = DEFLATE_CASE_TIME;

const ok = (): Outcome => ({ verdict: "OK", detail: "" });
const nonStrict = (detail: string): Outcome => ({ verdict: "NON-STRICT", detail });
const failed = (detail: string): Outcome => ({ verdict: "FAILED", detail });
const utf8 = (text: string) => new TextEncoder().encode(text);
const KiB = 1024;

/** A raw client with permessage-deflate, offered as `offer` says (or not at all: `undefined`). */
class DeflateClient {
  response = "";
  status = 0;
  extensions = "";
  params: DeflateParams | undefined;
  /** The server's frames as they came (compressed payloads), and the connection's events. */
  readonly wireFrames: Frame[] = [];
  readonly events: ConnectionEvent[] = [];
  closed = false;
  #connection: Connection | undefined;
  #head = "";
  readonly #socket: Socket;
  readonly #deadline = Date.now() + CASE_TIME;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => (this.closed = true));
  }

  /** Connects and sends the upgrade request with `extensionsHeader` (if any); waits for the answer. */
  static async open(url: string, extensionsHeader: string | undefined, offered: DeflateOptions = {}): Promise<DeflateClient> {
    const { hostname, port, pathname, host } = new URL(url);
    const client = new DeflateClient(connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 80) }));
    const key = createClientKey();
    const lines = [`GET ${pathname} HTTP/1.1`, `Host: ${host}`, "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${key}`, "Sec-WebSocket-Version: 13"];
    if (extensionsHeader !== undefined) lines.push(`Sec-WebSocket-Extensions: ${extensionsHeader}`);
    client.#socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    await client.until(() => client.status !== 0 || client.closed);
    if (client.status === 101) {
      const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(client.response)?.[1];
      if (accept !== computeAccept(key)) throw new Error(`a wrong Sec-WebSocket-Accept: ${accept ?? "none"}`);
      client.extensions = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(client.response)?.[1]?.trim() ?? "";
      if (extensionsHeader !== undefined && client.extensions !== "") client.params = checkDeflateResponse(parseExtensionHeader(client.extensions), offered);
      if (extensionsHeader === undefined && client.extensions !== "") throw new Error(`the server answered an extension nobody offered: ${client.extensions}`);
      client.#start();
    }
    return client;
  }

  #start(): void {
    const params = this.params;
    this.#connection = new Connection("client", {
      maxMessageSize: 64 * 1024 * 1024,
      onFrame: (frame, way) => {
        if (way === "in") this.wireFrames.push(frame);
      },
      ...(params === undefined ? {} : { extension: new PerMessageDeflate("client", params, { maxMessageSize: 64 * 1024 * 1024 }) }),
    });
    this.#connection.open();
    const rest = this.#head;
    this.#head = "";
    if (rest.length > 0) this.#feed(Buffer.from(rest, "latin1"));
  }

  #receive(chunk: Buffer): void {
    if (this.status === 0) {
      this.#head += chunk.toString("latin1");
      const end = this.#head.indexOf("\r\n\r\n");
      if (end === -1) return;
      this.response = this.#head.slice(0, end + 4);
      this.#head = this.#head.slice(end + 4);
      this.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(this.response)?.[1] ?? -1);
      return;
    }
    this.#feed(chunk);
  }

  #feed(bytes: Uint8Array): void {
    if (this.#connection === undefined) return;
    this.events.push(...this.#connection.receive(bytes));
    for (const out of this.#connection.bytesToSend()) if (!this.#socket.destroyed) this.#socket.write(out);
  }

  /**
   * Sends a message compressed, RSV1 set, whatever its size, each from an
   * empty window (a client may always leave the window out) and within the
   * agreed client window.
   */
  send(data: string | Uint8Array): void {
    const payload = typeof data === "string" ? utf8(data) : data;
    const compressed = deflateMessage(payload, { windowBits: this.params?.clientMaxWindowBits ?? 15 });
    this.#socket.write(frame(typeof data === "string" ? Opcode.Text : Opcode.Binary, compressed, { rsv1: true }));
  }

  /** Writes raw bytes: frames of any shape. */
  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  messages(): ConnectionEvent[] {
    return this.events.filter((e) => e.type === "message");
  }

  get closeEvent() {
    return this.events.find((e) => e.type === "close");
  }

  async until(condition: () => boolean): Promise<boolean> {
    while (!condition()) {
      if (Date.now() > this.#deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  end(): void {
    this.#socket.destroy();
  }
}

/** A masked client frame, any bits. */
const frame = (opcode: number, payload: Uint8Array, bits: { fin?: boolean; rsv1?: boolean } = {}) =>
  encodeFrame({ opcode, payload, ...bits, maskKey: createMaskKey() });

/** Prose-like text of n bytes: compresses. */
function words(n: number): string {
  let text = "";
  for (let i = 0; text.length < n; i++) text += `word${i % 97} ${(i * 7919) % 1000}; `;
  return text.slice(0, n);
}
const sampleBytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i % 251) ^ (i >> 9));
/**
 * n bytes of the letters a to h in a fixed pseudo-random order: they shrink with
 * any window (3 bits a letter), but repeat only where `letters` is called twice
 * with the same seed (chapter 12's tests use them too).
 */
export function letters(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let state = seed;
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out[i] = 0x61 + ((state >> 16) & 7);
  }
  return out;
}

type Info = Omit<Case, "run">;

/** Opens a client with `offer`, runs `body`, always ends the client. A server that declines a valid offer fails. */
function deflateCase(info: Info, offer: DeflateOptions, body: (client: DeflateClient) => Promise<Outcome>): Case {
  return {
    ...info,
    run: async (url) => {
      const client = await DeflateClient.open(url, formatExtensionHeader([deflateOffer(offer)]), offer);
      try {
        if (client.status !== 101) return failed(`the server answered ${client.response.split("\r\n")[0] ?? "nothing"}, not 101`);
        if (client.params === undefined) return failed(`the server declined the offer "${formatExtensionHeader([deflateOffer(offer)])}" (no Sec-WebSocket-Extensions)`);
        return await body(client);
      } finally {
        client.end();
      }
    },
  };
}

/** Sends every message, one after the other, and expects each echoed with its type and bytes. */
async function echoEach(client: DeflateClient, messages: (string | Uint8Array)[]): Promise<Outcome> {
  for (const [i, message] of messages.entries()) {
    client.send(message);
    await client.until(() => client.messages().length > i || client.closeEvent !== undefined);
    const close = client.closeEvent;
    if (close?.type === "close") return failed(`the connection closed (${close.code} ${close.reason}) instead of echoing message ${i + 1}`);
    const echo = client.messages()[i];
    if (echo?.type !== "message") return failed(`no echo of message ${i + 1} of ${messages.length} within ${CASE_TIME / 1000} s`);
    const want = typeof message === "string" ? message : Buffer.from(message).toString("hex");
    const got = echo.message.type === "text" ? echo.message.data : Buffer.from(echo.message.data).toString("hex");
    if (echo.message.type !== (typeof message === "string" ? "text" : "binary") || got !== want) {
      return failed(`the echo of message ${i + 1} (${typeof message === "string" ? "text" : "binary"}, ${message.length} units) differs from it`);
    }
  }
  return ok();
}

/** The server's compressed data frames, as received. */
const compressedFrames = (client: DeflateClient) => client.wireFrames.filter((f) => f.rsv1);

/** Expects the server to fail the connection with `code`, close frame first (§7.1.7); `alsoAllowed` codes are NON-STRICT. */
async function expectFailure(client: DeflateClient, code: number, alsoAllowed: number[] = []): Promise<Outcome> {
  await client.until(() => client.closeEvent !== undefined || client.closed);
  const close = client.closeEvent;
  if (close?.type !== "close" || !close.clean) {
    if (close?.type === "close" && close.error !== undefined) return failed(`the server's frames broke the protocol: ${close.reason}`);
    return client.closed ? nonStrict(`the server closed TCP without a close frame; §7.1.7: send one with ${code} first`) : failed(`the server did nothing within ${CASE_TIME / 1000} s; expected a close frame with ${code}`);
  }
  if (close.code === code) return ok();
  if (alsoAllowed.includes(close.code)) return nonStrict(`the server closed with ${close.code}; the strict code is ${code}`);
  return failed(`the server closed with ${close.code}, expected ${code}`);
}

// ---------------------------------------------------------------------------
// The cases

const SIZES = [0, 16, 64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, KiB * KiB];
const shownSize = (n: number) => (n >= KiB * KiB ? `${n / KiB / KiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n}-byte`);

/** Autobahn 12.x: compressed echoes of many sizes, several messages in a row each, so context takeover is used. */
const sizes: Case[] = SIZES.flatMap((size) => {
  const count = size >= KiB * KiB ? 3 : 10;
  const many = count === 10 ? "ten" : "three";
  return [
    deflateCase(
      { id: `deflate-text-${size}`, chapter: 12, group: "permessage-deflate: sizes", title: `${many} ${shownSize(size)} compressed text messages in a row are echoed (RFC 7692 §6, §7.2)` },
      {},
      (client) => echoEach(client, Array.from({ length: count }, (_, i) => words(size + i).slice(i))),
    ),
    deflateCase(
      { id: `deflate-binary-${size}`, chapter: 12, group: "permessage-deflate: sizes", title: `${many} ${shownSize(size)} compressed binary messages in a row are echoed (RFC 7692 §6, §7.2)` },
      {},
      (client) => echoEach(client, Array.from({ length: count }, () => sampleBytes(size))),
    ),
  ];
});

/** Autobahn 13.x: each parameter combination a client may offer. */
const OFFERS: { id: string; offer: DeflateOptions }[] = [
  { id: "default", offer: {} },
  { id: "server-no-context", offer: { serverNoContextTakeover: true } },
  { id: "client-no-context", offer: { clientNoContextTakeover: true } },
  { id: "both-no-context", offer: { serverNoContextTakeover: true, clientNoContextTakeover: true } },
  { id: "server-window-9", offer: { serverMaxWindowBits: 9 } },
  { id: "client-window-9", offer: { clientMaxWindowBits: 9 } },
  { id: "server-window-8", offer: { serverMaxWindowBits: 8, serverNoContextTakeover: true } },
  { id: "all-parameters", offer: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 10 } },
];

/**
 * The server's compressed messages (their frames' payloads joined), in order:
 * what an inflater on the client's side gets.
 */
function compressedMessages(client: DeflateClient): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let current: Uint8Array[] | undefined;
  let compressed = false;
  for (const f of client.wireFrames) {
    if (f.opcode === Opcode.Text || f.opcode === Opcode.Binary) {
      current = [f.payload];
      compressed = f.rsv1;
    } else if (f.opcode === Opcode.Continuation && current !== undefined) current.push(f.payload);
    else continue;
    if (f.fin) {
      if (compressed) messages.push(Buffer.concat(current));
      current = undefined;
    }
  }
  return messages;
}

/**
 * Every compressed message of the server inflates in an inflater whose window
 * really is what was agreed (RFC 7692 §7.2.1 MUST NOT: server_max_window_bits, or 15),
 * taking the window over from message to message unless server_no_context_takeover
 * was agreed (then each must inflate alone, §7.2.1). zlib's inflate lets a
 * reference reach into the output chunk it is filling as well as into its window,
 * so the chunk is node:zlib's smallest, 64 bytes: with the default 16 KiB, a server
 * that ignores the agreed window would pass with every message under 16 KiB.
 */
function withinAgreedWindow(client: DeflateClient): Outcome {
  const params = client.params!;
  const windowBits = params.serverMaxWindowBits;
  const takeover = !params.serverNoContextTakeover;
  const messages = compressedMessages(client);
  if (messages.length === 0) return failed("the server compressed none of its echoes: nothing shows it keeps to the agreed window");
  let window: Uint8Array = new Uint8Array(0);
  for (const [i, payload] of messages.entries()) {
    let inflated: Buffer;
    try {
      inflated = inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), {
        windowBits,
        chunkSize: 64,
        finishFlush: zlib.Z_SYNC_FLUSH,
        ...(takeover && window.length > 0 ? { dictionary: window } : {}),
      });
    } catch (error) {
      const how = takeover ? "taking the window over" : "alone, from an empty window";
      return failed(`the server's compressed message ${i + 1} does not inflate ${how} with the agreed ${2 ** windowBits}-byte window: ${(error as Error).message}`);
    }
    if (takeover) window = Buffer.concat([window, inflated]).subarray(-(2 ** windowBits));
  }
  return ok();
}

/**
 * An offer as header text, for a case's title. Written out here rather than
 * with chapter 12's deflateOffer: listing the cases must run no chapter code,
 * or importing this module would run it (and a mutant of it) before any test.
 */
function offerText(offer: DeflateOptions): string {
  const params = [
    offer.serverNoContextTakeover ? "server_no_context_takeover" : "",
    offer.clientNoContextTakeover ? "client_no_context_takeover" : "",
    offer.serverMaxWindowBits === undefined ? "" : `server_max_window_bits=${offer.serverMaxWindowBits}`,
    offer.clientMaxWindowBits === undefined ? "client_max_window_bits" : `client_max_window_bits=${offer.clientMaxWindowBits}`,
  ];
  return ["permessage-deflate", ...params.filter((p) => p !== "")].join("; ");
}

const offers: Case[] = OFFERS.map(({ id, offer }) =>
  deflateCase(
    {
      id: `deflate-offer-${id}`,
      chapter: 12,
      group: "permessage-deflate: parameters",
      title: `offer "${offerText(offer)}": accepted, honoured, 20 messages echoed (RFC 7692 §7.1)`,
    },
    offer,
    async (client) => {
      const messages = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? words(300 + 700 * i) : sampleBytes(500 * i)));
      const echoed = await echoEach(client, messages);
      if (echoed.verdict !== "OK") return echoed;
      return withinAgreedWindow(client);
    },
  ),
);

/**
 * The failure `ws` users met: a client that asks for a 9-bit server window and
 * gets back a large message. Each 72 KiB message is one 24 KiB run of letters
 * three times over: a sender with a 32 KiB window points 24 KiB back, which a
 * 512-byte window can't reach ("invalid distance too far back").
 */
const largeWindowCases: Case[] = [8, 9].map((bits) =>
  deflateCase(
    {
      id: `deflate-window-${bits}-large`,
      chapter: 12,
      group: "permessage-deflate: parameters",
      title: `offer "${offerText({ serverMaxWindowBits: bits })}": three 72 KiB messages, each repeating 24 KiB, echoed within the agreed ${2 ** bits}-byte window (RFC 7692 §7.1.2.1, §7.2.1)`,
    },
    { serverMaxWindowBits: bits },
    async (client) => {
      const messages = [1, 2, 3].map((seed) => {
        const run = letters(24 * KiB, seed);
        return seed === 2 ? Buffer.concat([run, run, run]).toString("latin1") : Buffer.concat([run, run, run]);
      });
      const echoed = await echoEach(client, messages);
      if (echoed.verdict !== "OK") return echoed;
      return withinAgreedWindow(client);
    },
  ),
);

const framesCases: Case[] = [
  deflateCase(
    { id: "deflate-fragmented", chapter: 12, group: "permessage-deflate: frames", title: "a compressed message in 3 fragments, RSV1 on the first, a ping between, is echoed (RFC 7692 §6)" },
    {},
    async (client) => {
      const text = words(5000);
      const compressed = deflateMessage(utf8(text));
      const [a, b] = [Math.floor(compressed.length / 3), Math.floor((2 * compressed.length) / 3)];
      client.write(frame(Opcode.Text, compressed.subarray(0, a), { fin: false, rsv1: true }));
      client.write(frame(Opcode.Ping, utf8("between")));
      client.write(frame(Opcode.Continuation, compressed.subarray(a, b), { fin: false }));
      client.write(frame(Opcode.Continuation, compressed.subarray(b)));
      await client.until(() => client.messages().length > 0 || client.closeEvent !== undefined);
      const echo = client.messages()[0];
      if (echo?.type !== "message" || echo.message.type !== "text" || echo.message.data !== text) return failed("the fragmented compressed message was not echoed whole");
      return ok();
    },
  ),
  deflateCase(
    { id: "deflate-uncompressed", chapter: 12, group: "permessage-deflate: frames", title: "with the extension on, a message with RSV1 clear is echoed as it is (RFC 7692 §6)" },
    {},
    async (client) => {
      client.write(frame(Opcode.Text, utf8("sent uncompressed")));
      await client.until(() => client.messages().length > 0 || client.closeEvent !== undefined);
      const echo = client.messages()[0];
      return echo?.type === "message" && echo.message.type === "text" && echo.message.data === "sent uncompressed" ? ok() : failed("no echo of the uncompressed message");
    },
  ),
  deflateCase(
    { id: "deflate-rsv1-continuation", chapter: 12, group: "permessage-deflate: frames", title: "RSV1 on a continuation frame fails with 1002 (RFC 7692 §6)" },
    {},
    async (client) => {
      const compressed = deflateMessage(utf8(words(2000)));
      client.write(frame(Opcode.Text, compressed.subarray(0, 10), { fin: false, rsv1: true }));
      client.write(frame(Opcode.Continuation, compressed.subarray(10), { rsv1: true }));
      return expectFailure(client, 1002);
    },
  ),
  deflateCase(
    { id: "deflate-rsv1-ping", chapter: 12, group: "permessage-deflate: frames", title: "RSV1 on a ping fails with 1002: control frames are never compressed (RFC 7692 §6)" },
    {},
    async (client) => {
      client.write(frame(Opcode.Ping, new Uint8Array(0), { rsv1: true }));
      return expectFailure(client, 1002);
    },
  ),
  deflateCase(
    { id: "deflate-bomb", chapter: 12, group: "permessage-deflate: frames", title: "256 KiB that inflate to 256 MiB fail with 1009, found while inflating (RFC 6455 §10.4)" },
    {},
    async (client) => {
      // zlib's fastest level: the same bomb, made in a fraction of the time.
      const bomb = deflateRawSync(new Uint8Array(256 * KiB * KiB), { level: 1, finishFlush: zlib.Z_SYNC_FLUSH });
      client.write(frame(Opcode.Binary, bomb.subarray(0, bomb.length - DEFLATE_TAIL.length), { rsv1: true }));
      return expectFailure(client, 1009);
    },
  ),
  deflateCase(
    { id: "deflate-corrupt", chapter: 12, group: "permessage-deflate: frames", title: "a compressed payload that is not DEFLATE fails the connection: 1007 (the workbook's policy) or 1002 (RFC 7692 §7.2.2, RFC 6455 §7.4.1)" },
    {},
    async (client) => {
      client.write(frame(Opcode.Binary, Uint8Array.of(0xff, 0xff, 0xff, 0xff), { rsv1: true }));
      return expectFailure(client, 1007, [1002]);
    },
  ),
  {
    id: "deflate-rsv1-unnegotiated",
    chapter: 12,
    group: "permessage-deflate: frames",
    title: "without permessage-deflate offered, a frame with RSV1 fails with 1002 (RFC 6455 §5.2)",
    run: async (url) => {
      const client = await DeflateClient.open(url, undefined);
      try {
        if (client.status !== 101) return failed(`no 101: ${client.response.split("\r\n")[0] ?? "nothing"}`);
        client.write(frame(Opcode.Text, deflateMessage(utf8("Hello, Hello, Hello")), { rsv1: true }));
        return await expectFailure(client, 1002);
      } finally {
        client.end();
      }
    },
  },
];

const negotiation: Case[] = [
  {
    id: "deflate-decline-unknown",
    chapter: 12,
    group: "permessage-deflate: negotiation",
    title: "an offer with an unknown parameter is declined, the next acceptable one is taken (RFC 7692 §7)",
    run: async (url) => {
      const client = await DeflateClient.open(url, "permessage-deflate; mystery_parameter, permessage-deflate; server_no_context_takeover");
      try {
        if (client.status >= 400 && client.status <= 499) {
          return nonStrict(`the whole handshake was refused (${client.response.split("\r\n")[0]}); strict is to decline that offer and take the next`);
        }
        if (client.status !== 101) return failed(`no 101: ${client.response.split("\r\n")[0] ?? "nothing"}`);
        return client.extensions === "permessage-deflate; server_no_context_takeover"
          ? ok()
          : failed(`the answer is "${client.extensions}", expected the second offer accepted: "permessage-deflate; server_no_context_takeover"`);
      } catch (error) {
        return failed(`the answer is unacceptable: ${(error as Error).message}`);
      } finally {
        client.end();
      }
    },
  },
  {
    id: "deflate-decline-invalid",
    chapter: 12,
    group: "permessage-deflate: negotiation",
    title: "an offer with server_max_window_bits=16 is declined: 101 without the extension (RFC 7692 §7)",
    run: async (url) => {
      const client = await DeflateClient.open(url, "permessage-deflate; server_max_window_bits=16");
      try {
        if (client.status !== 101) return nonStrict(`the request was refused (${client.response.split("\r\n")[0] ?? "nothing"}); declining the extension is enough`);
        return client.extensions === "" ? ok() : failed(`the server accepted an invalid offer: "${client.extensions}"`);
      } catch (error) {
        return failed(`the answer is unacceptable: ${(error as Error).message}`);
      } finally {
        client.end();
      }
    },
  },
  {
    id: "deflate-malformed-header",
    chapter: 12,
    group: "permessage-deflate: negotiation",
    title: "a malformed Sec-WebSocket-Extensions is refused with 400 (RFC 6455 §4.2.1, §9.1)",
    run: async (url) => {
      const client = await DeflateClient.open(url, 'permessage-deflate; server_max_window_bits="ten bits"');
      try {
        if (client.status === 400) return ok();
        if (client.status === 101 && client.extensions === "") return nonStrict("the server ignored the malformed header and declined the extension");
        return failed(`the server answered ${client.response.split("\r\n")[0] ?? "nothing"}${client.extensions ? ` with ${client.extensions}` : ""}`);
      } catch (error) {
        return failed(`the answer is unacceptable: ${(error as Error).message}`);
      } finally {
        client.end();
      }
    },
  },
];

/** Every permessage-deflate case, in the order they are printed. */
export const deflateCases: readonly Case[] = [...negotiation, ...sizes, ...offers, ...largeWindowCases, ...framesCases];

/** Runs every case against `url` (a server that accepts permessage-deflate), a few at a time, results in order. */
export async function runDeflateConformance(url: string, options: RunOptions = {}): Promise<Result[]> {
  const { concurrency = 4, onResult } = options;
  const results: Result[] = [];
  let reported = 0;
  let next = 0;
  const worker = async () => {
    while (next < deflateCases.length) {
      const index = next++;
      const c = deflateCases[index]!;
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve(failed(`the case did not finish within ${(CASE_TIME + 1_000) / 1000} s`)), CASE_TIME + 1_000);
      });
      const outcome = await Promise.race([c.run(url).catch((error: Error) => failed(error.message)), bound]);
      clearTimeout(timer);
      const { run: _run, ...info } = c;
      results[index] = { ...info, ...outcome, ms: Date.now() - started };
      for (; results[reported] !== undefined; reported++) onResult?.(results[reported]!);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}
