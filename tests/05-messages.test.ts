import fc from "fast-check";
import { assert, describe, expect, test } from "vitest";
import { fragmentMessage, MessageAssembler, Utf8Validator } from "@workbook/05-messages";
import { ProtocolError } from "../lib/errors.ts";
import { isControl, Opcode, type Frame } from "../lib/frame.ts";
import type { Message } from "../lib/message.ts";
import { expectProtocolError, expectThrows } from "./helpers/errors.ts";
import { hex, toHex } from "./helpers/hex.ts";
import { anyCodePoint, concat, utf8 } from "./helpers/bytes.ts";



/** A data or control frame as chapter 04's parser would hand it over: unmasked, RSV clear. */
function frame(opcode: number, payload: Uint8Array | string, fin = true): Frame {
  const bytes = typeof payload === "string" ? utf8(payload) : payload;
  return { fin, rsv1: false, rsv2: false, rsv3: false, opcode, payload: bytes };
}
const text = (payload: Uint8Array | string, fin = true) => frame(Opcode.Text, payload, fin);
const binary = (payload: Uint8Array | string, fin = true) => frame(Opcode.Binary, payload, fin);
const continuation = (payload: Uint8Array | string, fin = true) => frame(Opcode.Continuation, payload, fin);

/** A message as one line, for failure messages: text "Hello" or binary 01 02 03. */
function show(message: Message | undefined): string {
  if (message === undefined) return "no message";
  return message.type === "text" ? `text ${JSON.stringify(message.data)}` : `binary ${toHex(message.data)}`;
}

/** Pushes every frame, collecting the messages that come back. */
function assemble(frames: Frame[], assembler = new MessageAssembler()): Message[] {
  const messages: Message[] = [];
  for (const f of frames) {
    const message = assembler.push(f);
    if (message !== undefined) messages.push(message);
  }
  return messages;
}

/** `bytes` cut at the given offsets: cut(ab cd ef, [1, 2]) → [ab], [cd], [ef]. */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at)].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  return [0, ...points].map((start, i) => bytes.subarray(start, points[i] ?? bytes.length));
}

/** The chunks as a text message: the first a text frame, the rest continuations, FIN on the last. */
function asTextFrames(chunks: Uint8Array[]): Frame[] {
  return chunks.map((chunk, i) => frame(i === 0 ? Opcode.Text : Opcode.Continuation, chunk, i === chunks.length - 1));
}

// ---------------------------------------------------------------------------

/** The oracle: the platform's own strict UTF-8 decoder (RFC 3629), not the code under test. */
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe("Step 1 — UTF-8, checked as it arrives: Utf8Validator", () => {
  /** Feeds the chunks to a fresh validator, then ends the text. */
  function validate(chunks: Uint8Array[]): void {
    const validator = new Utf8Validator();
    for (const chunk of chunks) validator.push(chunk);
    validator.end();
  }

  function expectValid(chunks: Uint8Array[], rule: string): void {
    try {
      validate(chunks);
    } catch (error) {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      assert.fail(`${rule}: ${chunks.map(toHex).join(" | ")} is valid UTF-8 and must be accepted, but it threw ${what}`);
    }
  }

  test("RFC 3629 §4: valid UTF-8 of every length is accepted, at the edges of every range", () => {
    const valid = [
      ["00", "U+0000"], ["41", "A"], ["7f", "U+007F, the last 1-byte code point"],
      ["c2 80", "U+0080, the first 2-byte code point"], ["c3 a9", "é"], ["df bf", "U+07FF"],
      ["e0 a0 80", "U+0800, the first 3-byte code point"], ["e2 82 ac", "€"],
      ["ed 9f bf", "U+D7FF, just below the surrogates"], ["ee 80 80", "U+E000, just above them"],
      ["ef bf bf", "U+FFFF"], ["ef bb bf", "U+FEFF (a BOM)"],
      ["f0 90 80 80", "U+10000, the first 4-byte code point"], ["f0 9f 98 80", "😀"],
      ["f4 8f bf bf", "U+10FFFF, the last code point"],
    ];
    for (const [bytes = "", what] of valid) expectValid([hex(bytes)], `${bytes} (${what})`);
    expectValid([utf8("Grüße, 世界! 🎉")], "a mixed string");
    expectValid([], "empty text");
  });

  test("§8.1 MUST: overlong encodings fail with 1007 (C0 80, C1 BF, E0 80 80, E0 9F BF, F0 80 80 80, F0 8F BF BF)", () => {
    for (const bytes of ["c0 80", "c1 bf", "e0 80 80", "e0 9f bf", "f0 80 80 80", "f0 8f bf bf"]) {
      expectProtocolError(
        () => validate([hex(bytes)]),
        1007,
        `${bytes} is an overlong form (a code point written with more bytes than it needs), never valid UTF-8`,
      );
    }
  });

  test("§8.1 MUST: UTF-16 surrogates U+D800..DFFF fail with 1007 (ED A0 80, ED BF BF)", () => {
    for (const bytes of ["ed a0 80", "ed bf bf", "ed b0 80"]) {
      expectProtocolError(() => validate([hex(bytes)]), 1007, `${bytes} encodes a surrogate: after ED the next byte must be 80..9F`);
    }
  });

  test("§8.1 MUST: code points above U+10FFFF fail with 1007 (F4 90 80 80, and lead bytes F5..FF)", () => {
    expectProtocolError(() => validate([hex("f4 90 80 80")]), 1007, "F4 90 80 80 would be U+110000: after F4 the next byte must be 80..8F");
    for (let lead = 0xf5; lead <= 0xff; lead++) {
      const bytes = Uint8Array.of(lead, 0x80, 0x80, 0x80);
      expectProtocolError(() => validate([bytes]), 1007, `${toHex(bytes)}: lead byte ${toHex(Uint8Array.of(lead))} never appears in UTF-8`);
    }
  });

  test("§8.1 MUST: a continuation byte with no lead byte fails with 1007 (80, BF, 41 80, C3 A9 A9)", () => {
    for (const bytes of ["80", "bf", "41 80", "c3 a9 a9"]) {
      expectProtocolError(() => validate([hex(bytes)]), 1007, `${bytes}: a continuation byte (80..BF) must follow a lead byte`);
    }
  });

  test("§8.1 MUST: a lead byte without its continuation bytes fails with 1007 (C3 41, E2 82 41, F0 9F 98 41)", () => {
    for (const bytes of ["c3 41", "e2 41", "e2 82 41", "f0 9f 98 41", "c3 c3 a9"]) {
      expectProtocolError(() => validate([hex(bytes)]), 1007, `${bytes}: a lead byte must be followed by its continuation bytes`);
    }
  });

  test("§5.6 MUST: text that ends inside a code point fails with 1007 when it ends, not before", () => {
    for (const bytes of ["c3", "e2 82", "f0 9f 98", "41 e2"]) {
      const validator = new Utf8Validator();
      try {
        validator.push(hex(bytes));
      } catch (error) {
        assert.fail(`${bytes} may be the start of a code point whose rest is in the next fragment: push must accept it, but it threw ${String(error)}`);
      }
      expectProtocolError(() => validator.end(), 1007, `the text ends after ${bytes}, in the middle of a code point`);
    }
  });

  test("§5.6: a code point may be split between chunks at any byte (é, €, 😀, U+10FFFF)", () => {
    for (const char of ["é", "€", "😀", "\u{10ffff}"]) {
      const bytes = utf8(char);
      for (let at = 1; at < bytes.length; at++) {
        expectValid(cut(bytes, [at]), `${char} split after byte ${at}`);
      }
      expectValid(cut(bytes, [1, 2, 3]), `${char} one byte per chunk`);
    }
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): a bad byte throws on the push that carries it, not at the end", () => {
    const validator = new Utf8Validator();
    try {
      validator.push(utf8("all good so far, "));
    } catch (error) {
      assert.fail(`valid text must be accepted, but push threw ${String(error)}`);
    }
    expectProtocolError(() => validator.push(hex("41 ff 41")), 1007, "FF is never UTF-8: the push carrying it must throw at once");
  });

  test("§5.6: end() readies the validator for the next text", () => {
    const validator = new Utf8Validator();
    try {
      validator.push(utf8("first"));
      validator.end();
      validator.push(hex("e2 82"));
      validator.push(hex("ac"));
      validator.end();
    } catch (error) {
      assert.fail(`two valid texts one after the other must both be accepted, but it threw ${String(error)}`);
    }
  });

  test("RFC 3629, property: for any bytes cut anywhere, the validator agrees with a strict UTF-8 decoder", () => {
    // Bytes from the edges of every range in RFC 3629 §4, so that both valid and invalid text come up often.
    const edgy = fc.constantFrom(
      0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
      0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
    );
    const bytes = fc.oneof(
      fc.array(edgy, { maxLength: 12 }).map((b) => Uint8Array.from(b)),
      fc.string({ unit: anyCodePoint, maxLength: 6 }).map(utf8),
    );
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(12)), (input, at) => {
        const chunks = cut(input, at);
        let accepted = true;
        try {
          validate(chunks);
        } catch (error) {
          // Only a rejection the connection can act on counts: a ProtocolError with 1007.
          if (!(error instanceof ProtocolError && error.code === 1007)) throw error;
          accepted = false;
        }
        expect(accepted, `${chunks.map(toHex).join(" | ")} ${isUtf8(input) ? "is" : "is not"} valid UTF-8`).toBe(isUtf8(input));
      }),
    );
  });
});

// ---------------------------------------------------------------------------

describe("Step 2 — messages from fragments: MessageAssembler", () => {
  test("§5.4: an unfragmented text frame (FIN set, opcode 1) is a whole message, returned at once", () => {
    const message = new MessageAssembler().push(text("Hello"));
    expect(show(message), "81 05 48 65 6c 6c 6f (RFC 6455 §5.7) is the text message Hello").toBe('text "Hello"');
  });

  test("§5.4: an unfragmented binary frame comes back as the same bytes", () => {
    const message = new MessageAssembler().push(binary(hex("00 01 fe ff")));
    expect(show(message), "a binary frame with FIN set is a binary message").toBe("binary 00 01 fe ff");
  });

  test("§5.4, §5.7: the RFC's fragmented Hello (01 03 48 65 6c, 80 02 6c 6f) is one message, returned with its final frame", () => {
    const assembler = new MessageAssembler();
    const first = assembler.push(text("Hel", false));
    expect(show(first), "a frame with FIN clear is not the end of the message: push returns undefined").toBe("no message");
    const last = assembler.push(continuation("lo"));
    expect(show(last), "the continuation frame with FIN set completes the message").toBe('text "Hello"');
  });

  test("§5.4: any number of continuation frames, empty ones included, make one message", () => {
    const frames = [binary("a", false), continuation("", false), continuation("bc", false), continuation("", false), continuation("d")];
    const messages = assemble(frames);
    expect(messages.map(show), "5 frames with FIN only on the last are one binary message abcd").toEqual(["binary 61 62 63 64"]);
  });

  test("§5.4 MUST: a message completes although a ping came between its fragments (the connection routed the ping elsewhere)", () => {
    // On the wire: 01 03 48 65 6c · 89 04 70 69 6e 67 · 80 02 6c 6f. The connection (chapter 07)
    // answers control frames itself and gives the assembler only the data frames.
    const wire = [text("Hel", false), frame(Opcode.Ping, "ping"), continuation("lo")];
    const assembler = new MessageAssembler();
    const messages: Message[] = [];
    const controls: Frame[] = [];
    for (const f of wire) {
      if (isControl(f.opcode)) controls.push(f);
      else {
        const message = assembler.push(f);
        if (message !== undefined) messages.push(message);
      }
    }
    expect(messages.map(show), "the text message around the ping is Hello").toEqual(['text "Hello"']);
    expect(controls.length, "the ping went to the connection, not into the message").toBe(1);
  });

  test("control frames are the connection's job: giving one to the assembler is a caller's mistake (TypeError)", () => {
    for (const opcode of [Opcode.Close, Opcode.Ping, Opcode.Pong]) {
      expectThrows(() => new MessageAssembler().push(frame(opcode, "")), TypeError, `push(opcode 0x${opcode.toString(16)})`);
    }
    const assembler = new MessageAssembler();
    assembler.push(text("Hel", false));
    expectThrows(() => assembler.push(frame(Opcode.Ping, "")), TypeError, "push(ping) in the middle of a message");
  });

  test("§5.4 MUST: a continuation frame with no message in progress fails with 1002", () => {
    expectProtocolError(() => new MessageAssembler().push(continuation("lo")), 1002, "a continuation frame as the very first frame");
    const assembler = new MessageAssembler();
    expect(show(assembler.push(text("done"))), "an unfragmented message").toBe('text "done"');
    expectProtocolError(() => assembler.push(continuation("more")), 1002, "a continuation frame after a message that had FIN set");
  });

  test("§5.4 MUST: a text or binary frame while a message is in progress fails with 1002 (messages never interleave)", () => {
    const cases: [Frame, Frame][] = [
      [text("a", false), text("b")],
      [text("a", false), binary("b")],
      [binary("a", false), text("b", false)],
    ];
    for (const [first, second] of cases) {
      const assembler = new MessageAssembler();
      expect(show(assembler.push(first)), "the first fragment of a message").toBe("no message");
      expectProtocolError(
        () => assembler.push(second),
        1002,
        `opcode ${second.opcode} after a first fragment: the next fragment must be a continuation (opcode 0)`,
      );
    }
  });

  test("§5.2 MUST: a reserved data opcode (0x3..0x7) fails with 1002", () => {
    for (let opcode = 0x3; opcode <= 0x7; opcode++) {
      expectProtocolError(() => new MessageAssembler().push(frame(opcode, "x")), 1002, `opcode 0x${opcode} is reserved`);
    }
  });

  test("§5.6: a binary message may hold any bytes, even ones that are not UTF-8", () => {
    const messages = assemble([binary(hex("c0 80"), false), continuation(hex("ed a0 80 ff"))]);
    expect(messages.map(show), "binary data is never checked as text").toEqual(["binary c0 80 ed a0 80 ff"]);
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): bad UTF-8 in the first fragment fails with 1007 when that fragment is pushed", () => {
    const assembler = new MessageAssembler();
    expectProtocolError(
      () => assembler.push(text(hex("48 69 c0 80"), false)),
      1007,
      "C0 80 is never UTF-8: do not wait for the final fragment to find out",
    );
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): bad UTF-8 in a later fragment fails with 1007 when that fragment is pushed", () => {
    const assembler = new MessageAssembler();
    expect(show(assembler.push(text("Hel", false))), "a valid first fragment").toBe("no message");
    expectProtocolError(() => assembler.push(continuation(hex("ed a0 80"), false)), 1007, "ED A0 80 is a surrogate (U+D800)");
  });

  test("§5.6: a code point split between two fragments is valid: 😀 (F0 9F 98 80) cut at every byte", () => {
    const bytes = utf8("a😀b");
    for (let at = 1; at < bytes.length; at++) {
      const messages = assemble(asTextFrames(cut(bytes, [at])));
      expect(messages.map(show), `a😀b cut after byte ${at} of ${toHex(bytes)}`).toEqual(['text "a😀b"']);
    }
  });

  test("§5.6 MUST: a text message that ends inside a code point fails with 1007 on its final fragment", () => {
    const assembler = new MessageAssembler();
    expect(show(assembler.push(text(hex("41 e2 82"), false))), "41 E2 82 may go on in the next fragment").toBe("no message");
    expectProtocolError(() => assembler.push(continuation("")), 1007, "the message ends after E2 82, in the middle of €");
  });

  test("§5.6: a leading BOM (EF BB BF) is part of the text and is not stripped", () => {
    const [message] = assemble([text(hex("ef bb bf 68 69"))]);
    expect(show(message), "U+FEFF then hi: a WebSocket text message is not a file").toBe('text "\uFEFFhi"');
  });

  test("§5.4, property: any text cut into fragments anywhere comes back whole", () => {
    fc.assert(
      fc.property(fc.string({ unit: anyCodePoint, maxLength: 20 }), fc.array(fc.nat(80), { maxLength: 6 }), (data, at) => {
        const messages = assemble(asTextFrames(cut(utf8(data), at)));
        expect(messages.map(show), `${JSON.stringify(data)} cut at ${at.join(", ")}`).toEqual([show({ type: "text", data })]);
      }),
    );
  });

  test("§10.4, §7.4.1: a message over maxMessageSize fails with 1009 on the fragment that goes over", () => {
    const assembler = new MessageAssembler({ maxMessageSize: 10 });
    expect(show(assembler.push(binary("123456", false))), "6 bytes of a 10-byte limit: not finished yet").toBe("no message");
    expectProtocolError(
      () => assembler.push(continuation("12345", false)),
      1009,
      "6 + 5 = 11 bytes > 10: fail now, even though the message is not finished",
    );
    expectProtocolError(() => new MessageAssembler({ maxMessageSize: 10 }).push(text("12345678901")), 1009, "one 11-byte frame, limit 10");
  });

  test("§10.4: a message of exactly maxMessageSize is accepted, and the next message starts counting from 0", () => {
    const assembler = new MessageAssembler({ maxMessageSize: 10 });
    const messages = assemble([text("12345", false), continuation("67890"), binary("abcdefgh")], assembler);
    expect(messages.map(show), "two messages of 10 and 8 bytes under a 10-byte limit").toEqual([
      'text "1234567890"',
      "binary 61 62 63 64 65 66 67 68",
    ]);
  });

  test("§10.4: maxMessageSize 0 accepts only empty messages; Infinity sets no limit", () => {
    const none = new MessageAssembler({ maxMessageSize: 0 });
    expect(assemble([text(""), binary("", false), continuation("")], none).map(show), "empty messages fit a limit of 0").toEqual(['text ""', "binary "]);
    expectProtocolError(() => none.push(binary("x")), 1009, "one byte over a limit of 0");
    // A frame still arriving that announces 1 TiB: refused at once under the default limit, not without one.
    const terabyte = { ...binary(""), length: 2 ** 40 };
    expectProtocolError(() => new MessageAssembler().checkInProgress(terabyte), 1009, "a frame announcing 1 TiB, default limit");
    const unlimited = new MessageAssembler({ maxMessageSize: Infinity });
    expect(() => unlimited.checkInProgress(terabyte), "maxMessageSize: Infinity: no limit, so a frame announcing 1 TiB is not refused").not.toThrow();
  });

  test("a maxMessageSize that is negative or not a number is a caller's mistake (RangeError)", () => {
    for (const maxMessageSize of [-1, Number.NaN, 1.5]) {
      expectThrows(() => new MessageAssembler({ maxMessageSize }), RangeError, `maxMessageSize: ${maxMessageSize}`);
    }
  });

  test("§5.4: one assembler handles message after message, text and binary", () => {
    const frames = [text("one"), binary("2", false), continuation("2"), text("thr", false), continuation("ee")];
    expect(assemble(frames).map(show), "three messages in a row").toEqual(['text "one"', "binary 32 32", 'text "three"']);
  });
});

// ---------------------------------------------------------------------------

describe("Step 3 — a message as frames: fragmentMessage", () => {
  /** A frame as one line: "text FIN 48 65 6c" / "continuation - 6c 6f". */
  const line = (f: Frame) =>
    `${["continuation", "text", "binary"][f.opcode] ?? `opcode ${f.opcode}`} ${f.fin ? "FIN" : "-"} ${toHex(f.payload)}`.trim();

  test("§5.4: a message that fits is one frame with FIN set and the message's opcode", () => {
    const frames = fragmentMessage({ type: "text", data: "Hello" }, 125);
    expect(frames.map(line), "Hello in one frame: 81 05 48 65 6c 6c 6f").toEqual(["text FIN 48 65 6c 6c 6f"]);
    const [only] = frames;
    expect([only?.rsv1, only?.rsv2, only?.rsv3], "RSV bits stay clear: no extension was negotiated (§5.2)").toEqual([false, false, false]);
    expect(only?.maskKey, "fragmentMessage does not mask: that is the connection's choice by role (§5.3)").toBeUndefined();
  });

  test("§5.4, §5.7: the RFC's example, Hello in frames of 3 bytes: text Hel, then continuation lo with FIN", () => {
    const frames = fragmentMessage({ type: "text", data: "Hello" }, 3);
    expect(frames.map(line), "01 03 48 65 6c, then 80 02 6c 6f").toEqual(["text - 48 65 6c", "continuation FIN 6c 6f"]);
  });

  test("§5.4 MUST: only the first frame has the opcode, the rest are continuations, only the last has FIN", () => {
    const frames = fragmentMessage({ type: "binary", data: hex("00 01 02 03 04 05 06 07 08 09") }, 3);
    expect(frames.map(line), "10 bytes in frames of at most 3").toEqual([
      "binary - 00 01 02",
      "continuation - 03 04 05",
      "continuation - 06 07 08",
      "continuation FIN 09",
    ]);
  });

  test("§5.4: a length that divides exactly gives no empty frame at the end", () => {
    const frames = fragmentMessage({ type: "binary", data: hex("01 02 03 04 05 06") }, 3);
    expect(frames.map(line), "6 bytes in frames of 3: two frames").toEqual(["binary - 01 02 03", "continuation FIN 04 05 06"]);
  });

  test("§5.4: an empty message is one empty frame with FIN set", () => {
    expect(fragmentMessage({ type: "text", data: "" }, 10).map(line), "empty text: 81 00").toEqual(["text FIN"]);
    expect(fragmentMessage({ type: "binary", data: new Uint8Array(0) }, 10).map(line), "empty binary: 82 00").toEqual(["binary FIN"]);
  });

  test("§5.6: text is split by bytes, even inside a code point (€ = E2 82 AC in frames of 1 byte)", () => {
    const frames = fragmentMessage({ type: "text", data: "€" }, 1);
    expect(frames.map(line), "each byte of € in its own frame").toEqual(["text - e2", "continuation - 82", "continuation FIN ac"]);
  });

  test("§5.4: maxFramePayload Infinity sends every message in one frame", () => {
    const data = new Uint8Array(100_000);
    expect(fragmentMessage({ type: "binary", data }, Infinity).map((f) => `${f.opcode} ${f.fin} ${f.payload.length}`), "100 000 bytes, no frame size limit: one binary frame with FIN").toEqual([
      "2 true 100000",
    ]);
  });

  test("a maxFramePayload below 1 or not a whole number is a caller's mistake (RangeError)", () => {
    for (const max of [0, -1, 1.5, Number.NaN]) {
      expectThrows(() => fragmentMessage({ type: "text", data: "Hello" }, max), RangeError, `maxFramePayload ${max}`);
    }
  });

  test("§5.4, property: fragmentMessage then MessageAssembler gives back the message, in frames no bigger than asked", () => {
    const messages: fc.Arbitrary<Message> = fc.oneof(
      fc.string({ unit: anyCodePoint, maxLength: 30 }).map((data) => ({ type: "text" as const, data })),
      fc.uint8Array({ maxLength: 60 }).map((data) => ({ type: "binary" as const, data })),
    );
    fc.assert(
      fc.property(messages, fc.integer({ min: 1, max: 70 }), (message, max) => {
        const frames = fragmentMessage(message, max);
        for (const f of frames) {
          expect(f.payload.length, `a frame of ${max} bytes at most`).toBeLessThanOrEqual(max);
        }
        expect(assemble(frames).map(show), `${show(message)} in frames of ${max} bytes`).toEqual([show(message)]);
      }),
    );
  });
});

// ---------------------------------------------------------------------------

describe("Step 1 — UTF-8, checked as it arrives: at every length and alignment", () => {
  /** `bytes` copied into a fresh buffer at `offset` (0..7), so that a word-at-a-time reader meets every alignment. */
  function at(bytes: Uint8Array, offset: number): Uint8Array {
    const buffer = new Uint8Array(offset + bytes.length + 8).fill(0x41);
    buffer.set(bytes, offset);
    return buffer.subarray(offset, offset + bytes.length);
  }
  const accepts = (bytes: Uint8Array): boolean => {
    const validator = new Utf8Validator();
    try {
      validator.push(bytes);
      validator.end();
      return true;
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 1007) return false;
      throw error;
    }
  };

  test("§8.1 MUST: a lead byte followed by ASCII across a 4-byte boundary is caught (41 41 41 C3 41 41 41 41 A9), at every offset", () => {
    for (let offset = 0; offset < 8; offset++) {
      expect(accepts(at(hex("41 41 41 c3 41 41 41 41 a9"), offset)), `C3 needs a continuation byte, 41 is not one (buffer offset ${offset})`).toBe(false);
      expect(accepts(at(hex("41 41 41 41 ff"), offset)), `FF after a run of ASCII is never UTF-8 (buffer offset ${offset})`).toBe(false);
    }
  });

  test("§8.1 MUST: one bad byte anywhere in long ASCII text is caught, at every position, length and offset", () => {
    for (const bad of [0x80, 0xc3, 0xe2, 0xf0, 0xff]) {
      for (let length = 1; length <= 40; length++) {
        for (let position = 0; position < length; position++) {
          const bytes = new Uint8Array(length).fill(0x61);
          bytes[position] = bad;
          for (let offset = 0; offset < 4; offset++) {
            const input = at(bytes, offset);
            if (accepts(input) !== isUtf8(bytes)) {
              assert.fail(`${toHex(bytes)} at buffer offset ${offset}: ${isUtf8(bytes) ? "valid, but rejected" : "not UTF-8, but accepted"}`);
            }
          }
        }
      }
    }
  });

  test("RFC 3629, property: mostly-ASCII text with a few odd bytes, at any offset, cut anywhere, is judged as a strict decoder does", () => {
    const asciiHeavy = fc
      .array(
        fc.oneof(
          { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 20 },
          { arbitrary: fc.constantFrom(0x80, 0xa9, 0xbf, 0xc0, 0xc3, 0xe2, 0x82, 0xac, 0xed, 0xf0, 0x9f, 0xf4, 0xff), weight: 1 },
        ),
        { maxLength: 80 },
      )
      .map((b) => Uint8Array.from(b));
    const validText = fc.string({ unit: fc.oneof({ arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), weight: 10 }, { arbitrary: anyCodePoint, weight: 1 }), maxLength: 60 }).map(utf8);
    fc.assert(
      fc.property(fc.oneof(asciiHeavy, validText), fc.nat(7), fc.array(fc.nat(80), { maxLength: 3 }), (bytes, offset, cuts) => {
        const validator = new Utf8Validator();
        let accepted = true;
        try {
          for (const chunk of cut(at(bytes, offset), cuts)) validator.push(chunk);
          validator.end();
        } catch (error) {
          if (!(error instanceof ProtocolError && error.code === 1007)) throw error;
          accepted = false;
        }
        expect(accepted, `${toHex(bytes)} at offset ${offset}, cut at ${cuts}: ${isUtf8(bytes) ? "valid UTF-8" : "not UTF-8"}`).toBe(isUtf8(bytes));
      }),
      { numRuns: 400 },
    );
  });
});

describe("Step 2 — messages from fragments: the rest of its API", () => {
  test("§5.2 MUST: a reserved opcode in the middle of a message fails with 1002; it is not a continuation", () => {
    for (const opcode of [0x3, 0x7]) {
      const assembler = new MessageAssembler();
      assembler.push(text("Hel", false));
      expectProtocolError(() => assembler.push(frame(opcode, "lo")), 1002, `opcode 0x${opcode} after the first fragment of a text message`);
    }
  });

  test("§5.6: pushBytes returns text as its UTF-8 bytes, checked like any text; binary as it came", () => {
    const assembler = new MessageAssembler();
    expect(assembler.pushBytes(text(hex("6e c3"), false)), "a first fragment: no message yet").toBeUndefined();
    expect(assembler.pushBytes(continuation(hex("a9"))), "né in two fragments, as bytes").toEqual({ type: "text", data: hex("6e c3 a9") });
    expect(assembler.pushBytes(binary(hex("00 ff"))), "binary is unchanged").toEqual({ type: "binary", data: hex("00 ff") });
    expectProtocolError(() => new MessageAssembler().pushBytes(text(hex("6e c3"))), 1007, "text bytes are still validated: a cut-off code point");
  });

  /** A frame still arriving, as chapter 04's FrameParser.inProgress reports it. */
  const inProgress = (opcode: number, received: Uint8Array, length: number, fin = true) => ({ ...frame(opcode, received, fin), length });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): checkInProgress finds a bad byte before its frame is complete", () => {
    const assembler = new MessageAssembler();
    assembler.checkInProgress(inProgress(Opcode.Text, utf8("valid "), 100));
    expectProtocolError(
      () => assembler.checkInProgress(inProgress(Opcode.Text, concat(utf8("valid "), hex("61 ff")), 100)),
      1007,
      "8 of 100 bytes in, the 8th is FF: fail now, not when the frame is complete",
    );
  });

  test("§5.4, §5.6: checkInProgress then push: the frame checked in pieces makes the same message", () => {
    const whole = utf8("a😀b€c".repeat(9));
    for (const step of [1, 2, 3, 7]) {
      const assembler = new MessageAssembler();
      for (let n = 0; n < whole.length; n += step) assembler.checkInProgress(inProgress(Opcode.Text, whole.subarray(0, n), whole.length));
      expect(show(assembler.push(text(whole))), `checked ${step} byte(s) at a time, code points cut anywhere`).toBe(show({ type: "text", data: "a😀b€c".repeat(9) }));
      expect(show(assembler.push(text("next"))), "the next message starts afresh").toBe('text "next"');
    }
  });

  test("§5.6: checkInProgress checks text only: a binary frame in progress may hold any bytes", () => {
    const assembler = new MessageAssembler();
    const bytes = hex("ff fe c0 80 ed a0 80");
    for (let n = 1; n <= bytes.length; n++) assembler.checkInProgress(inProgress(Opcode.Binary, bytes.subarray(0, n), bytes.length));
    expect(show(assembler.push(binary(bytes))), "a binary frame of bytes that are not UTF-8, checked in pieces, then complete").toBe(show({ type: "binary", data: bytes }));
  });

  test("§5.4, §10.4: checkInProgress applies the rules of a frame's start: a lone continuation 1002, an announced length over the limit 1009", () => {
    expectProtocolError(() => new MessageAssembler().checkInProgress(inProgress(Opcode.Continuation, utf8("x"), 10)), 1002, "a continuation with no message in progress");
    expectProtocolError(
      () => new MessageAssembler({ maxMessageSize: 50 }).checkInProgress(inProgress(Opcode.Binary, new Uint8Array(1), 51)),
      1009,
      "a frame announcing 51 bytes over a limit of 50: fail before the payload is in",
    );
  });
});
