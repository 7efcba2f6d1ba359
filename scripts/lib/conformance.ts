/**
 * A conformance suite for any echo server, in the spirit of the Autobahn
 * test suite: each case opens its own raw connection, sends something (good,
 * odd or forbidden) and judges what the server does. `npm run conformance`
 * prints the results; tests/08-echo-server.test.ts requires every case OK.
 *
 * Verdicts:
 * - OK: exactly the strict behaviour RFC 6455 asks for;
 * - NON-STRICT: acceptable, not strict: the connection was failed but TCP
 *   closed without the close frame §7.1.7 says to send first, or another
 *   allowed close code, or a 4xx other than the usual one;
 * - FAILED: wrong. The result names the chapter whose rule was broken.
 *
 * Every case is bounded (CASE_TIME, 2 s): a server that never reacts fails
 * the case, it does not hang the run.
 */
import { CloseCode } from "../../lib/close-codes.ts";
import { Opcode } from "../../lib/frame.ts";
import type { Message } from "../../lib/message.ts";
import { lengthEncoding } from "../../lib/trace.ts";
import { createMaskKey } from "../../solutions/03-masking.ts";
import { encodeFrame } from "../../solutions/04-frames.ts";
import { Client, upgradeRequest, type HttpHead } from "./conformance-client.ts";
import { curriculum } from "./curriculum.ts";

export type Verdict = "OK" | "NON-STRICT" | "FAILED";

export interface Outcome {
  verdict: Verdict;
  /** What the server did, when it was not the strict behaviour; "" for OK. */
  detail: string;
}

export interface Case {
  id: string;
  /** The chapter whose rule the case checks: where a reader looks when it fails. */
  chapter: number;
  /** The rule, with its RFC section: "a frame with RSV1 set fails with 1002 (§5.2)". */
  title: string;
  /** Cases are listed and printed by group: handshake, framing, ping, ... */
  group: string;
  run(url: string): Promise<Outcome>;
}

export interface Result extends Outcome {
  id: string;
  chapter: number;
  title: string;
  group: string;
  /** How long the case took. */
  ms: number;
}

/** The most a case may take, in ms. Every wait inside a case stops at its deadline. */
export const CASE_TIME = 2_000;

const ok = (): Outcome => ({ verdict: "OK", detail: "" });
const nonStrict = (detail: string): Outcome => ({ verdict: "NON-STRICT", detail });
const failed = (detail: string): Outcome => ({ verdict: "FAILED", detail });

const utf8 = (text: string) => new TextEncoder().encode(text);
const deadline = () => Date.now() + CASE_TIME;

// ---------------------------------------------------------------------------
// Observing the server

/** What the server did instead of what the case wanted, in words. */
function whatHappened(client: Client): string {
  if (client.violation !== undefined) return client.violation;
  if (client.closeStatus !== undefined) {
    const { code, reason } = client.closeStatus;
    return `the server closed with ${code === CloseCode.NoStatusReceived ? "an empty close frame" : code}${reason === "" ? "" : ` ("${reason}")`}`;
  }
  const message = client.messages[0];
  if (message !== undefined) return `the server echoed a ${describeMessage(message)}`;
  if (client.closed) return `the server closed TCP without a close frame${client.socketError ? ` (${client.socketError})` : ""}`;
  return `the server did nothing within ${CASE_TIME / 1000} s`;
}

const describeMessage = (m: Message) => `${byteLength(m)}-byte ${m.type} message`;
const bytesOf = (m: Message) => (m.type === "text" ? utf8(m.data) : m.data);
const byteLength = (m: Message) => bytesOf(m).length;

/** Waits for the server to close TCP after a closing handshake; NON-STRICT if it does not (§7.1.1). */
async function serverClosesTcp(client: Client): Promise<Outcome> {
  if (await client.until(() => client.closed)) return ok();
  return nonStrict("the close frames were exchanged, but the server did not close TCP (§7.1.1: the server closes it first)");
}

/** The first message echoed must be `sent`, with its type (§5.6) and every byte. */
async function expectEcho(client: Client, sent: Message): Promise<Outcome> {
  await client.until(() => client.messages.length > 0 || client.over);
  const echo = client.messages[0];
  if (client.violation !== undefined) return failed(client.violation);
  if (echo === undefined) return failed(`no echo: ${whatHappened(client)}`);
  if (echo.type !== sent.type) {
    return failed(`the ${describeMessage(sent)} came back as ${echo.type}: an echo keeps its message's type (§5.6)`);
  }
  const [want, got] = [bytesOf(sent), bytesOf(echo)];
  if (got.length !== want.length) return failed(`the echo has ${got.length} bytes, the message had ${want.length}`);
  const at = want.findIndex((byte, i) => got[i] !== byte);
  if (at !== -1) return failed(`the echo differs from the message at byte ${at}: 0x${hex(got[at])} instead of 0x${hex(want[at])}`);
  return ok();
}

const hex = (byte: number | undefined) => (byte ?? 0).toString(16).padStart(2, "0");

/**
 * The server must fail the connection (§7.1.7): a close frame with `code`,
 * then TCP closed. `alsoAllowed` codes are NON-STRICT, and so is closing
 * TCP without a close frame (the RFC's SHOULD); anything else is FAILED.
 */
async function expectFailure(client: Client, code: number, alsoAllowed: number[] = []): Promise<Outcome> {
  await client.until(() => client.over || client.messages.length > 0);
  if (client.violation !== undefined) return failed(client.violation);
  const status = client.closeStatus;
  if (status !== undefined) {
    if (status.code !== code && !alsoAllowed.includes(status.code)) return failed(`${whatHappened(client)}, expected ${code}`);
    const tcp = await serverClosesTcp(client);
    if (status.code !== code) return nonStrict(`the server closed with ${status.code}; the strict code is ${code}`);
    return tcp;
  }
  if (client.messages.length > 0) return failed(`${whatHappened(client)} instead of failing the connection with ${code}`);
  if (client.closed) return nonStrict(`${whatHappened(client)}; §7.1.7: send one with ${code} first`);
  return failed(`${whatHappened(client)}: expected a close frame with ${code}`);
}

/** Opens a WebSocket, runs `body` on it, and always ends the client after. */
async function withClient(url: string, body: (client: Client) => Promise<Outcome>): Promise<Outcome> {
  const client = await Client.open(url, deadline());
  try {
    return await body(client);
  } finally {
    await client.finish();
  }
}

// ---------------------------------------------------------------------------
// Kinds of case. Each returns a Case; the list at the end reads as a table.

type CaseInfo = Omit<Case, "run">;

/** Sends `message` as one frame (or as the given frames) and expects it echoed. */
function echoCase(info: CaseInfo, message: Message, frames?: () => Uint8Array[]): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        if (frames === undefined) client.send({ opcode: message.type === "text" ? Opcode.Text : Opcode.Binary, payload: bytesOf(message) });
        else for (const bytes of frames()) client.write(bytes);
        return expectEcho(client, message);
      }),
  };
}

/** Sends `bytes` (one or more frames, possibly broken) and expects the connection failed with `code`. */
function failCase(info: CaseInfo, code: number, bytes: () => Uint8Array[], alsoAllowed: number[] = []): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        const chunks = bytes();
        for (const chunk of chunks) client.write(chunk);
        // A close frame of ours (even a broken one) must not be followed by another (§5.5.1).
        if (chunks.some((chunk) => ((chunk[0] ?? 0) & 0x0f) === Opcode.Close)) client.closeSent = true;
        return expectFailure(client, code, alsoAllowed);
      }),
  };
}

/** A masked client frame's bytes, built by the reference encoder (chapter 04). */
function frame(opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean; masked?: boolean } = {}): Uint8Array {
  const { masked = true, ...bits } = options;
  const bytes = typeof payload === "string" ? utf8(payload) : payload;
  return encodeFrame({ ...bits, opcode, payload: bytes, maskKey: masked ? createMaskKey() : undefined });
}

/**
 * A frame the reference encoder rightly refuses to build (a control frame
 * over 125 bytes, or fragmented): built as a binary frame with FIN set, then
 * its first byte (FIN, RSV, opcode) replaced.
 */
function forged(firstByte: number, payload: Uint8Array): Uint8Array {
  const bytes = frame(Opcode.Binary, payload);
  bytes[0] = firstByte;
  return bytes;
}

/** A close frame's payload with any code, even one no endpoint may send (chapter 06's encoder refuses those). */
function closePayload(code: number, reason: Uint8Array = new Uint8Array(0)): Uint8Array {
  const payload = new Uint8Array(2 + reason.length);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(reason, 2);
  return payload;
}

/** Sends a raw HTTP request and expects a refusal: a 4xx, `strict` exactly, and `header` if given. */
function refusalCase(info: CaseInfo, request: (url: string) => string, strict?: number, header?: { name: string; value: RegExp; rule: string }): Case {
  return {
    ...info,
    run: async (url) => {
      const client = await Client.connect(url, deadline());
      try {
        client.write(request(url));
        await client.until(() => client.response !== undefined || client.closed);
        return judgeRefusal(client.response, client.closed, strict, header);
      } finally {
        client.destroy();
      }
    },
  };
}

function judgeRefusal(response: HttpHead | undefined, closed: boolean, strict?: number, header?: { name: string; value: RegExp; rule: string }): Outcome {
  if (response === undefined) {
    return failed(closed ? "the server closed the connection without an HTTP response (§4.2.1: it must answer with an error status)" : `no HTTP response within ${CASE_TIME / 1000} s`);
  }
  if (response.status === 101) return failed("the server accepted it: 101 Switching Protocols");
  if (response.status < 400 || response.status > 499) return failed(`the server answered "${response.statusLine}", not a 4xx client error`);
  const value = header && response.headers[header.name.toLowerCase()];
  if (header && (value === undefined || !header.value.test(value))) {
    return failed(`"${response.statusLine}" ${value === undefined ? `without ${header.name}` : `with ${header.name}: ${value}`}: ${header.rule}`);
  }
  if (strict !== undefined && response.status !== strict) return nonStrict(`the server answered "${response.statusLine}"; the usual answer is ${strict}`);
  return ok();
}

/** Sends a close frame with `payload` and expects the server's close frame to satisfy `judge`, then TCP closed. */
function closeCase(info: CaseInfo, payload: Uint8Array, judge: (sent: Uint8Array, got: Uint8Array) => Outcome): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        client.send({ opcode: Opcode.Close, payload });
        await client.until(() => client.over);
        if (client.violation !== undefined) return failed(client.violation);
        if (client.closeFrame === undefined) {
          return failed(`${whatHappened(client)}: §5.5.1, an endpoint MUST answer a close frame with a close frame`);
        }
        const verdict = judge(payload, client.closeFrame.payload);
        const tcp = await serverClosesTcp(client);
        return verdict.verdict === "OK" ? tcp : verdict;
      }),
  };
}

/** The server's close frame echoes ours: the same code, the same reason. */
function echoedClose(sent: Uint8Array, got: Uint8Array): Outcome {
  if (sameBytes(sent, got)) return ok();
  const [sentCode, gotCode] = [codeOf(sent), codeOf(got)];
  // §5.5.1: the answer "typically echoes the status code"; echoing is usual, not required.
  if (gotCode === sentCode) return nonStrict(`the code ${gotCode} came back, the reason did not`);
  return nonStrict(`answered ${sentCode} with ${gotCode === undefined ? "an empty close frame" : gotCode}; the usual answer echoes the code (§5.5.1)`);
}

const codeOf = (payload: Uint8Array) => (payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : undefined);
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => b[i] === byte);

/** Writes `bytes` one byte per TCP write, with a pause between, so the server reads them one at a time. */
async function trickle(client: Client, bytes: Uint8Array): Promise<void> {
  for (const byte of bytes) {
    client.write(new Uint8Array([byte]));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Text of `size` ASCII bytes, varied, so a truncation or a shift shows. */
const sampleText = (size: number) => Array.from({ length: size }, (_, i) => String.fromCharCode(0x21 + ((i * 7) % 94))).join("");
/** Bytes of every value, so a byte lost or changed shows. */
const sampleBytes = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >> 8)) & 0xff);

// ---------------------------------------------------------------------------
// The cases

const MiB = 1024 * 1024;

const handshake: Case[] = [
  {
    id: "handshake-101",
    chapter: 2,
    group: "handshake",
    title: "a valid upgrade request gets 101 with the right Sec-WebSocket-Accept (§4.2.2)",
    run: (url) => withClient(url, async () => ok()),
  },
  refusalCase(
    { id: "handshake-no-upgrade", chapter: 2, group: "handshake", title: "a GET without Upgrade: websocket is refused with a 4xx (§4.2.1)" },
    (url) => upgradeRequest(url, { headers: { Upgrade: null } }),
  ),
  refusalCase(
    { id: "handshake-version", chapter: 2, group: "handshake", title: "Sec-WebSocket-Version: 99 is refused with 426 and Sec-WebSocket-Version: 13 (§4.4)" },
    // Not 8: a server may also speak the drafts' versions (§4.4); none speaks 99.
    (url) => upgradeRequest(url, { headers: { "Sec-WebSocket-Version": "99" } }),
    426,
    { name: "Sec-WebSocket-Version", value: /(^|,)\s*13\s*(,|$)/, rule: "§4.4 MUST: the refusal lists the versions the server speaks" },
  ),
  refusalCase(
    { id: "handshake-bad-key", chapter: 2, group: "handshake", title: "a Sec-WebSocket-Key that is not 16 bytes in base64 is refused with 400 (§4.2.1)" },
    (url) => upgradeRequest(url, { key: "not-a-key" }),
    400,
  ),
  refusalCase(
    { id: "handshake-post", chapter: 2, group: "handshake", title: "an upgrade request with POST is refused with a 4xx (§4.1: the handshake is a GET)" },
    (url) => upgradeRequest(url, { method: "POST", headers: { "Content-Length": "0" } }),
  ),
];

const framing: Case[] = [
  ...[0, 125, 126, 127, 65535, 65536, MiB].flatMap((size) => {
    const shown = size === MiB ? "1 MiB" : `${size}-byte`;
    const why = `§5.2: ${lengthEncoding(size)} length`;
    return [
      echoCase({ id: `echo-text-${size}`, chapter: 4, group: "framing", title: `a ${shown} text message is echoed as text (${why})` }, { type: "text", data: sampleText(size) }),
      echoCase({ id: `echo-binary-${size}`, chapter: 4, group: "framing", title: `a ${shown} binary message is echoed as binary (${why})` }, { type: "binary", data: sampleBytes(size) }),
    ];
  }),
  {
    id: "one-byte-writes",
    chapter: 4,
    group: "framing",
    title: "a message written one byte per TCP write is echoed (§5.2: any chunking gives the same frames)",
    run: (url) =>
      withClient(url, async (client) => {
        const message: Message = { type: "text", data: "one byte at a time: ✓" };
        await trickle(client, frame(Opcode.Text, message.data));
        return expectEcho(client, message);
      }),
  },
];

/** A ping with `payload` must be answered by a pong with the same payload (§5.5.2, §5.5.3). */
function pingCase(info: CaseInfo, payload: Uint8Array): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        client.send({ opcode: Opcode.Ping, payload });
        const pong = () => client.frames.find((f) => f.opcode === Opcode.Pong);
        await client.until(() => pong() !== undefined || client.over);
        const got = pong();
        if (got === undefined) return failed(`no pong: ${whatHappened(client)}`);
        if (!sameBytes(got.payload, payload)) return failed(`the pong carries ${got.payload.length} bytes that are not the ping's ${payload.length}`);
        return ok();
      }),
  };
}

const pings: Case[] = [
  pingCase({ id: "ping", chapter: 7, group: "ping", title: "a ping is answered with a pong carrying the same payload (§5.5.2, §5.5.3)" }, utf8("are you there?")),
  pingCase({ id: "ping-125", chapter: 7, group: "ping", title: "a 125-byte ping, the largest allowed, gets its pong (§5.5)" }, sampleBytes(125)),
  failCase(
    { id: "ping-126", chapter: 4, group: "ping", title: "a 126-byte ping fails with 1002 (§5.5: control frames carry at most 125 bytes)" },
    1002,
    () => [forged(0x89, sampleBytes(126))],
  ),
  echoCase(
    { id: "pong-unsolicited", chapter: 7, group: "ping", title: "an unsolicited pong is ignored (§5.5.3)" },
    { type: "text", data: "after the pong" },
    () => [frame(Opcode.Pong, "unsolicited"), frame(Opcode.Text, "after the pong")],
  ),
];

const reserved: Case[] = [
  ...(["rsv1", "rsv2", "rsv3"] as const).map((bit) =>
    failCase(
      { id: bit, chapter: 4, group: "reserved", title: `a frame with ${bit.toUpperCase()} set fails with 1002 (§5.2: no extension gave it a meaning)` },
      1002,
      () => [frame(Opcode.Text, "Hello", { [bit]: true })],
    ),
  ),
  ...[0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) =>
    failCase(
      { id: `opcode-0x${opcode.toString(16)}`, chapter: 4, group: "reserved", title: `a frame with reserved opcode 0x${opcode.toString(16)} fails with 1002 (§5.2)` },
      1002,
      // Reserved data opcodes (3-7) carry a payload; reserved control ones (B-F) none.
      () => [frame(opcode, opcode < 0x8 ? "?" : "")],
    ),
  ),
];

const fragmentation: Case[] = [
  echoCase(
    { id: "fragments-text", chapter: 5, group: "fragmentation", title: "a text message in 3 fragments is echoed whole (§5.4)" },
    { type: "text", data: "Hello, fragmented world" },
    () => [frame(Opcode.Text, "Hello, ", { fin: false }), frame(Opcode.Continuation, "fragmented", { fin: false }), frame(Opcode.Continuation, " world")],
  ),
  echoCase(
    { id: "fragments-binary", chapter: 5, group: "fragmentation", title: "a binary message in 10 fragments, one of them empty, is echoed whole (§5.4)" },
    { type: "binary", data: sampleBytes(999) },
    () => {
      // Nine pieces of 111 bytes, and an empty fragment in the middle (it is allowed, §5.4).
      const pieces = Array.from({ length: 9 }, (_, i) => sampleBytes(999).subarray(i * 111, (i + 1) * 111));
      pieces.splice(4, 0, new Uint8Array(0));
      return pieces.map((piece, i) => frame(i === 0 ? Opcode.Binary : Opcode.Continuation, piece, { fin: i === pieces.length - 1 }));
    },
  ),
  {
    id: "fragments-control-between",
    chapter: 5,
    group: "fragmentation",
    title: "a ping and a pong between fragments: the ping is answered, the message echoed whole (§5.4, §5.5)",
    run: (url) =>
      withClient(url, async (client) => {
        client.write(frame(Opcode.Text, "Hel", { fin: false }));
        client.write(frame(Opcode.Ping, "between"));
        client.write(frame(Opcode.Pong, "unsolicited"));
        client.write(frame(Opcode.Continuation, "lo"));
        const echo = await expectEcho(client, { type: "text", data: "Hello" });
        if (echo.verdict !== "OK") return echo;
        const pong = client.frames.find((f) => f.opcode === Opcode.Pong);
        if (pong === undefined || new TextDecoder().decode(pong.payload) !== "between") return failed("the message was echoed, but the ping between its fragments got no pong (§5.5.2)");
        return ok();
      }),
  },
  failCase(
    { id: "fragments-continuation-first", chapter: 5, group: "fragmentation", title: "a continuation frame with no message to continue fails with 1002 (§5.4)" },
    1002,
    () => [frame(Opcode.Continuation, "orphan")],
  ),
  failCase(
    { id: "fragments-new-message-inside", chapter: 5, group: "fragmentation", title: "a text frame inside a fragmented message fails with 1002 (§5.4: messages do not interleave)" },
    1002,
    () => [frame(Opcode.Text, "Hel", { fin: false }), frame(Opcode.Text, "lo")],
  ),
  failCase(
    { id: "fragments-ping", chapter: 4, group: "fragmentation", title: "a fragmented ping (FIN clear) fails with 1002 (§5.5: control frames are never fragmented)" },
    1002,
    () => [forged(0x09, utf8("half a ping"))],
  ),
];

/** 1007 for invalid UTF-8 (§8.1). */
const badUtf8 = (info: Omit<CaseInfo, "chapter" | "group">, bytes: () => Uint8Array[]) => failCase({ ...info, chapter: 5, group: "utf-8" }, 1007, bytes);

const textUtf8: Case[] = [
  echoCase({ id: "utf8-valid", chapter: 5, group: "utf-8", title: "text with 2-, 3- and 4-byte code points is echoed (§5.6)" }, { type: "text", data: "κόσμε · 你好 · 🎉 · €" }),
  badUtf8({ id: "utf8-surrogate", title: "text holding a UTF-16 surrogate (ED A0 80) fails with 1007 (§8.1)" }, () => [
    frame(Opcode.Text, Uint8Array.of(0x68, 0x69, 0xed, 0xa0, 0x80)),
  ]),
  badUtf8({ id: "utf8-overlong", title: "text holding an overlong encoding (C0 AF for '/') fails with 1007 (§8.1)" }, () => [
    frame(Opcode.Text, Uint8Array.of(0x2e, 0x2e, 0xc0, 0xaf)),
  ]),
  echoCase(
    { id: "utf8-split-code-point", chapter: 5, group: "utf-8", title: "a code point split across fragments is valid (§5.6: the message is UTF-8, not each frame)" },
    { type: "text", data: "price: €" },
    () => [frame(Opcode.Text, Uint8Array.of(...utf8("price: "), 0xe2, 0x82), { fin: false }), frame(Opcode.Continuation, Uint8Array.of(0xac))],
  ),
  {
    id: "utf8-invalid-later-fragment",
    chapter: 5,
    group: "utf-8",
    title: "invalid UTF-8 in a later fragment fails with 1007, without waiting for the last one (§8.1)",
    run: (url) =>
      withClient(url, async (client) => {
        client.write(frame(Opcode.Text, "valid so far, ", { fin: false }));
        client.write(frame(Opcode.Continuation, Uint8Array.of(0x62, 0x75, 0x74, 0xff), { fin: false }));
        // Fail fast: the bad byte is enough, the message need not end (Autobahn's case 6.4).
        if (await client.until(() => client.over, CASE_TIME / 2)) return expectFailure(client, 1007);
        client.write(frame(Opcode.Continuation, "end"));
        const late = await expectFailure(client, 1007);
        if (late.verdict === "FAILED") return late;
        return nonStrict("1007 came only once the message ended; the bad byte alone is enough to fail (§8.1)");
      }),
  },
  badUtf8({ id: "utf8-truncated", title: "text that ends in the middle of a code point fails with 1007 (§8.1)" }, () => [
    frame(Opcode.Text, Uint8Array.of(...utf8("cut: "), 0xf0, 0x9f, 0x8e)),
  ]),
];

/** Why a close code may not be sent (§7.4.1, §7.4.2). */
function whyInvalid(code: number): string {
  if (code < 1000) return "below 1000, not a close code";
  if (code === 1004) return "reserved";
  if (code === 1005 || code === 1006 || code === 1015) return "only for APIs to report, never sent";
  if (code <= 2999) return "reserved for the protocol, unassigned";
  return "above 4999, not a close code";
}

const closing: Case[] = [
  ...[1000, 1001, 3000, 4999].map((code) =>
    closeCase(
      { id: `close-${code}`, chapter: 7, group: "close", title: `a close with ${code} is answered with ${code}, then the server closes TCP (§5.5.1, §7.1.1)` },
      closePayload(code),
      echoedClose,
    ),
  ),
  closeCase(
    { id: "close-empty", chapter: 7, group: "close", title: "an empty close frame is answered with an empty one or 1000 (§5.5.1, §7.1.5)" },
    new Uint8Array(0),
    (_, got) => (got.length === 0 || codeOf(got) === 1000 ? ok() : nonStrict(`answered with ${codeOf(got) ?? "a 1-byte payload"}, not an empty close or 1000`)),
  ),
  closeCase(
    { id: "close-reason", chapter: 7, group: "close", title: "a close's reason comes back with its code (§5.5.1)" },
    closePayload(1000, utf8("bye: ünïcödé ✓")),
    echoedClose,
  ),
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000].map((code) =>
    failCase(
      { id: `close-invalid-${code}`, chapter: 6, group: "close", title: `a close with code ${code} fails with 1002 (§7.4: ${whyInvalid(code)})` },
      1002,
      () => [frame(Opcode.Close, closePayload(code))],
    ),
  ),
  failCase(
    { id: "close-1-byte", chapter: 6, group: "close", title: "a close frame with a 1-byte payload fails with 1002 (§5.5.1: a code takes 2 bytes)" },
    1002,
    () => [frame(Opcode.Close, Uint8Array.of(0x03))],
  ),
  failCase(
    { id: "close-reason-invalid-utf8", chapter: 6, group: "close", title: "a close reason that is not UTF-8 fails with 1007 (§5.5.1, §8.1)" },
    1007,
    () => [frame(Opcode.Close, closePayload(1000, Uint8Array.of(0x62, 0x79, 0x65, 0xc3, 0x28)))],
  ),
];

/** A header announcing `length` bytes in the 64-bit field, masked, with no payload after it. */
function header64(length: bigint): Uint8Array {
  const bytes = new Uint8Array(14);
  bytes[0] = 0x82; // FIN, binary
  bytes[1] = 0x80 | 127; // MASK, 64-bit length follows
  new DataView(bytes.buffer).setBigUint64(2, length);
  bytes.set(createMaskKey(), 10);
  return bytes;
}

const limits: Case[] = [
  failCase(
    { id: "unmasked", chapter: 7, group: "limits", title: "an unmasked client frame fails with 1002 (§5.1)" },
    1002,
    () => [frame(Opcode.Text, "Hello", { masked: false })],
  ),
  {
    id: "length-2^63-1",
    chapter: 4,
    group: "limits",
    title: "a frame claiming 2^63 - 1 bytes fails with 1009 at once, and the server keeps serving (§7.4.1, §10.4)",
    run: async (url) => {
      const outcome = await withClient(url, async (client) => {
        client.write(header64(2n ** 63n - 1n));
        return expectFailure(client, 1009, [1002]);
      });
      if (outcome.verdict === "FAILED") return outcome;
      const survived = await withClient(url, (client) => {
        client.send({ opcode: Opcode.Text, payload: utf8("still there?") });
        return expectEcho(client, { type: "text", data: "still there?" });
      }).catch((error: Error) => failed(error.message));
      return survived.verdict === "OK" ? outcome : failed(`the server did not survive it: ${survived.detail}`);
    },
  },
  failCase(
    { id: "length-top-bit", chapter: 4, group: "limits", title: "a 64-bit length with its most significant bit set fails with 1002 (§5.2)" },
    1002,
    () => [header64(2n ** 63n + 5n)],
    [1009],
  ),
];

/** Runs after every other case: the faults above must not have hurt anyone else. */
const afterFaults: Case = echoCase(
  { id: "fresh-client", chapter: 8, group: "after the faults", title: "after all the faults above, a fresh client is still echoed (§7.1.7: failing a connection affects only that one)" },
  { type: "text", data: "anyone home?" },
);

/** Every case, in the order they are printed; `fresh-client` runs last, alone. */
export const cases: readonly Case[] = [...handshake, ...framing, ...pings, ...reserved, ...fragmentation, ...textUtf8, ...closing, ...limits, afterFaults];

// ---------------------------------------------------------------------------
// Running

/** Runs one case within its bound, turning anything it throws into FAILED. */
async function runCase(c: Case, url: string): Promise<Result> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  // A safety net above the case's own deadline: a bug in a case must not hang the run.
  const bound = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve(failed(`the case did not finish within ${(CASE_TIME + 1_000) / 1000} s`)), CASE_TIME + 1_000);
  });
  const outcome = await Promise.race([c.run(url).catch((error: Error) => failed(error.message)), bound]);
  clearTimeout(timer);
  const { run: _run, ...info } = c;
  return { ...info, ...outcome, ms: Date.now() - started };
}

export interface RunOptions {
  /** How many cases run at once (each on its own connection). Default 16. */
  concurrency?: number;
  /** Called with each result, in the order of `cases`, as soon as it and all before it are done. */
  onResult?: (result: Result) => void;
}

/**
 * Runs every case against the echo server at `url` (ws://) and returns the
 * results in the order of `cases`. The opening handshake goes first: if a
 * valid request does not get its 101, the cases that need a WebSocket are
 * reported FAILED without being run (each would only wait out its 2 s).
 */
export async function runConformance(url: string, options: RunOptions = {}): Promise<Result[]> {
  if (new URL(url).protocol !== "ws:") throw new Error(`the conformance runner speaks ws://, not ${url}`);
  const { concurrency = 16, onResult } = options;
  const results: Result[] = [];
  let reported = 0;
  // (The counter moves outside the call: `onResult?.(x++)` skips `x++` when there is no onResult.)
  const report = () => {
    for (; results[reported] !== undefined; reported++) onResult?.(results[reported]!);
  };

  const [gate, ...rest] = cases;
  results[0] = await runCase(gate!, url);
  report();
  const skip = results[0].verdict === "FAILED" ? `not run: ${gate!.id} failed (${results[0].detail})` : undefined;

  const pool = rest.slice(0, -1); // all but `fresh-client`
  let next = 0;
  const worker = async () => {
    while (next < pool.length) {
      const index = next++;
      const c = pool[index]!;
      results[index + 1] = skip !== undefined && c.group !== "handshake" ? notRun(c, skip) : await runCase(c, url);
      report();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  const last = cases.at(-1)!;
  results[cases.length - 1] = skip !== undefined ? notRun(last, skip) : await runCase(last, url);
  report();
  return results;
}

function notRun(c: Case, why: string): Result {
  const { run: _run, ...info } = c;
  return { ...info, verdict: "FAILED", detail: why, ms: 0 };
}

// ---------------------------------------------------------------------------
// Reporting

/** "chapter 04 · Frames" */
export function chapterLabel(chapter: number): string {
  const title = curriculum.find((c) => c.number === chapter)?.title ?? "";
  return `chapter ${String(chapter).padStart(2, "0")} · ${title}`;
}

/**
 * One line per case: the verdict, the id, the rule; and for a case that is
 * not OK, what the server did; for a FAILED one, the chapter to look in.
 */
export function formatResult(r: Result): string {
  const head = `${r.verdict.padEnd(10)}  ${r.id.padEnd(30)}`;
  if (r.verdict === "OK") return `${head}  ${r.title}`;
  if (r.verdict === "NON-STRICT") return `${head}  ${r.title} — ${r.detail}`;
  return `${head}  ${chapterLabel(r.chapter)}: ${r.title} — ${r.detail}`;
}

/** "70 cases: 68 OK, 1 non-strict, 1 failed" */
export function summary(results: readonly Result[]): string {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  return `${results.length} cases: ${count("OK")} OK, ${count("NON-STRICT")} non-strict, ${count("FAILED")} failed`;
}
