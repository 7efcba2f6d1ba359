import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { Connection, type ConnectionEvent, type Role } from "@workbook/07-connection";
import { InvalidStateError } from "../lib/errors.ts";
import { expectThrows } from "./helpers/errors.ts";
import { expectBytes } from "./helpers/frame-dump.ts";
import { hex } from "./helpers/hex.ts";
// Inputs are built with the reference encoder, so a slip in your chapter 04
// cannot hide inside the test's own data.
import { encodeFrame } from "../solutions/04-frames.ts";
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

describe("a recorded session, replayed", () => {
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

describe("states", () => {
  test("§4.1: a connection starts CONNECTING and is OPEN after the handshake", () => {
    const connection = new Connection("client");
    expect(connection.state, "before the opening handshake").toBe("CONNECTING");
    connection.open();
    expect(connection.state, "after open()").toBe("OPEN");
  });

  test("§4.1 MUST: nothing is sent or received before the handshake completes", () => {
    const connection = new Connection("server");
    expectThrows(() => connection.send({ type: "text", data: "too early" }), InvalidStateError, "send() while CONNECTING");
    expectThrows(() => connection.receive(SESSION), InvalidStateError, "receive() while CONNECTING");
  });
});

describe("sending", () => {
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

  test("§5.5.2: a ping carries its payload; bytesToSend gives each byte once", () => {
    const server = openConnection("server");
    server.ping(text("Hello"));
    expectBytes(concat(...server.bytesToSend()), hex("89 05 48 65 6c 6c 6f"), "RFC 6455 §5.7: the unmasked ping example");
    expect(server.bytesToSend().length, "a second call returns nothing new").toBe(0);
  });
});

describe("control frames", () => {
  test("§5.5.2 MUST: a ping is answered with a pong carrying the same payload", () => {
    const { events, sent } = replay("client", [fromServer(0x9, text("are you there?"))]);
    expect(events, "the application hears about the ping").toEqual([{ type: "ping", payload: text("are you there?") }]);
    expectBytes(
      sent,
      fromClient(0xa, text("are you there?")),
      "RFC 6455 §5.5.3: the pong's payload is the ping's; a client masks it",
    );
  });

  test("§5.5.2 MUST: a ping is still answered after our close frame went out", () => {
    const server = openConnection("server");
    server.close();
    server.bytesToSend();
    server.receive(fromClient(0x9, text("still?")));
    expectBytes(
      concat(...server.bytesToSend()),
      hex("8a 06 73 74 69 6c 6c 3f"),
      "RFC 6455 §5.5.2: only a close frame *received* excuses the pong; §5.5.1 stops data frames, not control frames",
    );
  });

  test("§5.5.3: a pong is reported, and not answered", () => {
    const { events, sent } = replay("server", [fromClient(0xa, text("beat"))]);
    expect(events, "an unsolicited pong is just reported").toEqual([{ type: "pong", payload: text("beat") }]);
    expect(sent.length, "nothing is sent in reply to a pong").toBe(0);
  });
});

describe("closing", () => {
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
    const events = server.receive(fromClient(0x8, hex("03 e8")));
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
    const events = server.receive(fromClient(0x1, text("in flight")));
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
    server.receive(fromClient(0x1, text("half")).subarray(0, 4)); // a frame cut short
    const events = server.receiveEnd();
    expect(events, "an abnormal closure").toEqual([{ type: "close", code: 1006, reason: "", clean: false }]);
    expect(server.state, "nothing can come after the end of TCP").toBe("CLOSED");
    expect(server.bytesToSend().length, "1006 is never sent").toBe(0);
  });
});

describe("failing the connection", () => {
  /** Feeds `input`, and checks the close frame sent, the close event and that later input is ignored. */
  function expectFailure(role: Role, input: Uint8Array, code: number, rule: string, options = {}): void {
    const connection = openConnection(role, options);
    const events = connection.receive(input);
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
    expect(connection.receive(fromClient(0x1, text("more"))), `${rule}: input after the failure is ignored`).toEqual([]);
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
