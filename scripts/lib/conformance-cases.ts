/**
 * The cases of `npm run conformance`, by group, at the breadth of the
 * Autobahn test suite's fuzzingclient for an echo server (its numbers are
 * given where a group follows one of its sections): the opening handshake,
 * framing and lengths, pings and pongs (2.x), reserved bits (3.x) and
 * opcodes (4.x), fragmentation (5.x), UTF-8 with fail-fast per TCP read
 * (6.x), closing (7.x), large messages and fragment sizes (9.x, 10.x), and
 * limits. The "order" group holds the situations a sans-I/O core gets wrong
 * when a TCP read holds more than one thing: valid frames then a violation,
 * a message then a close, a close then anything.
 *
 * Each case is one row: its id, the chapter to look at, the rule with its
 * RFC section, and how it is run and judged (the kinds are in conformance-kit.ts).
 */
import { Opcode } from "../../lib/frame.ts";
import type { Message } from "../../lib/message.ts";
import { lengthEncoding } from "../../lib/trace.ts";
import { createMaskKey } from "../../solutions/03-masking.ts";
import { Client, upgradeRequest } from "./conformance-client.ts";
import {
  bytesOf,
  type Case,
  type CaseInfo,
  closeCase,
  closePayload,
  codeOf,
  deadline,
  echoCase,
  echoedClose,
  expectEcho,
  expectFailure,
  failCase,
  failed,
  failFastCase,
  forged,
  frame,
  ok,
  nonStrict,
  orderCase,
  refusalCase,
  sameBytes,
  sampleBytes,
  sampleText,
  SLOW_CASE_TIME,
  trickle,
  utf8,
  whatHappened,
  withClient,
  writeAll,
} from "./conformance-kit.ts";

const MiB = 1024 * 1024;
const KiB = 1024;

const shownSize = (size: number) => (size >= MiB ? `${size / MiB} MiB` : size >= KiB ? `${size / KiB} KiB` : `${size}-byte`);
const text = (data: string): Message => ({ type: "text", data });

/** `message` cut into frames of at most `size` payload bytes (§5.4), masked. */
function fragments(message: Message, size: number): Uint8Array[] {
  const payload = bytesOf(message);
  const out: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < payload.length; at += size) {
    const piece = payload.subarray(at, Math.min(at + size, payload.length));
    const opcode = at === 0 ? (message.type === "text" ? Opcode.Text : Opcode.Binary) : Opcode.Continuation;
    out.push(frame(opcode, piece, { fin: at + size >= payload.length }));
  }
  return out;
}

/** `bytes` cut into TCP writes of `size` bytes. */
function chops(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

const join = (parts: Uint8Array[]) => Buffer.concat(parts);
/** A case whose bytes go one per TCP write: it may take longer, and runs with the slow ones. */
const slow = (c: Case): Case => ({ ...c, time: SLOW_CASE_TIME });

// ---------------------------------------------------------------------------

const handshake: Case[] = [
  {
    id: "handshake-101",
    chapter: 2,
    group: "handshake",
    title: "a valid upgrade request gets 101 with the right Sec-WebSocket-Accept (§4.2.2)",
    run: (url) => withClient(url, async () => ok()),
  },
  {
    id: "handshake-case",
    chapter: 2,
    group: "handshake",
    title: "Upgrade: WebSocket and Connection: keep-alive, Upgrade are accepted (§4.2.1: case-insensitive, a list)",
    run: async (url) => {
      const client = await Client.connect(url, deadline());
      try {
        client.write(upgradeRequest(url, { headers: { Upgrade: "WebSocket", Connection: "keep-alive, Upgrade" } }));
        await client.until(() => client.response !== undefined || client.closed);
        if (client.response?.status === 101) return ok();
        return failed(`answered ${client.response?.statusLine ?? "nothing"}: header values are case-insensitive and Connection is a list (§4.2.1, RFC 9110 §7.6.1)`);
      } finally {
        client.destroy();
      }
    },
  },
  {
    id: "handshake-head-frames",
    chapter: 8,
    group: "handshake",
    title: "frames written right behind the upgrade request, in the same write, are read and echoed (§4.2.2, §5.2)",
    run: async (url) => {
      const client = await Client.connect(url, deadline());
      try {
        client.write(join([Buffer.from(upgradeRequest(url), "latin1"), frame(Opcode.Text, "with the request")]));
        await client.until(() => client.messages.length > 0 || client.over);
        if (client.response?.status !== 101) return failed(`no 101: ${client.response?.statusLine ?? "nothing"}`);
        return expectEcho(client, text("with the request"));
      } finally {
        client.destroy();
      }
    },
  },
  refusalCase(
    { id: "handshake-no-upgrade", chapter: 2, group: "handshake", title: "a GET without Upgrade: websocket is refused with a 4xx (§4.2.1)" },
    (url) => upgradeRequest(url, { headers: { Upgrade: null } }),
  ),
  refusalCase(
    { id: "handshake-no-connection", chapter: 2, group: "handshake", title: "a GET without Connection: Upgrade is refused with a 4xx (§4.2.1)" },
    (url) => upgradeRequest(url, { headers: { Connection: null } }),
  ),
  refusalCase(
    { id: "handshake-version", chapter: 2, group: "handshake", title: "Sec-WebSocket-Version: 99 is refused with 426 and Sec-WebSocket-Version: 13 (§4.4)" },
    // Not 8: a server may also speak the drafts' versions (§4.4); none speaks 99.
    (url) => upgradeRequest(url, { headers: { "Sec-WebSocket-Version": "99" } }),
    426,
    { name: "Sec-WebSocket-Version", value: /(^|,)\s*13\s*(,|$)/, rule: "§4.4 MUST: the refusal lists the versions the server speaks" },
  ),
  refusalCase(
    { id: "handshake-no-version", chapter: 2, group: "handshake", title: "a request without Sec-WebSocket-Version is refused with a 4xx (§4.2.1)" },
    (url) => upgradeRequest(url, { headers: { "Sec-WebSocket-Version": null } }),
  ),
  refusalCase(
    { id: "handshake-bad-key", chapter: 2, group: "handshake", title: "a Sec-WebSocket-Key that is not 16 bytes in base64 is refused with 400 (§4.2.1)" },
    (url) => upgradeRequest(url, { key: "not-a-key" }),
    400,
  ),
  refusalCase(
    { id: "handshake-short-key", chapter: 2, group: "handshake", title: "a Sec-WebSocket-Key of 15 bytes in base64 is refused with 400 (§4.1: the nonce is 16 bytes)" },
    (url) => upgradeRequest(url, { key: Buffer.alloc(15, 7).toString("base64") }),
    400,
  ),
  refusalCase(
    { id: "handshake-no-key", chapter: 2, group: "handshake", title: "a request without Sec-WebSocket-Key is refused with 400 (§4.2.1)" },
    (url) => upgradeRequest(url, { headers: { "Sec-WebSocket-Key": null } }),
    400,
  ),
  refusalCase(
    { id: "handshake-no-host", chapter: 2, group: "handshake", title: "a request without Host is refused with 400 (§4.2.1, RFC 9112 §3.2)" },
    (url) => upgradeRequest(url, { headers: { Host: null } }),
    400,
  ),
  refusalCase(
    { id: "handshake-http-1.0", chapter: 2, group: "handshake", title: "an upgrade request in HTTP/1.0 is refused with a 4xx (§4.2.1: HTTP/1.1 or higher)" },
    (url) => upgradeRequest(url).replace(" HTTP/1.1\r\n", " HTTP/1.0\r\n"),
  ),
  refusalCase(
    { id: "handshake-post", chapter: 2, group: "handshake", title: "an upgrade request with POST is refused with a 4xx (§4.1: the handshake is a GET)" },
    (url) => upgradeRequest(url, { method: "POST", headers: { "Content-Length": "0" } }),
  ),
];

const framing: Case[] = [
  ...[0, 1, 125, 126, 127, 128, 65535, 65536].flatMap((size) => {
    const why = `§5.2: ${lengthEncoding(size)} length`;
    return [
      echoCase({ id: `echo-text-${size}`, chapter: 4, group: "framing", title: `a ${shownSize(size)} text message is echoed as text (${why})` }, text(sampleText(size))),
      echoCase({ id: `echo-binary-${size}`, chapter: 4, group: "framing", title: `a ${shownSize(size)} binary message is echoed as binary (${why})` }, { type: "binary", data: sampleBytes(size) }),
    ];
  }),
  {
    id: "one-byte-writes",
    time: SLOW_CASE_TIME,
    chapter: 4,
    group: "framing",
    title: "a message written one byte per TCP write is echoed (§5.2: any chunking gives the same frames)",
    run: (url) =>
      withClient(url, async (client) => {
        const message = text("one byte at a time: ✓");
        await trickle(client, frame(Opcode.Text, message.data));
        return expectEcho(client, message);
      }),
  },
  {
    id: "many-frames-one-write",
    chapter: 4,
    group: "framing",
    title: "100 messages in one TCP write are echoed, in order (§5.2: a read may hold many frames)",
    run: (url) =>
      withClient(url, async (client) => {
        const messages = Array.from({ length: 100 }, (_, i) => text(`message ${i}`));
        client.write(join(messages.map((m) => frame(Opcode.Text, m.data))));
        await client.until(() => client.messages.length >= 100 || client.over);
        const at = messages.findIndex((m, i) => client.messages[i]?.type !== "text" || client.messages[i]?.data !== m.data);
        if (at !== -1) return failed(`message ${at} did not come back as sent (${client.messages.length} echoes): ${whatHappened(client)}`);
        return ok();
      }),
  },
];

/** A ping with `payload` must be answered by a pong with the same payload (§5.5.2, §5.5.3). */
function pingCase(info: CaseInfo, payload: Uint8Array, write?: (client: Parameters<typeof trickle>[0], bytes: Uint8Array) => Promise<void>): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        const bytes = frame(Opcode.Ping, payload);
        if (write === undefined) client.write(bytes);
        else await write(client, bytes);
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
  pingCase({ id: "ping-empty", chapter: 7, group: "ping", title: "an empty ping is answered with an empty pong (§5.5.2; Autobahn 2.1)" }, new Uint8Array(0)),
  pingCase({ id: "ping", chapter: 7, group: "ping", title: "a ping is answered with a pong carrying the same payload (§5.5.2, §5.5.3; 2.2)" }, utf8("are you there?")),
  pingCase({ id: "ping-binary", chapter: 7, group: "ping", title: "a ping with bytes that are not text gets them back (§5.5.3; 2.3)" }, Uint8Array.of(0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff)),
  pingCase({ id: "ping-125", chapter: 7, group: "ping", title: "a 125-byte ping, the largest allowed, gets its pong (§5.5; 2.4)" }, sampleBytes(125)),
  failCase(
    { id: "ping-126", chapter: 4, group: "ping", title: "a 126-byte ping fails with 1002 (§5.5: control frames carry at most 125 bytes; 2.5)" },
    1002,
    () => [forged(0x89, sampleBytes(126))],
  ),
  slow(pingCase(
    { id: "ping-one-byte-writes", chapter: 4, group: "ping", title: "a 125-byte ping written one byte per TCP write gets its pong (§5.2; 2.6)" },
    sampleBytes(125),
    trickle,
  )),
  echoCase(
    { id: "pong-unsolicited", chapter: 7, group: "ping", title: "an unsolicited pong is ignored (§5.5.3; 2.7)" },
    text("after the pong"),
    () => [frame(Opcode.Pong, "unsolicited"), frame(Opcode.Text, "after the pong")],
  ),
  echoCase(
    { id: "pong-unsolicited-payload", chapter: 7, group: "ping", title: "an unsolicited pong with a payload is ignored (§5.5.3; 2.8)" },
    text("after the pong"),
    () => [frame(Opcode.Pong, sampleBytes(125)), frame(Opcode.Text, "after the pong")],
  ),
  {
    id: "ping-ten",
    chapter: 7,
    group: "ping",
    title: "10 pings in one write get 10 pongs, in order (§5.5.2: each MUST be answered; 2.10)",
    run: (url) =>
      withClient(url, async (client) => {
        const payloads = Array.from({ length: 10 }, (_, i) => utf8(`ping ${i}`));
        client.write(join(payloads.map((p) => frame(Opcode.Ping, p))));
        const pongs = () => client.frames.filter((f) => f.opcode === Opcode.Pong);
        await client.until(() => pongs().length >= 10 || client.over);
        const got = pongs();
        // §5.5.3 lets an endpoint answer only the most recent of several pings it has not answered yet.
        if (got.length > 0 && got.length < 10 && sameBytes(got.at(-1)!.payload, payloads[9]!)) {
          return nonStrict(`${got.length} pongs for 10 pings, the last one answered: allowed (§5.5.3), not strict`);
        }
        const at = payloads.findIndex((p, i) => got[i] === undefined || !sameBytes(got[i]!.payload, p));
        if (at !== -1) return failed(`pong ${at} is missing or carries another payload (${got.length} pongs): §5.5.2`);
        return ok();
      }),
  },
];

/** A frame with `bits` set in its first byte's RSV field (0x40, 0x20, 0x10). */
function withRsv(bytes: Uint8Array, bits: number): Uint8Array {
  bytes[0] = bytes[0]! | bits;
  return bytes;
}

const hello = () => frame(Opcode.Text, "Hello");
const ping = () => frame(Opcode.Ping, "ping");

const reserved: Case[] = [
  ...([["rsv1", 0x40], ["rsv2", 0x20], ["rsv3", 0x10]] as const).map(([bit, mask]) =>
    failCase(
      { id: bit, chapter: 4, group: "reserved", title: `a text frame with ${bit.toUpperCase()} set fails with 1002 (§5.2: no extension gave it a meaning; 3.1)` },
      1002,
      () => [withRsv(frame(Opcode.Text, "Hello"), mask)],
    ),
  ),
  orderCase(
    { id: "rsv2-after-message", chapter: 7, group: "reserved", title: "a message then a frame with RSV2, in one write: the echo, then 1002 (§5.2, §5.4; 3.2)" },
    () => [join([hello(), withRsv(hello(), 0x20), ping()])],
    [text("Hello")],
    { fail: 1002 },
  ),
  orderCase(
    { id: "rsv3-frame-writes", chapter: 7, group: "reserved", title: "a message, a frame with RSV3, a ping, one write each: the echo, then 1002, no pong (3.3)" },
    () => [hello(), withRsv(hello(), 0x10), ping()],
    [text("Hello")],
    { fail: 1002 },
    20,
  ),
  failCase(
    { id: "rsv-binary", chapter: 4, group: "reserved", title: "a binary frame with RSV1 and RSV3 set fails with 1002 (§5.2; 3.5)" },
    1002,
    () => [withRsv(frame(Opcode.Binary, sampleBytes(8)), 0x50)],
  ),
  failCase(
    { id: "rsv-ping", chapter: 4, group: "reserved", title: "a ping with RSV2 and RSV3 set fails with 1002, unanswered (§5.2; 3.6)" },
    1002,
    () => [withRsv(frame(Opcode.Ping, "ping"), 0x30)],
  ),
  failCase(
    { id: "rsv-close", chapter: 4, group: "reserved", title: "a close frame with all RSV bits set fails with 1002 (§5.2; 3.7)" },
    1002,
    () => [withRsv(frame(Opcode.Close, closePayload(1000)), 0x70)],
  ),
  ...[0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) =>
    failCase(
      { id: `opcode-0x${opcode.toString(16)}`, chapter: 4, group: "reserved", title: `a frame with reserved opcode 0x${opcode.toString(16)} fails with 1002 (§5.2; 4.${opcode < 8 ? 1 : 2}.x)` },
      1002,
      // Reserved data opcodes (3-7) carry a payload; reserved control ones (B-F) none.
      () => [frame(opcode, opcode < 0x8 ? "?" : "")],
    ),
  ),
  orderCase(
    { id: "opcode-after-message", chapter: 7, group: "reserved", title: "a message, a reserved data opcode 0x5, a ping, in one write: the echo, then 1002 (4.1.3)" },
    () => [join([hello(), frame(0x5, "?"), ping()])],
    [text("Hello")],
    { fail: 1002 },
  ),
  orderCase(
    { id: "opcode-control-after-message", chapter: 7, group: "reserved", title: "a message, a reserved control opcode 0xB, a ping, in one write: the echo, then 1002 (4.2.3)" },
    () => [join([hello(), frame(0xb, ""), ping()])],
    [text("Hello")],
    { fail: 1002 },
  ),
  slow(orderCase(
    { id: "opcode-one-byte-writes", chapter: 7, group: "reserved", title: "a message, opcode 0xC, a ping, one byte per write: the echo, then 1002 (4.2.4)" },
    () => chops(join([hello(), frame(0xc, ""), ping()]), 1),
    [text("Hello")],
    { fail: 1002 },
    2,
  )),
];

const fragmentation: Case[] = [
  failCase(
    { id: "fragments-ping", chapter: 4, group: "fragmentation", title: "a ping in two fragments fails with 1002 (§5.5: control frames are never fragmented; 5.1)" },
    1002,
    () => [forged(0x09, utf8("half a ping")), forged(0x80, utf8("the rest"))],
  ),
  failCase(
    { id: "fragments-pong", chapter: 4, group: "fragmentation", title: "a pong in two fragments fails with 1002 (§5.5; 5.2)" },
    1002,
    () => [forged(0x0a, utf8("half a pong")), forged(0x80, utf8("the rest"))],
  ),
  echoCase(
    { id: "fragments-text", chapter: 5, group: "fragmentation", title: "a text message in 3 fragments is echoed whole (§5.4; 5.3)" },
    text("Hello, fragmented world"),
    () => [frame(Opcode.Text, "Hello, ", { fin: false }), frame(Opcode.Continuation, "fragmented", { fin: false }), frame(Opcode.Continuation, " world")],
  ),
  slow(echoCase(
    { id: "fragments-text-one-byte-writes", chapter: 5, group: "fragmentation", title: "a text message in 2 fragments, one byte per write, is echoed whole (§5.4; 5.5)" },
    text("fragment1fragment2"),
    () => chops(join([frame(Opcode.Text, "fragment1", { fin: false }), frame(Opcode.Continuation, "fragment2")]), 1),
  )),
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
  echoCase(
    { id: "fragments-empty", chapter: 5, group: "fragmentation", title: "a text message made of 3 empty fragments is echoed as an empty text message (§5.4; 6.1.2)" },
    text(""),
    () => [frame(Opcode.Text, "", { fin: false }), frame(Opcode.Continuation, "", { fin: false }), frame(Opcode.Continuation, "")],
  ),
  {
    id: "fragments-control-between",
    chapter: 5,
    group: "fragmentation",
    title: "a ping and a pong between fragments: the ping is answered, the message echoed whole (§5.4, §5.5; 5.6, 5.8)",
    run: (url) =>
      withClient(url, async (client) => {
        client.write(frame(Opcode.Text, "Hel", { fin: false }));
        client.write(frame(Opcode.Ping, "between"));
        client.write(frame(Opcode.Pong, "unsolicited"));
        client.write(frame(Opcode.Continuation, "lo"));
        const echo = await expectEcho(client, text("Hello"));
        if (echo.verdict !== "OK") return echo;
        const pong = client.frames.find((f) => f.opcode === Opcode.Pong);
        if (pong === undefined || new TextDecoder().decode(pong.payload) !== "between") return failed("the message was echoed, but the ping between its fragments got no pong (§5.5.2)");
        return ok();
      }),
  },
  {
    id: "fragments-ping-one-byte-writes",
    time: SLOW_CASE_TIME,
    chapter: 5,
    group: "fragmentation",
    title: "a ping between two fragments, all written one byte per write: pong, then the echo (§5.4; 5.7)",
    run: (url) =>
      withClient(url, async (client) => {
        await trickle(client, join([frame(Opcode.Text, "fragment1", { fin: false }), frame(Opcode.Ping, "ping"), frame(Opcode.Continuation, "fragment2")]));
        const echo = await expectEcho(client, text("fragment1fragment2"));
        if (echo.verdict !== "OK") return echo;
        return client.frames.some((f) => f.opcode === Opcode.Pong) ? ok() : failed("no pong for the ping between the fragments (§5.5.2)");
      }),
  },
  echoCase(
    { id: "fragments-pings-between-each", chapter: 5, group: "fragmentation", title: "a text message in 5 fragments with a ping between each is echoed whole (§5.4; 5.19)" },
    text("fragment1fragment2fragment3fragment4fragment5"),
    () =>
      [1, 2, 3, 4, 5].flatMap((n) => [
        frame(n === 1 ? Opcode.Text : Opcode.Continuation, `fragment${n}`, { fin: n === 5 }),
        ...(n < 5 ? [frame(Opcode.Ping, `pong${n}`)] : []),
      ]),
  ),
  failCase(
    { id: "fragments-continuation-first", chapter: 5, group: "fragmentation", title: "a continuation frame with no message to continue fails with 1002 (§5.4; 5.9)" },
    1002,
    () => [frame(Opcode.Continuation, "orphan")],
  ),
  failCase(
    { id: "fragments-continuation-first-not-fin", chapter: 5, group: "fragmentation", title: "a continuation with FIN clear and nothing to continue fails with 1002 (§5.4; 5.12)" },
    1002,
    () => [frame(Opcode.Continuation, "orphan", { fin: false }), frame(Opcode.Text, "Hello")],
  ),
  failCase(
    { id: "fragments-new-message-inside", chapter: 5, group: "fragmentation", title: "a text frame inside a fragmented message fails with 1002 (§5.4: messages do not interleave; 5.18)" },
    1002,
    () => [frame(Opcode.Text, "Hel", { fin: false }), frame(Opcode.Text, "lo")],
  ),
  failCase(
    { id: "fragments-reserved-inside", chapter: 5, group: "fragmentation", title: "a reserved opcode inside a fragmented message fails with 1002, it is no continuation (§5.2, §5.4)" },
    1002,
    () => [frame(Opcode.Text, "Hel", { fin: false }), frame(0x3, "lo")],
  ),
  orderCase(
    { id: "fragments-orphan-after-message", chapter: 7, group: "fragmentation", title: "a message in 2 fragments, then a stray continuation, in one write: the echo, then 1002 (5.15)" },
    () => [join([frame(Opcode.Text, "fragment1", { fin: false }), frame(Opcode.Continuation, "fragment2"), frame(Opcode.Continuation, "fragment3", { fin: false }), hello()])],
    [text("fragment1fragment2")],
    { fail: 1002 },
  ),
];

// ---------------------------------------------------------------------------
// UTF-8 (Autobahn 6.x)

const hexBytes = (hex: string) => Uint8Array.from(hex.split(" ").filter(Boolean).map((h) => Number.parseInt(h, 16)));

/** Valid UTF-8 at the edges of every range (RFC 3629 §4; Autobahn 6.2, 6.5, 6.7-6.11, 6.22-6.23). */
const VALID: [string, string][] = [
  ["κόσμε", "Greek, 2-byte"],
  ["Hello-µ@ßöäüàá-UTF-8!!", "Latin-1 letters"],
  ["\u0080\u07ff", "U+0080 and U+07FF, the 2-byte range"],
  ["\u0800\uffff", "U+0800 and U+FFFF, the 3-byte range"],
  ["\u{10000}\u{10ffff}", "U+10000 and U+10FFFF, the 4-byte range"],
  ["\ud7ff\ue000\ufffd", "U+D7FF, U+E000, U+FFFD: around the surrogates"],
  ["\ufeffBOM", "a leading U+FEFF, part of the text"],
  ["\u0000NUL", "U+0000, a valid code point"],
];

/** Bytes that are not UTF-8 (RFC 3629 §3, §4; Autobahn 6.3, 6.6, 6.8, 6.12-6.21). */
const INVALID: [string, string][] = [
  ["ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64", "κόσμε then a surrogate (6.3)"],
  ["80", "a lone continuation byte (6.12)"],
  ["bf", "a lone continuation byte BF"],
  ["80 bf 80 bf", "continuation bytes only"],
  ["c0 20", "a lone C0, then a space (6.14)"],
  ["e0 20", "a 3-byte lead, then a space"],
  ["f0 20", "a 4-byte lead, then a space"],
  ["c2", "a 2-byte sequence missing its last byte (6.15)"],
  ["e2 82", "a 3-byte sequence missing its last byte"],
  ["f0 9f 98", "a 4-byte sequence missing its last byte"],
  ["fe", "FE, never UTF-8 (6.17)"],
  ["ff", "FF, never UTF-8"],
  ["fe fe ff ff", "FE FE FF FF"],
  ["c0 af", "an overlong '/' in 2 bytes (6.18)"],
  ["e0 80 af", "an overlong '/' in 3 bytes"],
  ["f0 80 80 af", "an overlong '/' in 4 bytes"],
  ["c1 bf", "the largest 2-byte overlong (6.19)"],
  ["e0 9f bf", "the largest 3-byte overlong"],
  ["f0 8f bf bf", "the largest 4-byte overlong"],
  ["ed a0 80", "a high surrogate U+D800 (6.20)"],
  ["ed bf bf", "a low surrogate U+DFFF"],
  ["ed a0 80 ed b0 80", "a surrogate pair encoded as two 3-byte sequences (6.21)"],
  ["f4 90 80 80", "U+110000, above U+10FFFF"],
  ["f5 80 80 80", "a lead byte F5 (above U+10FFFF)"],
];

const badUtf8 = (info: Omit<CaseInfo, "chapter" | "group">, bytes: () => Uint8Array[]) => failCase({ ...info, chapter: 5, group: "utf-8" }, 1007, bytes);

const textUtf8: Case[] = [
  ...VALID.flatMap(([data, what], i) => [
    echoCase({ id: `utf8-valid-${i + 1}`, chapter: 5, group: "utf-8", title: `valid text: ${what}, echoed (§5.6)` }, text(data)),
    echoCase({ id: `utf8-valid-${i + 1}-bytewise`, chapter: 5, group: "utf-8", title: `the same text in 1-byte fragments: valid, code points cut anywhere (§5.6)` }, text(data), () => fragments(text(data), 1)),
  ]),
  ...INVALID.map(([hex, what], i) =>
    badUtf8({ id: `utf8-invalid-${i + 1}`, title: `${what} (${hex}) in a text message fails with 1007 (§8.1)` }, () => [frame(Opcode.Text, hexBytes(`41 ${hex}`))]),
  ),
  badUtf8({ id: "utf8-invalid-fragmented", title: "a surrogate cut between two fragments fails with 1007 (§8.1, §5.6; 6.3.2)" }, () => [
    frame(Opcode.Text, hexBytes("68 69 ed"), { fin: false }),
    frame(Opcode.Continuation, hexBytes("a0 80")),
  ]),
  echoCase(
    { id: "utf8-split-code-point", chapter: 5, group: "utf-8", title: "a code point split across fragments is valid (§5.6: the message is UTF-8, not each frame)" },
    text("price: €"),
    () => [frame(Opcode.Text, Uint8Array.of(...utf8("price: "), 0xe2, 0x82), { fin: false }), frame(Opcode.Continuation, Uint8Array.of(0xac))],
  ),
  // Fail fast, per TCP read (Autobahn 6.4): κόσμε, then F4 90 80 80 (above U+10FFFF), then "edited".
  failFastCase(
    { id: "utf8-fail-fast-fragment", chapter: 5, group: "utf-8", title: "3 fragments, the 2nd one bad: 1007 before the 3rd is sent (§8.1, our fail fast; 6.4.1)" },
    () => [
      frame(Opcode.Text, "κόσμε", { fin: false }),
      frame(Opcode.Continuation, hexBytes("f4 90 80 80"), { fin: false }),
      frame(Opcode.Continuation, "edited"),
    ],
    1,
  ),
  failFastCase(
    { id: "utf8-fail-fast-split-sequence", chapter: 5, group: "utf-8", title: "3 fragments, a bad sequence cut between the 1st and 2nd: 1007 before the 3rd (6.4.2)" },
    () => [
      frame(Opcode.Text, Uint8Array.of(...utf8("κόσμε"), 0xf4), { fin: false }),
      frame(Opcode.Continuation, hexBytes("90 80 80"), { fin: false }),
      frame(Opcode.Continuation, "edited"),
    ],
    1,
  ),
  failFastCase(
    { id: "utf8-fail-fast-in-frame", chapter: 5, group: "utf-8", title: "one text frame in 3 TCP writes, the bad bytes in the 2nd: 1007 before the 3rd (§8.1, our fail fast; 6.4.3)" },
    () => {
      const whole = frame(Opcode.Text, Uint8Array.of(...utf8("κόσμε"), 0xf4, 0x90, 0x80, 0x80, ...utf8("edited")));
      const bad = 2 + 4 + 10; // header, key, κόσμε
      return [whole.subarray(0, bad), whole.subarray(bad, bad + 4), whole.subarray(bad + 4)];
    },
    1,
  ),
  failFastCase(
    { id: "utf8-fail-fast-in-frame-bytewise", chapter: 5, group: "utf-8", title: "one text frame, its bad sequence one byte per TCP write: 1007 at the 2nd byte, F4 90 (6.4.4)" },
    () => {
      const whole = frame(Opcode.Text, Uint8Array.of(...utf8("κόσμε"), 0xf4, 0x90, 0x80, 0x80, ...utf8("edited")));
      const bad = 2 + 4 + 10;
      return [whole.subarray(0, bad), whole.subarray(bad, bad + 1), whole.subarray(bad + 1, bad + 2), whole.subarray(bad + 2)];
    },
    2,
  ),
];

// ---------------------------------------------------------------------------
// Closing (Autobahn 7.x)

/** Why a close code may not be sent (§7.4.1, §7.4.2). */
function whyInvalid(code: number): string {
  if (code < 1000) return "below 1000, not a close code";
  if (code === 1004) return "reserved";
  if (code === 1005 || code === 1006 || code === 1015) return "only for APIs to report, never sent";
  if (code <= 2999) return "reserved for the protocol, unassigned";
  return "above 4999, not a close code";
}

const closing: Case[] = [
  ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].map((code) =>
    closeCase(
      { id: `close-${code}`, chapter: 7, group: "close", title: `a close with ${code} is answered with ${code}, then the server closes TCP (§5.5.1, §7.1.1; 7.7)` },
      closePayload(code),
      echoedClose,
    ),
  ),
  closeCase(
    { id: "close-empty", chapter: 7, group: "close", title: "an empty close frame is answered with an empty one or 1000 (§5.5.1, §7.1.5; 7.3.1)" },
    new Uint8Array(0),
    (_, got) => (got.length === 0 || codeOf(got) === 1000 ? ok() : nonStrict(`answered with ${codeOf(got) ?? "a 1-byte payload"}, not an empty close or 1000`)),
  ),
  closeCase(
    { id: "close-reason", chapter: 7, group: "close", title: "a close's reason comes back with its code (§5.5.1; 7.3.4)" },
    closePayload(1000, utf8("bye: ünïcödé ✓")),
    echoedClose,
  ),
  closeCase(
    { id: "close-reason-123", chapter: 7, group: "close", title: "a close with a 123-byte reason, the largest that fits, is answered (§5.5; 7.3.5)" },
    closePayload(1000, utf8("*".repeat(123))),
    echoedClose,
  ),
  failCase(
    { id: "close-reason-124", chapter: 4, group: "close", title: "a close with a 124-byte reason (126 bytes of payload) fails with 1002 (§5.5; 7.3.6)" },
    1002,
    () => [forged(0x88, closePayload(1000, utf8("*".repeat(124))))],
  ),
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map((code) =>
    failCase(
      { id: `close-invalid-${code}`, chapter: 6, group: "close", title: `a close with code ${code} fails with 1002 (§7.4: ${whyInvalid(code)}; 7.9, 7.13)` },
      1002,
      () => [frame(Opcode.Close, closePayload(code))],
    ),
  ),
  failCase(
    { id: "close-1-byte", chapter: 6, group: "close", title: "a close frame with a 1-byte payload fails with 1002 (§5.5.1: a code takes 2 bytes; 7.3.2)" },
    1002,
    () => [frame(Opcode.Close, Uint8Array.of(0x03))],
  ),
  failCase(
    { id: "close-reason-invalid-utf8", chapter: 6, group: "close", title: "a close reason that is not UTF-8 fails with 1007 (§5.5.1, §8.1; 7.5.1)" },
    1007,
    () => [frame(Opcode.Close, closePayload(1000, Uint8Array.of(0x62, 0x79, 0x65, 0xc3, 0x28)))],
  ),
];

// ---------------------------------------------------------------------------
// Order: one TCP read holding a violation, or a close, and what came before or after it

const CLOSE_1000 = () => frame(Opcode.Close, closePayload(1000));

const order: Case[] = [
  orderCase(
    { id: "order-message-then-violation", chapter: 7, group: "order", title: "a message then a frame with RSV1, in one write: the echo first, then 1002 (§5.4, §7.1.7)" },
    () => [join([hello(), withRsv(hello(), 0x40)])],
    [text("Hello")],
    { fail: 1002 },
  ),
  orderCase(
    { id: "order-messages-then-unmasked", chapter: 7, group: "order", title: "two messages then an unmasked frame, in one write: both echoes, then 1002 (§5.1, §5.4)" },
    () => [join([hello(), frame(Opcode.Binary, Uint8Array.of(0, 255)), frame(Opcode.Text, "unmasked", { masked: false })])],
    [text("Hello"), { type: "binary", data: Uint8Array.of(0, 255) }],
    { fail: 1002 },
  ),
  orderCase(
    { id: "order-message-then-bad-utf8", chapter: 7, group: "order", title: "a message then bad UTF-8, in one write: the echo, then 1007 (§5.4, §8.1)" },
    () => [join([hello(), frame(Opcode.Text, hexBytes("68 69 ff"))])],
    [text("Hello")],
    { fail: 1007 },
  ),
  orderCase(
    { id: "order-message-then-close", chapter: 7, group: "order", title: "a message then a close, in one write: the echo before the close reply (§5.5.1: MAY finish the message first; 7.1.6)" },
    () => [join([hello(), frame(Opcode.Binary, sampleBytes(256 * KiB)), CLOSE_1000()])],
    [text("Hello"), { type: "binary", data: sampleBytes(256 * KiB) }],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-twice", chapter: 7, group: "order", title: "two close frames in one write: one close reply, nothing after it (§5.5.1; 7.1.2)" },
    () => [join([CLOSE_1000(), CLOSE_1000()])],
    [],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-then-ping", chapter: 7, group: "order", title: "a close then a ping, in one write: no pong after the close reply (§5.5.2: unless it received a close; 7.1.3)" },
    () => [join([CLOSE_1000(), ping()])],
    [],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-then-text", chapter: 7, group: "order", title: "a close then a message, in one write: no echo after the close reply (§5.5.1; 7.1.4)" },
    () => [join([CLOSE_1000(), hello()])],
    [],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-ping-text", chapter: 7, group: "order", title: "close, ping and text in one write: the close reply only (§5.5.1, §5.5.2)" },
    () => [join([CLOSE_1000(), ping(), hello()])],
    [],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-inside-message", chapter: 7, group: "order", title: "a fragment, a close, then the last fragment: a clean close, no echo (§5.4, §5.5.1; 7.1.5)" },
    () => [join([frame(Opcode.Text, "fragment1", { fin: false }), CLOSE_1000(), frame(Opcode.Continuation, "fragment2")])],
    [],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-then-garbage", chapter: 7, group: "order", title: "a close then bytes no frame may start with, in one write: a clean close (§1.4: nothing after a close is read)" },
    () => [join([CLOSE_1000(), Uint8Array.of(0xff, 0xff, 0xff, 0xff)])],
    [],
    { close: 1000 },
  ),
  orderCase(
    { id: "order-close-then-garbage-two-writes", chapter: 7, group: "order", title: "the same in two writes: a clean close (the cut must not matter)" },
    () => [CLOSE_1000(), Uint8Array.of(0xff, 0xff, 0xff, 0xff)],
    [],
    { close: 1000 },
    30,
  ),
];

// ---------------------------------------------------------------------------
// Large messages and fragment sizes (Autobahn 9.x, 10.1)

/** Sends `message` as `frames` (cut into TCP writes of `chop` bytes if given) and expects it echoed. */
function bigCase(info: CaseInfo, message: () => Message, frames: (m: Message) => Uint8Array[], chop?: number): Case {
  return {
    ...info,
    time: SLOW_CASE_TIME,
    run: (url) =>
      withClient(url, async (client) => {
        const m = message();
        const bytes = frames(m);
        await writeAll(client, chop === undefined ? bytes : chops(join(bytes), chop));
        return expectEcho(client, m);
      }),
  };
}

const whole = (m: Message) => [frame(m.type === "text" ? Opcode.Text : Opcode.Binary, bytesOf(m))];

const large: Case[] = [
  ...[64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB].flatMap((size) => [
    bigCase({ id: `large-text-${shownSize(size).replace(" ", "")}`, chapter: 8, group: "large", title: `a ${shownSize(size)} text message is echoed (§5.2, §10.4; 9.1)` }, () => text(sampleText(size)), whole),
    bigCase({ id: `large-binary-${shownSize(size).replace(" ", "")}`, chapter: 8, group: "large", title: `a ${shownSize(size)} binary message is echoed (§5.2, §10.4; 9.2)` }, () => ({ type: "binary", data: sampleBytes(size) }), whole),
  ]),
  ...[64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB].flatMap((size) => [
    bigCase(
      { id: `fragments-${shownSize(size).replace(" ", "").replace("-byte", "B")}-text`, chapter: 5, group: "large", title: `a 1 MiB text message in fragments of ${shownSize(size)} is echoed (§5.4; 9.3)` },
      () => text(sampleText(MiB)),
      (m) => fragments(m, size),
    ),
    bigCase(
      { id: `fragments-${shownSize(size).replace(" ", "").replace("-byte", "B")}-binary`, chapter: 5, group: "large", title: `a 1 MiB binary message in fragments of ${shownSize(size)} is echoed (§5.4; 9.4)` },
      () => ({ type: "binary", data: sampleBytes(MiB) }),
      (m) => fragments(m, size),
    ),
  ]),
  ...[64, 256, KiB, 4 * KiB].map((chop) =>
    bigCase(
      { id: `chops-${chop}`, chapter: 4, group: "large", title: `a 1 MiB binary message in TCP writes of ${chop} bytes is echoed (§5.2; 9.6)` },
      () => ({ type: "binary", data: sampleBytes(MiB) }),
      whole,
      chop,
    ),
  ),
  bigCase(
    { id: "autofragment-1300", chapter: 5, group: "large", title: "a 64 KiB text message in frames of 1300 bytes is echoed (§5.4; 10.1.1)" },
    () => text(sampleText(64 * KiB)),
    (m) => fragments(m, 1300),
  ),
  {
    id: "many-messages",
    chapter: 8,
    group: "large",
    title: "1000 small messages back to back are all echoed, in order (§5.6; 9.7)",
    run: (url) =>
      withClient(url, async (client) => {
        const messages = Array.from({ length: 1000 }, (_, i) => text(`#${i} ${sampleText(i % 50)}`));
        await writeAll(client, chops(join(messages.map((m) => frame(Opcode.Text, m.data))), 16 * KiB));
        await client.until(() => client.messages.length >= 1000 || client.over);
        const at = messages.findIndex((m, i) => client.messages[i]?.type !== "text" || client.messages[i]?.data !== m.data);
        if (at !== -1) return failed(`message ${at} did not come back as sent (${client.messages.length} echoes): ${whatHappened(client)}`);
        return ok();
      }),
  },
];

// ---------------------------------------------------------------------------
// Limits

/** A header announcing `length` bytes in the 64-bit field, masked, with no payload after it. */
function header64(length: bigint, firstByte = 0x82): Uint8Array {
  const bytes = new Uint8Array(14);
  bytes[0] = firstByte;
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
  failCase(
    { id: "unmasked-after-masked", chapter: 7, group: "limits", title: "a masked fragment then an unmasked one fails with 1002 (§5.1: every frame)" },
    1002,
    () => [frame(Opcode.Text, "Hel", { fin: false }), frame(Opcode.Continuation, "lo", { masked: false })],
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
        return expectEcho(client, text("still there?"));
      }).catch((error: Error) => failed(error.message));
      return survived.verdict === "OK" ? outcome : failed(`the server did not survive it: ${survived.detail}`);
    },
  },
  failCase(
    { id: "length-2^62-continuation", chapter: 5, group: "limits", title: "a fragment then a continuation claiming 2^62 bytes fails with 1009 at once (§10.4)" },
    1009,
    () => [frame(Opcode.Binary, sampleBytes(10), { fin: false }), header64(2n ** 62n, 0x80)],
  ),
  failCase(
    { id: "length-top-bit", chapter: 4, group: "limits", title: "a 64-bit length with its most significant bit set fails with 1002 (§5.2)" },
    1002,
    () => [header64(2n ** 63n + 5n)],
    [1009],
  ),
  {
    id: "length-not-minimal",
    chapter: 4,
    group: "limits",
    title: "a 5-byte payload announced in the 16-bit length fails with 1002 (§5.2: the minimal number of bytes MUST be used)",
    run: (url) =>
      withClient(url, async (client) => {
        const bytes = frame(Opcode.Binary, sampleBytes(126));
        client.write(Uint8Array.of(0x82, 0xfe, 0x00, 0x05, ...bytes.subarray(4, 8), ...bytes.subarray(8, 13)));
        await client.until(() => client.over || client.messages.length > 0);
        // §5.2's MUST binds the sender; failing the connection for it is the strict answer, echoing a tolerant one.
        if (client.messages.length > 0) return nonStrict("the frame was accepted and echoed: its sender broke §5.2, and failing it is the strict answer");
        return expectFailure(client, 1002);
      }),
  },
];

/** Runs after every other case: the faults above must not have hurt anyone else. */
const afterFaults: Case = echoCase(
  { id: "fresh-client", chapter: 8, group: "after the faults", title: "after all the faults above, a fresh client is still echoed (§7.1.7: failing a connection affects only that one)" },
  text("anyone home?"),
);

/** Every case, in the order they are printed; `fresh-client` runs last, alone. */
export const cases: readonly Case[] = [...handshake, ...framing, ...pings, ...reserved, ...fragmentation, ...textUtf8, ...closing, ...order, ...large, ...limits, afterFaults];
