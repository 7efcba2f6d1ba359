import fc from "fast-check";
import { assert, describe, expect, test } from "vitest";
import { DEFAULT_MAX_PAYLOAD, encodeFrame, encodeFrameHeader, FrameParser, type FrameInit } from "@workbook/04-frames";
import { opcodeName, type Frame } from "../lib/frame.ts";
import { expectProtocolError, expectThrows } from "./helpers/errors.ts";
import { expectBytes } from "./helpers/frame-dump.ts";
import { hex, toHex } from "./helpers/hex.ts";
import { concat, pattern, utf8 } from "./helpers/bytes.ts";

// ---------------------------------------------------------------------------
// Test data

const text = utf8;



/** The frame a parser should return for `init`: FIN set and RSV clear unless said otherwise. */
function frame(init: FrameInit): Frame {
  const { fin = true, rsv1 = false, rsv2 = false, rsv3 = false, opcode, payload, maskKey } = init;
  return { fin, rsv1, rsv2, rsv3, opcode, payload, ...(maskKey === undefined ? {} : { maskKey }) };
}

const HELLO = text("Hello");
const RFC_KEY = hex("37 fa 21 3d");
const BINARY_256 = pattern(256, 256);
const BINARY_64K = pattern(65536, 65536);

/** Every example of RFC 6455 §5.7, as frames and as the bytes on the wire. */
const RFC_EXAMPLES: { name: string; frames: FrameInit[]; wire: Uint8Array }[] = [
  {
    name: 'a single-frame unmasked text message "Hello": 81 05 48 65 6c 6c 6f',
    frames: [{ opcode: 0x1, payload: HELLO }],
    wire: hex("81 05 48 65 6c 6c 6f"),
  },
  {
    name: 'a single-frame masked text message "Hello": 81 85 37 fa 21 3d 7f 9f 4d 51 58',
    frames: [{ opcode: 0x1, payload: HELLO, maskKey: RFC_KEY }],
    wire: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
  },
  {
    name: 'a fragmented unmasked text message "Hel" + "lo": 01 03 48 65 6c, 80 02 6c 6f',
    frames: [
      { fin: false, opcode: 0x1, payload: text("Hel") },
      { fin: true, opcode: 0x0, payload: text("lo") },
    ],
    wire: hex("01 03 48 65 6c  80 02 6c 6f"),
  },
  {
    name: 'an unmasked ping "Hello": 89 05 48 65 6c 6c 6f',
    frames: [{ opcode: 0x9, payload: HELLO }],
    wire: hex("89 05 48 65 6c 6c 6f"),
  },
  {
    name: 'a masked pong "Hello", the answer to that ping: 8a 85 37 fa 21 3d 7f 9f 4d 51 58',
    frames: [{ opcode: 0xa, payload: HELLO, maskKey: RFC_KEY }],
    wire: hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
  },
  {
    name: "256 bytes of binary in one unmasked frame: 82 7e 01 00, then the payload",
    frames: [{ opcode: 0x2, payload: BINARY_256 }],
    wire: concat(hex("82 7e 01 00"), BINARY_256),
  },
  {
    name: "64 KiB of binary in one unmasked frame: 82 7f 00 00 00 00 00 01 00 00, then the payload",
    frames: [{ opcode: 0x2, payload: BINARY_64K }],
    wire: concat(hex("82 7f 00 00 00 00 00 01 00 00"), BINARY_64K),
  },
];

/** All the §5.7 examples back to back: one byte stream of eight frames. */
const RFC_STREAM = concat(...RFC_EXAMPLES.map((e) => e.wire));
const RFC_STREAM_FRAMES = RFC_EXAMPLES.flatMap((e) => e.frames);

// ---------------------------------------------------------------------------
// Assertions

const describeFrame = (f: Frame) =>
  `${opcodeName(f.opcode)}${f.fin ? "" : " (FIN clear)"}, ${f.payload?.length} bytes${f.maskKey ? ", masked" : ""}`;

/**
 * Runs `parse` (valid bytes into a parser) and compares the frames it returns
 * with the frames expected, field by field, in protocol terms.
 */
function expectFrames(parse: () => unknown, want: FrameInit[], rule: string): void {
  let got: unknown;
  try {
    got = parse();
  } catch (error) {
    const e = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    assert.fail(`${rule}: these bytes are valid frames, but the parser threw ${e}`);
  }
    const frames = got as Frame[];
  const expected = want.map(frame);
  expect(
    frames.length,
    `${rule}: expected ${expected.length} frame(s) [${expected.map(describeFrame).join("; ")}], ` +
      `got ${frames.length} [${frames.map(describeFrame).join("; ")}]`,
  ).toBe(expected.length);
  expected.forEach((w, i) => {
    const g = frames[i]!;
    const which = `${rule}: frame ${i + 1} of ${expected.length}`;
    expect(g.fin, `${which}: FIN should be ${w.fin ? 1 : 0} (§5.2)`).toBe(w.fin);
    for (const bit of ["rsv1", "rsv2", "rsv3"] as const) {
      expect(g[bit], `${which}: ${bit.toUpperCase()} should be ${w[bit] ? 1 : 0} (§5.2)`).toBe(w[bit]);
    }
    expect(
      g.opcode,
      `${which}: the opcode should be 0x${w.opcode.toString(16)} (${opcodeName(w.opcode)}), got ${opcodeName(g.opcode)}`,
    ).toBe(w.opcode);
    if (w.maskKey === undefined) {
      expect(g.maskKey, `${which}: the MASK bit is 0, so the frame has no maskKey`).toBeUndefined();
    } else {
      expectBytes(g.maskKey, w.maskKey, `${which}: the MASK bit is 1: maskKey is the 4 bytes after the length (§5.2)`, "bytes");
    }
    expectBytes(
      g.payload,
      w.payload,
      `${which}: the payload${w.maskKey ? ", unmasked with the frame's key (§5.3)," : ""} should be these ${w.payload.length} bytes`,
      "bytes",
    );
  });
}

/** Every frame `push` gives for `bytes`: it hands them out one at a time, as they are asked for. */
const read = (parser: FrameParser, bytes: Uint8Array): Frame[] => {
  const frames = parser.push(bytes);
  if (frames == null || typeof (frames as Iterable<Frame>)[Symbol.iterator] !== "function") {
    assert.fail(`push should return the frames as an iterable (an array or a generator), it returned ${String(frames)}`);
  }
  return [...frames];
};

/** Feeds `bytes` to a fresh parser in pieces cut at `cuts`, and returns every frame it completed. */
function parseInPieces(bytes: Uint8Array, cuts: number[], parser = new FrameParser()): Frame[] {
  const frames: Frame[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    frames.push(...read(parser, bytes.subarray(from, to)));
    from = to;
  }
  return frames;
}

// ---------------------------------------------------------------------------
// Generators

const keys = fc.uint8Array({ minLength: 4, maxLength: 4 });
/** Mostly short payloads, sometimes the boundaries, sometimes long ones. */
const lengths = fc.oneof(
  { arbitrary: fc.nat({ max: 130 }), weight: 6 },
  { arbitrary: fc.constantFrom(0, 125, 126, 127, 65535, 65536), weight: 1 },
  { arbitrary: fc.nat({ max: 70_000 }), weight: 1 },
);
/**
 * Any frame a sender may send without an extension: a data frame, or an
 * unfragmented control frame ≤ 125 bytes. Generated as a short description
 * (so a failing case prints small) and turned into a frame by `toFrame`.
 */
const validFrames = fc.record({
  kind: fc.oneof(
    fc.record({ fin: fc.boolean(), opcode: fc.constantFrom(0x0, 0x1, 0x2), length: lengths }),
    fc.record({ fin: fc.constant(true), opcode: fc.constantFrom(0x8, 0x9, 0xa), length: fc.nat({ max: 125 }) }),
  ),
  seed: fc.nat(),
  maskKey: fc.option(keys, { nil: undefined }),
});
type FrameDescription = { kind: { fin: boolean; opcode: number; length: number }; seed: number; maskKey: Uint8Array | undefined };
const toFrame = ({ kind, seed, maskKey }: FrameDescription): FrameInit => ({
  fin: kind.fin,
  opcode: kind.opcode,
  payload: pattern(kind.length, seed),
  maskKey,
});
/** Where to cut a stream of `n` bytes: sorted positions in 0..n. */
const cutsFor = (n: number, raw: number[]) => [...new Set(raw.map((c) => c % (n + 1)))].sort((a, b) => a - b);

// ---------------------------------------------------------------------------

describe("Step 1 — write a frame: encodeFrame", () => {
  for (const example of RFC_EXAMPLES) {
    test(`§5.7: ${example.name}`, () => {
      const bytes = concat(...example.frames.map((f) => encodeFrame(f)));
      expectBytes(bytes, example.wire, `RFC 6455 §5.7: ${example.name}`);
    });
  }

  test("§5.2 MUST: 0..125 bytes fit in the 7-bit payload length of byte 1", () => {
    for (const length of [0, 1, 125]) {
      const payload = pattern(length, length);
      expectBytes(
        encodeFrame({ opcode: 0x2, payload }),
        concat(hex(`82 ${length.toString(16).padStart(2, "0")}`), payload),
        `RFC 6455 §5.2: a ${length}-byte payload has its length in the 7-bit field: byte 1 is 0x${length.toString(16)}`,
      );
    }
  });

  test("§5.2 MUST: 126..65535 bytes use the 16-bit extended length", () => {
    for (const [length, header] of [
      [126, "82 7e 00 7e"],
      [127, "82 7e 00 7f"],
      [65535, "82 7e ff ff"],
    ] as const) {
      const payload = pattern(length, length);
      expectBytes(
        encodeFrame({ opcode: 0x2, payload }),
        concat(hex(header), payload),
        `RFC 6455 §5.2: a ${length}-byte payload needs the 16-bit extended length: byte 1 is 0x7e (126), then ${length} in 2 bytes, big-endian`,
      );
    }
  });

  test("§5.2 MUST: 65536 bytes and more use the 64-bit extended length, most significant bit 0", () => {
    for (const [length, header] of [
      [65536, "82 7f 00 00 00 00 00 01 00 00"],
      [70000, "82 7f 00 00 00 00 00 01 11 70"],
    ] as const) {
      const payload = pattern(length, length);
      expectBytes(
        encodeFrame({ opcode: 0x2, payload }),
        concat(hex(header), payload),
        `RFC 6455 §5.2: a ${length}-byte payload needs the 64-bit extended length: byte 1 is 0x7f (127), then ${length} in 8 bytes, big-endian`,
      );
    }
  });

  test("§5.2: FIN and RSV1-3 are the top four bits of byte 0, the opcode the low four", () => {
    const cases: [FrameInit, string, string][] = [
      [{ fin: false, opcode: 0x1, payload: HELLO }, "01", "FIN clear: a first fragment"],
      [{ fin: true, opcode: 0x0, payload: HELLO }, "80", "FIN set on a continuation: the last fragment"],
      [{ rsv1: true, opcode: 0x1, payload: HELLO }, "c1", "RSV1 is bit 0x40"],
      [{ rsv2: true, opcode: 0x1, payload: HELLO }, "a1", "RSV2 is bit 0x20"],
      [{ rsv3: true, opcode: 0x1, payload: HELLO }, "91", "RSV3 is bit 0x10"],
      [{ opcode: 0x3, payload: HELLO }, "83", "a reserved opcode is still 4 bits (for extensions to use)"],
      [{ opcode: 0xf, payload: HELLO }, "8f", "opcode 15, the largest 4-bit value (reserved for control frames), is encoded as given"],
    ];
    for (const [init, byte0, why] of cases) {
      expectBytes(encodeFrame(init), hex(`${byte0} 05 48 65 6c 6c 6f`), `RFC 6455 §5.2: ${why}: byte 0 is 0x${byte0}`);
    }
  });

  test("§5.2, §5.3 MUST: masked: MASK bit set, the key after the extended length, the payload masked", () => {
    const payload = pattern(200, 3);
    const original = payload.slice();
    const key = hex("01 02 f0 ff");
    const masked = payload.map((b, i) => b ^ key[i % 4]!);
    expectBytes(
      encodeFrame({ opcode: 0x2, payload, maskKey: key }),
      concat(hex("82 fe 00 c8"), key, masked),
      "RFC 6455 §5.2: byte 1 is MASK (0x80) | 126, the 16-bit length, then the 4-byte masking key, then the masked payload",
    );
    expectBytes(payload, original, "RFC 6455 §10.3: encodeFrame masks a copy; the caller's payload must not change", "bytes");
  });

  test("§5.2: an empty masked frame is the header and the key, nothing else", () => {
    expectBytes(
      encodeFrame({ opcode: 0x1, payload: new Uint8Array(0), maskKey: RFC_KEY }),
      hex("81 80 37 fa 21 3d"),
      "RFC 6455 §5.2: a masked frame always carries its key, even with no payload",
    );
  });

  test("§5.5 MUST: a control frame may carry up to 125 bytes", () => {
    const payload = pattern(125, 125);
    expectBytes(
      encodeFrame({ opcode: 0x9, payload }),
      concat(hex("89 7d"), payload),
      "RFC 6455 §5.5: a 125-byte ping is allowed: byte 1 is 0x7d",
    );
  });

  test("§5.5 MUST: a control frame over 125 bytes or fragmented is the caller's mistake: RangeError", () => {
    for (const opcode of [0x8, 0x9, 0xa]) {
      expectThrows(
        () => encodeFrame({ opcode, payload: new Uint8Array(126) }),
        RangeError,
        `RFC 6455 §5.5: a ${opcodeName(opcode)} frame carries at most 125 bytes; 126 cannot be sent`,
      );
      expectThrows(
        () => encodeFrame({ opcode, fin: false, payload: new Uint8Array(0) }),
        RangeError,
        `RFC 6455 §5.5: a ${opcodeName(opcode)} frame cannot be fragmented (fin: false)`,
      );
    }
  });

  test("the workbook's policy: a payload that is not a Uint8Array is the caller's mistake, a TypeError (no frame of guessed bytes)", () => {
    for (const payload of ["Hello", [0x48, 0x65], undefined]) {
      expectThrows(
        () => encodeFrame({ opcode: 0x1, payload: payload as unknown as Uint8Array }),
        TypeError,
        `encodeFrame with the payload ${JSON.stringify(payload)}: a frame's payload is bytes (a Uint8Array), anything else is refused, not encoded`,
      );
    }
  });

  test("§5.2: an opcode outside 0..15 or a key that is not 4 bytes is the caller's mistake: RangeError", () => {
    for (const opcode of [16, -1, 1.5]) {
      expectThrows(() => encodeFrame({ opcode, payload: HELLO }), RangeError, `RFC 6455 §5.2: opcode ${opcode} does not fit in 4 bits`);
    }
    for (const length of [0, 3, 5]) {
      expectThrows(
        () => encodeFrame({ opcode: 0x1, payload: HELLO, maskKey: new Uint8Array(length) }),
        RangeError,
        `RFC 6455 §5.3: a masking key is 4 bytes, not ${length}`,
      );
    }
  });
});

describe("Step 2 — read frames, however the bytes arrive: FrameParser", () => {
  for (const example of RFC_EXAMPLES) {
    test(`§5.7: parses ${example.name}`, () => {
      expectFrames(() => read(new FrameParser(), example.wire), example.frames, `RFC 6455 §5.7: ${example.name}`);
    });
  }

  test("§5.2 MUST: payload lengths at the boundaries 125, 126, 65535, 65536 are read from the right field", () => {
    for (const [length, header] of [
      [0, "82 00"],
      [125, "82 7d"],
      [126, "82 7e 00 7e"],
      [65535, "82 7e ff ff"],
      [65536, "82 7f 00 00 00 00 00 01 00 00"],
    ] as const) {
      const payload = pattern(length, length + 1);
      expectFrames(
        () => read(new FrameParser(), concat(hex(header), payload)),
        [{ opcode: 0x2, payload }],
        `RFC 6455 §5.2: header ${header} announces ${length} bytes`,
      );
    }
  });

  test("§5.3: a masked frame comes out unmasked, with its key as maskKey; the pushed bytes are left alone", () => {
    const payload = pattern(300, 9);
    const key = hex("9a 00 ff 13");
    const wire = concat(hex("82 fe 01 2c"), key, payload.map((b, i) => b ^ key[i % 4]!));
    const pushed = wire.slice();
    expectFrames(() => read(new FrameParser(), pushed), [{ opcode: 0x2, payload, maskKey: key }], "RFC 6455 §5.3: a masked 300-byte frame");
    expectBytes(pushed, wire, "push must not change the bytes it is given: unmask a copy", "frames");
  });

  test("§5.2: bytes arrive in pieces: push returns nothing until a frame is complete", () => {
    const parser = new FrameParser();
    for (const piece of ["81", "05 48", "65 6c 6c"]) {
      const got = read(parser, hex(piece));
      expect(got, `after the bytes up to ${piece}, the frame 81 05 48 65 6c 6c 6f is not complete: push returns []`).toEqual([]);
    }
    expectFrames(() => read(parser, hex("6f")), [{ opcode: 0x1, payload: HELLO }], 'the last byte completes the "Hello" frame');
  });

  test("§5.2: one push holding several frames returns them all, in order", () => {
    expectFrames(() => read(new FrameParser(), RFC_STREAM), RFC_STREAM_FRAMES, "RFC 6455 §5.7: all the examples back to back");
  });

  test("§5.2: the stream fed one byte at a time gives the same frames", () => {
    const cuts = Array.from({ length: RFC_STREAM.length - 1 }, (_, i) => i + 1).filter((i) => i < 600 || i % 997 === 0);
    expectFrames(() => parseInPieces(RFC_STREAM, cuts), RFC_STREAM_FRAMES, "RFC 6455 §5.7 examples, headers fed byte by byte");
  });

  test("§5.2: any split of a byte stream yields the same frames (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (raw) => {
        const cuts = cutsFor(RFC_STREAM.length, raw);
        expectFrames(() => parseInPieces(RFC_STREAM, cuts), RFC_STREAM_FRAMES, `the §5.7 examples cut at [${cuts.join(", ")}]`);
      }),
      { numRuns: 100 },
    );
  });

  test("§5.2: empty pushes, anywhere in the stream (before a header, inside one, inside a payload), change nothing", () => {
    const wire = concat(encodeFrame({ opcode: 0x1, payload: HELLO, maskKey: RFC_KEY }), encodeFrame({ opcode: 0x2, payload: BINARY_256 }));
    const parser = new FrameParser();
    const frames: Frame[] = [];
    // Cut at 0 (before anything), 1 (inside the header), 8 (inside the first payload), 11 (between
    // frames), 20 (inside the second payload); an empty push after every piece.
    let from = 0;
    for (const to of [0, 1, 8, 11, 20, wire.length]) {
      frames.push(...read(parser, wire.subarray(from, to)), ...read(parser, new Uint8Array(0)));
      from = to;
    }
    expectFrames(
      () => frames,
      [{ opcode: 0x1, payload: HELLO, maskKey: RFC_KEY }, { opcode: 0x2, payload: BINARY_256 }],
      "the masked Hello and 256 bytes of binary, with an empty push after each piece",
    );
  });

  test("§5.2: bytes in a Node Buffer (what sockets deliver) give the same frames as in a plain Uint8Array, however cut", () => {
    for (const cuts of [[], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], [7, 300, 301, 65000]]) {
      const parser = new FrameParser();
      const frames: Frame[] = [];
      let from = 0;
      for (const to of [...cuts, RFC_STREAM.length]) {
        frames.push(...read(parser, Buffer.from(RFC_STREAM.buffer, RFC_STREAM.byteOffset + from, to - from)));
        from = to;
      }
      expectFrames(() => frames, RFC_STREAM_FRAMES, `the §5.7 examples as Buffers, cut at [${cuts.join(", ")}]`);
    }
  });

  test("push takes bytes: anything but a Uint8Array is the caller's mistake: TypeError", () => {
    for (const bytes of ["81 00", [0x81, 0x00], undefined]) {
      expectThrows(
        () => read(new FrameParser(), bytes as unknown as Uint8Array),
        TypeError,
        `push(${JSON.stringify(bytes)}): push takes the bytes received as a Uint8Array (a Node Buffer is one)`,
      );
    }
  });

  test("§5.2: frames in a view into a larger buffer (as sockets deliver them) are read at the view's offset", () => {
    const wire = concat(hex("81 fe 00 80"), RFC_KEY, pattern(128, 5).map((b, i) => b ^ RFC_KEY[i % 4]!));
    for (const byteOffset of [1, 2, 3, 5]) {
      const whole = new Uint8Array(byteOffset + wire.length + 3).fill(0xee);
      whole.set(wire, byteOffset);
      expectFrames(
        () => read(new FrameParser(), whole.subarray(byteOffset, byteOffset + wire.length)),
        [{ opcode: 0x1, payload: pattern(128, 5), maskKey: RFC_KEY }],
        `a frame starting at byteOffset ${byteOffset} of its buffer (read the header with DataView(buffer, byteOffset))`,
      );
    }
  });

  test("§5.2: encodeFrame then FrameParser gives back the frames, however the bytes are split (property)", () => {
    fc.assert(
      fc.property(fc.array(validFrames, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), (described, raw) => {
        const frames = described.map(toFrame);
        const wire = concat(...frames.map((f) => encodeFrame(f)));
        const cuts = cutsFor(wire.length, raw);
        expectFrames(() => parseInPieces(wire, cuts), frames, `encoded and parsed back, cut at [${cuts.join(", ")}]`);
      }),
      { numRuns: 100 },
    );
  });

  describe("fails the connection with 1002 (protocol error)", () => {
    test("§5.2 MUST: an RSV bit set without a negotiated extension", () => {
      for (const [byte0, bit] of [
        ["c1", "RSV1"],
        ["a1", "RSV2"],
        ["91", "RSV3"],
        ["f1", "RSV1-3"],
      ]) {
        expectProtocolError(
          () => read(new FrameParser(), hex(`${byte0} 05 48 65 6c 6c 6f`)),
          1002,
          `RFC 6455 §5.2: ${bit} set (byte 0 = 0x${byte0}) and no extension negotiated`,
        );
      }
    });

    test("§5.2 MUST: a reserved opcode, 0x3-0x7 (non-control) or 0xB-0xF (control)", () => {
      for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
        expectProtocolError(
          () => read(new FrameParser(), Uint8Array.of(0x80 | opcode, 0x00)),
          1002,
          `RFC 6455 §5.2: opcode 0x${opcode.toString(16)} is reserved for further ${opcode < 8 ? "non-control" : "control"} frames`,
        );
      }
    });

    test("§5.5 MUST: a control frame with FIN clear (control frames are never fragmented)", () => {
      for (const byte0 of ["08", "09", "0a"]) {
        expectProtocolError(
          () => read(new FrameParser(), hex(`${byte0} 00`)),
          1002,
          `RFC 6455 §5.5: ${opcodeName(Number.parseInt(byte0, 16))} frame ${byte0} 00 has FIN clear`,
        );
      }
    });

    test("§5.5: a control frame of exactly 125 bytes is the largest allowed: it is read, not refused", () => {
      const payload = pattern(125, 3);
      expectFrames(() => read(new FrameParser(), concat(hex("89 7d"), payload)), [{ opcode: 0x9, payload }], "RFC 6455 §5.5: a 125-byte ping (89 7d)");
    });

    test("§5.5 MUST: a control frame with more than 125 bytes of payload", () => {
      expectProtocolError(
        () => read(new FrameParser(), concat(hex("89 7e 00 7e"), new Uint8Array(126))),
        1002,
        "RFC 6455 §5.5: a 126-byte ping",
      );
      expectProtocolError(
        () => read(new FrameParser(), concat(hex("88 7e 01 00"), new Uint8Array(256))),
        1002,
        "RFC 6455 §5.5: a 256-byte close frame",
      );
    });

    test("§5.2 MUST: a 64-bit payload length with its most significant bit set", () => {
      expectProtocolError(
        () => read(new FrameParser(), hex("82 7f 80 00 00 00 00 00 00 00")),
        1002,
        "RFC 6455 §5.2: the 64-bit length 80 00 00 00 00 00 00 00 has its top bit set",
      );
    });

    test("§5.2 MUST: a length not in its minimal encoding", () => {
      const cases: [string, number, string][] = [
        ["82 7e 00 7d", 125, "125 fits the 7-bit field, not the 16-bit one"],
        ["82 7e 00 00", 0, "0 fits the 7-bit field, not the 16-bit one"],
        ["82 7f 00 00 00 00 00 00 00 7d", 125, "125 fits the 7-bit field, not the 64-bit one"],
        ["82 7f 00 00 00 00 00 00 ff ff", 65535, "65535 fits the 16-bit field, not the 64-bit one"],
      ];
      for (const [header, length, why] of cases) {
        expectProtocolError(
          () => read(new FrameParser(), concat(hex(header), new Uint8Array(length))),
          1002,
          `RFC 6455 §5.2: header ${header}: ${why}`,
        );
      }
    });

    test("§7.1.7 MUST NOT: after failing, the parser reads nothing more: later pushes throw too", () => {
      const parser = new FrameParser();
      const failure = expectProtocolError(() => read(parser, hex("c1 00")), 1002, "RFC 6455 §5.2: RSV1 set");
      const again = expectProtocolError(
        () => read(parser, hex("81 05 48 65 6c 6c 6f")),
        1002,
        "RFC 6455 §7.1.7: once the connection is failed, no more frames are read from the stream",
      );
      expect(again, "every later push throws the same error, the one that broke the stream (not a new one read again)").toBe(failure);
    });
  });

  describe("fails the connection with 1009 (message too big)", () => {
    test("§7.4.1: as soon as a header announces more than maxPayload, before any payload arrives", () => {
      expectProtocolError(
        () => read(new FrameParser({ maxPayload: 1000 }), hex("82 7e 03 e9")),
        1009,
        "RFC 6455 §7.4.1: the header 82 7e 03 e9 announces 1001 bytes, over maxPayload 1000; refuse it before buffering the payload",
      );
      expectProtocolError(
        () => read(new FrameParser({ maxPayload: 1000 }), concat(hex("82 fe 03 e9"), RFC_KEY)),
        1009,
        "RFC 6455 §7.4.1: a masked header announcing 1001 bytes, over maxPayload 1000",
      );
      expectProtocolError(
        () => read(new FrameParser({ maxPayload: 4 }), hex("81 05")),
        1009,
        "RFC 6455 §7.4.1: a 5-byte payload over maxPayload 4 (the limit holds for 7-bit lengths too)",
      );
    });

    test("§7.4.1: a payload of exactly maxPayload bytes is accepted", () => {
      const payload = pattern(1000, 1000);
      expectFrames(
        () => read(new FrameParser({ maxPayload: 1000 }), concat(hex("82 7e 03 e8"), payload)),
        [{ opcode: 0x2, payload }],
        "a 1000-byte frame with maxPayload 1000",
      );
      expectFrames(
        () => read(new FrameParser({ maxPayload: 0 }), hex("81 00 89 00")),
        [{ opcode: 0x1, payload: new Uint8Array(0) }, { opcode: 0x9, payload: new Uint8Array(0) }],
        "maxPayload 0 is a limit like any other: empty frames (81 00, 89 00) are accepted",
      );
      expectProtocolError(() => read(new FrameParser({ maxPayload: 0 }), hex("81 01")), 1009, "RFC 6455 §7.4.1: one byte over maxPayload 0");
    });

    test("§7.4.1: the default maxPayload is DEFAULT_MAX_PAYLOAD; a 1 TiB header is refused at once", () => {
      expectProtocolError(
        () => read(new FrameParser(), hex("82 7f 00 00 01 00 00 00 00 00")),
        1009,
        "RFC 6455 §7.4.1: a header announcing 2^40 bytes (1 TiB)",
      );
      const header = (n: number) => concat(hex("82 7f 00 00 00 00"), Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));
      expectProtocolError(
        () => read(new FrameParser(), header(DEFAULT_MAX_PAYLOAD + 1)),
        1009,
        `RFC 6455 §7.4.1: a header announcing DEFAULT_MAX_PAYLOAD + 1 = ${DEFAULT_MAX_PAYLOAD + 1} bytes`,
      );
      const got = read(new FrameParser(), header(DEFAULT_MAX_PAYLOAD));
      expect(got, `a header announcing exactly DEFAULT_MAX_PAYLOAD (${toHex(header(DEFAULT_MAX_PAYLOAD))}) is fine: wait for the payload`).toEqual([]);
    });
  });

  test("a maxPayload that is not a whole number ≥ 0 is the caller's mistake: RangeError", () => {
    for (const maxPayload of [-1, 1.5, Number.NaN]) {
      expectThrows(() => new FrameParser({ maxPayload }), RangeError, `new FrameParser({ maxPayload: ${maxPayload} })`);
    }
  });
});

describe("Step 2 — read frames, however the bytes arrive: nothing before a violation is lost", () => {
  test("the workbook's policy, nothing before a violation is lost: a valid frame and a bad one in one push: the valid frame comes out first, then the 1002", () => {
    const parser = new FrameParser();
    const iterator = parser.push(concat(hex("81 05 48 65 6c 6c 6f"), hex("c1 00")))[Symbol.iterator]();
    let first: IteratorResult<Frame>;
    try {
      first = iterator.next();
    } catch (error) {
      return assert.fail(
        `"Hello" (81 05 48 65 6c 6c 6f) came before the bad frame (c1 00, RSV1 set) in the same push: it must come out ` +
          `before the error, but asking for the first frame threw ${(error as Error).name}: ${(error as Error).message}`,
      );
    }
    expect(first.done, "the first frame of the push is the valid one: it must be handed out").toBe(false);
    expectBytes((first.value as Frame).payload, HELLO, "the first frame is the text frame Hello", "bytes");
    expectProtocolError(() => iterator.next(), 1002, "RFC 6455 §5.2: the next frame has RSV1 set");
    expectProtocolError(() => read(parser, hex("81 00")), 1002, "RFC 6455 §7.1.7: and the stream stays broken");
  });

  test("§5.2: frames a caller did not ask for stay in the stream for the next push", () => {
    const parser = new FrameParser();
    const first = parser.push(concat(hex("81 05 48 65 6c 6c 6f"), hex("82 02 00 ff")))[Symbol.iterator]().next();
    expect(first.done, "the first of two frames").toBe(false);
    expectFrames(() => read(parser, hex("89 00")), [{ opcode: 0x2, payload: hex("00 ff") }, { opcode: 0x9, payload: new Uint8Array(0) }], "the binary frame left in the stream, then the ping of the new push");
  });
});

describe("Step 3 — a frame still arriving: FrameParser.inProgress", () => {
  test("§5.2, §5.3: the header is read, the payload so far is there, unmasked, however it was cut", () => {
    const payload = pattern(300, 7);
    const wire = encodeFrame({ opcode: 0x1, payload, maskKey: RFC_KEY });
    const pushed = wire.slice();
    const parser = new FrameParser();
    expect(parser.inProgress, "before any byte: no frame in progress").toBeUndefined();
    // Header (2 + 2 + 4 bytes), then the payload in pieces of 1, 2, 5 and 101 bytes.
    let at = 0;
    for (const size of [8, 1, 2, 5, 101]) {
      expect(read(parser, pushed.subarray(at, at + size)), `${at + size} of ${wire.length} bytes: no frame complete yet`).toEqual([]);
      at += size;
      const partial = parser.inProgress;
      expect(partial, `after ${at} bytes (a whole header), the frame is in progress`).toBeDefined();
      expect(partial?.opcode, "its opcode, from the header").toBe(0x1);
      expect(partial?.fin, "its FIN bit, from the header").toBe(true);
      expect(partial?.length, "its announced length, 300, from the 16-bit extended length").toBe(300);
      expectBytes(partial?.maskKey, RFC_KEY, "its masking key", "bytes");
      expectBytes(partial?.payload, payload.subarray(0, at - 8), `its payload so far: ${at - 8} bytes, unmasked at the right key offset (§5.3)`, "bytes");
    }
    expectFrames(() => read(parser, pushed.subarray(at)), [{ opcode: 0x1, payload, maskKey: RFC_KEY }], "the rest completes the frame");
    expect(parser.inProgress, "between frames: nothing in progress").toBeUndefined();
    expectBytes(pushed, wire, "push must not change the bytes it is given", "frames");
  });

  test("§5.2: a header that is not complete is not a frame in progress yet", () => {
    const parser = new FrameParser();
    read(parser, hex("81 7e 01"));
    expect(parser.inProgress, "81 7e 01: the 16-bit length is cut in half").toBeUndefined();
  });
});

describe("Step 1 — write a frame: encodeFrameHeader, the header alone", () => {
  test("§5.2: the first bytes of encodeFrame's frame, without the payload (82 7e 01 00 for 256 bytes of binary)", () => {
    expectBytes(encodeFrameHeader({ opcode: 0x2, payload: BINARY_256 }), hex("82 7e 01 00"), "RFC 6455 §5.7: the 256-byte binary frame's header", "frames");
    expectBytes(encodeFrameHeader({ opcode: 0x1, payload: HELLO }), hex("81 05"), "a 5-byte text frame: 2 bytes of header", "frames");
  });

  test("§5.2, §5.3: with a masking key, the MASK bit is set and the key follows the length", () => {
    expectBytes(
      encodeFrameHeader({ opcode: 0x1, payload: HELLO, maskKey: RFC_KEY }),
      hex("81 85 37 fa 21 3d"),
      "RFC 6455 §5.7: the masked Hello's header: MASK bit, length 5, the key",
      "frames",
    );
    expectBytes(
      encodeFrameHeader({ opcode: 0x2, payload: BINARY_64K, maskKey: RFC_KEY }),
      hex("82 ff 00 00 00 00 00 01 00 00 37 fa 21 3d"),
      "64 KiB masked: the 64-bit length, then the key",
      "frames",
    );
  });

  test("§5.3: a masking key that is not 4 bytes is the caller's mistake: RangeError", () => {
    for (const length of [3, 5]) {
      expectThrows(() => encodeFrameHeader({ opcode: 0x1, payload: HELLO, maskKey: new Uint8Array(length) }), RangeError, `a ${length}-byte masking key`);
    }
    expectThrows(() => encodeFrameHeader({ opcode: 0x9, payload: new Uint8Array(126) }), RangeError, "a 126-byte ping (§5.5)");
  });

  test("§5.2: for any frame, encodeFrameHeader is exactly the start of encodeFrame (property)", () => {
    fc.assert(
      fc.property(validFrames, (description) => {
        const init = toFrame(description);
        const header = encodeFrameHeader(init);
        const whole = encodeFrame(init);
        expect(header.length, "the header is the frame minus its payload").toBe(whole.length - init.payload.length);
        expect(toHex(header), "the same bytes as the start of encodeFrame's frame").toBe(toHex(whole.subarray(0, header.length)));
      }),
      { numRuns: 150 },
    );
  });
});
