import { describe, expect, test } from "vitest";
import {
  checkUpgradeRequest,
  checkUpgradeResponse,
  computeAccept,
  createClientKey,
  createUpgradeRequest,
} from "@workbook/02-handshake";
import { HandshakeError } from "../lib/errors.ts";
import type { UpgradeDecision, UpgradeRequest } from "../lib/handshake.ts";
import { getHeader, type Headers } from "../lib/http-headers.ts";
import { expectThrows } from "./helpers/errors.ts";

/** The sample key of RFC 6455 §1.3 ("the sample nonce", base64) and its accept value. */
const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

describe("Step 1 — the key and the accept value: computeAccept, createClientKey", () => {
  test("§1.3, §4.2.2 MUST: the RFC's worked example", () => {
    const got = computeAccept(RFC_KEY);
    expect(got, `Sec-WebSocket-Accept for key ${RFC_KEY} should be ${RFC_ACCEPT}, got ${got}`).toBe(RFC_ACCEPT);
  });

  test("§4.2.2 MUST: the key is hashed as the text received, GUID appended, not base64-decoded", () => {
    // Two more keys; the expected values were computed with
    //   printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' KEY | openssl sha1 -binary | base64
    const cases = [
      ["x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="],
      ["AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="],
    ];
    for (const [key = "", accept] of cases) {
      const got = computeAccept(key);
      expect(got, `Sec-WebSocket-Accept for key ${key} should be ${accept}, got ${got}`).toBe(accept);
    }
  });
});

describe("Step 1 — the key and the accept value: computeAccept, createClientKey", () => {
  test("§4.1 MUST: the key is 16 random bytes, base64-encoded (24 characters ending in ==)", () => {
    const key = createClientKey();
    expect(key, `a Sec-WebSocket-Key is the base64 of 16 bytes: 22 characters and "==", got ${key}`).toMatch(
      /^[A-Za-z0-9+/]{22}==$/,
    );
    expect(Buffer.from(key, "base64").length, "decoded, the key must be 16 bytes long").toBe(16);
  });

  test("§4.1 MUST: a new key is chosen randomly for each connection", () => {
    const keys = new Set(Array.from({ length: 200 }, () => createClientKey()));
    expect(keys.size, "200 keys should all differ: each must come from fresh random bytes").toBe(200);
  });
});

describe("Step 2 — the client's request: createUpgradeRequest", () => {
  const url = { secure: false, host: "server.example.com", port: 80, resourceName: "/chat" };

  test("§4.1 MUST: a GET of the resource name, over HTTP/1.1, with the required headers", () => {
    const request = createUpgradeRequest(url, RFC_KEY);
    const [requestLine, ...headerLines] = request.split("\r\n");
    expect(requestLine, "the request line is GET <resource name> HTTP/1.1").toBe("GET /chat HTTP/1.1");
    const headers = new Map(
      headerLines.filter((line) => line !== "").map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
      }),
    );
    expect(headers.get("host"), "Host: the host, without the default port").toBe("server.example.com");
    expect(headers.get("upgrade")?.toLowerCase(), "Upgrade: websocket").toBe("websocket");
    expect(headers.get("connection")?.toLowerCase(), "Connection: Upgrade").toBe("upgrade");
    expect(headers.get("sec-websocket-key"), "Sec-WebSocket-Key: the key given").toBe(RFC_KEY);
    expect(headers.get("sec-websocket-version"), "Sec-WebSocket-Version: 13").toBe("13");
    expect(headers.has("origin"), "no Origin unless one is given").toBe(false);
  });

  test("§4.1 MUST: a browser client sends Origin: given an origin, the request carries it, once", () => {
    const request = createUpgradeRequest(url, RFC_KEY, { origin: "https://app.example" });
    const origins = request.split("\r\n").filter((line) => /^origin:/i.test(line));
    expect(origins, "one Origin header with the origin given (§4.1, request requirement 8)").toEqual(["Origin: https://app.example"]);
  });

  test("§4.1 MUST: lines end in CRLF and an empty line ends the header block", () => {
    const request = createUpgradeRequest(url, RFC_KEY);
    expect(request.endsWith("\r\n\r\n"), "the request must end with CRLF CRLF").toBe(true);
    expect(request.replaceAll("\r\n", "").includes("\n"), "every line break must be CRLF, never a bare LF").toBe(false);
  });

  test("§4.1: the Host header carries a non-default port and the query stays in the request line", () => {
    const request = createUpgradeRequest(
      { secure: false, host: "::1", port: 9001, resourceName: "/echo?room=2" },
      RFC_KEY,
      { origin: "http://example.com" },
    );
    expect(request.startsWith("GET /echo?room=2 HTTP/1.1\r\n"), "request line with the query").toBe(true);
    expect(request, "Host: [::1]:9001").toMatch(/\r\nHost: \[::1\]:9001\r\n/i);
    expect(request, "Origin as given (§4.1, request requirement 8)").toMatch(/\r\nOrigin: http:\/\/example\.com\r\n/i);
  });
});

/** The client handshake of RFC 6455 §1.3, as node:http hands it to a server. */
function rfcRequest(overrides: Partial<UpgradeRequest> = {}, headers: Headers = {}): UpgradeRequest {
  return {
    method: "GET",
    httpVersion: "1.1",
    ...overrides,
    headers: {
      host: "server.example.com",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": RFC_KEY,
      origin: "http://example.com",
      "sec-websocket-protocol": "chat, superchat",
      "sec-websocket-version": "13",
      ...headers,
    },
  };
}

/** Expects a refusal with this status, and returns it. */
function expectRefused(decision: UpgradeDecision, status: number, why: string) {
  expect(decision.ok, `${why}: the server must refuse the handshake`).toBe(false);
  if (decision.ok) throw new Error("unreachable");
  expect(decision.status, `${why}: the answer should be HTTP ${status}`).toBe(status);
  expect(decision.reason.length, `${why}: the refusal should say why, in its reason`).toBeGreaterThan(0);
  return decision;
}

/**
 * Expects header `name` of a refusal to be `value`. Header names are
 * case-insensitive (RFC 9110 §5.1): `allow` and `Allow` are the same header.
 */
function expectHeader(headers: Headers, name: string, value: string, why: string): void {
  const got = getHeader(headers, name);
  const present = Object.keys(headers);
  expect(
    got,
    got === undefined
      ? `${why}: the answer has no ${name} header (its headers: ${present.length === 0 ? "none" : present.join(", ")})`
      : `${why}: ${name} should be ${value}`,
  ).toBe(value);
}

describe("Step 3 — the server's check: checkUpgradeRequest", () => {
  test("§4.2.2 MUST: the RFC's sample request is accepted, with its accept value", () => {
    const decision = checkUpgradeRequest(rfcRequest());
    expect(decision, `the §1.3 request should be accepted with Sec-WebSocket-Accept ${RFC_ACCEPT}`).toEqual({
      ok: true,
      accept: RFC_ACCEPT,
    });
  });

  test("§4.2.1: Upgrade and Connection are case-insensitive; Connection is a token list", () => {
    const decision = checkUpgradeRequest(
      rfcRequest({}, { upgrade: "WebSocket", connection: "keep-alive, UPGRADE" }),
    );
    expect(decision.ok, "Upgrade: WebSocket with Connection: keep-alive, UPGRADE (what Firefox sends) is valid").toBe(true);
  });

  test("§4.2.1: header names are case-insensitive in plain header data too", () => {
    const decision = checkUpgradeRequest({
      method: "GET",
      httpVersion: "1.1",
      headers: {
        Host: "a",
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Key": RFC_KEY,
        "Sec-WebSocket-Version": "13",
      },
    });
    expect(decision.ok, "Sec-WebSocket-Key and sec-websocket-key name the same header").toBe(true);
  });

  test("§4.2.1 MUST refuse a method other than GET; the workbook's policy: 405 with Allow: GET", () => {
    const refused = expectRefused(checkUpgradeRequest(rfcRequest({ method: "POST" })), 405, "a POST");
    expectHeader(refused.headers, "Allow", "GET", "405 must say which method is allowed (RFC 9110 §15.5.6)");
  });

  test("§4.2.1 MUST refuse HTTP/1.0; the workbook's policy: 400", () => {
    expectRefused(checkUpgradeRequest(rfcRequest({ httpVersion: "1.0" })), 400, "an HTTP/1.0 request");
  });

  test("§4.2.1 MUST: HTTP/1.1 or higher: 0.9 and 1.0 are refused (the workbook's policy: 400), a later version is not refused for its version", () => {
    for (const httpVersion of ["0.9", "1.0"]) {
      expectRefused(checkUpgradeRequest(rfcRequest({ httpVersion })), 400, `an HTTP/${httpVersion} request`);
    }
    for (const httpVersion of ["1.1", "1.2", "2.0"]) {
      expect(checkUpgradeRequest(rfcRequest({ httpVersion })).ok, `HTTP/${httpVersion} is "1.1 or higher"`).toBe(true);
    }
  });

  test("§4.2.1: header values in plain header data may carry whitespace around them (RFC 9110 §5.5): it is not part of the value", () => {
    const decision = checkUpgradeRequest(rfcRequest({}, { "sec-websocket-version": " 13 ", "sec-websocket-key": ` ${RFC_KEY}\t` }));
    expect(decision, `Sec-WebSocket-Version " 13 " is 13, and the key without its spaces gives ${RFC_ACCEPT}`).toEqual({ ok: true, accept: RFC_ACCEPT });
  });

  test("§4.2.1: a refusal's reason names the header that is missing", () => {
    for (const name of ["sec-websocket-version", "sec-websocket-key"]) {
      const refused = expectRefused(checkUpgradeRequest(rfcRequest({}, { [name]: undefined })), name.endsWith("key") ? 400 : 426, `no ${name}`);
      expect(refused.reason, `the reason for a request without ${name} should name that header`).toMatch(new RegExp(name, "i"));
    }
  });

  test("§4.2.1 MUST refuse a request without Host; the workbook's policy: 400", () => {
    expectRefused(checkUpgradeRequest(rfcRequest({}, { host: undefined })), 400, "a request without Host");
  });

  test("§4.2.1 MUST refuse a request without websocket in Upgrade; the workbook's policy: 426 with Upgrade: websocket", () => {
    for (const upgrade of [undefined, "h2c"]) {
      const refused = expectRefused(checkUpgradeRequest(rfcRequest({}, { upgrade })), 426, `Upgrade: ${upgrade}`);
      expectHeader(refused.headers, "Upgrade", "websocket", "a 426 names the protocol to upgrade to (RFC 9110 §15.5.22)");
    }
  });

  test("§4.2.1 MUST refuse a request without the upgrade token in Connection; the workbook's policy: 400", () => {
    for (const connection of [undefined, "keep-alive", "upgraded"]) {
      expectRefused(checkUpgradeRequest(rfcRequest({}, { connection })), 400, `Connection: ${connection}`);
    }
  });

  test("§4.2.1, §4.2.2, §4.4 MUST: another version is refused with Sec-WebSocket-Version: 13 (the workbook's policy: 426)", () => {
    for (const version of ["8", "14", undefined]) {
      const refused = expectRefused(
        checkUpgradeRequest(rfcRequest({}, { "sec-websocket-version": version })),
        426,
        `Sec-WebSocket-Version: ${version}`,
      );
      expectHeader(refused.headers, "Sec-WebSocket-Version", "13", "the server names the version it speaks (§4.4)");
    }
  });

  test("§4.2.1 MUST refuse a key that is missing or not the base64 of 16 bytes; the workbook's policy: 400", () => {
    const bad = [undefined, "", "dGhlIHNhbXBsZSBub25jZQ", "c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZSEh", `${RFC_KEY}, ${RFC_KEY}`];
    for (const key of bad) {
      expectRefused(checkUpgradeRequest(rfcRequest({}, { "sec-websocket-key": key })), 400, `Sec-WebSocket-Key: ${key}`);
    }
  });
});

/** The server handshake of RFC 6455 §1.3. */
function rfcResponse(status = 101, headers: Headers = {}) {
  return {
    status,
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-accept": RFC_ACCEPT, ...headers },
  };
}

describe("Step 4 — the client's check: checkUpgradeResponse", () => {
  test("§4.1: header values in plain header data may carry whitespace around them (RFC 9110 §5.5): it is not part of the value", () => {
    const spaced = rfcResponse(101, { upgrade: " websocket ", "sec-websocket-accept": ` ${RFC_ACCEPT} `, "sec-websocket-protocol": " chat " });
    expect(() => checkUpgradeResponse(spaced, RFC_KEY, { protocols: ["chat"] }), "the §1.3 response with spaces around its values is valid").not.toThrow();
  });

  test("§4.1 MUST: the RFC's sample response is accepted", () => {
    expect(() => checkUpgradeResponse(rfcResponse(), RFC_KEY), "the §1.3 response is valid").not.toThrow();
  });

  test("§4.1, the workbook's policy: any status but 101 ends the attempt with a HandshakeError (the client follows no redirects, which §4.1 allows)", () => {
    for (const status of [200, 301, 400, 426]) {
      expectThrows(() => checkUpgradeResponse(rfcResponse(status), RFC_KEY), HandshakeError, `status ${status}`, new RegExp(`${status}|101`));
    }
  });

  test("§4.1 MUST: a wrong or missing Sec-WebSocket-Accept fails the connection", () => {
    const wrong = rfcResponse(101, { "sec-websocket-accept": computeAcceptOfOtherKey() });
    expectThrows(() => checkUpgradeResponse(wrong, RFC_KEY), HandshakeError, "an accept value for another key", /Sec-WebSocket-Accept|accept/i);
    const missing = rfcResponse(101, { "sec-websocket-accept": undefined });
    expectThrows(() => checkUpgradeResponse(missing, RFC_KEY), HandshakeError, "no Sec-WebSocket-Accept", /Sec-WebSocket-Accept|accept/i);
  });

  test("§4.1 MUST: a 101 response that does not conform (Upgrade not websocket, Connection without upgrade) fails; the tokens are case-insensitive", () => {
    expect(
      () => checkUpgradeResponse(rfcResponse(101, { upgrade: "WebSocket", connection: "upgrade" }), RFC_KEY),
      "Upgrade: WebSocket is valid",
    ).not.toThrow();
    expectThrows(() => checkUpgradeResponse(rfcResponse(101, { upgrade: undefined }), RFC_KEY), HandshakeError, "no Upgrade", /Upgrade/i);
    expectThrows(
      () => checkUpgradeResponse(rfcResponse(101, { connection: "close" }), RFC_KEY),
      HandshakeError,
      "Connection: close",
      /Connection/i,
    );
  });

  test("§4.1 MUST: an extension or subprotocol the client did not offer fails the connection", () => {
    expectThrows(
      () => checkUpgradeResponse(rfcResponse(101, { "sec-websocket-extensions": "permessage-deflate" }), RFC_KEY),
      HandshakeError,
      "the server chose permessage-deflate, which we never offered",
      /permessage-deflate|extension/i,
    );
    expectThrows(
      () => checkUpgradeResponse(rfcResponse(101, { "sec-websocket-protocol": "chat" }), RFC_KEY),
      HandshakeError,
      "the server chose subprotocol chat, which we never offered",
      /chat|protocol/i,
    );
    expect(
      () => checkUpgradeResponse(rfcResponse(101, { "sec-websocket-protocol": "chat" }), RFC_KEY, { protocols: ["chat"] }),
      "a subprotocol we offered is fine",
    ).not.toThrow();
  });
});

/** An accept value that is valid-looking but belongs to a different key. */
function computeAcceptOfOtherKey(): string {
  return "HSmrc0sMlYUkAGmm5OPpG2HaGWk="; // the accept of x3JJHMbDL1EzLkh9GBhXDw==
}
