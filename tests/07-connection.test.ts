import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Connection, type ConnectionEvent, type Role } from "@workbook/07-connection";
import { InvalidStateError } from "../lib/errors.ts";
import { expectThrows } from "./helpers/errors.ts";
import { expectBytes } from "./helpers/frame-dump.ts";
import { hex, toHex } from "./helpers/hex.ts";
// Inputs are built with the tests' own encoder (not your chapter 04, nor the reference).
import { readCloseBody, readFrames, wireFrame as encodeFrame } from "./helpers/wire.ts";
import { opcodeName } from "../lib/frame.ts";
import { concat, utf8 } from "./helpers/bytes.ts";

const KEY = hex("37 fa 21 3d"); // the masking key of RFC 6455 §5.7
const text = utf8;
/** A frame as a client sends it: masked with the RFC's key. */
const fromClient = (opcode: number, payload: Uint8Array, fin = true) => encodeFrame({ opcode, payload, fin, maskKey: KEY });
/** A frame as a server sends it: unmasked. */
const fromServer = (opcode: number, payload: Uint8Array, fin = true) => encodeFrame({ opcode, payload, fin });

function openConnection(role: Role, options: ConstructorParameters<typeof Connection>[1] = {}): Connection {
  const connection = new Connection(role, { maskKey: () => KEY.slice(), ...options });
  connection.open();
  return connection;
}

/** Every event `bytes` completes: `receive` gives them one at a time, as they are asked for. */
const receiveAll = (connection: Connection, bytes: Uint8Array): ConnectionEvent[] => [...connection.receive(bytes)];

/** Feeds `chunks` one by one; returns every event and every byte sent back. */
function replay(role: Role, chunks: Uint8Array[]) {
  const connection = openConnection(role);
  const events: ConnectionEvent[] = [];
  for (const chunk of chunks) events.push(...connection.receive(chunk));
  return { connection, events, sent: concat(...connection.bytesToSend()) };
}

/** A recorded client session: "Hello"; "Hel" + ping "x" + "lo"; binary 00 ff; close 1000 "bye". */
const SESSION = concat(
  hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
  fromClient(0x1, text("Hel"), false),
  fromClient(0x9, text("x")),
  fromClient(0x0, text("lo"), true),
  fromClient(0x2, hex("00 ff")),
  fromClient(0x8, concat(hex("03 e8"), text("bye"))),
);
const SESSION_EVENTS: ConnectionEvent[] = [
  { type: "message", message: { type: "text", data: "Hello" } },
  { type: "ping", payload: text("x") },
  { type: "message", message: { type: "text", data: "Hello" } },
  { type: "message", message: { type: "binary", data: hex("00 ff") } },
  { type: "close", code: 1000, reason: "bye", clean: true },
];
/** What the server answers: a pong with the ping's payload, then the close echoed. */
const SESSION_REPLY = hex("8a 01 78  88 05 03 e8 62 79 65");

describe("Step 2 — receive: a recorded session, replayed", () => {
  test("§5.4, §5.5.2, §5.5.1: the server hears every message, answers the ping and the close", () => {
    const { events, sent, connection } = replay("server", [SESSION]);
    expect(events, "events of the recorded session, in order").toEqual(SESSION_EVENTS);
    expectBytes(sent, SESSION_REPLY, "RFC 6455 §5.5.3, §5.5.1: a pong with the ping's payload, then a close frame echoing 1000 \"bye\", unmasked");
    expect(connection.state, "after both close frames the connection is CLOSED").toBe("CLOSED");
  });

  test("§5.2: frames arrive in pieces: split at every byte boundary, the session gives the same events and replies", () => {
    for (let at = 0; at <= SESSION.length; at++) {
      const { events, sent } = replay("server", [SESSION.subarray(0, at), SESSION.subarray(at)]);
      expect(events, `input split after byte ${at}: the events must not depend on how TCP cut the bytes`).toEqual(
        SESSION_EVENTS,
      );
      expectBytes(sent, SESSION_REPLY, `input split after byte ${at}: the replies must not depend on the chunking`);
    }
  });

  test("§5.2: frames arrive in pieces: any chunking of the session gives the same events (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: SESSION.length }), { maxLength: 12 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), SESSION.length];
        const chunks = points.slice(1).map((end, i) => SESSION.subarray(points[i], end));
        const { events, sent } = replay("server", chunks);
        expect(events, `chunks cut at ${points.join(", ")}`).toEqual(SESSION_EVENTS);
        expect(Array.from(sent), `replies for chunks cut at ${points.join(", ")}`).toEqual(Array.from(SESSION_REPLY));
      }),
      { numRuns: 200 },
    );
  });
});

describe("Step 1 — open and send: states", () => {
  test("§4.1: a connection starts CONNECTING and is OPEN after the handshake", () => {
    const connection = new Connection("client");
    expect(connection.state, "before the opening handshake").toBe("CONNECTING");
    connection.open();
    expect(connection.state, "after open()").toBe("OPEN");
  });

});

describe("Step 1 — open and send: sending", () => {
  test("§5.1 MUST NOT: a server's frames are never masked", () => {
    const server = openConnection("server");
    server.send({ type: "text", data: "Hello" });
    server.send({ type: "binary", data: hex("01 02") });
    expectBytes(concat(...server.bytesToSend()), hex("81 05 48 65 6c 6c 6f  82 02 01 02"), "RFC 6455 §5.1, §5.6: text then binary, unmasked");
  });

  test("§5.1 MUST: a client masks every frame, with a fresh key each time", () => {
    const keys = [hex("37 fa 21 3d"), hex("01 02 03 04")];
    const client = new Connection("client", { maskKey: () => keys.shift() ?? hex("00 00 00 00") });
    client.open();
    client.send({ type: "text", data: "Hello" });
    client.ping(text("Hi"));
    expectBytes(
      concat(...client.bytesToSend()),
      hex("81 85 37 fa 21 3d 7f 9f 4d 51 58  89 82 01 02 03 04 49 6b"),
      "RFC 6455 §5.3: each client frame carries its own masking key and a masked payload",
    );
  });

  test("§6.1 MUST: a message goes out as frames laid out as §5.2 says: 5, 300 and 70 000 bytes, each length in its own field", () => {
    const server = openConnection("server");
    const client = openConnection("client");
    const payloads = [5, 300, 70_000].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
    for (const data of payloads) {
      server.send({ type: "binary", data });
      client.send({ type: "binary", data });
    }
    expectBytes(
      concat(...server.bytesToSend()),
      concat(...payloads.map((payload) => encodeFrame({ opcode: 0x2, payload }))),
      "RFC 6455 §5.2: a server's binary messages of 5, 300 and 70 000 bytes: 7-bit, 16-bit and 64-bit lengths, unmasked",
    );
    expectBytes(
      concat(...client.bytesToSend()),
      concat(...payloads.map((payload) => encodeFrame({ opcode: 0x2, payload, maskKey: KEY }))),
      "RFC 6455 §5.2, §5.3: the same messages from a client: the MASK bit, the key after the length, the payload masked",
    );
  });

  test("§6.1 MUST: every frame formed is transmitted: bytesToSend() hands each one out, in the order formed, once", () => {
    const server = openConnection("server");
    server.send({ type: "text", data: "one" });
    server.ping(text("p"));
    const first = concat(...server.bytesToSend());
    server.send({ type: "binary", data: hex("02") });
    server.send({ type: "text", data: "three" });
    const second = concat(...server.bytesToSend());
    expectBytes(first, hex("81 03 6f 6e 65  89 01 70"), "the text and the ping formed before the first call, in that order");
    expectBytes(second, hex("82 01 02  81 05 74 68 72 65 65"), "then only the two messages formed since, in order");
    expect(server.bytesToSend().length, "everything formed was handed out: a third call has nothing").toBe(0);
  });

  test("§5.5.2: a ping carries its payload; bytesToSend gives each byte once", () => {
    const server = openConnection("server");
    server.ping(text("Hello"));
    expectBytes(concat(...server.bytesToSend()), hex("89 05 48 65 6c 6c 6f"), "RFC 6455 §5.7: the unmasked ping example");
    expect(server.bytesToSend().length, "a second call returns nothing new").toBe(0);
  });
});

describe("Step 2 — receive: control frames", () => {
  test("§6.2 MUST: incoming data is parsed as frames laid out as §5.2 says: 16-bit and 64-bit lengths, masked, arrive whole", () => {
    const medium = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const large = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13) & 0xff);
    const { events } = replay("server", [concat(fromClient(0x2, medium), fromClient(0x2, large))]);
    expect(events.length, "two binary messages: 300 bytes (16-bit length), then 70 000 bytes (64-bit length)").toBe(2);
    for (const [i, want] of [medium, large].entries()) {
      const event = events[i];
      expect(event?.type === "message" && event.message.type, `message ${i + 1}: a binary message event`).toBe("binary");
      if (event?.type === "message") expectBytes(event.message.data, want, `message ${i + 1}: ${want.length} bytes, unmasked (§5.3)`, "bytes");
    }
  });

  test("§6.2 MUST: each control frame received is handled as §5.5 says, between fragments too: ping answered, pong noted, close answered", () => {
    const { events, sent, connection } = replay("client", [
      concat(
        fromServer(0x1, text("Hel"), false),
        fromServer(0x9, text("ping")),
        fromServer(0xa, text("pong")),
        fromServer(0x0, text("lo")),
        fromServer(0x8, hex("03 e8")),
      ),
    ]);
    expect(events, "the ping and the pong are reported where they came, the message when its last fragment came, then the close").toEqual([
      { type: "ping", payload: text("ping") },
      { type: "pong", payload: text("pong") },
      { type: "message", message: { type: "text", data: "Hello" } },
      { type: "close", code: 1000, reason: "", clean: true },
    ]);
    expectBytes(
      sent,
      concat(fromClient(0xa, text("ping")), fromClient(0x8, hex("03 e8"))),
      "RFC 6455 §5.5.2, §5.5.1: a pong carrying the ping's payload, nothing for the pong (§5.5.3), then the close answered with 1000",
    );
    expect(connection.state, "both close frames exchanged").toBe("CLOSED");
  });

  test("§5.5.2 MUST: a ping is answered with a pong, carrying the same payload (§5.5.3)", () => {
    const { events, sent } = replay("client", [fromServer(0x9, text("are you there?"))]);
    expect(events, "the application hears about the ping").toEqual([{ type: "ping", payload: text("are you there?") }]);
    expectBytes(
      sent,
      fromClient(0xa, text("are you there?")),
      "RFC 6455 §5.5.3: the pong's payload is the ping's; a client masks it",
    );
  });

  test("§5.5.3: a pong is reported, and not answered", () => {
    const { events, sent } = replay("server", [fromClient(0xa, text("beat"))]);
    expect(events, "an unsolicited pong is just reported").toEqual([{ type: "pong", payload: text("beat") }]);
    expect(sent.length, "nothing is sent in reply to a pong").toBe(0);
  });
});

describe("Step 3 — close: the closing handshake", () => {
  test("§5.5.1 MUST: a close frame is answered with a close frame; the connection is CLOSED", () => {
    const { events, sent, connection } = replay("client", [fromServer(0x8, hex("03 e9"))]);
    expect(events, "the peer's code reaches the application").toEqual([{ type: "close", code: 1001, reason: "", clean: true }]);
    expectBytes(sent, fromClient(0x8, hex("03 e9")), "RFC 6455 §5.5.1: the answer echoes the code 1001, masked by the client");
    expect(connection.state, "both close frames exchanged").toBe("CLOSED");
  });

  test("§7.1.5: a close frame with no code is reported as 1005 and answered with an empty close", () => {
    const { events, sent } = replay("server", [fromClient(0x8, new Uint8Array(0))]);
    expect(events, "no status code in the frame: 1005 for the application").toEqual([
      { type: "close", code: 1005, reason: "", clean: true },
    ]);
    expectBytes(sent, hex("88 00"), "RFC 6455 §7.4.1: 1005 must never be sent; answer with an empty close frame");
  });

  test("§7.1.2 MUST: close() sends a close frame and waits in CLOSING for the peer's", () => {
    const server = openConnection("server");
    server.close(1000, "bye");
    expectBytes(concat(...server.bytesToSend()), hex("88 05 03 e8 62 79 65"), "RFC 6455 §5.5.1: a close frame with 1000 \"bye\"");
    expect(server.state, "after sending our close frame").toBe("CLOSING");
    const events = receiveAll(server, fromClient(0x8, hex("03 e8")));
    expect(events, "the peer's answer ends the handshake").toEqual([{ type: "close", code: 1000, reason: "", clean: true }]);
    expect(server.state, "both close frames exchanged").toBe("CLOSED");
    expect(server.bytesToSend().length, "our close frame is not sent twice").toBe(0);
  });

  test("§5.5.1 MUST NOT: no data after our close frame; messages still arrive until the peer's", () => {
    const server = openConnection("server");
    server.close();
    server.bytesToSend();
    expectThrows(() => server.send({ type: "text", data: "late" }), InvalidStateError, "send() while CLOSING");
    expectThrows(() => server.ping(), InvalidStateError, "ping() while CLOSING");
    const events = receiveAll(server, fromClient(0x1, text("in flight")));
    expect(events, "a message the peer sent before it saw our close is still delivered").toEqual([
      { type: "message", message: { type: "text", data: "in flight" } },
    ]);
  });

  test("§7.4.1: close() refuses a code that may not be sent, before sending anything", () => {
    const server = openConnection("server");
    expectThrows(() => server.close(1005), RangeError, "1005 is only ever reported, never sent");
    expect(server.state, "a refused close() changes nothing").toBe("OPEN");
    expect(server.bytesToSend().length, "nothing was queued").toBe(0);
  });

  test("§7.1.5, §7.4.1: the TCP connection ending without a close frame is reported as 1006", () => {
    const server = openConnection("server");
    receiveAll(server, fromClient(0x1, text("half")).subarray(0, 4)); // a frame cut short
    const events = server.receiveEnd();
    expect(events, "an abnormal closure").toEqual([{ type: "close", code: 1006, reason: "", clean: false }]);
    expect(server.state, "nothing can come after the end of TCP").toBe("CLOSED");
    expect(server.bytesToSend().length, "1006 is never sent").toBe(0);
  });
});

describe("Step 2 — receive: failing the connection", () => {
  /** Feeds `input`, and checks the close frame sent, the close event and that later input is ignored. */
  function expectFailure(role: Role, input: Uint8Array, code: number, rule: string, options = {}): void {
    const connection = openConnection(role, options);
    const events = receiveAll(connection, input);
    const close = events.at(-1);
    expect(close?.type, `${rule}: the connection must fail with a close event`).toBe("close");
    if (close?.type !== "close") return;
    expect(close.code, `${rule}: the close code`).toBe(code);
    expect(close.clean, `${rule}: a failure is not a clean close`).toBe(false);
    const sent = concat(...connection.bytesToSend());
    const opcodeOfSent = sent[0] === undefined ? undefined : sent[0] & 0x0f;
    expect(opcodeOfSent, `${rule}: a close frame (opcode 0x8) must be sent (§7.1.7)`).toBe(0x8);
    const sentCode = role === "server" ? ((sent[2] ?? 0) << 8) | (sent[3] ?? 0) : undefined;
    if (sentCode !== undefined) expect(sentCode, `${rule}: the close frame carries code ${code}`).toBe(code);
    expect(connection.state, `${rule}: the connection is CLOSED`).toBe("CLOSED");
    expect(receiveAll(connection, fromClient(0x1, text("more"))), `${rule}: input after the failure is ignored`).toEqual([]);
    expect(connection.bytesToSend().length, `${rule}: nothing more is sent`).toBe(0);
  }

  test("§5.1 MUST: a server fails an unmasked client frame with 1002", () => {
    expectFailure("server", fromServer(0x1, text("Hello")), 1002, "an unmasked frame from a client");
  });

  test("§5.1 MUST: a client fails a masked server frame with 1002", () => {
    expectFailure("client", fromClient(0x1, text("Hello")), 1002, "a masked frame from a server");
  });

  test("§8.1 MUST: invalid UTF-8 in a text message fails with 1007", () => {
    expectFailure("server", fromClient(0x1, hex("48 c3 28")), 1007, "text with the invalid sequence c3 28");
  });

  test("§5.4 MUST: a continuation with no message in progress fails with 1002", () => {
    expectFailure("server", fromClient(0x0, text("orphan")), 1002, "a continuation frame out of nowhere");
  });

  test("§5.5.1: a close payload of one byte fails with 1002", () => {
    expectFailure("server", fromClient(0x8, hex("03")), 1002, "a close frame whose code is cut in half");
  });

  test("§10.4: a message larger than maxMessageSize fails with 1009", () => {
    expectFailure("server", fromClient(0x2, new Uint8Array(11)), 1009, "an 11-byte message over a 10-byte limit", {
      maxMessageSize: 10,
    });
  });
});

// ---------------------------------------------------------------------------
// Strict by construction: the same events and the same bytes out, however TCP cuts the stream

/** What an endpoint wrote, frame by frame, in words: "text Hello", "pong p", "close 1002". */
function summarize(bytes: Uint8Array): string[] {
  return readFrames(bytes).map((f) => {
    if (f.opcode === 0x8) return `close ${readCloseBody(f.payload).code}`;
    const name = opcodeName(f.opcode);
    return f.opcode === 0x2 ? `${name} ${toHex(f.payload)}` : `${name} ${new TextDecoder().decode(f.payload)}`;
  });
}

const shortEvent = (e: ConnectionEvent): string => {
  switch (e.type) {
    case "message":
      return `message ${e.message.type === "text" ? e.message.data : toHex(e.message.data)}`;
    case "message-bytes":
      return `message-bytes ${toHex(e.message.data)}`;
    case "close":
      return `close ${e.code}${e.clean ? "" : " (failed)"}`;
    default:
      return `${e.type} ${new TextDecoder().decode(e.payload)}`;
  }
};

/**
 * An echo server on a Connection, fed `chunks`: it answers each message as
 * soon as its event comes, as chapter 08 does. Returns the events (in short)
 * and every byte it wrote.
 */
function echoSession(chunks: Uint8Array[]): { events: string[]; sent: Uint8Array } {
  const connection = openConnection("server");
  const events: string[] = [];
  const out: Uint8Array[] = [];
  for (const chunk of chunks) {
    for (const event of connection.receive(chunk)) {
      events.push(shortEvent(event));
      if (event.type === "message" && connection.state === "OPEN") connection.send(event.message);
    }
    out.push(...connection.bytesToSend());
  }
  return { events, sent: concat(...out) };
}

/**
 * Replays `session` whole, then cut in two at every byte boundary, then cut
 * at random places (property): every time the same events and the same bytes
 * out, and those are `events` and `sent`.
 */
function expectSameHoweverCut(session: Uint8Array, events: string[], sent: string[], rule: string): void {
  const whole = echoSession([session]);
  expect(whole.events, `${rule}: the events, the session in one read`).toEqual(events);
  expect(summarize(whole.sent), `${rule}: what the server wrote, the session in one read`).toEqual(sent);
  for (let at = 1; at < session.length; at++) {
    const cut = echoSession([session.subarray(0, at), session.subarray(at)]);
    expect(cut.events, `${rule}: the events, the session cut after byte ${at} (one read gave ${whole.events.join(", ")})`).toEqual(whole.events);
    expectBytes(cut.sent, whole.sent, `${rule}: the bytes written, the session cut after byte ${at}, must be those of one read`);
  }
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: session.length }), { maxLength: 8 }), (raw) => {
      const points = [0, ...raw.sort((a, b) => a - b), session.length];
      const cut = echoSession(points.slice(1).map((end, i) => session.subarray(points[i], end)));
      expect(cut.events, `${rule}: cut at ${points.join(", ")}`).toEqual(whole.events);
      expect(toHex(cut.sent), `${rule}: bytes written, cut at ${points.join(", ")}`).toBe(toHex(whole.sent));
    }),
    { numRuns: 100 },
  );
}

const HELLO_FRAME = fromClient(0x1, text("Hello"));
const CLOSE_1000 = fromClient(0x8, hex("03 e8"));

describe("Step 2 — receive: every event before a violation, answers in order", () => {
  const violations: { name: string; bytes: Uint8Array; code: number }[] = [
    { name: "a frame with RSV1 set (§5.2)", bytes: encodeFrame({ opcode: 0x1, payload: text("x"), rsv1: true, maskKey: KEY }), code: 1002 },
    { name: "a reserved opcode 0x3 (§5.2)", bytes: fromClient(0x3, text("x")), code: 1002 },
    { name: "an unmasked frame (§5.1)", bytes: fromServer(0x1, text("x")), code: 1002 },
    { name: "a continuation with nothing to continue (§5.4)", bytes: fromClient(0x0, text("x")), code: 1002 },
    { name: "text that is not UTF-8 (§8.1)", bytes: fromClient(0x1, hex("61 ff")), code: 1007 },
  ];
  for (const { name, bytes, code } of violations) {
    test(`§5.5.2 MUST for the pong, the workbook's policy for the rest: a message and a ping, then ${name}: echo, pong, then the close ${code}, however the bytes are cut`, () => {
      expectSameHoweverCut(
        concat(HELLO_FRAME, fromClient(0x9, text("p")), bytes),
        ["message Hello", "ping p", `close ${code} (failed)`],
        ["text Hello", "pong p", `close ${code}`],
        `valid frames, then ${name}`,
      );
    });
  }

  test("§5.5.1: a message then the peer's close: the message is answered before the close reply, however the bytes are cut", () => {
    expectSameHoweverCut(
      concat(HELLO_FRAME, fromClient(0x2, hex("00 ff")), CLOSE_1000),
      ["message Hello", "message 00 ff", "close 1000"],
      ["text Hello", "binary 00 ff", "close 1000"],
      "messages then a close frame",
    );
  });

  test("§5.5.1, §1.4: bytes after the peer's close frame are not read: a close then garbage is a clean close", () => {
    expectSameHoweverCut(
      concat(CLOSE_1000, hex("ff ff ff ff"), fromClient(0x1, text("late"))),
      ["close 1000"],
      ["close 1000"],
      "a close frame, then bytes no frame may start with",
    );
  });

  test("§5.5.2, §5.5.1: close, ping, text in one read: no pong and no echo after the close reply", () => {
    expectSameHoweverCut(
      concat(CLOSE_1000, fromClient(0x9, text("p")), HELLO_FRAME),
      ["close 1000"],
      ["close 1000"],
      "a ping after the peer's close frame needs no pong (§5.5.2: unless it already received a Close frame)",
    );
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): a bad byte inside one text frame fails with 1007 before the frame is complete", () => {
    // "Hello" whole, then a 200-byte text frame whose byte 20 is FF; the session stops at byte 60 of that frame.
    const payload = concat(text("a".repeat(20)), hex("ff"), text("b".repeat(179)));
    const big = fromClient(0x1, payload);
    expectSameHoweverCut(
      concat(HELLO_FRAME, big.subarray(0, 60)),
      ["message Hello", "close 1007 (failed)"],
      ["text Hello", "close 1007"],
      "a text frame cut mid-frame, after its bad byte",
    );
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): the bad byte alone is enough: its frame's last byte is never needed", () => {
    const connection = openConnection("server");
    const frame = fromClient(0x1, concat(text("ok so far "), hex("c3 28"), new Uint8Array(1000).fill(0x61)));
    expect(receiveAll(connection, frame.subarray(0, 30)).map(shortEvent), "1000 bytes of the frame still to come").toEqual(["close 1007 (failed)"]);
  });

  test("§5.6: a text frame cut mid-frame with valid text so far waits for the rest (no false alarm)", () => {
    const connection = openConnection("server");
    const frame = fromClient(0x1, text("€uro ".repeat(50)));
    for (let at = 0; at < frame.length; at += 7) {
      const events = receiveAll(connection, frame.subarray(at, Math.min(at + 7, frame.length)));
      if (at + 7 < frame.length) expect(events, `after ${at + 7} bytes of a valid text frame, cut inside code points`).toEqual([]);
      else expect(events.map(shortEvent), "the frame complete").toEqual([`message ${"€uro ".repeat(50)}`]);
    }
  });
});

describe("Step 3 — close: the corner cases", () => {
  test("§5.5.1: a close frame and a text frame in one read report the close only; the connection stops at CLOSED", () => {
    const connection = openConnection("server");
    const events = receiveAll(connection, concat(CLOSE_1000, HELLO_FRAME));
    expect(events.map(shortEvent), "nothing after the peer's close frame is an event").toEqual(["close 1000"]);
    expect(connection.state, "both close frames exchanged").toBe("CLOSED");
  });

  test("§7.1.7: after our close frame, a protocol error ends the connection but sends nothing more (one close frame only)", () => {
    const server = openConnection("server");
    server.close(1001);
    server.bytesToSend();
    const events = receiveAll(server, fromServer(0x1, text("unmasked")));
    expect(events.map(shortEvent), "the failure is reported").toEqual(["close 1002 (failed)"]);
    expect(server.state, "failed: CLOSED").toBe("CLOSED");
    expect(server.bytesToSend().length, "§5.5.1: our close frame already went out: no second close frame").toBe(0);
  });

  test("§10.4: a fragmented message over maxMessageSize fails with 1009, though each fragment is under the limit", () => {
    const server = openConnection("server", { maxMessageSize: 10 });
    const events = receiveAll(server, concat(fromClient(0x1, text("123456"), false), fromClient(0x0, text("789012"))));
    expect(events.map(shortEvent), "12 bytes in two fragments of 6, over a limit of 10").toEqual(["close 1009 (failed)"]);
    expect(summarize(concat(...server.bytesToSend())), "a close frame with 1009").toEqual(["close 1009"]);
  });

  test("§7.1.2: close() twice sends one close frame; open() twice is an InvalidStateError", () => {
    const server = openConnection("server");
    server.close(1000);
    server.close(1001, "again");
    expect(summarize(concat(...server.bytesToSend())), "one close frame, the first one's code").toEqual(["close 1000"]);
    expect(server.state, "still waiting for the peer's close").toBe("CLOSING");
    expectThrows(() => server.open(), InvalidStateError, "open() on a connection that is not CONNECTING");
  });
});

describe("Step 2 — receive: passing text on without decoding it (decodeText: false)", () => {
  test("§5.6: with decodeText false, messages come as message-bytes events: text as its UTF-8 bytes, checked (§8.1)", () => {
    const server = openConnection("server", { decodeText: false });
    const events = receiveAll(server, concat(fromClient(0x1, text("né")), fromClient(0x2, hex("00 ff"))));
    expect(events, "text keeps its type and its bytes; binary is unchanged").toEqual([
      { type: "message-bytes", message: { type: "text", data: text("né") } },
      { type: "message-bytes", message: { type: "binary", data: hex("00 ff") } },
    ]);
    const bad = receiveAll(openConnection("server", { decodeText: false }), fromClient(0x1, hex("6e c3")));
    expect(bad.map(shortEvent), "text bytes are still validated: a cut-off code point fails with 1007").toEqual(["close 1007 (failed)"]);
  });

  test("the workbook's policy: a message handed over is the application's to keep: the frames after it never change its bytes", () => {
    // An echo or a relay holds a message until it is written: a connection that
    // filled the next message into the buffer it handed over would change it.
    const server = openConnection("server", { decodeText: false });
    const big = (byte: number) => new Uint8Array(70_000).fill(byte); // read in pieces, like a large frame from TCP
    const kept: Uint8Array[] = [];
    for (const payload of [big(0x61), text("one"), big(0x62), text("two"), big(0x63)]) {
      const wire = fromClient(0x1, payload);
      for (let at = 0; at < wire.length; at += 16 * 1024) {
        for (const event of server.receive(wire.subarray(at, at + 16 * 1024))) {
          if (event.type === "message-bytes") kept.push(event.message.data);
        }
      }
    }
    expect(kept.map((data) => data.length), "five messages").toEqual([70_000, 3, 70_000, 3, 70_000]);
    expect(kept[0]!.every((b) => b === 0x61) && kept[2]!.every((b) => b === 0x62), "the first messages still hold their own bytes").toBe(true);
    expect([toHex(kept[1]!), toHex(kept[3]!)], "and the short ones too").toEqual([toHex(text("one")), toHex(text("two"))]);
  });

  test("§5.6: send() takes text as its UTF-8 bytes too, and sends them as a text frame, unchanged", () => {
    const server = openConnection("server");
    server.send({ type: "text", data: text("né") });
    expectBytes(concat(...server.bytesToSend()), hex("81 03 6e c3 a9"), "a text frame (opcode 1) carrying the bytes given");
  });
});

// Behaviour that mutation testing found unchecked (npm run mutation -- 7).

describe("Step 3 — close: the corners mutation testing found", () => {
  test("§10.4, §7.4.1: a frame announcing more than maxMessageSize fails with 1009 from its header alone, before any payload", () => {
    const server = openConnection("server", { maxMessageSize: 1000 });
    // 82 fe 10 00 + key: a masked binary frame announcing 4096 bytes; none of them sent.
    const events = receiveAll(server, concat(hex("82 fe 10 00"), KEY));
    expect(events.map(shortEvent), "the header says 4096 > 1000: no need to wait for the payload").toEqual(["close 1009 (failed)"]);
    expect(summarize(concat(...server.bytesToSend())), "a close frame with 1009").toEqual(["close 1009"]);
  });

  test("§7.1.1: once CLOSED, bytes received are ignored: no event, no pong; close() then does nothing", () => {
    const server = openConnection("server");
    receiveAll(server, CLOSE_1000);
    server.bytesToSend();
    expect(receiveAll(server, fromClient(0x9, text("late ping"))), "nothing is read after the closing handshake").toEqual([]);
    server.close(1001);
    expect(server.bytesToSend().length, "no pong, and close() on a CLOSED connection sends nothing").toBe(0);
    expect(server.state, "still CLOSED").toBe("CLOSED");
  });

  test("§7.1.5: events still waiting from a receive() are not handed out once receiveEnd() ended the connection, not even a violation", () => {
    const server = openConnection("server");
    const bad = fromServer(0x1, text("unmasked"));
    const events = server.receive(concat(HELLO_FRAME, HELLO_FRAME, bad))[Symbol.iterator]();
    expect(shortEvent(events.next().value as ConnectionEvent), "the first message").toBe("message Hello");
    expect(server.receiveEnd().map(shortEvent), "TCP ended").toEqual(["close 1006 (failed)"]);
    expect(events.next().done, "the second message and the violation behind it are not reported after the end").toBe(true);
    expect(server.bytesToSend().length, "and nothing is sent on a connection that has ended").toBe(0);
  });

  test("an error of the application's own (here in onFrame) is not the peer's fault: it propagates, no close frame is sent", () => {
    const bug = new TypeError("the application's own bug");
    const server = openConnection("server", {
      onFrame: () => {
        throw bug;
      },
    });
    const thrown = expectThrows(() => receiveAll(server, HELLO_FRAME), TypeError, "a TypeError from onFrame");
    expect(thrown, "the very error onFrame threw, not one made from it").toBe(bug);
    expect(server.bytesToSend().length, "no close frame for a bug on our side").toBe(0);
  });

  test("§5.4: with decodeText false, a fragmented message is one message-bytes event, when its last fragment arrives", () => {
    const server = openConnection("server", { decodeText: false });
    const events = receiveAll(server, concat(fromClient(0x1, text("Hel"), false), fromClient(0x0, text("lo"))));
    expect(events, "one event for two fragments").toEqual([{ type: "message-bytes", message: { type: "text", data: text("Hello") } }]);
  });

  test("onFrame sees each frame received as \"in\" and each frame sent as \"out\" (for --trace)", () => {
    const seen: string[] = [];
    const server = openConnection("server", { onFrame: (frame, way) => seen.push(`${way} ${opcodeName(frame.opcode)}`) });
    receiveAll(server, fromClient(0x9, text("p")));
    server.send({ type: "text", data: "hi" });
    expect(seen.map((s) => s.toLowerCase()), "the ping came in, the pong and the text went out").toEqual(["in ping", "out pong", "out text"]);
  });

  test("§5.1, §5.3 MUST: a client masks a large payload too (20 KiB): the bytes on the wire unmask to the message", () => {
    const client = openConnection("client");
    const message = new Uint8Array(20 * 1024).map((_, i) => i & 0xff);
    client.send({ type: "binary", data: message });
    const [frame] = readFrames(concat(...client.bytesToSend()));
    expect(frame?.maskKey, "the MASK bit is set, with a key").toBeDefined();
    expect(frame?.payload.length, "20 KiB of payload").toBe(message.length);
    expect(frame?.payload.every((byte, i) => byte === message[i]), "unmasked, the payload is the message").toBe(true);
  });

  test("§7.1.1: TCP ending after the closing handshake adds no event: the connection was already CLOSED, cleanly", () => {
    const server = openConnection("server");
    expect(receiveAll(server, CLOSE_1000).map(shortEvent), "the closing handshake").toEqual(["close 1000"]);
    expect(server.receiveEnd(), "no second close event, no 1006: the close was clean").toEqual([]);
  });

  test("§7.1.2, §5.5.1: close() with no arguments sends 1000 and no reason: 88 02 03 e8", () => {
    const server = openConnection("server");
    server.close();
    expectBytes(concat(...server.bytesToSend()), hex("88 02 03 e8"), "a close frame with code 1000 and nothing after it");
  });

  test("§4.1, §7.1.2: a call in the wrong state is an InvalidStateError, and changes nothing", () => {
    const fresh = new Connection("server");
    expectThrows(() => fresh.ping(), InvalidStateError, "ping() while CONNECTING");
    expectThrows(() => fresh.close(), InvalidStateError, "close() while CONNECTING");
    expectThrows(() => receiveAll(fresh, HELLO_FRAME), InvalidStateError, "receive() before open()");
    expect(fresh.state, "calls refused while CONNECTING leave the connection CONNECTING").toBe("CONNECTING");
    expect(fresh.bytesToSend().length, "and send nothing").toBe(0);
    fresh.open();
    expectThrows(() => fresh.open(), InvalidStateError, "open() twice");
    expect(fresh.state, "a second open() leaves the connection OPEN").toBe("OPEN");
    fresh.close();
    fresh.bytesToSend();
    expectThrows(() => fresh.send({ type: "text", data: "late" }), InvalidStateError, "send() while CLOSING");
    expect(fresh.state, "send() refused while CLOSING leaves it CLOSING").toBe("CLOSING");
    expect(fresh.bytesToSend().length, "and sends nothing").toBe(0);
  });
});

describe("Step 2 — receive: before the handshake", () => {
  test("§4.1 MUST: nothing is sent or received before the handshake completes", () => {
    const connection = new Connection("server");
    expectThrows(() => connection.send({ type: "text", data: "too early" }), InvalidStateError, "send() while CONNECTING");
    expectThrows(() => receiveAll(connection, SESSION), InvalidStateError, "receive() while CONNECTING");
  });
});

describe("Step 3 — close: a ping after our close frame", () => {
  test("§5.5.2 MUST: a ping is still answered after our close frame went out", () => {
    const server = openConnection("server");
    server.close();
    server.bytesToSend();
    receiveAll(server, fromClient(0x9, text("still?")));
    expectBytes(
      concat(...server.bytesToSend()),
      hex("8a 06 73 74 69 6c 6c 3f"),
      "RFC 6455 §5.5.2: only a close frame *received* excuses the pong; §5.5.1 stops data frames, not control frames",
    );
  });
});
