import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { createServer as createTcpServer, type Socket } from "node:net";
import { resolve } from "node:path";
import { constants as zlib, deflateRawSync, inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { chromium, type Browser } from "playwright-core";
import { afterAll, afterEach, assert, describe, expect, test } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import {
  acceptDeflateOffer,
  checkDeflateResponse,
  checkSubprotocol,
  DEFLATE_TAIL,
  type DeflateOptions,
  deflateMessage,
  deflateOffer,
  formatExtensionHeader,
  inflateMessage,
  negotiateDeflate,
  parseExtensionHeader,
  PerMessageDeflate,
  selectSubprotocol,
  subprotocolHeader,
} from "@workbook/12-extensions";
import { Connection, type ConnectionEvent } from "@workbook/07-connection";
import { createEchoServer, type EchoServer } from "@workbook/08-echo-server";
import { connect, type WebSocketClient } from "@workbook/09-echo-client";
import { HandshakeError, ProtocolError } from "../lib/errors.ts";
import type { DeflateParams, ExtensionElement } from "../lib/extensions.ts";
import type { Frame } from "../lib/frame.ts";
// Frames are built and read with the reference chapter 04, so a slip in your
// own framing cannot hide inside the test's tools.
import { concat, pattern, utf8 } from "./helpers/bytes.ts";
import { expectProtocolError, expectThrows } from "./helpers/errors.ts";
import { expectBytes } from "./helpers/frame-dump.ts";
import { hex, toHex } from "./helpers/hex.ts";
import { CHROMIUM, CHROMIUM_ARGS, peer, skipNote } from "../scripts/lib/system-peers.ts";
import { eventually, openWs, PYTHON, pythonSkipNote, pythonWebsocketsAvailable, RawClient, upgradeRequest, within } from "./helpers/peers.ts";
import { rsv1Summary, WireTap, type TappedConnection, type TappedFrame } from "./helpers/wiretap.ts";
import { readFrames, wireFrame } from "./helpers/wire.ts";
import { formatResult, summary } from "../scripts/lib/conformance.ts";
import { letters, runDeflateConformance } from "../scripts/lib/conformance-deflate.ts";
import { zlibStreams, type RawZlibStream } from "../lib/zlib-streams.ts";

/** ws's own permessage-deflate (the class its sockets use), driven directly: a real peer's inflate. */
interface WsDeflate {
  params: Record<string, boolean | number>;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, data?: Buffer) => void): void;
  cleanup(): void;
}
const WsPerMessageDeflate = (() => {
  const require = createRequire(import.meta.url);
  // Not among ws's exported paths: loaded by its file, next to ws's own index.js.
  return require(resolve(require.resolve("ws"), "../lib/permessage-deflate.js")) as new (options: { isServer: boolean; maxPayload: number }) => WsDeflate;
})();

/**
 * Runs `work` twice: with the reference's zlib streams (lib/zlib-streams.ts) and
 * without them, on the per-message code a reader writes. A reader's code has no
 * such streams, and simply runs twice.
 */
function onBothPaths(work: (path: string) => void): void {
  for (const streams of [true, false]) {
    zlibStreams.enabled = streams;
    try {
      work(streams ? "kept zlib streams" : "per-message code");
    } finally {
      zlibStreams.enabled = true;
    }
  }
}

const KEY = hex("37 fa 21 3d");
const DEFAULTS: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
/** The four context-takeover combinations, with their names. */
const TAKEOVER: { name: string; params: DeflateParams }[] = [
  { name: "context takeover both ways", params: DEFAULTS },
  { name: "server_no_context_takeover", params: { ...DEFAULTS, serverNoContextTakeover: true } },
  { name: "client_no_context_takeover", params: { ...DEFAULTS, clientNoContextTakeover: true } },
  { name: "no context takeover either way", params: { ...DEFAULTS, serverNoContextTakeover: true, clientNoContextTakeover: true } },
];

/** A data or control frame as plain data. */
function frame(opcode: number, payload: Uint8Array, options: { fin?: boolean; rsv1?: boolean } = {}): Frame {
  return { fin: options.fin ?? true, rsv1: options.rsv1 ?? false, rsv2: false, rsv3: false, opcode, payload };
}
const offer = (header: string): ExtensionElement => parseExtensionHeaderReference(header)[0]!;
/** Offers in the tests are written as headers and read with a tiny parser of the test's own (no quoting). */
function parseExtensionHeaderReference(header: string): ExtensionElement[] {
  return header.split(",").map((element) => {
    const [name = "", ...params] = element.split(";").map((s) => s.trim());
    return {
      name,
      params: params.map((p) => {
        const [pname = "", value] = p.split("=");
        return value === undefined ? { name: pname } : { name: pname, value };
      }),
    };
  });
}
/** An element as a header, for messages. */
const shown = (e: ExtensionElement | undefined) =>
  e === undefined ? "(nothing)" : [e.name, ...e.params.map((p) => (p.value === undefined ? p.name : `${p.name}=${p.value}`))].join("; ");
/** The same element with its parameters in one order: RFC 7692 gives their order no meaning. */
const sorted = (e: ExtensionElement | undefined) =>
  e === undefined ? "(nothing)" : shown({ name: e.name, params: [...e.params].sort((a, b) => a.name.localeCompare(b.name)) });
/** A header value as `sorted` shows it, read with the test's own parser. */
const sortedHeader = (header: string | undefined) => (header === undefined ? "(nothing)" : sorted(parseExtensionHeaderReference(header)[0]));

/**
 * What a server's answer to `offered` means, read by the test on RFC 7692's terms
 * (§7.1): the parameters both ends then keep to. Every answer that means the same
 * is as right as any other: `permessage-deflate` and
 * `permessage-deflate; client_max_window_bits=15` agree on the same thing.
 * Fails the test for an answer RFC 7692 forbids: another name, an unknown or
 * repeated parameter, a bad value, client_max_window_bits not offered
 * (§7.1.2.2 MUST NOT), or a larger server_max_window_bits than offered (§7.1.2.1).
 */
function meaning(answer: ExtensionElement, offered: ExtensionElement): DeflateParams {
  expect(answer.name, "RFC 7692 §5 MUST: the answer names the extension").toBe("permessage-deflate");
  const names = answer.params.map((p) => p.name);
  expect(new Set(names).size, `RFC 7692 §7: no parameter twice in "${shown(answer)}"`).toBe(names.length);
  const get = (e: ExtensionElement, name: string) => e.params.find((p) => p.name === name);
  for (const p of answer.params) {
    if (p.name.endsWith("_no_context_takeover")) expect(p.value, `RFC 7692 §7.1.1: ${p.name} has no value`).toBeUndefined();
    else expect(p.value, `RFC 7692 §7.1.2.1, §7.1.2.2: ${p.name} has a value, 8 to 15`).toMatch(/^(?:[89]|1[0-5])$/);
  }
  expect(names.filter((n) => !["server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"].includes(n)), "RFC 7692 §7: only its own parameters").toEqual([]);
  if (get(answer, "client_max_window_bits") !== undefined) {
    expect(get(offered, "client_max_window_bits"), "RFC 7692 §7.1.2.2 MUST NOT: client_max_window_bits answered only if offered").toBeDefined();
  }
  const offeredServerBits = get(offered, "server_max_window_bits")?.value;
  const serverBits = Number(get(answer, "server_max_window_bits")?.value ?? 15);
  if (offeredServerBits !== undefined) {
    expect(get(answer, "server_max_window_bits"), "RFC 7692 §7.1.2.1: an offered server_max_window_bits is answered").toBeDefined();
    expect(serverBits, "RFC 7692 §7.1.2.1: the same server_max_window_bits as offered, or smaller").toBeLessThanOrEqual(Number(offeredServerBits));
  }
  if (get(offered, "server_no_context_takeover") !== undefined) {
    expect(get(answer, "server_no_context_takeover"), "RFC 7692 §7.1.1.1: an offered server_no_context_takeover is answered").toBeDefined();
  }
  return {
    serverNoContextTakeover: get(answer, "server_no_context_takeover") !== undefined,
    clientNoContextTakeover: get(answer, "client_no_context_takeover") !== undefined,
    serverMaxWindowBits: serverBits,
    // The client keeps to its own hint whatever the answer says (§7.1.2.2).
    clientMaxWindowBits: Math.min(Number(get(answer, "client_max_window_bits")?.value ?? 15), Number(get(offered, "client_max_window_bits")?.value ?? 15)),
  };
}
/** Accepts `header` and checks the decision both ways: the answer means `expected`, and so do the agreed parameters. */
function expectAccepted(header: string, options: Parameters<typeof acceptDeflateOffer>[1], expected: DeflateParams, why: string): ExtensionElement {
  const decision = acceptDeflateOffer(offer(header), options);
  if (!decision.ok) assert.fail(`${why}: "${header}" should be accepted, but it was declined (${decision.reason})`);
  expect(meaning(decision.response, offer(header)), `${why}: what the answer "${shown(decision.response)}" means`).toEqual(expected);
  expect(decision.params, `${why}: the agreed parameters, as the answer says them`).toEqual(expected);
  return decision.response;
}

/**
 * Inflates as a receiver whose window really is 2^bits bytes. zlib's inflate
 * refuses a back-reference only when it reaches past its window and past the
 * output chunk it is filling; node:zlib's chunk is 16 KiB unless told, so a
 * reference up to 16 KiB too far back would pass. The smallest chunk, 64 bytes,
 * makes the check real.
 */
function inflateWithin(bits: number, data: Uint8Array, dictionary?: Uint8Array): Buffer {
  return inflateRawSync(concat(data, DEFLATE_TAIL), {
    windowBits: bits,
    chunkSize: 64,
    finishFlush: zlib.Z_SYNC_FLUSH,
    ...(dictionary === undefined || dictionary.length === 0 ? {} : { dictionary }),
  });
}
describe("Step 2 — the Sec-WebSocket-Extensions header (RFC 6455 §9.1)", () => {
  test("§9.1: several extensions, parameters with and without values, quoted values, unknown names kept", () => {
    const parsed = parseExtensionHeader(
      'permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-webkit-deflate-frame,  Foo ;Bar = baz',
    );
    expect(parsed, "one element per extension, in order, each with its parameters in order; names lower-cased, quotes removed").toEqual([
      {
        name: "permessage-deflate",
        params: [{ name: "client_max_window_bits" }, { name: "server_max_window_bits", value: "10" }],
      },
      { name: "x-webkit-deflate-frame", params: [] },
      { name: "foo", params: [{ name: "bar", value: "baz" }] },
    ]);
  });

  test("§9.1: the header may repeat or carry empty elements: \"a, , b\" is a and b; \"\" is no extension", () => {
    expect(parseExtensionHeader("a, , b,").map((e) => e.name), "empty list elements are skipped (RFC 9110 §5.6.1)").toEqual(["a", "b"]);
    expect(parseExtensionHeader("   "), "nothing offered").toEqual([]);
  });

  test("§9.1 MUST: a quoted value must be a token once unquoted; a backslash escapes the next character", () => {
    expect(parseExtensionHeader('x; a="b\\c"')[0]?.params, 'a quoted pair: "b\\c" is bc').toEqual([{ name: "a", value: "bc" }]);
    expect(parseExtensionHeader('x; a="1\\0", y')?.map(shown), 'a quoted pair inside a value, then another element').toEqual(["x; a=10", "y"]);
    expectThrows(() => parseExtensionHeader('x; a="two words"'), SyntaxError, '§9.1: "two words" is not a token');
    expectThrows(() => parseExtensionHeader('x; a=""'), SyntaxError, "§9.1: an empty quoted value is not a token");
    for (const open of ['x; a="open', 'x; a="open\\', 'x; a="', 'x; a="b", y; c="d']) {
      expectThrows(() => parseExtensionHeader(open), SyntaxError, `§9.1: ${JSON.stringify(open)} has a quoted string that never ends`);
    }
  });

  test("§9.1, RFC 9110 §5.6.3: spaces and tabs may surround every ; = and , (and are not part of names or values)", () => {
    expect(parseExtensionHeader("\tpermessage-deflate \t;\tclient_max_window_bits\t=\t10 ;server_no_context_takeover\t,\tx-foo\t").map(shown), "tabs and spaces around everything").toEqual([
      "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
      "x-foo",
    ]);
    expect(parseExtensionHeader('a;b="c" ;d').map(shown), "a space after a quoted value").toEqual(["a; b=c; d"]);
  });

  test("§9.1: malformed lists are a SyntaxError", () => {
    for (const bad of ["permessage-deflate;", "; x", "a b", "a; =1", "a; b=", "a; b=c d", "a/b", "é", "a;\nb", "a; b=c=d", 'a; b="c"d']) {
      expectThrows(() => parseExtensionHeader(bad), SyntaxError, `§9.1: ${JSON.stringify(bad)} is not an extension list`);
    }
  });

  test("§9.1: formatExtensionHeader writes what parseExtensionHeader reads", () => {
    expect(
      formatExtensionHeader([
        { name: "permessage-deflate", params: [{ name: "server_no_context_takeover" }, { name: "client_max_window_bits", value: "10" }] },
        { name: "x-foo", params: [] },
      ]),
      "elements joined by \", \", parameters by \"; \"",
    ).toBe("permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-foo");
    expectThrows(() => formatExtensionHeader([{ name: "a b", params: [] }]), RangeError, "§9.1: a name must be a token");
    expectThrows(() => formatExtensionHeader([{ name: "x", params: [{ name: "a;b" }] }]), RangeError, "§9.1: a parameter's name must be a token");
    expectThrows(() => formatExtensionHeader([{ name: "x", params: [{ name: "a", value: "two words" }] }]), RangeError, "§9.1: a value must be a token");
    expectThrows(() => formatExtensionHeader([{ name: "x", params: [{ name: "a", value: "" }] }]), RangeError, "§9.1: an empty value is not a token");
    const token = fc.stringMatching(/^[a-z0-9_.-]{1,12}$/);
    const element = fc.record({ name: token, params: fc.array(fc.record({ name: token, value: fc.option(token, { nil: undefined }) }), { maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 4 }), (elements) => {
        const written = formatExtensionHeader(elements);
        const read = parseExtensionHeader(written).map((e) => ({ name: e.name, params: e.params.map((p) => ({ name: p.name, value: p.value })) }));
        expect(read, `parse(format(x)) is x, for ${written}`).toEqual(elements);
      }),
    );
  });
});

describe("Step 3 — negotiating permessage-deflate: the server's side (RFC 7692 §5, §7)", () => {
  test("RFC 7692 §5 MUST: Chromium's offer is accepted with the extension's name; the defaults are 15 bits and context takeover", () => {
    const decision = negotiateDeflate(parseExtensionHeaderReference("permessage-deflate; client_max_window_bits"));
    if (decision === undefined) assert.fail("RFC 7692 §5: Chromium's offer should be accepted, but negotiateDeflate declined it");
    expect(meaning(decision.response, offer("permessage-deflate; client_max_window_bits")), "what the answer means: all defaults").toEqual(DEFAULTS);
    expect(decision.params, "the agreed parameters").toEqual(DEFAULTS);
  });

  test("RFC 7692 §5: other extensions are ignored; the workbook's policy: the first acceptable permessage-deflate offer wins (the client lists them by preference, RFC 6455 §9.1)", () => {
    const decision = negotiateDeflate(
      parseExtensionHeaderReference(
        "x-webkit-deflate-frame, permessage-deflate; mystery, permessage-deflate; server_max_window_bits=10, permessage-deflate",
      ),
    );
    if (decision === undefined) assert.fail("two of the four offers are acceptable, but negotiateDeflate declined them all");
    expect(meaning(decision.response, offer("permessage-deflate; server_max_window_bits=10")), "the second permessage-deflate offer is the first acceptable one").toEqual({
      ...DEFAULTS,
      serverMaxWindowBits: 10,
    });
    expect(decision.params, "and its agreed parameters").toEqual({ ...DEFAULTS, serverMaxWindowBits: 10 });
    expect(negotiateDeflate(parseExtensionHeaderReference("x-webkit-deflate-frame")), "nothing to accept: no extension").toBeUndefined();
    expect(negotiateDeflate([]), "no offer: no extension").toBeUndefined();
  });

  test("RFC 7692 §7 MUST: an offer with a parameter RFC 7692 doesn't define, or one given twice, is declined", () => {
    for (const header of [
      "permessage-deflate; mystery",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
      "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
      "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    ]) {
      const decision = acceptDeflateOffer(offer(header));
      expect(decision.ok, `the server must decline "${header}"`).toBe(false);
      expect(!decision.ok && typeof decision.reason === "string" && decision.reason.length > 0, `a declined "${header}" says why (DeflateDecision.reason)`).toBe(true);
      expect(negotiateDeflate([offer(header)]), `negotiateDeflate declines "${header}": no extension`).toBeUndefined();
    }
    const foreign = acceptDeflateOffer(offer("x-webkit-deflate-frame"));
    expect(foreign.ok, "another extension's offer is not permessage-deflate's to accept").toBe(false);
    expect(!foreign.ok && foreign.reason.length > 0, "and the decision says why (DeflateDecision.reason)").toBe(true);
  });

  test("RFC 7692 §7, §7.1.2.1, §7.1.2.2 MUST: an offer with an invalid value is declined: window sizes are 8..15 in decimal without leading zeros", () => {
    for (const header of [
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; server_max_window_bits=100",
      "permessage-deflate; server_max_window_bits=9a",
      "permessage-deflate; server_max_window_bits=x9",
      "permessage-deflate; client_max_window_bits=abc",
      "permessage-deflate; client_max_window_bits=155",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=true",
    ]) {
      const decision = acceptDeflateOffer(offer(header));
      expect(decision.ok, `"${header}" has an invalid value: declined`).toBe(false);
      expect(!decision.ok && decision.reason.length > 0, `a declined "${header}" says why (DeflateDecision.reason)`).toBe(true);
    }
    for (const bits of [8, 9, 10, 11, 12, 13, 14, 15]) {
      expect(acceptDeflateOffer(offer(`permessage-deflate; server_max_window_bits=${bits}`)).ok, `${bits} is a valid window size`).toBe(true);
      expect(acceptDeflateOffer(offer(`permessage-deflate; client_max_window_bits=${bits}`)).ok, `${bits} is a valid window size for the client too`).toBe(true);
    }
  });

  test("RFC 7692 §7.1.1.1 SHOULD (the RFC's RECOMMENDED): the server supports server_no_context_takeover: offered, it is answered, and binds the server", () => {
    expectAccepted("permessage-deflate; server_no_context_takeover; client_max_window_bits", {}, { ...DEFAULTS, serverNoContextTakeover: true }, "§7.1.1.1");
  });

  test("RFC 7692 §7.1.2.1: server_max_window_bits is answered with the offer's value or a smaller one", () => {
    expectAccepted("permessage-deflate; server_max_window_bits=12", {}, { ...DEFAULTS, serverMaxWindowBits: 12 }, "a server without a limit answers 12");
    expectAccepted("permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 9 }, { ...DEFAULTS, serverMaxWindowBits: 9 }, "a server limited to 9 answers 9, and compresses with 2^9 bytes");
    expectAccepted("permessage-deflate; server_max_window_bits=9", { serverMaxWindowBits: 12 }, { ...DEFAULTS, serverMaxWindowBits: 9 }, "a server limited to 12 keeps to the 9 offered");
    expectAccepted("permessage-deflate", { serverMaxWindowBits: 10 }, { ...DEFAULTS, serverMaxWindowBits: 10 }, "§7.1.2.1 MAY: the server may limit itself unasked, and says so");
  });

  test("RFC 7692 §7.1.2.2 MUST NOT: client_max_window_bits is never answered unless offered; a server that needs it declines", () => {
    const decision = acceptDeflateOffer(offer("permessage-deflate"), { clientMaxWindowBits: 10 });
    expect(decision.ok, "the client didn't say it can be limited: the server can't accept with its limit").toBe(false);
    expect(!decision.ok && decision.reason.length > 0, "and says why (DeflateDecision.reason)").toBe(true);
    expectAccepted("permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 10 }, { ...DEFAULTS, clientMaxWindowBits: 10 }, "offered without a value: the server's limit");
    expectAccepted("permessage-deflate; client_max_window_bits=9", { clientMaxWindowBits: 12 }, { ...DEFAULTS, clientMaxWindowBits: 9 }, "offered with 9: the client won't go over 9 anyway");
    expectAccepted("permessage-deflate; client_max_window_bits=11", {}, { ...DEFAULTS, clientMaxWindowBits: 11 }, "a server without a limit: the client keeps to its own hint, 11");
    expectAccepted("permessage-deflate; client_max_window_bits=11", { clientMaxWindowBits: 11 }, { ...DEFAULTS, clientMaxWindowBits: 11 }, "the same limit both ways");
    const plain = acceptDeflateOffer(offer("permessage-deflate"));
    expect(plain.ok && plain.response.params.some((p) => p.name === "client_max_window_bits"), "§7.1.2.2 MUST NOT: not offered, not answered").toBe(false);
  });

  test("RFC 7692 §7.1.1.2 MAY, the workbook's policy: client_no_context_takeover is answered when offered, or when the server insists", () => {
    expectAccepted("permessage-deflate; client_no_context_takeover", {}, { ...DEFAULTS, clientNoContextTakeover: true }, "offered: answered, so the server can drop the client's window");
    expectAccepted(
      "permessage-deflate",
      { clientNoContextTakeover: true, serverNoContextTakeover: true },
      { ...DEFAULTS, serverNoContextTakeover: true, clientNoContextTakeover: true },
      "§7.1.1.1, §7.1.1.2 MAY: the server may add both unasked",
    );
    expectAccepted("permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: true }, { ...DEFAULTS, serverNoContextTakeover: true }, "asked and insisted on: once");
  });

  test("RFC 7692 §7.1.2: a window size option outside 8..15 is the caller's mistake: a RangeError from every function that takes options", () => {
    for (const bits of [7, 16, 9.5, Number.NaN]) {
      for (const key of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
        const options = { [key]: bits };
        expectThrows(() => acceptDeflateOffer(offer("permessage-deflate; client_max_window_bits"), options), RangeError, `acceptDeflateOffer, ${key} ${bits}`);
        expectThrows(() => negotiateDeflate([offer("permessage-deflate; client_max_window_bits")], options), RangeError, `negotiateDeflate, ${key} ${bits}`);
        expectThrows(() => negotiateDeflate([], options), RangeError, `negotiateDeflate with no offer, ${key} ${bits}: the options are wrong whatever the client sends`);
        expectThrows(() => deflateOffer(options), RangeError, `deflateOffer, ${key} ${bits}`);
        expectThrows(() => checkDeflateResponse([offer("permessage-deflate")], options), RangeError, `checkDeflateResponse, ${key} ${bits}`);
      }
    }
    for (const bits of [8, 15]) expect(shown(deflateOffer({ serverMaxWindowBits: bits })), `${bits} is a window size`).toContain(`server_max_window_bits=${bits}`);
  });
});

describe("Step 3 — negotiating permessage-deflate: the client's side (RFC 6455 §4.1, §9.1; RFC 7692 §7)", () => {
  test("RFC 7692 §5 MUST: the offer names permessage-deflate; the workbook's policy: always with client_max_window_bits, and what the options ask (in any order)", () => {
    expect(sorted(deflateOffer()), "the default offer").toBe("permessage-deflate; client_max_window_bits");
    expect(
      sorted(deflateOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 })),
      "every parameter",
    ).toBe("permessage-deflate; client_max_window_bits=9; client_no_context_takeover; server_max_window_bits=10; server_no_context_takeover");
    expect(sorted(deflateOffer({ serverNoContextTakeover: false, clientNoContextTakeover: false })), "false asks for nothing").toBe("permessage-deflate; client_max_window_bits");
  });

  test("RFC 7692 §5 MUST: an answer accepting permessage-deflate beside another extension (which could claim RSV1 too) fails the handshake", () => {
    for (const header of ["permessage-deflate, x-webkit-deflate-frame", "x-rsv1-user, permessage-deflate"]) {
      expectThrows(() => checkDeflateResponse(parseExtensionHeaderReference(header)), HandshakeError, `RFC 7692 §5: "${header}"`);
    }
  });

  test("§4.1, §9.1 MUST: an answer naming an extension that was never offered fails the handshake", () => {
    expectThrows(() => checkDeflateResponse([offer("x-webkit-deflate-frame")]), HandshakeError, "§4.1: x-webkit-deflate-frame was not offered");
    expectThrows(() => checkDeflateResponse(parseExtensionHeaderReference("permessage-deflate, x-foo")), HandshakeError, "§4.1: x-foo was not offered, even after permessage-deflate");
    expectThrows(
      () => checkDeflateResponse(parseExtensionHeaderReference("permessage-deflate, permessage-deflate")),
      HandshakeError,
      "§9.1: permessage-deflate accepted twice",
    );
  });

  test("RFC 7692 §7 MUST: an answer with an unknown, repeated or invalid parameter fails the handshake", () => {
    for (const header of [
      "permessage-deflate; mystery",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; client_max_window_bits=07",
      "permessage-deflate; client_no_context_takeover=yes",
      "permessage-deflate; server_max_window_bits=9x",
    ]) {
      expectThrows(() => checkDeflateResponse([offer(header)]), HandshakeError, `"${header}" must fail the connection`);
    }
  });

  test("RFC 7692 §7 MUST: an answer the client can't honour fails: a larger server window, or a requested parameter missing", () => {
    expectThrows(
      () => checkDeflateResponse([offer("permessage-deflate; server_max_window_bits=12")], { serverMaxWindowBits: 10 }),
      HandshakeError,
      "§7.1.2.1: the server may answer the same or a smaller value, not 12 for 10",
    );
    expectThrows(
      () => checkDeflateResponse([offer("permessage-deflate; server_max_window_bits=11")], { serverMaxWindowBits: 10 }),
      HandshakeError,
      "§7.1.2.1: not 11 for 10 either",
    );
    expect(checkDeflateResponse([offer("permessage-deflate; server_max_window_bits=10")], { serverMaxWindowBits: 10 })?.serverMaxWindowBits, "§7.1.2.1: the same value is fine").toBe(10);
    expectThrows(
      () => checkDeflateResponse([offer("permessage-deflate")], { serverMaxWindowBits: 10 }),
      HandshakeError,
      "§7.1.2.1: accepting an offer with server_max_window_bits means answering with it",
    );
    expectThrows(
      () => checkDeflateResponse([offer("permessage-deflate")], { serverNoContextTakeover: true }),
      HandshakeError,
      "§7.1.1.1: accepting an offer with server_no_context_takeover means answering with it",
    );
  });

  test("RFC 7692 §5 MUST: an invalid answer fails the handshake: a compression extension the client never offered, or permessage-deflate accepted twice", () => {
    for (const header of ["x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits=10, permessage-deflate"]) {
      expectThrows(() => checkDeflateResponse(parseExtensionHeaderReference(header)), HandshakeError, `RFC 7692 §5: "${header}" accepts what was never offered`);
    }
  });

  test("RFC 7692 §7.1.1.2 MUST: the client supports client_no_context_takeover in an answer, asked for or not: the answer is accepted, and binds the client", () => {
    const cases: [string, DeflateOptions, DeflateParams][] = [
      ["permessage-deflate; client_no_context_takeover", {}, { ...DEFAULTS, clientNoContextTakeover: true }],
      ["permessage-deflate; client_no_context_takeover", { clientNoContextTakeover: true }, { ...DEFAULTS, clientNoContextTakeover: true }],
      [
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        { serverNoContextTakeover: true },
        { ...DEFAULTS, serverNoContextTakeover: true, clientNoContextTakeover: true },
      ],
      ["permessage-deflate; client_no_context_takeover; client_max_window_bits=10", { clientMaxWindowBits: 12 }, { ...DEFAULTS, clientNoContextTakeover: true, clientMaxWindowBits: 10 }],
    ];
    for (const [header, options, agreed] of cases) {
      expect(checkDeflateResponse([offer(header)], options), `"${header}" answering the offer of ${JSON.stringify(options)}`).toEqual(agreed);
    }
  });

  test("RFC 7692 §7.1: an acceptable answer gives the agreed parameters; no answer means no compression", () => {
    expect(checkDeflateResponse([]), "the server declined: go on without it").toBeUndefined();
    expect(checkDeflateResponse([offer("permessage-deflate")]), "all defaults").toEqual(DEFAULTS);
    expect(
      checkDeflateResponse([offer("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10")], {
        serverMaxWindowBits: 12,
      }),
      "every parameter, as answered",
    ).toEqual({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 });
    expect(
      checkDeflateResponse([offer("permessage-deflate; server_no_context_takeover")], { clientNoContextTakeover: true, clientMaxWindowBits: 11 }),
      "§7.1.1.2, §7.1.2.2: the client's own hints bind it even if not answered",
    ).toEqual({ ...DEFAULTS, serverNoContextTakeover: true, clientNoContextTakeover: true, clientMaxWindowBits: 11 });
    expect(
      checkDeflateResponse([offer("permessage-deflate; server_no_context_takeover; server_max_window_bits=10")], { serverNoContextTakeover: true, serverMaxWindowBits: 10 }),
      "§7.1.1.1, §7.1.2.1: what the offer asked for, answered: accepted",
    ).toEqual({ ...DEFAULTS, serverNoContextTakeover: true, serverMaxWindowBits: 10 });
  });
});

describe("Step 4 — DEFLATE, message by message (RFC 7692 §7.2)", () => {
  test("RFC 7692 §7.2.1: \"Hello\" compresses to f2 48 cd c9 c9 07 00: a sync flush, its 00 00 ff ff removed", () => {
    expectBytes(deflateMessage(utf8("Hello")), hex("f2 48 cd c9 c9 07 00"), "RFC 7692 §7.2.3.1: the compressed payload of \"Hello\"", "bytes");
    expectBytes(deflateMessage(new Uint8Array(0)), hex("00"), "RFC 7692 §7.2.3.6: an empty message compresses to one byte, 00", "bytes");
  });

  test("RFC 7692 §7.2.2: the receiver puts 00 00 ff ff back and inflates; every block shape of the RFC's examples", () => {
    const cases: [string, string][] = [
      ["f2 48 cd c9 c9 07 00", "§7.2.3.1: one compressed block"],
      ["00 05 00 fa ff 48 65 6c 6c 6f 00", "§7.2.3.3: a block with no compression"],
      ["f3 48 cd c9 c9 07 00 00", "§7.2.3.4: a block with BFINAL set"],
      ["f2 48 05 00 00 00 ff ff ca c9 c9 07 00", "§7.2.3.5: two blocks"],
    ];
    for (const [bytes, rule] of cases) {
      expect(new TextDecoder().decode(inflateMessage(hex(bytes))), `RFC 7692 ${rule} inflates to "Hello"`).toBe("Hello");
    }
    expect(inflateMessage(hex("00")).length, "RFC 7692 §7.2.3.6: 00 inflates to nothing").toBe(0);
  });

  test("RFC 7692 §7.2: inflateMessage(deflateMessage(x)) is x, and the output never ends with the tail it removed", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 8, max: 15 }), (bytes, windowBits) => {
        const compressed = deflateMessage(bytes, { windowBits });
        expect(toHex(compressed.subarray(-4)) === toHex(DEFLATE_TAIL) && compressed.length > 4, "§7.2.1 step 3: 00 00 ff ff removed").toBe(false);
        expect(toHex(inflateMessage(compressed)), "the round trip gives the message back").toBe(toHex(bytes));
      }),
      { numRuns: 60 },
    );
  });

  test("RFC 7692 §7.2.3.2: with the previous message as dictionary, a second \"Hello\" is f2 00 11 00 00", () => {
    const second = deflateMessage(utf8("Hello"), { dictionary: utf8("Hello") });
    expectBytes(second, hex("f2 00 11 00 00"), "RFC 7692 §7.2.3.2: the second \"Hello\", pointing back into the first", "bytes");
    expect(new TextDecoder().decode(inflateMessage(second, { dictionary: utf8("Hello") })), "it inflates from the same window").toBe("Hello");
  });

  test("RFC 7692 §7.2.1: deflateMessage with windowBits n never reaches back more than 2^n bytes (8 to 15), under or over 16 KiB", () => {
    // Repeats 300 to 3000 bytes apart: a 32 KiB window would use them. An
    // inflater whose window really is 2^n bytes refuses any reference further back.
    let text = "";
    for (let i = 0; i < 3000; i++) text += `item ${i % 50} weighs ${(i * 37) % 101} grams; `;
    const run = letters(3000, 1);
    for (const data of [utf8(text.slice(0, 12_000)), utf8(text), concat(run, letters(20_000, 2), run)]) {
      for (const bits of [8, 9, 10, 12, 15]) {
        const compressed = deflateMessage(data, { windowBits: bits });
        expect(inflateWithin(bits, compressed).equals(data), `${data.length} bytes: an inflater with a true ${2 ** bits}-byte window gives them back`).toBe(true);
      }
    }
    // The test can tell, under 16 KiB too, where node:zlib's default chunk would hide it.
    const wide = deflateMessage(utf8(text.slice(0, 12_000)), { windowBits: 15 });
    expect(() => inflateWithin(8, wide), "15 bits reach too far for a 256-byte window").toThrow(/distance too far/);
    expect(() => inflateWithin(9, deflateMessage(concat(run, letters(20_000, 2), run), { windowBits: 12 })), "and 12 bits too far for 512 bytes").toThrow(/distance too far/);
  });

  test("RFC 6455 §10.4, §7.4.1: a message that inflates past maxSize fails with 1009; the workbook's policy: data that isn't DEFLATE with 1007", () => {
    const zeros = deflateMessage(new Uint8Array(200_000));
    expect(zeros.length, "200 000 zeros compress to a few hundred bytes").toBeLessThan(1000);
    expectProtocolError(() => inflateMessage(zeros, { maxSize: 100_000 }), 1009, "§10.4: 200 000 bytes inflated, 100 000 allowed");
    expect(inflateMessage(zeros, { maxSize: 200_000 }).length, "exactly the limit is allowed").toBe(200_000);
    expect(inflateMessage(hex("00"), { maxSize: 0 }).length, "a limit of 0 still takes the empty message").toBe(0);
    expectProtocolError(() => inflateMessage(deflateMessage(utf8("x")), { maxSize: 0 }), 1009, "§10.4: one byte, 0 allowed");
    expectProtocolError(() => inflateMessage(hex("ff ff ff ff")), 1007, "the workbook's policy (taught on the page): a payload that is not DEFLATE (invalid block type)");
  });
});

describe("Step 5 — compressed messages on the wire: PerMessageDeflate (RFC 7692 §6, §7.2)", () => {
  test("RFC 7692 §6: a fragmented compressed message has RSV1 on its first frame only, and comes out whole, inflated, RSV1 clear", () => {
    const deflate = new PerMessageDeflate("client", DEFAULTS);
    // RFC 7692 §7.2.3.1, the fragmented example: 41 03 f2 48 cd, then 80 04 c9 c9 07 00.
    expect(deflate.receive(frame(0x1, hex("f2 48 cd"), { fin: false, rsv1: true })), "the first fragment is held back").toBeUndefined();
    const whole = deflate.receive(frame(0x0, hex("c9 c9 07 00")));
    expect(whole && { ...whole, payload: new TextDecoder().decode(whole.payload) }, "one text frame, FIN, RSV1 clear, inflated").toEqual({
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: 0x1,
      payload: "Hello",
    });
  });

  test("RFC 7692 §6 MUST: RSV1 on a continuation frame fails the connection with 1002", () => {
    const deflate = new PerMessageDeflate("server", DEFAULTS);
    deflate.receive(frame(0x1, hex("f2 48 cd"), { fin: false, rsv1: true }));
    expectProtocolError(() => deflate.receive(frame(0x0, hex("c9 c9 07 00"), { rsv1: true })), 1002, "RFC 7692 §6: RSV1 on a non-first fragment");
    const plain = new PerMessageDeflate("server", DEFAULTS);
    plain.receive(frame(0x1, utf8("Hel"), { fin: false }));
    expectProtocolError(() => plain.receive(frame(0x0, utf8("lo"), { rsv1: true })), 1002, "RFC 7692 §6: RSV1 on a continuation of an uncompressed message");
  });

  test("RFC 7692 §6 MUST: RSV1 on a control frame fails the connection with 1002; control frames pass untouched otherwise", () => {
    const deflate = new PerMessageDeflate("server", DEFAULTS);
    expectProtocolError(() => deflate.receive(frame(0x9, utf8("x"), { rsv1: true })), 1002, "RFC 7692 §6: RSV1 on a ping");
    const again = new PerMessageDeflate("server", DEFAULTS);
    expect(again.receive(frame(0x1, hex("f2 48 cd"), { fin: false, rsv1: true })), "a compressed message begins").toBeUndefined();
    const ping = frame(0x9, utf8("x"));
    expect(again.receive(ping), "§5.4: a ping between the fragments passes as it is").toBe(ping);
    expect(again.receive(frame(0x0, hex("c9 c9 07 00")))?.payload, "and the message still completes").toEqual(utf8("Hello"));
  });

  test("§5.4 MUST: messages don't interleave: a new text frame in the middle of a compressed message fails with 1002", () => {
    const deflate = new PerMessageDeflate("server", DEFAULTS);
    deflate.receive(frame(0x1, hex("f2 48 cd"), { fin: false, rsv1: true }));
    expectProtocolError(() => deflate.receive(frame(0x1, utf8("new"))), 1002, "§5.4: messages don't interleave");
  });

  test("RFC 7692 §6 MAY: a message with RSV1 clear is not compressed, and passes as it is (fragments too)", () => {
    const deflate = new PerMessageDeflate("server", DEFAULTS);
    const plain = frame(0x2, hex("00 01 02"));
    expect(deflate.receive(plain), "an uncompressed binary message").toBe(plain);
    const first = frame(0x1, utf8("Hel"), { fin: false });
    const last = frame(0x0, utf8("lo"));
    expect([deflate.receive(first), deflate.receive(last)], "an uncompressed fragmented message, frame by frame").toEqual([first, last]);
    expect(deflate.receive(frame(0x1, hex("f2 48 cd c9 c9 07 00"), { rsv1: true }))?.payload, "a compressed one after it").toEqual(utf8("Hello"));
  });

  test("RFC 7692 §6 MAY, the workbook's policy: send() compresses with RSV1 when it shrinks the message, and sends it as it is otherwise", () => onBothPaths(() => {
    const deflate = new PerMessageDeflate("server", DEFAULTS);
    const text = utf8("to be or not to be, ".repeat(50));
    const sent = deflate.send(0x1, text);
    expect(sent.rsv1, "a compressible message: RSV1 set").toBe(true);
    expect(sent.payload.length, "and smaller on the wire").toBeLessThan(text.length / 5);
    expect(toHex(inflateMessage(sent.payload)), "its payload is the message, deflated").toBe(toHex(text));
    const random = pattern(1000, 7);
    const raw = deflate.send(0x2, random);
    expect({ rsv1: raw.rsv1, same: toHex(raw.payload) === toHex(random) }, "random bytes don't shrink: RSV1 clear, payload unchanged").toEqual({
      rsv1: false,
      same: true,
    });
  }));

  /** Three messages from a side whose no_context_takeover was agreed: each inflates alone, the same message gives the same bytes. */
  function startsEmpty(role: "client" | "server") {
    // "Hello" would not shrink (7 bytes for 5) and go uncompressed: a message that does shrink.
    const message = utf8("a message that repeats itself, a message that repeats itself");
    const fresh = new PerMessageDeflate(role, { ...DEFAULTS, [role === "server" ? "serverNoContextTakeover" : "clientNoContextTakeover"]: true });
    const sent = [fresh.send(0x1, message), fresh.send(0x1, utf8("something else entirely, something else")), fresh.send(0x1, message)];
    for (const [i, { payload, rsv1 }] of sent.entries()) {
      expect(rsv1, `message ${i + 1} shrinks: compressed`).toBe(true);
      expect(inflateWithin(15, payload).length, `message ${i + 1} inflates alone, from an empty window`).toBeGreaterThan(0);
    }
    expect(toHex(sent[2]!.payload), "so the same message is the same bytes every time").toBe(toHex(sent[0]!.payload));
  }
  test("RFC 7692 §7.2.1 MUST: with server_no_context_takeover the server starts each message it sends from an empty window", () => startsEmpty("server"));
  test("RFC 7692 §7.2.1 MUST: with client_no_context_takeover the client starts each message it sends from an empty window", () => startsEmpty("client"));

  test("RFC 7692 §7.2.1 MAY, the workbook's policy: with context takeover allowed, send() compresses from the window of the messages before", () => onBothPaths((path) => {
    const message = utf8("a message that repeats itself, a message that repeats itself");
    for (const role of ["server", "client"] as const) {
      // Only the other side's no_context_takeover: this side may take its window over.
      const takeover = new PerMessageDeflate(role, { ...DEFAULTS, [role === "server" ? "clientNoContextTakeover" : "serverNoContextTakeover"]: true });
      const a1 = takeover.send(0x1, message).payload;
      const a2 = takeover.send(0x1, message).payload;
      expect(a2.length, `${path}: the ${role}'s second copy points back into the first: much shorter`).toBeLessThan(a1.length / 2);
      expect(inflateWithin(15, a2, message).equals(message), "and inflates from the first").toBe(true);
    }
  }));

  test("RFC 7692 §7.2.2 MUST: with context takeover the receiver inflates from the window of the messages before; without, a message from an empty window still inflates", () => onBothPaths(() => {
    const deflate = new PerMessageDeflate("client", DEFAULTS);
    expect(deflate.receive(frame(0x1, hex("f2 48 cd c9 c9 07 00"), { rsv1: true }))?.payload, "RFC 7692 §7.2.3.2, first message").toEqual(utf8("Hello"));
    expect(deflate.receive(frame(0x1, hex("f2 00 11 00 00"), { rsv1: true }))?.payload, "the second message points into the first").toEqual(utf8("Hello"));
    // The client's own no_context_takeover is about what the client sends: it keeps the server's window.
    const ownFlag = new PerMessageDeflate("client", { ...DEFAULTS, clientNoContextTakeover: true });
    ownFlag.receive(frame(0x1, hex("f2 48 cd c9 c9 07 00"), { rsv1: true }));
    expect(ownFlag.receive(frame(0x1, hex("f2 00 11 00 00"), { rsv1: true }))?.payload, "client_no_context_takeover binds the client's sending, not its window for the server's messages").toEqual(utf8("Hello"));
    const server = new PerMessageDeflate("server", { ...DEFAULTS, serverNoContextTakeover: true });
    server.receive(frame(0x1, hex("f2 48 cd c9 c9 07 00"), { rsv1: true }));
    expect(server.receive(frame(0x1, hex("f2 00 11 00 00"), { rsv1: true }))?.payload, "the same on the server: server_no_context_takeover binds the server's sending").toEqual(utf8("Hello"));
    // §7.2.2 MAY: with the peer's no_context_takeover the receiver may start empty, or keep its window: either way these inflate.
    const noTakeover = new PerMessageDeflate("client", { ...DEFAULTS, serverNoContextTakeover: true });
    for (const i of [1, 2, 3]) {
      expect(noTakeover.receive(frame(0x1, hex("f2 48 cd c9 c9 07 00"), { rsv1: true }))?.payload, `message ${i}, compressed from an empty window`).toEqual(utf8("Hello"));
    }
  }));

  test("RFC 7692 §7.2.2 MUST: the window is the last 2^n bytes the peer's compressed messages inflated to, whatever their sizes; uncompressed messages stay out of it", () => onBothPaths((path) => {
    // The peer, written by the test: each message compressed with the exact window
    // it may use (the last 2^bits bytes of the messages before), many pointing back
    // across several messages; one message in three sent uncompressed.
    for (const [bits, role] of [[15, "client"], [15, "server"], [12, "client"], [9, "server"]] as const) {
      // This side's own window is 9 bits: the window it keeps for the peer's messages is the peer's, not its own.
      const params = role === "client" ? { ...DEFAULTS, serverMaxWindowBits: bits, clientMaxWindowBits: 9 } : { ...DEFAULTS, clientMaxWindowBits: bits, serverMaxWindowBits: 9 };
      const receiver = new PerMessageDeflate(role, params);
      let history: Uint8Array = new Uint8Array(0);
      const chunks = [letters(40, 1), letters(200, 2), letters(700, 3), letters(3000, 4), letters(20_000, 5)];
      for (let i = 0; i < 30; i++) {
        const message = concat(chunks[i % 5]!, chunks[(i * 3) % 5]!.subarray(0, 100 + i), utf8(`#${i}`));
        if (i % 3 === 2) {
          const plain = frame(0x2, message);
          expect(receiver.receive(plain), `message ${i}, uncompressed, passes as it is`).toEqual(plain);
          continue;
        }
        const size = 2 ** bits;
        const window = history.subarray(Math.max(0, history.length - size));
        const compressed = deflateRawSync(message, { windowBits: bits, finishFlush: zlib.Z_SYNC_FLUSH, ...(window.length > 0 ? { dictionary: window } : {}) }).subarray(0, -4);
        const got = receiver.receive(frame(0x2, compressed, { rsv1: true }));
        expect(got && toHex(got.payload) === toHex(message), `${path}: ${role}, peer's window 2^${bits}: message ${i} (${message.length} bytes) inflates from the window of the ones before`).toBe(true);
        history = concat(history, message);
      }
    }
  }));

  for (const [bits, role] of [[8, "server"], [9, "server"], [9, "client"], [12, "client"]] as const) {
    test(`RFC 7692 §7.2.1 MUST NOT: send() never reaches back further than the agreed window (the ${role}'s, 2^${bits} bytes), over many messages up to 72 KiB`, () => onBothPaths((path) => {
      const params = role === "server" ? { ...DEFAULTS, serverMaxWindowBits: bits } : { ...DEFAULTS, clientMaxWindowBits: bits };
      const sender = new PerMessageDeflate(role, params);
      const run = letters(24 * 1024, 3);
      const messages = [concat(run, run, run), letters(300, 4), letters(5000, 5), concat(letters(2000, 4), run.subarray(0, 9000)), utf8("x".repeat(600)), concat(letters(600, 6), letters(600, 6))];
      // The test's receiver: a window of exactly 2^bits bytes, taken over from message to message.
      let window = new Uint8Array(0);
      let compressed = 0;
      for (const [i, message] of messages.entries()) {
        const sent = sender.send(0x2, message);
        if (!sent.rsv1) continue;
        compressed++;
        let inflated: Buffer;
        try {
          inflated = inflateWithin(bits, sent.payload, window);
        } catch (error) {
          assert.fail(`${path}: message ${i + 1} (${message.length} bytes) reaches back further than the ${2 ** bits}-byte window agreed: ${(error as Error).message}`);
        }
        expect(inflated.equals(message), `message ${i + 1} inflates to itself`).toBe(true);
        window = concat(window, message).slice(-(2 ** bits));
      }
      expect(compressed, "these messages all shrink").toBe(messages.length);
    }));
  }

  for (const { name, params } of TAKEOVER) {
    test(`RFC 7692 §5, §7.2 MUST: both ends use the agreed parameters: client and server understand each other over 40 messages (${name})`, () => {
      const words = ["alpha", "beta", "gamma", "delta", "epsilon"];
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.constantFrom(...words), fc.integer({ min: 0, max: 400 })), { minLength: 40, maxLength: 40 }), (messages) => {
          const client = new PerMessageDeflate("client", params);
          const server = new PerMessageDeflate("server", params);
          let compressed = 0;
          for (const [i, [word, times]] of messages.entries()) {
            const payload = utf8(`${i}:${word.repeat(times)}`);
            const [from, to] = i % 2 === 0 ? [client, server] : [server, client];
            const sent = from.send(0x1, payload);
            if (sent.rsv1) compressed++;
            const received = to.receive(frame(0x1, sent.payload, { rsv1: sent.rsv1 }));
            expect(received && new TextDecoder().decode(received.payload), `message ${i} arrives as sent (RSV1 ${sent.rsv1})`).toBe(new TextDecoder().decode(payload));
          }
          expect(compressed, "most of these messages shrink, so they go compressed").toBeGreaterThan(20);
        }),
        { numRuns: 3 },
      );
    });
  }

  test("RFC 7692 §7.2.1, §7.2.2: random messages, window sizes 8..15, context takeover or not: what send() compresses never reaches past the agreed window, and PerMessageDeflate and ws inflate it to the message (the fast path and the per-message code alike)", async () => {
    // The reference keeps one zlib stream per direction (lib/zlib-streams.ts); switched
    // off, it runs the per-message code a reader writes. Both run here, side by side, on
    // the same messages; a reader's code runs the same way twice.
    const run = <T,>(streams: boolean, work: () => T): T => {
      zlibStreams.enabled = streams;
      try {
        return work();
      } finally {
        zlibStreams.enabled = true;
      }
    };
    const message = fc.oneof(
      { arbitrary: fc.tuple(fc.nat({ max: 300 }), fc.nat()).map(([n, seed]) => letters(n, seed % 7)), weight: 5 },
      { arbitrary: fc.uint8Array({ maxLength: 200 }), weight: 2 },
      { arbitrary: fc.tuple(fc.integer({ min: 1000, max: 5000 }), fc.nat()).map(([n, seed]) => letters(n, seed % 7)), weight: 2 },
      { arbitrary: fc.tuple(fc.integer({ min: 16_000, max: 70_000 }), fc.nat()).map(([n, seed]) => letters(n, seed % 7)), weight: 1 },
    );
    const params = fc.record({
      serverNoContextTakeover: fc.boolean(),
      clientNoContextTakeover: fc.boolean(),
      serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
      clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    });
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom("client", "server"), fc.array(fc.tuple(message, fc.nat()), { minLength: 1, maxLength: 8 }), async (agreed, role, messages) => {
        const peerRole = role === "server" ? "client" : "server";
        const bits = role === "server" ? agreed.serverMaxWindowBits : agreed.clientMaxWindowBits;
        const takeover = !(role === "server" ? agreed.serverNoContextTakeover : agreed.clientNoContextTakeover);
        for (const streams of [true, false]) {
          const path = streams ? "the fast path" : "the per-message code";
          const sender = new PerMessageDeflate(role, agreed);
          const receivers = [true, false].map((on) => ({ on, deflate: new PerMessageDeflate(peerRole, agreed) }));
          // ws's own permessage-deflate, with the agreed parameters, in the peer's role.
          const ws = new WsPerMessageDeflate({ isServer: peerRole === "server", maxPayload: 0 });
          ws.params = {
            server_no_context_takeover: agreed.serverNoContextTakeover,
            client_no_context_takeover: agreed.clientNoContextTakeover,
            server_max_window_bits: agreed.serverMaxWindowBits,
            client_max_window_bits: agreed.clientMaxWindowBits,
          };
          // The test's receiver: a window of exactly 2^bits bytes, of what went compressed, only with takeover.
          let window = new Uint8Array(0);
          try {
            for (const [i, [payload, cut]] of messages.entries()) {
              const what = `${path}, ${role} sending with ${JSON.stringify(agreed)}: message ${i + 1} (${payload.length} bytes)`;
              const sent = run(streams, () => sender.send(0x2, payload));
              if (!sent.rsv1) {
                expect(toHex(sent.payload) === toHex(payload), `${what}: sent uncompressed, as it is`).toBe(true);
              } else {
                let strict: Buffer;
                try {
                  strict = inflateWithin(bits, sent.payload, takeover ? window : undefined);
                } catch (error) {
                  assert.fail(`${what}: reaches past the agreed ${2 ** bits}-byte window${takeover ? "" : " (no context takeover: an empty one)"}: ${(error as Error).message}`);
                }
                expect(strict.equals(payload), `${what}: inflates to itself from the agreed window`).toBe(true);
                if (takeover) window = concat(window, payload).slice(-(2 ** bits));
                // ws, on the fast path's output (the per-message code's meets ws in the interop tests below):
                // each inflate is a trip through zlib's thread pool, slow on a busy machine.
                if (streams) {
                  const inflatedByWs = await within(
                    new Promise<Buffer>((resolve, reject) => ws.decompress(Buffer.from(sent.payload), true, (error, data) => (error ? reject(error) : resolve(data!)))),
                    10_000,
                    `${what}: ws inflating it`,
                  );
                  expect(inflatedByWs.equals(payload), `${what}: ws inflates it to the message`).toBe(true);
                }
              }
              // The peer, fast path or not, in one frame or in two.
              const at = sent.payload.length < 2 ? 0 : 1 + (cut % (sent.payload.length - 1));
              const frames = at === 0 ? [frame(0x2, sent.payload, { rsv1: sent.rsv1 })] : [frame(0x2, sent.payload.subarray(0, at), { fin: false, rsv1: sent.rsv1 }), frame(0x0, sent.payload.subarray(at))];
              for (const receiver of receivers) {
                // A compressed message comes out as one frame; an uncompressed one frame by frame.
                const out = run(receiver.on, () => frames.map((f) => receiver.deflate.receive(f))).filter((f) => f !== undefined);
                const how = `${what}, received by ${receiver.on ? "the fast path" : "the per-message code"} in ${frames.length} frame(s)`;
                expect(out.length, `${how}: frames handed on`).toBe(sent.rsv1 ? 1 : frames.length);
                expect(toHex(concat(...out.map((f) => f.payload))) === toHex(payload), `${how}: the message, byte for byte`).toBe(true);
              }
            }
          } finally {
            ws.cleanup();
            sender.close();
            for (const receiver of receivers) receiver.deflate.close();
          }
        }
      }),
      // No shrinking: a failure is reported at once, with the messages that failed (shrinking through ws takes minutes).
      { numRuns: 15, endOnFailure: true },
    );
  }, 120_000);

  test("the workbook's policy: close() frees the zlib streams a PerMessageDeflate kept for its connection (the reference keeps one per direction; per-message code keeps none)", () => {
    const made: RawZlibStream[] = [];
    const { deflater, inflater } = zlibStreams;
    zlibStreams.deflater = (bits) => made[made.push(deflater(bits)) - 1]!;
    zlibStreams.inflater = () => made[made.push(inflater()) - 1]!;
    try {
      const text = utf8("to be or not to be, ".repeat(50));
      const server = new PerMessageDeflate("server", DEFAULTS);
      const client = new PerMessageDeflate("client", DEFAULTS);
      const sent = server.send(0x1, text);
      expect(client.receive(frame(0x1, sent.payload, { rsv1: sent.rsv1 }))?.payload, "a message goes through").toEqual(text);
      client.send(0x1, text);
      expect(made.filter((s) => s.closed), "open while the connection lasts").toEqual([]);
      server.close();
      client.close();
      expect(made.filter((s) => !s.closed).length, "none left open once both are closed").toBe(0);
    } finally {
      Object.assign(zlibStreams, { deflater, inflater });
    }
  });

  test("the workbook's policy (RFC 6455 §10.4): maxMessageSize is the largest message accepted once inflated: exactly the limit passes and one byte more fails with 1009, message after message", () => {
    for (const limit of [0, 1, 1000, 16_384, 70_000]) {
      for (const params of [DEFAULTS, { ...DEFAULTS, clientNoContextTakeover: true }]) {
        const receiver = new PerMessageDeflate("server", params, { maxMessageSize: limit });
        for (const size of [limit, Math.max(0, limit - 1), limit]) {
          const message = new Uint8Array(size).fill(0x61);
          const compressed = deflateMessage(message); // from an empty window: understood with takeover or without
          expect(receiver.receive(frame(0x2, compressed, { rsv1: true }))?.payload.length, `limit ${limit}: a message of ${size} bytes passes`).toBe(size);
        }
        expectProtocolError(() => receiver.receive(frame(0x2, deflateMessage(new Uint8Array(limit + 1).fill(0x61)), { rsv1: true })), 1009, `limit ${limit}: ${limit + 1} bytes inflated`);
      }
    }
  });

  test("RFC 6455 §10.4: maxMessageSize bounds the inflated size: 1009 however small the compressed message", () => {
    const deflate = new PerMessageDeflate("server", DEFAULTS, { maxMessageSize: 64 * 1024 });
    const bomb = deflateRawSync(new Uint8Array(1024 * 1024), { finishFlush: zlib.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(bomb.length, "1 MiB of zeros is about a KiB compressed").toBeLessThan(2048);
    expectProtocolError(() => deflate.receive(frame(0x2, bomb, { rsv1: true })), 1009, "§10.4: 1 MiB inflated, 64 KiB allowed");
  });

  test("RFC 6455 §10.4: the compressed fragments held back are bounded too (1009 before the final fragment), with room for an honest peer's stored blocks", () => {
    const deflate = new PerMessageDeflate("server", DEFAULTS, { maxMessageSize: 10_000 });
    const chunk = pattern(4000);
    deflate.receive(frame(0x2, chunk, { fin: false, rsv1: true }));
    deflate.receive(frame(0x0, chunk, { fin: false }));
    expectProtocolError(() => deflate.receive(frame(0x0, chunk, { fin: false })), 1009, "12 000 compressed bytes held for a 10 000-byte limit");
    // Incompressible data sent compressed anyway (ws and websockets compress every message): stored
    // blocks make it a little larger than the message, and a message of exactly the limit must still pass.
    const limit = 1_000_000;
    const honest = new PerMessageDeflate("server", DEFAULTS, { maxMessageSize: limit });
    const random = new Uint8Array(randomBytes(limit));
    const stored = deflateRawSync(random, { level: 0, finishFlush: zlib.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(stored.length, "the stored blocks are larger than the message").toBeGreaterThan(limit);
    const cut = Math.floor(stored.length / 2);
    expect(honest.receive(frame(0x2, stored.subarray(0, cut), { fin: false, rsv1: true })), "the first half is held").toBeUndefined();
    expect(honest.receive(frame(0x0, stored.subarray(cut)))?.payload.length, "a message of exactly the limit, a few bytes larger compressed, is accepted").toBe(limit);
    const small = new PerMessageDeflate("server", DEFAULTS, { maxMessageSize: 100 });
    const storedSmall = deflateRawSync(new Uint8Array(randomBytes(100)), { level: 0, finishFlush: zlib.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(small.receive(frame(0x2, storedSmall, { rsv1: true }))?.payload.length, "the same for a limit of 100 bytes: 100 random bytes, stored").toBe(100);
  });
});

describe("Step 5 — compressed messages on the wire: the connection with permessage-deflate (chapter 07's extension option)", () => {
  const text = (data: string) => ({ type: "text" as const, data });
  function open(role: "client" | "server", params?: DeflateParams, maxMessageSize?: number) {
    const extension = params === undefined ? undefined : new PerMessageDeflate(role, params, maxMessageSize === undefined ? {} : { maxMessageSize });
    const connection = new Connection(role, {
      maskKey: () => KEY.slice(),
      ...(extension === undefined ? {} : { extension }),
      ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
    });
    connection.open();
    return connection;
  }
  const sentFrames = (connection: Connection) => readFrames(concat(...connection.bytesToSend()));
  const closeOf = (events: Iterable<ConnectionEvent>) => [...events].find((e) => e.type === "close");

  test("§5.2 MUST: without a negotiated extension, a frame with RSV1 fails the connection with 1002", () => {
    const connection = open("server");
    const events = connection.receive(wireFrame({ opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00"), maskKey: KEY }));
    expect(closeOf(events), "a close event with 1002").toMatchObject({ type: "close", code: 1002, clean: false });
  });

  test("RFC 7692 §6: the RFC's compressed \"Hello\" in, a text message out; a compressible message goes out with RSV1", () => {
    const server = open("server", DEFAULTS);
    const events = [...server.receive(wireFrame({ opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00"), maskKey: KEY }))];
    expect(events, "one text message, inflated").toEqual([{ type: "message", message: text("Hello") }]);
    server.send(text("Hello, Hello, Hello, Hello"));
    const [sent, ...more] = sentFrames(server);
    expect(sent && { fin: sent.fin, rsv1: sent.rsv1, opcode: sent.opcode, frames: 1 + more.length }, "RFC 7692 §6: one frame, FIN, RSV1, text").toEqual({ fin: true, rsv1: true, opcode: 0x1, frames: 1 });
    expect(sent && new TextDecoder().decode(inflateWithin(15, sent.payload)), "its payload is the message, deflated").toBe("Hello, Hello, Hello, Hello");
    expect(sent?.payload.length, "and shorter than the 26 bytes of text").toBeLessThan(26);
  });

  test("RFC 7692 §6 MUST NOT: control frames are never compressed, even with the extension", () => {
    const client = open("client", DEFAULTS);
    client.ping(utf8("a ping a ping a ping a ping a ping"));
    client.close(1000, "bye bye bye bye bye bye bye bye");
    for (const sent of sentFrames(client)) expect(sent.rsv1, `the ${sent.opcode === 0x9 ? "ping" : "close"} frame has RSV1 clear`).toBe(false);
  });

  test("RFC 7692 §6 MUST: RSV1 on a continuation frame, or on a ping, closes the connection with 1002", () => {
    const a = open("client", DEFAULTS);
    a.receive(wireFrame({ opcode: 0x1, fin: false, rsv1: true, payload: hex("f2 48 cd") }));
    expect(closeOf(a.receive(wireFrame({ opcode: 0x0, rsv1: true, payload: hex("c9 c9 07 00") }))), "RSV1 on a continuation").toMatchObject({ code: 1002 });
    const b = open("client", DEFAULTS);
    expect(closeOf(b.receive(wireFrame({ opcode: 0x9, rsv1: true, payload: new Uint8Array(0) }))), "RSV1 on a ping").toMatchObject({ code: 1002 });
  });

  test("§8.1 MUST: a compressed text message that inflates to bad UTF-8 fails with 1007", () => {
    const client = open("client", DEFAULTS);
    const events = client.receive(wireFrame({ opcode: 0x1, rsv1: true, payload: deflateMessage(hex("48 c3 28 ff 6f")) }));
    expect(closeOf(events), "the text is checked after inflating").toMatchObject({ code: 1007 });
  });

  test("RFC 6455 §10.4, §7.4.1: a message that inflates past maxMessageSize closes with 1009", () => {
    const server = open("server", DEFAULTS, 100_000);
    const bomb = deflateMessage(new Uint8Array(5_000_000));
    const events = server.receive(wireFrame({ opcode: 0x2, rsv1: true, payload: bomb, maskKey: KEY }));
    expect(closeOf(events), "5 MB inflated, 100 000 bytes allowed").toMatchObject({ type: "close", code: 1009, clean: false });
    const [close] = sentFrames(server);
    expect(close && [close.opcode, close.payload[0], close.payload[1]], "a close frame with 1009 goes out").toEqual([0x8, 0x03, 0xf1]);
  });

  test("§8.1, the workbook's policy (fail fast): with deflate agreed, an uncompressed text message still fails at its first bad byte, inside its frame", () => {
    const bad = concat(utf8("ab"), hex("ff"), new Uint8Array(97));
    const first = wireFrame({ opcode: 0x1, payload: bad, maskKey: KEY });
    // 2 bytes of header, 4 of key, then "ab" and FF: 3 of the 100 bytes of payload (RSV1 clear: not compressed).
    const a = open("server", DEFAULTS);
    expect(closeOf(a.receive(first.subarray(0, 9))), "a text frame with RSV1 clear is text as it arrives: FF fails it before the other 97 bytes").toMatchObject({
      type: "close",
      code: 1007,
    });
    const b = open("server", DEFAULTS);
    const fragments = concat(wireFrame({ opcode: 0x1, fin: false, payload: utf8("ok "), maskKey: KEY }), wireFrame({ opcode: 0x0, payload: bad, maskKey: KEY }));
    expect(closeOf(b.receive(fragments.subarray(0, 9 + 9))), "the same in an uncompressed message's continuation frame").toMatchObject({ type: "close", code: 1007 });
    // A compressed message's bytes are not text until inflated: no verdict before its last byte.
    const c = open("server", DEFAULTS);
    const compressed = wireFrame({ opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00"), maskKey: KEY });
    expect([...c.receive(compressed.subarray(0, compressed.length - 1))], "a compressed frame in progress: DEFLATE bytes, not checked as UTF-8").toEqual([]);
    expect([...c.receive(compressed.subarray(compressed.length - 1))], "complete, it inflates to Hello").toEqual([{ type: "message", message: text("Hello") }]);
  });

  test("the workbook's policy: an extension that cannot tell (no transforms) has its messages checked once it hands them on, not while they arrive", () => {
    const passThrough = { rsv1: false, receive: (frame: Frame) => frame, send: (_opcode: number, payload: Uint8Array) => ({ payload, rsv1: false }) };
    const server = new Connection("server", { extension: passThrough });
    server.open();
    const frame = wireFrame({ opcode: 0x1, payload: concat(utf8("ab"), hex("ff"), new Uint8Array(97)), maskKey: KEY });
    expect([...server.receive(frame.subarray(0, 9))], "its bytes may be transformed: nothing is judged while the frame is in progress").toEqual([]);
    expect(closeOf(server.receive(frame.subarray(9))), "complete and handed on, the text is checked: 1007").toMatchObject({ type: "close", code: 1007 });
  });

  test("§5.4 MUST: a compressed first frame in the middle of an uncompressed message fails with 1002 at that frame, not later", () => {
    for (const fin of [false, true]) {
      const server = open("server", DEFAULTS);
      expect([...server.receive(wireFrame({ opcode: 0x1, fin: false, payload: utf8("plain "), maskKey: KEY }))], "an uncompressed message begins").toEqual([]);
      expect([...server.receive(wireFrame({ opcode: 0x0, fin: false, payload: utf8("and more "), maskKey: KEY }))], "and goes on (a continuation, not its last)").toEqual([]);
      // Its payload isn't even DEFLATE: a connection that took it for a new compressed message would say 1007, or wait for more.
      const events = server.receive(wireFrame({ opcode: 0x1, fin, rsv1: true, payload: hex("ff ff ff ff"), maskKey: KEY }));
      expect(closeOf(events), `§5.4: a text frame (RSV1, FIN ${fin}) where a continuation belongs`).toMatchObject({ type: "close", code: 1002 });
    }
    const client = open("client", DEFAULTS);
    const events = [
      ...client.receive(wireFrame({ opcode: 0x2, fin: false, payload: hex("01") })),
      ...client.receive(wireFrame({ opcode: 0x0, payload: hex("02") })),
      ...client.receive(wireFrame({ opcode: 0x2, rsv1: true, payload: deflateMessage(utf8("fine, fine, fine, fine")) })),
    ];
    expect(events, "once an uncompressed message ended, a compressed one is welcome").toEqual([
      { type: "message", message: { type: "binary", data: hex("01 02") } },
      { type: "message", message: { type: "binary", data: utf8("fine, fine, fine, fine") } },
    ]);
  });

  test("§5.2: however TCP cuts the stream, a compressed session gives the same events", () => {
    const message = utf8("compress me, compress me, compress me ✓");
    const compressed = deflateMessage(message);
    const stream = concat(
      wireFrame({ opcode: 0x1, fin: false, rsv1: true, payload: compressed.subarray(0, 10), maskKey: KEY }),
      wireFrame({ opcode: 0x9, payload: utf8("p"), maskKey: KEY }),
      wireFrame({ opcode: 0x0, payload: compressed.subarray(10), maskKey: KEY }),
      wireFrame({ opcode: 0x2, payload: hex("01 02"), maskKey: KEY }),
      wireFrame({ opcode: 0x1, rsv1: true, payload: deflateMessage(message, { dictionary: message }), maskKey: KEY }),
    );
    const expected: ConnectionEvent[] = [
      { type: "ping", payload: utf8("p") },
      { type: "message", message: text("compress me, compress me, compress me ✓") },
      { type: "message", message: { type: "binary", data: hex("01 02") } },
      { type: "message", message: text("compress me, compress me, compress me ✓") },
    ];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 8 }), (cuts) => {
        const server = open("server", DEFAULTS);
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), stream.length];
        const events = points.slice(1).flatMap((end, i) => [...server.receive(stream.slice(points[i], end))]);
        expect(events, `cut at ${points.join(", ")}`).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });
});

describe("Step 1 — subprotocols (RFC 6455 §1.9, §4.1, §4.2.2)", () => {
  test("§4.1 MUST: subprotocol names offered are non-empty tokens, each unique, in order of preference", () => {
    expect(subprotocolHeader(["chat.v2", "chat.v1"]), "comma-separated, in the caller's order").toBe("chat.v2, chat.v1");
    for (const bad of [[""], ["chat v1"], ["chat,v1"], ["é"], ["chat.v1", "chat.v1"]]) {
      expectThrows(() => subprotocolHeader(bad), RangeError, `§4.1, request requirement 10: ${JSON.stringify(bad)} can't be offered`);
    }
  });

  test("§4.2.2 MUST: the server picks one of the client's subprotocols that it speaks, or none", () => {
    expect(["chat.v1", "chat.v2"], "one of the two both know").toContain(selectSubprotocol("chat.v2, chat.v1", ["chat.v1", "chat.v2"]));
    expect(selectSubprotocol("chat.v3,chat.v1", ["chat.v1"]), "the only one both know").toBe("chat.v1");
    expect(selectSubprotocol("chat.v3 ,\tchat.v1 , chat.v2", ["chat.v1"]), "spaces and tabs around the commas are not part of the names").toBe("chat.v1");
    expect(selectSubprotocol("chat.v3", ["chat.v1"]), "§4.2.2: none in common: no Sec-WebSocket-Protocol at all").toBeUndefined();
    expect(selectSubprotocol(undefined, ["chat.v1"]), "none offered: none chosen").toBeUndefined();
    expect(selectSubprotocol("Chat.V1", ["chat.v1"]), "names are compared exactly").toBeUndefined();
  });

  test("the workbook's policy (§4.1: the client lists by preference): the server takes the client's favourite among those it speaks", () => {
    expect(selectSubprotocol("chat.v2, chat.v1", ["chat.v1", "chat.v2"]), "the client prefers chat.v2").toBe("chat.v2");
    expect(selectSubprotocol("chat.v1, chat.v2", ["chat.v2", "chat.v1"]), "the client prefers chat.v1").toBe("chat.v1");
  });

  test("§4.1 MUST: the client fails when the server picks a subprotocol the client did not offer", () => {
    expect(checkSubprotocol("chat.v1", ["chat.v2", "chat.v1"]), "one we offered").toBe("chat.v1");
    expect(checkSubprotocol(undefined, ["chat.v1"]), "the server chose none: no subprotocol").toBeUndefined();
    expectThrows(() => checkSubprotocol("chat.v9", ["chat.v1"]), HandshakeError, "§4.1: chat.v9 was never offered");
    expect(checkSubprotocol(" chat.v1 ", ["chat.v1"]), "the header's value, without the spaces around it").toBe("chat.v1");
    expectThrows(() => checkSubprotocol("chat.v1", []), HandshakeError, "§4.1: nothing was offered");
    expectThrows(() => checkSubprotocol("chat.v1, chat.v2", ["chat.v1", "chat.v2"]), HandshakeError, "§4.2.2: one subprotocol, not a list");
  });

  test("§1.9, §4.1: your client (chapter 09) reports the subprotocol the server chose as `protocol`, and \"\" when none was (the WebSocket API's defaults)", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (offered) => (offered.has("chat.v1") ? "chat.v1" : false) });
    server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
    try {
      await within(new Promise((listening) => server.once("listening", listening)), 5_000, "the ws server listening");
      const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const chosen = await within(connect(url, { protocols: ["chat.v2", "chat.v1"] }), 5_000, "connect() offering chat.v2, chat.v1");
      expect(chosen.protocol, "the server picked chat.v1 of the two offered").toBe("chat.v1");
      await within(chosen.close(), 5_000, "close()");
      const plain = await within(connect(url), 5_000, "connect() offering nothing");
      expect({ protocol: plain.protocol, extensions: plain.extensions }, "nothing offered, nothing agreed: both empty").toEqual({ protocol: "", extensions: "" });
      await within(plain.close(), 5_000, "close()");
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});

describe("Step 5 — compressed messages on the wire: the bomb, measured (RFC 6455 §10.4)", () => {
  test("§10.4: ~1 MiB that inflates to 1 GiB fails with 1009 while peak memory stays far below 1 GiB", () => {
    // A child process, so its peak RSS is the bomb's alone: a server-side
    // connection with the echo server's 16 MiB limit gets one compressed frame.
    const impl = process.env.WORKBOOK_IMPL ?? "solutions";
    const child = spawnSync(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "helpers/deflate-bomb.ts"), impl], {
      encoding: "utf8",
      timeout: 60_000,
      cwd: resolve(import.meta.dirname, ".."),
    });
    const line = child.stdout.trim().split("\n").at(-1) ?? "";
    expect(child.status, `the bomb runner exits 0 (stderr: ${child.stderr.trim().split("\n").slice(-3).join(" / ")})`).toBe(0);
    const report = JSON.parse(line) as { closeCode: number; wireBytes: number; inflatesTo: number; peakRssMiB: number; baselineRssMiB: number };
    console.log(`deflate bomb: ${report.wireBytes} bytes on the wire, would inflate to ${report.inflatesTo}; close ${report.closeCode}; peak RSS ${report.peakRssMiB} MiB (baseline ${report.baselineRssMiB} MiB)`);
    expect(report.inflatesTo, "the bomb would inflate to 1 GiB").toBe(2 ** 30);
    expect(report.closeCode, "§7.4.1: the connection closes with 1009 (message too big)").toBe(1009);
    expect(report.peakRssMiB - report.baselineRssMiB, "the GiB is never allocated: the process grows by far less than 1 GiB").toBeLessThan(200);
  }, 60_000);
});

// ---------------------------------------------------------------------------
// Interop with compression on: the echo server (chapter 08) and the echo
// client (chapter 09), wired to chapter 12, against ws, Python's websockets
// and Chromium, each context-takeover combination. A wire tap between the two
// peers checks the negotiated header and RSV1 on the wire, not just the echo.

const MiB = 1024 * 1024;
const PEER_TIME = 40_000;
/** Chromium takes longest: 16 MiB made, compared and compressed in the page. */
const BROWSER_TIME = 90_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await within(Promise.resolve(cleanup()), 5_000, "cleaning up after an interop test");
});

/** The four combinations, with the answer our server gives to an offer that asks for them. */
const COMBOS = [
  { name: "context takeover both ways", server: false, client: false, answer: "permessage-deflate" },
  { name: "server_no_context_takeover", server: true, client: false, answer: "permessage-deflate; server_no_context_takeover" },
  { name: "client_no_context_takeover", server: false, client: true, answer: "permessage-deflate; client_no_context_takeover" },
  { name: "no context takeover either way", server: true, client: true, answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover" },
];

/** Text that compresses the way prose does (the same as the Python peer's `words`). */
function words(n: number): string {
  let text = "";
  for (let i = 0; text.length < n; i++) text += `word${i % 97} ${(i * 7919) % 1000}; `;
  return text.slice(0, n);
}
/** n bytes that compress well and quickly: one random KiB over and over. */
function blocks(n: number): Uint8Array {
  const block = randomBytes(1024);
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 1024) out.set(block.subarray(0, Math.min(1024, n - at)), at);
  return out;
}

/** What every peer sends: 0 B to 16 MiB, text and binary, compressible or not; the last two are the same 16 KiB text. */
function messages(): { name: string; data: string | Uint8Array; shrinks: boolean }[] {
  return [
    { name: "empty text", data: "", shrinks: false },
    { name: "empty binary", data: new Uint8Array(0), shrinks: false },
    { name: "small text", data: "Hello ✓", shrinks: false },
    { name: "text 125", data: words(125), shrinks: true },
    { name: "text 65536", data: words(65536), shrinks: true },
    { name: "random binary 65536", data: randomBytes(65536), shrinks: false },
    { name: "binary 1 MiB", data: blocks(MiB), shrinks: true },
    { name: "binary 16 MiB", data: blocks(16 * MiB), shrinks: true },
    { name: "text 16 KiB", data: words(16384), shrinks: true },
    { name: "the same 16 KiB again", data: words(16384), shrinks: true },
  ];
}

async function deflateEchoServer(options: { serverNoContextTakeover?: boolean; clientNoContextTakeover?: boolean } = {}) {
  const server: EchoServer = createEchoServer({ deflate: options, maxMessageSize: 32 * MiB, closeTimeout: 2_000 });
  cleanups.push(() => server.close());
  const url = await server.listen(0, "127.0.0.1");
  const tap = await WireTap.start(url);
  cleanups.push(() => tap.close());
  return tap;
}

/** The one connection a tap saw, once its handshake went through. */
function tapped(tap: WireTap): TappedConnection {
  const [connection] = tap.connections;
  if (connection === undefined) assert.fail("the wire tap saw no connection");
  return connection;
}

/** The data frames that start messages, in order, one direction. */
const starts = (frames: readonly TappedFrame[]) => frames.filter((f) => f.opcode === 0x1 || f.opcode === 0x2);

/**
 * What the wire must show for `sent` (in order) in one direction:
 * RFC 7692 §6: RSV1 only on first frames; the workbook's policies: the messages
 * that shrink went compressed, and the repeated 16 KiB text is tiny with context
 * takeover; RFC 7692 §7.2.1: as large as the first without.
 */
function checkDirection(frames: readonly TappedFrame[], sent: readonly { name: string; shrinks: boolean }[], who: string, takeover: boolean, compressesAll = false) {
  const summary = rsv1Summary(frames);
  expect(summary.misplaced, `RFC 7692 §6: ${who} never sets RSV1 on a continuation or control frame`).toEqual([]);
  const first = starts(frames);
  for (const [i, message] of sent.entries()) {
    if (message.shrinks || compressesAll) expect(first[i]?.rsv1, `${who} sent "${message.name}" compressed (RSV1): ${compressesAll ? "this peer compresses everything" : "the workbook's policy compresses what shrinks"}`).toBe(true);
  }
  const [a, b] = [first[sent.length - 2]?.length ?? 0, first[sent.length - 1]?.length ?? 0];
  if (takeover) expect(b, `${compressesAll ? "this peer uses" : "the workbook's policy uses"} context takeover when allowed: ${who}'s second copy of the 16 KiB text points into the first (${b} vs ${a} bytes)`).toBeLessThan(a / 10);
  else expect(b, `RFC 7692 §7.2.1: without context takeover ${who} compresses the second copy from scratch (${b} vs ${a} bytes)`).toBeGreaterThan(a / 2);
}

const sameBytes = (a: string | Uint8Array, b: unknown) =>
  typeof a === "string" ? typeof b === "string" && a === b : b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));

describe("Step 5 — compressed messages on the wire: interop, the echo server with permessage-deflate", () => {
  for (const combo of COMBOS) {
    test(`interop, RFC 7692 §5, §6: a ws client (perMessageDeflate, ${combo.name}): 0 B to 16 MiB, text and binary, fragmented; header and RSV1 on the wire`, async () => {
      const tap = await deflateEchoServer();
      const ws = await openWs(tap.url, {
        perMessageDeflate: { serverNoContextTakeover: combo.server, clientNoContextTakeover: combo.client, threshold: 0 },
        maxPayload: 64 * MiB,
      });
      cleanups.push(() => ws.terminate());
      const inbox: { data: Buffer; isBinary: boolean }[] = [];
      const waiting: (() => void)[] = [];
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        inbox.push({ data, isBinary });
        waiting.shift()?.();
      });
      const next = async (what: string) => {
        if (inbox.length === 0) await within(new Promise<void>((r) => waiting.push(r)), 15_000, `the echo of "${what}"`);
        return inbox.shift()!;
      };
      const sent = messages();
      for (const message of sent) {
        ws.send(message.data, { binary: typeof message.data !== "string" });
        const echo = await next(message.name);
        const back = echo.isBinary ? new Uint8Array(echo.data) : echo.data.toString("utf8");
        expect(sameBytes(message.data, back), `the echo of "${message.name}" equals it, with its type`).toBe(true);
      }
      // A fragmented compressed message (RFC 7692 §6): ws sets RSV1 on the first fragment only.
      ws.send(words(3000), { fin: false });
      ws.send(words(2000), { fin: false });
      ws.send(" ✓", { fin: true });
      expect((await next("fragmented text")).data.toString(), "the fragmented message comes back whole").toBe(words(3000) + words(2000) + " ✓");

      const wire = tapped(tap);
      expect(sortedHeader(wire.responseHeader("sec-websocket-extensions")), "RFC 7692 §5: the answer on the wire").toBe(sortedHeader(combo.answer));
      const all = [...sent, { name: "fragmented text", shrinks: true }];
      checkDirection(wire.toClient.frames, all.slice(0, sent.length), "the echo server", !combo.server);
      checkDirection(wire.toServer.frames, all.slice(0, sent.length), "the ws client", !combo.client, true);
      const continuations = wire.toServer.frames.filter((f) => f.opcode === 0x0);
      expect(continuations.length, "the ws client really sent continuation frames").toBeGreaterThanOrEqual(2);
    }, PEER_TIME);
  }

  test("interop, RFC 7692 §7.1.2.1, §7.2.1: a ws client asking for server_max_window_bits=9 gets 72 KiB echoes it can inflate with its 512-byte window", async () => {
    const tap = await deflateEchoServer();
    const ws = await openWs(tap.url, { perMessageDeflate: { serverMaxWindowBits: 9, threshold: 0 }, maxPayload: 64 * MiB });
    cleanups.push(() => ws.terminate());
    const closed = new Promise<string>((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve(`the ws client closed: ${code} ${reason.toString()}`)));
    ws.on("error", () => {}); // ws reports a bad inflate as an error, then closes: the close says it
    // One 24 KiB run of letters three times over: a 32 KiB window would point 24 KiB back,
    // which ws's inflater, made with windowBits 9, refuses ("invalid distance too far back").
    const run = letters(24 * 1024, 9);
    for (const [name, data] of [["binary", concat(run, run, run)], ["text", new TextDecoder().decode(concat(run, run, run))]] as const) {
      const echoed = new Promise<string | Uint8Array>((resolve) =>
        ws.once("message", (back: Buffer, isBinary: boolean) => resolve(isBinary ? new Uint8Array(back) : back.toString("latin1"))),
      );
      ws.send(data, { binary: typeof data !== "string" });
      const echo = await within(Promise.race([echoed, closed.then((why) => assert.fail(why))]), 15_000, `the echo of the 72 KiB ${name} message`);
      expect(sameBytes(data, echo), `the echo of the 72 KiB ${name} message equals it`).toBe(true);
    }
    const wire = tapped(tap);
    expect(meaning(parseExtensionHeaderReference(wire.responseHeader("sec-websocket-extensions") ?? "")[0]!, offer("permessage-deflate; server_max_window_bits=9; client_max_window_bits")).serverMaxWindowBits, "RFC 7692 §7.1.2.1: the answer agrees to 9").toBe(9);
    expect(starts(wire.toClient.frames).map((f) => f.rsv1), "the echoes went compressed (the workbook's policy: what shrinks), so the window was used").toEqual([true, true]);
  }, PEER_TIME);

  for (const combo of COMBOS) {
    test.skipIf(!pythonWebsocketsAvailable)(
      `interop, RFC 7692 §5, §6: a Python websockets client (${combo.name}): 0 B to 16 MiB, fragments; header and RSV1 on the wire${pythonSkipNote}`,
      async () => {
        const tap = await deflateEchoServer();
        const script = resolve(import.meta.dirname, "peers/python_deflate_client.py");
        const { status, lines, stderr } = await runPython([script, tap.url, combo.server ? "1" : "0", combo.client ? "1" : "0"]);
        const byCase = new Map(lines.map((line) => [line.case as string, line]));
        if (byCase.has("error") || status !== "exit 0") {
          assert.fail(`the Python client failed (${status}): ${String(byCase.get("error")?.error ?? stderr.trim().split("\n").at(-1))}`);
        }
        const handshake = byCase.get("handshake");
        expect(handshake?.extensions, "websockets agreed to permessage-deflate").toEqual(["PerMessageDeflate"]);
        expect([handshake?.remote_no_context_takeover, handshake?.local_no_context_takeover], "websockets' view of the agreed takeover parameters").toEqual([combo.server, combo.client]);
        const cases = lines.filter((l) => l.sent !== undefined);
        expect(cases.length, "every message of the Python client was echoed").toBe(14);
        for (const line of cases) {
          expect(line.echo, `"${String(line.case)}": the echo has the message's type and size`).toEqual(line.sent);
          expect(line.equal, `"${String(line.case)}": the echo equals it byte for byte`).toBe(true);
        }
        const wire = tapped(tap);
        expect(wire.requestHeader("sec-websocket-extensions"), "the offer on the wire").toMatch(/^permessage-deflate/);
        expect(sortedHeader(wire.responseHeader("sec-websocket-extensions")), "RFC 7692 §5: the answer on the wire").toBe(sortedHeader(combo.answer));
        for (const [who, frames] of [["the Python client", wire.toServer.frames], ["the echo server", wire.toClient.frames]] as const) {
          expect(rsv1Summary(frames).misplaced, `RFC 7692 §6: ${who} never sets RSV1 on a continuation or control frame`).toEqual([]);
          expect(rsv1Summary(frames).compressed, `${who} compressed the compressible messages (websockets compresses all; the workbook's policy, what shrinks)`).toBeGreaterThanOrEqual(9);
        }
        expect(rsv1Summary(wire.toServer.frames).compressed, "websockets compresses every message: 14 with RSV1").toBe(14);
        // The same 16 KiB text twice in a row: the second copy is tiny only with context takeover, both ways.
        for (const [who, frames, noTakeover] of [["the echo server", wire.toClient.frames, combo.server], ["the Python client", wire.toServer.frames, combo.client]] as const) {
          const [first, again] = [starts(frames)[10]?.length ?? 0, starts(frames)[11]?.length ?? 0];
          if (noTakeover) expect(again, `RFC 7692 §7.2.1 MUST: without context takeover ${who} compresses the same text the same (${again} vs ${first} bytes)`).toBe(first);
          else expect(again, `context takeover, used when allowed (websockets does; the workbook's policy): ${who}'s repeat points into the first copy (${again} vs ${first} bytes)`).toBeLessThan(first / 10);
        }
      },
      PEER_TIME,
    );
  }

  const haveChromium = peer("chromium").present();
  let browser: Promise<Browser> | undefined;
  afterAll(async () => {
    if (browser !== undefined) await within((await browser).close(), 10_000, "closing Chromium");
  });
  for (const combo of COMBOS) {
    test.skipIf(!haveChromium)(
      `interop, RFC 7692 §5, §6: Chromium's WebSocket (server answering ${combo.answer}): 0 B to 16 MiB; header and RSV1 on the wire${skipNote("chromium", haveChromium)}`,
      async () => {
        const tap = await deflateEchoServer({ serverNoContextTakeover: combo.server, clientNoContextTakeover: combo.client });
        browser ??= chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
        const page = await (await browser).newPage();
        cleanups.push(() => page.close());
        const result = await within(page.evaluate(browserEcho, tap.url), BROWSER_TIME - 10_000, "Chromium's echoes");
        expect(result.error, "the page's WebSocket worked").toBeUndefined();
        expect(sortedHeader(result.extensions), "the WebSocket API's `extensions`: the server's answer").toBe(sortedHeader(combo.answer));
        for (const echo of result.echoes) expect(echo.equal, `Chromium: the echo of "${echo.name}" equals it, with its type`).toBe(true);
        const wire = tapped(tap);
        expect(wire.requestHeader("sec-websocket-extensions"), "Chromium's offer").toMatch(/^permessage-deflate/);
        expect(sortedHeader(wire.responseHeader("sec-websocket-extensions")), "RFC 7692 §5: the answer on the wire").toBe(sortedHeader(combo.answer));
        const sent = result.echoes.map((e) => ({ name: e.name, shrinks: e.shrinks }));
        checkDirection(wire.toClient.frames, sent, "the echo server", !combo.server);
        checkDirection(wire.toServer.frames, sent, "Chromium", !combo.client);
      },
      BROWSER_TIME,
    );
  }
});

/** Runs in Chromium: the same messages as `messages()`, each echoed and compared in the page. */
async function browserEcho(url: string) {
  const words = (n: number) => {
    let text = "";
    for (let i = 0; text.length < n; i++) text += `word${i % 97} ${(i * 7919) % 1000}; `;
    return text.slice(0, n);
  };
  const random = (n: number) => {
    const out = new Uint8Array(new ArrayBuffer(n));
    for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
    return out;
  };
  const blocks = (n: number) => {
    const block = random(1024);
    const out = new Uint8Array(new ArrayBuffer(n));
    for (let at = 0; at < n; at += 1024) out.set(block.subarray(0, Math.min(1024, n - at)), at);
    return out;
  };
  const list: { name: string; data: string | Uint8Array<ArrayBuffer>; shrinks: boolean }[] = [
    { name: "empty text", data: "", shrinks: false },
    { name: "empty binary", data: new Uint8Array(new ArrayBuffer(0)), shrinks: false },
    { name: "small text", data: "Hello ✓", shrinks: false },
    { name: "text 125", data: words(125), shrinks: true },
    { name: "text 65536", data: words(65536), shrinks: true },
    { name: "random binary 65536", data: random(65536), shrinks: false },
    { name: "binary 1 MiB", data: blocks(1024 * 1024), shrinks: true },
    { name: "binary 16 MiB", data: blocks(16 * 1024 * 1024), shrinks: true },
    { name: "text 16 KiB", data: words(16384), shrinks: true },
    { name: "the same 16 KiB again", data: words(16384), shrinks: true },
  ];
  // The browser's own WebSocket (this file imports ws's under the same name).
  const ws = new globalThis.WebSocket(url);
  ws.binaryType = "arraybuffer";
  const inbox: unknown[] = [];
  let wake: (() => void) | undefined;
  ws.onmessage = (event) => {
    inbox.push(event.data);
    wake?.();
  };
  const next = () =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift())
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no echo within 30 s")), 30_000);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve(inbox.shift());
          };
        });
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("the WebSocket failed to open"));
    });
    const echoes: { name: string; shrinks: boolean; equal: boolean }[] = [];
    for (const message of list) {
      ws.send(message.data);
      const echo = await next();
      let equal: boolean;
      if (typeof message.data === "string") equal = echo === message.data;
      else if (!(echo instanceof ArrayBuffer) || echo.byteLength !== message.data.length) equal = false;
      else {
        const back = new Uint8Array(echo);
        let i = 0;
        while (i < back.length && back[i] === message.data[i]) i++;
        equal = i === back.length;
      }
      echoes.push({ name: message.name, shrinks: message.shrinks, equal });
    }
    const extensions = ws.extensions;
    ws.close(1000);
    return { extensions, echoes, error: undefined as string | undefined };
  } catch (error) {
    return { extensions: ws.extensions, echoes: [], error: String(error) };
  }
}

/** Runs a Python peer to its end, at most PEER_TIME; its JSON lines. */
function runPython(args: string[]): Promise<{ status: string; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), PEER_TIME - 5_000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ status: code === 0 ? "exit 0" : signal === "SIGKILL" ? "killed: out of time" : `exit ${code}`, lines, stderr });
    });
  });
}

describe("Step 5 — compressed messages on the wire: interop, the echo client with permessage-deflate", () => {
  /** Our client, through a tap, to a server at `url`; everything is closed after the test. */
  async function deflateClient(url: string): Promise<{ client: WebSocketClient; tap: WireTap }> {
    const tap = await WireTap.start(url);
    cleanups.push(() => tap.close());
    const client = await connect(tap.url, { deflate: true, maxMessageSize: 32 * MiB, closeTimeout: 2_000 });
    cleanups.push(() => client.close());
    return { client, tap };
  }

  /** Sends every message of `messages()` and checks each echo; then asks for a fragmented message if the server knows how. */
  async function echoAll(client: WebSocketClient) {
    const sent = messages();
    for (const message of sent) {
      client.send(message.data);
      const echo = await client.receive(15_000);
      expect(echo.type, `the echo of "${message.name}" has its type`).toBe(typeof message.data === "string" ? "text" : "binary");
      expect(sameBytes(message.data, echo.data), `the echo of "${message.name}" equals it`).toBe(true);
    }
    return sent;
  }

  for (const combo of COMBOS) {
    test(`interop, RFC 7692 §5, §6: the echo client and a ws server (perMessageDeflate, ${combo.name}): 0 B to 16 MiB, fragments; header and RSV1 on the wire`, async () => {
      const server = new WebSocketServer({
        port: 0,
        host: "127.0.0.1",
        maxPayload: 64 * MiB,
        perMessageDeflate: { serverNoContextTakeover: combo.server, clientNoContextTakeover: combo.client, threshold: 0 },
      });
      cleanups.push(() => new Promise((r) => server.close(r)));
      server.on("connection", (ws: WebSocket) => {
        ws.on("message", (data: Buffer, isBinary: boolean) => {
          if (!isBinary && data.toString() === "fragments please") {
            ws.send(words(4000), { fin: false });
            ws.send(words(3000), { fin: false });
            ws.send(" ✓", { fin: true });
          } else ws.send(data, { binary: isBinary });
        });
      });
      await within(new Promise((r) => server.once("listening", r)), 2_000, "the ws server listening");
      const { port } = server.address() as { port: number };
      const { client, tap } = await deflateClient(`ws://127.0.0.1:${port}/`);
      const sent = await echoAll(client);
      client.send("fragments please");
      expect(await client.receive(5_000), "RFC 7692 §6: a fragmented compressed message from ws arrives whole").toEqual({ type: "text", data: words(4000) + words(3000) + " ✓" });
      expect((await client.close()).code, "a clean close").toBe(1000);

      const wire = tapped(tap);
      expect(sortedHeader(wire.requestHeader("sec-websocket-extensions")), "RFC 7692 §5 MUST: our offer names permessage-deflate (and the workbook's client_max_window_bits)").toBe("permessage-deflate; client_max_window_bits");
      expect(client.extensions, "the client reports the server's answer").toBe(wire.responseHeader("sec-websocket-extensions"));
      expect(client.extensions.includes("server_no_context_takeover"), "server_no_context_takeover in the answer").toBe(combo.server);
      expect(client.extensions.includes("client_no_context_takeover"), "client_no_context_takeover in the answer").toBe(combo.client);
      checkDirection(wire.toServer.frames, sent, "the echo client", !combo.client);
      checkDirection(wire.toClient.frames, sent, "the ws server", !combo.server, true);
      expect(wire.toClient.frames.filter((f) => f.opcode === 0x0).length, "the ws server really sent continuation frames").toBe(2);
    }, PEER_TIME);
  }

  for (const combo of COMBOS) {
    test.skipIf(!pythonWebsocketsAvailable)(
      `interop, RFC 7692 §5, §6: the echo client and a Python websockets server (${combo.name}): 0 B to 16 MiB, fragments; header and RSV1 on the wire${pythonSkipNote}`,
      async () => {
        const script = resolve(import.meta.dirname, "peers/python_deflate_server.py");
        const child = spawn(PYTHON, [script, combo.server ? "1" : "0", combo.client ? "1" : "0"], { stdio: ["pipe", "pipe", "pipe"] });
        cleanups.push(() => {
          child.stdin.end(); // it stops when its stdin closes
          const killer = setTimeout(() => child.kill("SIGKILL"), 3_000);
          return new Promise((r) => child.once("exit", () => r(clearTimeout(killer))));
        });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const port = await within(
          new Promise<number>((resolvePort, reject) => {
            child.stdout.once("data", (c: Buffer) => resolvePort((JSON.parse(c.toString().split("\n")[0] ?? "") as { port: number }).port));
            child.once("exit", (code) => reject(new Error(`the Python server exited (${code}): ${stderr.trim().split("\n").at(-1)}`)));
          }),
          10_000,
          "the Python server's port",
        );
        const { client, tap } = await deflateClient(`ws://127.0.0.1:${port}/`);
        const sent = await echoAll(client);
        client.send("fragments please");
        expect(await client.receive(5_000), "RFC 7692 §6: a fragmented compressed message from websockets arrives whole").toEqual({
          type: "text",
          data: "fragmented ".repeat(300) + "and compressed ".repeat(300),
        });
        expect((await client.close()).code, "a clean close").toBe(1000);

        const wire = tapped(tap);
        expect(client.extensions, "RFC 7692 §5: the answer, as the client reports it and as it was on the wire").toBe(wire.responseHeader("sec-websocket-extensions"));
        expect(client.extensions.includes("server_no_context_takeover"), "server_no_context_takeover in the answer").toBe(combo.server);
        expect(client.extensions.includes("client_no_context_takeover"), "client_no_context_takeover in the answer").toBe(combo.client);
        checkDirection(wire.toServer.frames, sent, "the echo client", !combo.client);
        checkDirection(wire.toClient.frames, sent, "the Python server", !combo.server, true);
        expect(wire.toClient.frames.filter((f) => f.opcode === 0x0).length, "websockets really sent continuation frames").toBeGreaterThanOrEqual(2);
      },
      PEER_TIME,
    );
  }
});

describe("Step 5 — compressed messages on the wire: interop, what the echo server refuses with compression on", () => {
  /** A raw client of a deflate server, having offered permessage-deflate or not. */
  async function rawClient(offer: boolean, maxMessageSize = 32 * MiB) {
    const server: EchoServer = createEchoServer({ deflate: true, maxMessageSize, closeTimeout: 2_000 });
    cleanups.push(() => server.close());
    const url = await server.listen(0, "127.0.0.1");
    const raw = await RawClient.connect(url, upgradeRequest(url, offer ? ["Sec-WebSocket-Extensions: permessage-deflate"] : []));
    cleanups.push(() => raw.socket.destroy());
    await eventually(() => raw.response.includes("\r\n\r\n"), 2_000, "the server's 101");
    return raw;
  }
  const masked = (init: { opcode: number; payload: Uint8Array; fin?: boolean; rsv1?: boolean }) => wireFrame({ ...init, maskKey: KEY });

  test("§5.2 MUST: without permessage-deflate negotiated, a frame with RSV1 fails with 1002", async () => {
    const raw = await rawClient(false);
    expect(raw.response, "no extension was offered, none is answered").not.toMatch(/sec-websocket-extensions/i);
    raw.socket.write(masked({ opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00") }));
    expect((await raw.closeFrame()).code, "§5.2: RSV1 with no extension to explain it").toBe(1002);
  });

  test("RFC 7692 §6 MUST: negotiated, a compressed message is echoed, and RSV1 on a continuation fails with 1002", async () => {
    const raw = await rawClient(true);
    expect(raw.response, "RFC 7692 §5: the server answers with the extension").toMatch(/\r\nSec-WebSocket-Extensions: permessage-deflate\r\n/);
    raw.socket.write(masked({ opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00") }));
    await eventually(() => raw.frames.length > 0, 2_000, "the echo of the compressed Hello");
    expect(raw.frames[0] && new TextDecoder().decode(raw.frames[0].payload), "the RFC's compressed Hello comes back as Hello (too short to compress)").toBe("Hello");
    raw.socket.write(masked({ opcode: 0x1, fin: false, rsv1: true, payload: hex("f2 48 cd") }));
    raw.socket.write(masked({ opcode: 0x0, rsv1: true, payload: hex("c9 c9 07 00") }));
    expect((await raw.closeFrame()).code, "RFC 7692 §6: RSV1 on a continuation frame").toBe(1002);
  });

  test("RFC 6455 §10.4, §7.4.1: a compressed message that inflates past maxMessageSize fails with 1009", async () => {
    const raw = await rawClient(true, MiB);
    const bomb = deflateMessage(new Uint8Array(16 * MiB));
    expect(bomb.length, "16 MiB of zeros fit in well under the 1 MiB frame limit").toBeLessThan(100 * 1024);
    raw.socket.write(masked({ opcode: 0x2, rsv1: true, payload: bomb }));
    expect((await raw.closeFrame()).code, "§7.4.1: message too big, found while inflating").toBe(1009);
  });
});

describe("Step 5 — compressed messages on the wire: conformance", () => {
  test("conformance: the echo server with deflate passes every permessage-deflate case (npm run conformance -- --deflate); NON-STRICT only where the RFC allows another answer", async () => {
    const server: EchoServer = createEchoServer({ deflate: true, maxMessageSize: 16 * MiB, closeTimeout: 2_000 });
    cleanups.push(() => server.close());
    const results = await runDeflateConformance(await server.listen(0, "127.0.0.1"));
    // 1002 for data that isn't DEFLATE is as right as the workbook's 1007 (RFC 7692 §7.2.2 names no code).
    const notOk = results.filter((r) => r.verdict === "FAILED" || (r.verdict === "NON-STRICT" && r.id !== "deflate-corrupt")).map(formatResult);
    expect(notOk, `${summary(results)}; each line names the rule`).toEqual([]);
  }, 300_000);
});

describe("Step 5 — compressed messages on the wire: the deflate option of the echo server (chapter 08) and client (chapter 09)", () => {
  /** The 101 our echo server gives a raw client offering plain permessage-deflate. */
  async function answerTo(deflate: boolean | { serverNoContextTakeover?: boolean; clientNoContextTakeover?: boolean }): Promise<string> {
    const server: EchoServer = createEchoServer({ deflate, closeTimeout: 2_000 });
    cleanups.push(() => server.close());
    const url = await server.listen(0, "127.0.0.1");
    const raw = await RawClient.connect(url, upgradeRequest(url, ["Sec-WebSocket-Extensions: permessage-deflate"]));
    cleanups.push(() => raw.socket.destroy());
    await eventually(() => raw.response.includes("\r\n\r\n"), 2_000, "the server's 101");
    expect(raw.response.split("\r\n")[0], "the upgrade succeeds either way").toBe("HTTP/1.1 101 Switching Protocols");
    return raw.response;
  }

  test("RFC 7692 §5, RFC 6455 §9.1: the server's deflate: false, like no option, declines the offer; deflate with options answers what it insists on", async () => {
    expect(await answerTo(false), "deflate: false accepts no extension: no Sec-WebSocket-Extensions in the 101").not.toMatch(/sec-websocket-extensions/i);
    const answer = /\r\nsec-websocket-extensions: *([^\r]*)\r\n/i.exec(await answerTo({ serverNoContextTakeover: true, clientNoContextTakeover: true }))?.[1];
    expect(sortedHeader(answer), "RFC 7692 §7.1.1: the server adds both no_context_takeover parameters it insists on").toBe(
      "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    );
  });

  test("§4.2.2, the workbook's policy: the server's protocols: it picks the client's favourite among those it speaks, named in Sec-WebSocket-Protocol (with or without deflate)", async () => {
    for (const deflate of [false, true]) {
      const server: EchoServer = createEchoServer({ protocols: ["chat.v1", "chat.v2"], deflate, closeTimeout: 2_000 });
      cleanups.push(() => server.close());
      const url = await server.listen(0, "127.0.0.1");
      const raw = await RawClient.connect(url, upgradeRequest(url, ["Sec-WebSocket-Protocol: chat.v3, chat.v2, chat.v1"]));
      cleanups.push(() => raw.socket.destroy());
      await eventually(() => raw.response.includes("\r\n\r\n"), 2_000, "the server's 101");
      expect(raw.response, `§4.2.2: chat.v2 is the client's first choice that the server speaks (deflate: ${deflate})`).toMatch(/\r\nSec-WebSocket-Protocol: chat\.v2\r\n/);
    }
  });

  test("trace with deflate (--trace --deflate): each compressed message in and out gets a line, marked ← client and → client", async () => {
    const lines: string[] = [];
    const server: EchoServer = createEchoServer({ deflate: true, trace: (line) => lines.push(line), closeTimeout: 2_000 });
    cleanups.push(() => server.close());
    const url = await server.listen(0, "127.0.0.1");
    const ws = await openWs(url, { perMessageDeflate: { threshold: 0 } });
    cleanups.push(() => ws.terminate());
    const echo = () => within(new Promise<string>((resolve) => ws.once("message", (data: Buffer) => resolve(data.toString()))), 5_000, "the echo");
    const echoed = echo();
    ws.send("hello ".repeat(100));
    expect(await echoed, "the echo").toBe("hello ".repeat(100));
    const short = echo();
    ws.send("hi");
    expect(await short, "the echo of hi").toBe("hi");
    const deflateLines = lines.filter((line) => line.includes("permessage-deflate:"));
    expect(deflateLines, "a line for the message in, inflated to its 600 bytes, one for the echo out, deflated from them; then hi in, and its echo sent as it is").toEqual([
      expect.stringMatching(/^← client {2}permessage-deflate: text RSV1, \d+ bytes on the wire, inflated to 600$/),
      expect.stringMatching(/^→ client {2}permessage-deflate: text of 600 bytes, deflated to \d+ on the wire, RSV1$/),
      expect.stringMatching(/^← client {2}permessage-deflate: text RSV1, \d+ bytes on the wire, inflated to 2$/),
      "→ client  permessage-deflate: text of 2 bytes sent uncompressed (RSV1 clear): it would not shrink",
    ]);
  });

  test("trace with deflate on the client (npm run client -- --trace --deflate): each compressed message out and in gets a line, marked → server and ← server", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0 } });
    server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
    cleanups.push(() => new Promise((closed) => server.close(closed)));
    await within(new Promise((listening) => server.once("listening", listening)), 5_000, "the ws server listening");
    const lines: string[] = [];
    const client = await within(connect(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`, { deflate: true, trace: (line) => lines.push(line) }), 5_000, "connect() with deflate and trace");
    cleanups.push(() => client.close());
    client.send("hello ".repeat(100));
    expect(await client.receive(5_000), "the echo").toEqual({ type: "text", data: "hello ".repeat(100) });
    expect(lines.filter((line) => line.includes("permessage-deflate:")), "one line for the message out, deflated from its 600 bytes, one for the echo in, inflated to them").toEqual([
      expect.stringMatching(/^→ server {2}permessage-deflate: text of 600 bytes, deflated to \d+ on the wire, RSV1$/),
      expect.stringMatching(/^← server {2}permessage-deflate: text RSV1, \d+ bytes on the wire, inflated to 600$/),
    ]);
  });

  test("§4.1, §9.1 MUST: a Sec-WebSocket-Extensions answer the client can't even read fails the handshake with a HandshakeError", async () => {
    // A server that answers the client's offer with a header broken by an unterminated quoted value.
    const sockets: Socket[] = [];
    const server = createTcpServer((socket) => {
      sockets.push(socket);
      let head = "";
      socket.on("data", (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const key = /^sec-websocket-key: *(\S+)/im.exec(head)?.[1];
        if (!head.includes("\r\n\r\n") || key === undefined) return;
        const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits="1\r\n\r\n`);
      });
      socket.on("error", () => {});
    });
    server.listen(0, "127.0.0.1");
    cleanups.push(() => new Promise((closed) => (sockets.forEach((s) => s.destroy()), server.close(closed))));
    await within(new Promise((listening) => server.once("listening", listening)), 5_000, "the raw server listening");
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const error = await within(connect(url, { deflate: true }).then(() => undefined, (e: unknown) => e), 5_000, "connect() to a server with an unreadable answer");
    expect(error, "§4.1: the handshake fails, as for any answer the client can't accept").toBeInstanceOf(HandshakeError);
  });

  test("RFC 7692 §5, RFC 6455 §4.1: the client's deflate: false, like no option, offers nothing; deflate with options offers what they ask, beside a subprotocol", async () => {
    const offers: (string | undefined)[] = [];
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true, handleProtocols: (offered) => (offered.has("chat.v1") ? "chat.v1" : false) });
    server.on("connection", (ws, req) => {
      offers.push(req.headers["sec-websocket-extensions"]);
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    cleanups.push(() => new Promise((closed) => server.close(closed)));
    await within(new Promise((listening) => server.once("listening", listening)), 5_000, "the ws server listening");
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;

    const plain = await within(connect(url, { deflate: false }), 5_000, "connect() with deflate: false");
    cleanups.push(() => plain.close());
    expect(offers[0], "deflate: false: no Sec-WebSocket-Extensions in the request").toBeUndefined();
    expect(plain.extensions, "and no extension in use").toBe("");

    const asking = await within(connect(url, { deflate: { clientNoContextTakeover: true }, protocols: ["chat.v1"] }), 5_000, "connect() with deflate options and a subprotocol");
    cleanups.push(() => asking.close());
    expect(sortedHeader(offers[1]), "RFC 7692 §7.1.1.2: the offer carries client_no_context_takeover").toBe("permessage-deflate; client_max_window_bits; client_no_context_takeover");
    expect(asking.extensions, "ws accepted it, with the parameter").toMatch(/^permessage-deflate;.*client_no_context_takeover/);
    expect(asking.protocol, "§4.1: both offers went out, each on its own header line: the subprotocol was chosen too").toBe("chat.v1");
    asking.send("compressed both ways");
    expect(await asking.receive(5_000), "and the compressed echo comes back").toEqual({ type: "text", data: "compressed both ways" });
  });
});
