import fc from "fast-check";
import { assert, describe, expect, test } from "vitest";
import { encodeClosePayload, isValidCloseCode, parseClosePayload } from "@workbook/06-closing";
import { ProtocolError } from "../lib/errors.ts";
import { expectProtocolError, expectThrows } from "./helpers/errors.ts";
import { expectBytes } from "./helpers/frame-dump.ts";
import { hex, toHex } from "./helpers/hex.ts";
import { anyCodePoint, utf8 } from "./helpers/bytes.ts";



/** A close payload with `code` in its first two bytes, big-endian, then `rest`. */
function payload(code: number, rest: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(2 + rest.length);
  new DataView(bytes.buffer).setUint16(0, code);
  bytes.set(rest, 2);
  return bytes;
}

// ---------------------------------------------------------------------------

describe("Step 1 — which codes may travel: isValidCloseCode", () => {
  function expectCodes(codes: number[], valid: boolean, rule: string): void {
    for (const code of codes) {
      expect(isValidCloseCode(code), `${rule}: ${code} ${valid ? "may" : "may not"} be sent in a close frame`).toBe(valid);
    }
  }

  test("§7.4.1: the codes RFC 6455 defines for close frames may be sent: 1000-1003 and 1007-1011", () => {
    expectCodes([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011], true, "§7.4.1");
  });

  test("IANA registry: 1012 (service restart), 1013 (try again later) and 1014 (bad gateway) may be sent", () => {
    expectCodes([1012, 1013, 1014], true, "registered with IANA after RFC 6455");
  });

  test("§7.4.1 MUST NOT: 1005, 1006 and 1015 are never sent: APIs only report them", () => {
    expectCodes([1005, 1006, 1015], false, "§7.4.1: reserved for reporting, MUST NOT be set in a close frame");
  });

  test("§7.4.1: 1004 is reserved, with no meaning yet", () => {
    expectCodes([1004], false, "§7.4.1: 1004 is reserved");
  });

  test("§7.4.2: 1016-2999 are reserved for the protocol and its extensions, and none is assigned", () => {
    expectCodes([1016, 1017, 1999, 2000, 2500, 2999], false, "§7.4.2: reserved, unassigned");
  });

  test("§7.4.2: 3000-3999 (registered with IANA) and 4000-4999 (private use) may be sent", () => {
    expectCodes([3000, 3001, 3999, 4000, 4001, 4999], true, "§7.4.2");
  });

  test("§7.4.2: codes below 1000 are not used, and nothing from 5000 up is defined", () => {
    expectCodes([0, 1, 999, 5000, 5001, 65535, -1, -1000], false, "§7.4.2: outside 1000-4999");
  });

  test("a code is a whole number: 1000.5, NaN and Infinity are not codes", () => {
    expectCodes([1000.5, 3000.1, Number.NaN, Number.POSITIVE_INFINITY], false, "a close code is a 16-bit unsigned integer");
  });
});

// ---------------------------------------------------------------------------

describe("Step 2 — write a close payload: encodeClosePayload", () => {
  test("§5.5.1 MUST: the status code is 2 bytes in network byte order: 1000 → 03 e8", () => {
    expectBytes(encodeClosePayload(1000), hex("03 e8"), "§5.5.1: 1000 = 0x03e8, big-endian, no reason (the close frame: 88 02 03 e8)", "bytes");
  });

  test("§5.5.1: 3000 → 0b b8, 4999 → 13 87, 1014 → 03 f6", () => {
    expectBytes(encodeClosePayload(3000), hex("0b b8"), "§5.5.1: 3000 = 0x0bb8, high byte first", "bytes");
    expectBytes(encodeClosePayload(4999), hex("13 87"), "§5.5.1: 4999 = 0x1387, high byte first", "bytes");
    expectBytes(encodeClosePayload(1014), hex("03 f6"), "§5.5.1: 1014 = 0x03f6, high byte first", "bytes");
  });

  test('§5.5.1: the reason follows the code in UTF-8: 1001 "going away" → 03 e9 67 6f 69 6e 67 20 61 77 61 79', () => {
    expectBytes(
      encodeClosePayload(1001, "going away"),
      hex("03 e9 67 6f 69 6e 67 20 61 77 61 79"),
      "§5.5.1: code 03 e9, then the 10 bytes of going away (the frame: 88 0c 03 e9 ...)",
      "bytes",
    );
  });

  test("§5.5.1: a reason with non-ASCII characters is UTF-8: 1000 \"Tschüss\" → 03 e8 54 73 63 68 c3 bc 73 73", () => {
    expectBytes(encodeClosePayload(1000, "Tschüss"), hex("03 e8 54 73 63 68 c3 bc 73 73"), "§5.5.1: ü is c3 bc in UTF-8", "bytes");
  });

  test("§5.5.1: with no code the payload is empty (a close frame may have no body: 88 00)", () => {
    expect(encodeClosePayload().length, "encodeClosePayload() is an empty payload").toBe(0);
    expect(encodeClosePayload(undefined, "").length, "no code and an empty reason: still empty").toBe(0);
  });

  test("§5.5 MUST: a reason of 123 bytes fits (125 with the code); counted in bytes of UTF-8, not characters", () => {
    const fits = ["a".repeat(123), "é".repeat(61) + "a", "€".repeat(41), "😀".repeat(30) + "abc"];
    for (const reason of fits) {
      const bytes = encodeClosePayload(1000, reason);
      expect(bytes.length, `a ${utf8(reason).length}-byte reason makes a 125-byte payload, the most a control frame holds`).toBe(125);
    }
  });

  test("§5.5 MUST: a reason of 124 bytes or more is a RangeError (the payload would pass 125 bytes)", () => {
    const tooLong = ["a".repeat(124), "é".repeat(62), "€".repeat(41) + "a", "😀".repeat(31), "x".repeat(1000)];
    for (const reason of tooLong) {
      expectThrows(
        () => encodeClosePayload(1000, reason),
        RangeError,
        `a reason of ${reason.length} characters (${utf8(reason).length} bytes of UTF-8) does not fit in a control frame`,
        new RegExp(`${utf8(reason).length}|12[345]`),
      );
    }
  });

  test("§7.4.1 MUST NOT (1005, 1006, 1015), §7.4.2 (unassigned or reserved: 1004, 999, 2000, 5000): a code that may not be sent is a RangeError", () => {
    for (const code of [1005, 1006, 1015, 1004, 999, 0, 2000, 5000, 1000.5]) {
      expectThrows(() => encodeClosePayload(code), RangeError, `encodeClosePayload(${code})`, new RegExp(String(code)));
    }
  });

  test("§5.5.1: a reason without a code, or a reason that is not a string, is a caller's mistake (TypeError)", () => {
    expectThrows(() => encodeClosePayload(undefined, "bye"), TypeError, 'encodeClosePayload(undefined, "bye")');
    expectThrows(() => encodeClosePayload(1000, 42 as unknown as string), TypeError, "encodeClosePayload(1000, 42): a reason is text");
  });
});

// ---------------------------------------------------------------------------

describe("Step 3 — read a close payload: parseClosePayload", () => {
  test("§7.1.5: an empty payload is allowed and reports code 1005 (no status received) and reason \"\"", () => {
    const got = parseClosePayload(new Uint8Array(0));
    expect(got, "88 00 carries no code: report 1005, which is never sent but is what APIs show").toEqual({ code: 1005, reason: "" });
  });

  test("§5.5.1: 03 e8 is code 1000 with an empty reason", () => {
    expect(parseClosePayload(hex("03 e8")), "03 e8 = 1000, nothing after it").toEqual({ code: 1000, reason: "" });
  });

  test("§5.5.1: a reason that starts with U+FEFF (ef bb bf) keeps it: it is text, not a byte-order mark to strip", () => {
    const got = parseClosePayload(hex("03 e8 ef bb bf 6f 6b"));
    expect(got, "TextDecoder drops a leading U+FEFF unless told ignoreBOM: true").toEqual({ code: 1000, reason: "\ufeffok" });
  });

  test('§5.5.1: 03 e9 67 6f 69 6e 67 20 61 77 61 79 is 1001 "going away"', () => {
    const got = parseClosePayload(hex("03 e9 67 6f 69 6e 67 20 61 77 61 79"));
    expect(got, "the first two bytes are the code, the rest the reason").toEqual({ code: 1001, reason: "going away" });
  });

  test("§5.5.1: the reason is UTF-8, multi-byte characters included", () => {
    const got = parseClosePayload(hex("0f a0 e2 82 ac 20 f0 9f 98 80"));
    expect(got, "0f a0 = 4000 (private use), then € and 😀").toEqual({ code: 4000, reason: "€ 😀" });
  });

  test("§7.4.2, IANA registry: codes registered with IANA (1012-1014, 3000-3999) and private ones (4000-4999) are accepted", () => {
    for (const code of [1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
      expect(parseClosePayload(payload(code)).code, `close code ${code} may be sent, so it is read as is`).toBe(code);
    }
  });

  test("§5.5.1 MUST: a 1-byte payload is half a status code: fail with 1002", () => {
    for (const bytes of ["03", "00"]) {
      expectProtocolError(() => parseClosePayload(hex(bytes)), 1002, `a close payload of one byte (${bytes})`);
    }
  });

  test("§7.4.1, §7.4.2: a code no endpoint may send (1004-1006, 1015, 0-999, 1016-2999, 5000+) fails with 1002", () => {
    for (const code of [1004, 1005, 1006, 1015, 0, 999, 1016, 2000, 2999, 5000, 65535]) {
      const error = expectProtocolError(() => parseClosePayload(payload(code, utf8("x"))), 1002, `the peer sent close code ${code}`);
      expect(error.message, `the ProtocolError should name the code ${code}`).toMatch(new RegExp(`\\b${code}\\b`));
    }
  });

  test("§8.1 MUST: a reason that is not valid UTF-8 fails with 1007", () => {
    const bad = ["03 e8 c0 80", "03 e8 ed a0 80", "03 e8 ff", "03 e8 6f 6b e2 82"];
    for (const bytes of bad) {
      expectProtocolError(() => parseClosePayload(hex(bytes)), 1007, `${bytes}: the reason after 03 e8 is not UTF-8`);
    }
  });

  test("§5.5.1: a payload that is a view into a larger buffer is read from its own first byte", () => {
    // A frame parser often hands out payloads as subarrays of the bytes it received.
    const received = hex("88 04 03 e8 6f 6b 81 00");
    const view = received.subarray(2, 6);
    const rule =
      'parseClosePayload(the payload 03 e8 6f 6b, a view at byteOffset 2 of the frame 88 04 03 e8 6f 6b 81 00) is 1000 "ok": ' +
      "the code is the view's own first two bytes";
    let got: unknown;
    try {
      got = parseClosePayload(view);
    } catch (error) {
      const what = error instanceof ProtocolError ? `ProtocolError ${error.code}: ${error.message}` : String(error);
      // Explain the buffer only when the code read was the buffer's first bytes (88 04 = 34820), not for any error.
      const fromBuffer = error instanceof ProtocolError && /34820/.test(error.message) ? " (that is 88 04 = 34820, read from byte 0 of the underlying buffer)" : "";
      assert.fail(`${rule}, but it threw ${what}${fromBuffer}`);
    }
    expect(got, rule).toEqual({ code: 1000, reason: "ok" });
  });
});

// ---------------------------------------------------------------------------

describe("Step 3 — read a close payload: parseClosePayload, with encodeClosePayload", () => {
  test("§5.5.1, property: any code that may be sent and any reason of up to 123 bytes survive the round trip", () => {
    const code = fc.oneof(fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014), fc.integer({ min: 3000, max: 4999 }));
    // At most 4 bytes per code point: 30 code points always fit in 123 bytes.
    const reason = fc.string({ unit: anyCodePoint, maxLength: 30 });
    fc.assert(
      fc.property(code, reason, (c, r) => {
        const bytes = encodeClosePayload(c, r);
        expect(parseClosePayload(bytes), `close ${c} ${JSON.stringify(r)} as ${toHex(bytes)}`).toEqual({ code: c, reason: r });
      }),
    );
  });

  test("§7.4: sending and receiving agree on every 16-bit code: encode refuses exactly the codes parse fails with 1002", () => {
    /** "ok", "RangeError", "ProtocolError 1002", ...: what a call did, as a word. */
    const outcome = (fn: () => unknown): string => {
      try {
        fn();
        return "ok";
      } catch (error) {
        if (error instanceof ProtocolError) return `ProtocolError ${error.code}`;
        return error instanceof Error ? error.name : String(error);
      }
    };
    const disagreements: string[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const valid = isValidCloseCode(code);
      const sent = outcome(() => encodeClosePayload(code));
      const received = outcome(() => parseClosePayload(payload(code)));
      if (sent !== (valid ? "ok" : "RangeError") || received !== (valid ? "ok" : "ProtocolError 1002")) {
        disagreements.push(`${code}: isValidCloseCode ${valid}, encodeClosePayload ${sent}, parseClosePayload ${received}`);
      }
    }
    expect(disagreements.slice(0, 5), "a code may be sent exactly when it may be received (first disagreements shown)").toEqual([]);
  });
});
