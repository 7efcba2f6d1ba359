import { execFile } from "node:child_process";
import { get } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { once } from "node:events";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { afterEach, assert, describe, expect, test } from "vitest";
import type WebSocket from "ws";
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { createEchoServer, decideUpgrade, EchoSession, handshakeResponse, type EchoServer, type EchoServerOptions, type ServerRequest } from "@workbook/08-echo-server";
import { formatResult, runConformance, summary } from "../scripts/lib/conformance.ts";
import {
  clientFrame,
  eventually,
  openWs,
  PYTHON,
  pythonSkipNote,
  pythonWebsocketsAvailable,
  RawClient,
  upgradeRequest,
  within,
  wsClosed,
  wsMessages,
} from "./helpers/peers.ts";
import { utf8 } from "./helpers/bytes.ts";
import { expectThrows } from "./helpers/errors.ts";
import { makeTestCertificate } from "../lib/test-certificate.ts";

const text = utf8;

// Everything a test starts is stopped after it, whatever happened.
const servers: EchoServer[] = [];
const clients: { close(): void }[] = [];
// The clients leave first, and the server is given a moment to see them go:
// then close() has nobody to say goodbye to (goodbyes are step 4; a test of
// close() calls it itself, with its clients still connected).
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(
    servers.splice(0).map(async (server) => {
      await eventually(() => server.connectionCount === 0, 2_000, "the test's clients gone").catch(() => {});
      await within(server.close(), 3_000, "stopping the server");
    }),
  );
});

async function start(options: EchoServerOptions = {}): Promise<{ server: EchoServer; url: string }> {
  const server = createEchoServer(options);
  servers.push(server);
  const url = await server.listen(0, "127.0.0.1");
  return { server, url };
}
/**
 * Steps 3 and 4 need an `EchoSession`. node:http makes it inside its "upgrade"
 * listener, where whatever the constructor throws (the stub's
 * NotImplementedError, say) escapes every test: each would wait out its
 * bounds, with no word of why. So these tests first make a session of their
 * own, on a connected pair of sockets, and start its heartbeat when the test
 * asks for one: what that throws fails the test at once.
 */
async function sessionFirst(options: EchoServerOptions = {}): Promise<void> {
  const { onClose: _onClose, trace: _trace, ...quiet } = options; // this session is not the test's
  const listener = createNetServer();
  const accepted = new Promise<Socket>((resolve) => listener.once("connection", resolve));
  await within(new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve)), 2_000, "a socket pair for a first session");
  const peer = netConnect((listener.address() as AddressInfo).port, "127.0.0.1");
  peer.on("error", () => {});
  try {
    const socket = await within(accepted, 2_000, "a socket pair for a first session");
    try {
      const session = new EchoSession(socket, new Uint8Array(0), { maxMessageSize: 16 * 1024 * 1024, handshakeTimeout: 10_000, closeTimeout: 5_000, ...quiet });
      if (options.pingInterval !== undefined) session.heartbeat();
    } finally {
      socket.destroy();
    }
  } finally {
    peer.destroy();
    listener.close();
  }
}

/** start(), for the tests of steps 3 and 4: a session is made first (see sessionFirst). */
async function startEcho(options: EchoServerOptions = {}): Promise<{ server: EchoServer; url: string }> {
  await sessionFirst(options);
  return start(options);
}

async function wsClient(url: string, options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = await openWs(url, options);
  clients.push({ close: () => ws.terminate() });
  return ws;
}
async function rawClient(url: string, request?: string): Promise<RawClient> {
  const raw = request === undefined ? await RawClient.upgraded(url) : await RawClient.connect(url, request);
  clients.push({ close: () => raw.socket.destroy() });
  return raw;
}
/** The status line and headers of a plain HTTP GET. */
function httpGet(url: string): Promise<{ status: number; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      get(url.replace("ws:", "http:"), (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    }),
    2_000,
    "a plain HTTP GET",
  );
}


/** A valid upgrade request as decideUpgrade reads it, with the RFC's sample key (§1.3), and `extra` headers. */
function request(url = "/", extra: Record<string, string> = {}): ServerRequest {
  return {
    method: "GET",
    url,
    httpVersion: "1.1",
    headers: {
      host: "127.0.0.1:8080",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      ...extra,
    },
  };
}

/** The status decideUpgrade gave, or "accepted". */
function verdict(decision: ReturnType<typeof decideUpgrade>): number | "accepted" {
  return decision.ok ? "accepted" : decision.status;
}


async function expectFailure(frame: Uint8Array, code: number, rule: string, options: EchoServerOptions = {}) {
  const { server, url } = await startEcho(options);
  const raw = await rawClient(url);
  raw.socket.write(frame);
  expect((await raw.closeFrame()).code, `${rule}: the server's close frame carries ${code}`).toBe(code);
  await eventually(() => raw.ended, 2_000, `${rule}: the server closing TCP after failing the connection`);
  // The server keeps serving everybody else.
  const ws = await wsClient(url);
  const echo = wsMessages(ws, 1);
  ws.send("still there?");
  expect((await echo)[0]?.data.toString(), `${rule}: another client is still echoed`).toBe("still there?");
  expect(server.connectionCount, "only the new client is connected").toBe(1);
}

/** The frames the server sent, once `count` of them arrived. */
async function framesFrom(raw: RawClient, count: number, what: string) {
  await eventually(() => raw.frames.length >= count, 2_000, what);
  return raw.frames.slice(0, count);
}

/** A new client is echoed, and once it is gone no socket is left: the server is as good as new. */
async function expectStillServing(server: EchoServer, url: string, after: string): Promise<void> {
  const ws = await wsClient(url);
  const echo = wsMessages(ws, 1);
  ws.send("still there?");
  expect((await echo)[0]?.data.toString(), `${after}: a new client is still echoed`).toBe("still there?");
  const closed = wsClosed(ws);
  ws.close(1000);
  await closed;
  await eventually(() => server.connectionCount === 0, 2_000, `${after}: connectionCount back to 0 once every client is gone`);
}

// ---------------------------------------------------------------------------
// Strict by construction: what shares a TCP read is answered in order

/** Frames the raw client received, in words: "text Hello", "pong p", "close 1002". */
function received(raw: RawClient): string[] {
  return raw.frames.map((f) => {
    if (f.opcode === 0x8) return `close ${f.payload.length < 2 ? 1005 : (f.payload[0]! << 8) | f.payload[1]!}`;
    const name = ({ 0x1: "text", 0x2: "binary", 0x9: "ping", 0xa: "pong" } as Record<number, string>)[f.opcode] ?? `opcode ${f.opcode}`;
    return `${name} ${new TextDecoder().decode(f.payload)}`;
  });
}

/** Writes `bytes` in one write and returns what the server sent back until it closed TCP. */
async function oneRead(url: string, ...frames: Uint8Array[]): Promise<string[]> {
  const raw = await rawClient(url);
  raw.socket.write(Buffer.concat(frames));
  await eventually(() => raw.closed, 3_000, "the server closing TCP after its close frame");
  return received(raw);
}

// Python's websockets as a real peer: Debian's python3-websockets, run with
// the system's Python (CI installs it; see .ci/run).
const pythonClient = fileURLToPath(new URL("./peers/python_client.py", import.meta.url));
const PYTHON_TIME = 30_000;

/** One line of the Python client's report (tests/peers/python_client.py). */
interface PythonLine {
  case: string;
  sent?: { type: string; bytes: number };
  echo?: { type: string; bytes: number };
  equal?: boolean;
  [field: string]: unknown;
}

/** Runs the Python client against `url`; killed if it is still running after PYTHON_TIME. */
function runPythonClient(url: string): Promise<{ status: string; lines: PythonLine[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [pythonClient, url], { timeout: PYTHON_TIME, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      const status = error === null ? "exit 0" : error.killed ? `killed after ${PYTHON_TIME / 1000} s` : `exit ${error.code ?? error.signal}`;
      const lines = stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as PythonLine);
      resolve({ status, lines, stderr });
    });
  });
}

const PYTHON_ECHOES = [
  "text", "binary", "empty text", "empty binary",
  "binary 125", "binary 126", "binary 127", "binary 65535", "binary 65536", "text 65536",
  "binary 16 MiB", "fragmented text", "fragmented binary",
];

describe("Step 1 — decide the upgrade: decideUpgrade", () => {
  test("§4.2.2: a valid upgrade request is accepted, with chapter 02's Sec-WebSocket-Accept value for its key", () => {
    const decision = decideUpgrade(request());
    expect(decision.ok, "the RFC's sample request is a valid upgrade").toBe(true);
    expect(decision.ok && decision.accept, "the accept value of dGhlIHNhbXBsZSBub25jZQ== (§1.3)").toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  test("§4.2.1, §4.4: what chapter 02's check refuses is refused as it says: version 8 gets 426 with Sec-WebSocket-Version: 13, a GET without Upgrade 426, a short key 400", () => {
    const version8 = decideUpgrade(request("/", { "sec-websocket-version": "8" }));
    expect(verdict(version8), "Sec-WebSocket-Version: 8").toBe(426);
    expect(version8.ok ? {} : version8.headers, "the versions this server speaks (§4.4)").toMatchObject({ "Sec-WebSocket-Version": "13" });
    const plain: ServerRequest = { method: "GET", url: "/", httpVersion: "1.1", headers: { host: "127.0.0.1:8080" } };
    expect(verdict(decideUpgrade(plain)), "a plain GET, no Upgrade: websocket").toBe(426);
    expect(verdict(decideUpgrade(request("/", { "sec-websocket-key": "dG9vIHNob3J0" }))), "a key that is not 16 bytes in base64 (§4.2.1 item 5)").toBe(400);
  });

  test("§4.2.2 item 4 MUST: with an origin allow-list (§10.2), another Origin, or none, is refused (the workbook's policy: 403, which §4.2.2 gives as its example); a listed one is accepted", () => {
    const origins = ["http://good.example"];
    const foreign = decideUpgrade(request("/", { origin: "http://evil.example" }), { origins });
    expect(verdict(foreign), "Origin: http://evil.example").toBe(403);
    expect(foreign.ok ? "" : foreign.reason.trim(), "a refusal gives its reason, in any words").not.toBe("");
    expect(verdict(decideUpgrade(request(), { origins })), "no Origin at all, with an allow-list").toBe(403);
    expect(verdict(decideUpgrade(request("/", { origin: "http://good.example" }), { origins })), "Origin: http://good.example").toBe("accepted");
  });

  test("§4.2.2 item 4: an allowed Origin does not skip chapter 02's check: version 8 from an allowed origin is still refused with 426", () => {
    const decision = decideUpgrade(request("/", { origin: "http://good.example", "sec-websocket-version": "8" }), { origins: ["http://good.example"] });
    expect(verdict(decision), "an allowed origin, an unsupported version").toBe(426);
  });

  test("§10.2, the workbook's policy (the allow-list): an entry matches case-insensitively and with trailing slashes; no list, or an empty one, lets every origin in", () => {
    const origins = ["HTTPS://App.Example//"];
    expect(verdict(decideUpgrade(request("/", { origin: "https://app.example" }), { origins })), "https://app.example is the origin HTTPS://App.Example// names (RFC 6454 §6.2)").toBe("accepted");
    expect(verdict(decideUpgrade(request("/", { origin: "https://app.example.evil" }), { origins })), "https://app.example.evil is another origin").toBe(403);
    expect(verdict(decideUpgrade(request("/", { origin: "http://evil.example" }))), "no allow-list: no origin check").toBe("accepted");
    expect(verdict(decideUpgrade(request("/", { origin: "http://evil.example" }), { origins: [] })), "an empty allow-list: no origin check").toBe("accepted");
  });

  test("§4.2.2 MUST: with paths, a request for a resource the server doesn't serve is refused (the workbook's policy: 404 Not Found, §4.2.2's example); a served one is accepted, query or not", () => {
    const paths = ["/echo"];
    const other = decideUpgrade(request("/chat"), { paths });
    expect(verdict(other), "/chat, where only /echo is served").toBe(404);
    expect(other.ok ? "" : other.reason.trim(), "a refusal gives its reason, in any words").not.toBe("");
    expect(verdict(decideUpgrade(request("/echo"), { paths })), "/echo").toBe("accepted");
    expect(verdict(decideUpgrade(request("/echo?room=1"), { paths })), "/echo?room=1: the query is not part of the path").toBe("accepted");
    expect(verdict(decideUpgrade(request("/echo/more"), { paths })), "/echo/more is another resource").toBe(404);
    expect(verdict(decideUpgrade(request("/any/path?q=1"), { paths: [] })), "an empty paths list, like no list, serves every resource name").toBe("accepted");
    expect(verdict(decideUpgrade(request("/echo", { "sec-websocket-version": "8" }), { paths })), "a served path does not skip chapter 02's check").toBe(426);
  });
});

describe("Step 1 — decide the upgrade: handshakeResponse", () => {
  test("§4.2.2 MUST: 101 Switching Protocols with Upgrade, Connection and Sec-WebSocket-Accept", () => {
    const response = handshakeResponse({ ok: true, accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" });
    expect(response, "the RFC's sample response, byte for byte, ending with an empty line").toBe(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
  });

  test("§4.2.1, §4.4: a refusal carries its status, its headers, the reason, and Connection: close", () => {
    const response = handshakeResponse({
      ok: false,
      status: 426,
      reason: "this server speaks 13",
      headers: { "Sec-WebSocket-Version": "13" },
    });
    const [head = "", body] = response.split("\r\n\r\n");
    expect(head.split("\r\n")[0], "the status line").toBe("HTTP/1.1 426 Upgrade Required");
    expect(head, "the refusal's own headers").toMatch(/\r\nSec-WebSocket-Version: 13(\r\n|$)/);
    expect(head, "the connection ends after the refusal").toMatch(/\r\nConnection: close(\r\n|$)/i);
    expect(body, "the reason is the body").toBe("this server speaks 13\n");
    expect(head, "Content-Length counts the body's bytes").toMatch(/\r\nContent-Length: 22(\r\n|$)/i);
  });

  test("§4.2.1: a refusal's body is plain text (Content-Type: text/plain), so a browser or curl shows the reason as it is", () => {
    const refusal = handshakeResponse({ ok: false, status: 400, reason: "no Host header", headers: {} });
    expect(refusal, "the refusal names its body's type").toMatch(/\r\nContent-Type: text\/plain; charset=utf-8\r\n/i);
    expect(refusal.endsWith("\r\n\r\nno Host header\n"), "the reason is the body, after the empty line").toBe(true);
  });
});

describe("Step 2 — listen, refuse and bound the handshake: refusing", () => {
  test("§4.2.1: a plain HTTP request is refused with 426, with the reason in the body", async () => {
    const { url } = await start();
    const { status, body } = await httpGet(url);
    expect(status, "a GET without Upgrade: websocket").toBe(426);
    expect(body.trim(), "the body gives the reason, in any words").not.toBe("");
  });

  test("§4.2.1: a plain GET is refused with 426 and Upgrade: websocket, the protocol to switch to (RFC 9110 §15.5.22)", async () => {
    const { url } = await start();
    const headers = await within(
      new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        get(url.replace("ws:", "http:"), (res) => {
          res.resume();
          resolve({ status: String(res.statusCode), ...res.headers });
        }).on("error", reject);
      }),
      2_000,
      "a plain HTTP GET",
    );
    expect(headers.status, "a GET without Upgrade: websocket").toBe("426");
    expect(headers.upgrade, `a 426 must name the protocol in Upgrade (headers: ${Object.keys(headers).join(", ")})`).toBe("websocket");
    expect(headers["content-type"], "the body explains the refusal in plain text").toMatch(/^text\/plain/);
    expect(headers.connection, "the server closes the connection after a refusal").toBe("close");
  });

  test("§4.4: another version is refused with 426 and Sec-WebSocket-Version: 13", async () => {
    const { url } = await start();
    const raw = await rawClient(url, upgradeRequest(url).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));
    await eventually(() => raw.response !== "", 2_000, "the server's answer");
    expect(raw.response.split("\r\n")[0], "the status line").toBe("HTTP/1.1 426 Upgrade Required");
    expect(raw.response, "the versions the server speaks").toMatch(/\r\nSec-WebSocket-Version: 13\r\n/i);
    await eventually(() => raw.ended, 2_000, "the server closing TCP after a refusal");
  });

  test("§4.2.2 item 4 MUST: with an origin allow-list (§10.2), a request from another Origin, or with none, is refused on the wire (the workbook's policy: 403), then TCP closed", async () => {
    const { url } = await start({ origins: ["http://good.example"] });
    const bad = await rawClient(url, upgradeRequest(url, ["Origin: http://evil.example"]));
    await eventually(() => bad.ended, 2_000, "the answer to a foreign origin, then the server's FIN");
    expect(bad.response.split("\r\n")[0], "a foreign origin").toBe("HTTP/1.1 403 Forbidden");
    const none = await rawClient(url, upgradeRequest(url));
    await eventually(() => none.ended, 2_000, "the answer to a request without Origin, then the server's FIN");
    expect(none.response.split("\r\n")[0], "no Origin, with an allow-list").toBe("HTTP/1.1 403 Forbidden");
  });

  test("§4.2.2 MUST: with paths, a request for a resource the server doesn't serve is refused on the wire (the workbook's policy: 404 Not Found), then TCP closed", async () => {
    const { url } = await start({ paths: ["/echo"] });
    const other = new URL("/chat", url).href;
    const refused = await rawClient(other, upgradeRequest(other));
    await eventually(() => refused.ended, 2_000, "the answer to a request for /chat, then the server's FIN");
    expect(refused.response.split("\r\n")[0], "§4.2.2: /chat is not served here").toBe("HTTP/1.1 404 Not Found");
  });
});

describe("Step 2 — listen, refuse and bound the handshake: every wait before the 101 is bounded", () => {
  test("§4.2.1: a request that never completes is dropped after handshakeTimeout", async () => {
    const { server, url } = await start({ handshakeTimeout: 200 });
    const raw = await rawClient(url, "GET / HTTP/1.1\r\nHost: x\r\n"); // and then nothing
    await eventually(() => raw.closed, 1_500, "the server dropping a handshake that never ends");
    await eventually(() => server.connectionCount === 0, 1_000, "no socket left behind");
  });

  test("§4.2.1: a request trickled byte by byte is still cut off at handshakeTimeout", async () => {
    const { server, url } = await start({ handshakeTimeout: 300 });
    const raw = await rawClient(url, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    // A byte every 50 ms, for as long as the test waits: an idle timer would be
    // reset by each one and never fire; only a deadline counted from connect ends it.
    const trickle = setInterval(() => raw.socket.writable && raw.socket.write("a"), 50); // a header that never ends
    try {
      await eventually(() => raw.closed, 8_000, "the server dropping a request that keeps trickling (the deadline counts from connect, not from the last byte)");
    } finally {
      clearInterval(trickle);
    }
    await eventually(() => server.connectionCount === 0, 1_000, "no socket left behind");
  });

  test("§4.2.1: a refused client that keeps its side open is dropped after closeTimeout", async () => {
    const { server, url } = await start({ closeTimeout: 300 });
    const request = upgradeRequest(url).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    const raw = await RawClient.connect(url, request, true); // half-open: we never end our side
    clients.push({ close: () => raw.socket.destroy() });
    await eventually(() => raw.response !== "", 2_000, "the refusal");
    await eventually(() => server.connectionCount === 0, 2_000, "the server dropping a refused client that stays");
  });

  test("§4.2.2, §7.2.2 MUST: on a TLS port the TLS handshake comes first; a client that opens TCP and never starts it is counted, then dropped after handshakeTimeout", async () => {
    const credentials = await makeTestCertificate(["127.0.0.1"]);
    const server = createEchoServer({ handshakeTimeout: 200 }, createHttpsServer({ key: credentials.key, cert: credentials.cert }));
    servers.push(server);
    const url = await server.listen(0, "127.0.0.1");
    expect(url, "on node:https the server is a wss:// server").toMatch(/^wss:\/\//);
    const raw = await RawClient.connect(url.replace("wss:", "ws:")); // TCP only: no TLS ClientHello, no HTTP
    clients.push({ close: () => raw.socket.destroy() });
    await eventually(() => server.connectionCount === 1, 1_000, "connectionCount to count a TCP connection still before its TLS handshake");
    await eventually(() => raw.closed, 2_000, "the server to drop a client idle in its TLS handshake (handshakeTimeout: 200 ms)");
    await eventually(() => server.connectionCount === 0, 1_000, "connectionCount back to 0");
  });

  test("§4.2.1: close() drops handshakes still in progress at once, instead of waiting for their deadline or closeTimeout", async () => {
    const { server, url } = await start({ handshakeTimeout: 10_000, closeTimeout: 5_000 });
    const raw = await rawClient(url, "GET / HTTP/1.1\r\nHost: x\r\n"); // and then nothing
    await eventually(() => server.connectionCount === 1, 1_000, "the connection being counted");
    await within(server.close(), 1_500, "server.close() with a handshake in progress (it has nothing to say goodbye to)");
    await eventually(() => raw.closed, 1_000, "the half-finished handshake to be dropped");
  });
});

describe("Step 2 — listen, refuse and bound the handshake: listening and counting", () => {
  test("listen() with no arguments serves on 127.0.0.1, any free port; an IPv6 address comes back in brackets (RFC 3986 §3.2.2)", async () => {
    const server = createEchoServer();
    servers.push(server);
    expect(await server.listen(), "the loopback address by default: nothing is exposed to the network").toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    const v6 = createEchoServer();
    servers.push(v6);
    const url = await v6.listen(0, "::1");
    expect(url, "an IPv6 host is written in brackets in a URI").toMatch(/^ws:\/\/\[::1\]:\d+\/$/);
    expect((await httpGet(url)).status, "the URL it printed reaches the server: a plain GET there is refused with 426").toBe(426);
  });

  test("listen() on a port already in use rejects with Node's error (EADDRINUSE)", async () => {
    const { url } = await start();
    const second = createEchoServer();
    servers.push(second);
    const error = await within(second.listen(Number(new URL(url).port), "127.0.0.1").then(() => undefined, (e: unknown) => e), 2_000, "listen() on a busy port");
    expect((error as NodeJS.ErrnoException | undefined)?.code, "listen() must reject, not hang or resolve").toBe("EADDRINUSE");
  });

  test("heartbeat options: a pingInterval or pongTimeout that is not a number of ms ≥ 1 is a RangeError", () => {
    expectThrows(() => createEchoServer({ pingInterval: 0 }), RangeError, "pingInterval 0");
    expectThrows(() => createEchoServer({ pingInterval: 1000, pongTimeout: -1 }), RangeError, "pongTimeout -1");
    expectThrows(() => createEchoServer({ pingInterval: Number.NaN }), RangeError, "pingInterval NaN");
  });

  test("connectionCount counts TCP connections still in their handshake, and returns to 0 once 40 clients killed mid-request are gone", async () => {
    const { server, url } = await start();
    const request = upgradeRequest(url);
    const midHandshake = await Promise.all(Array.from({ length: 40 }, (_, i) => rawClient(url, request.slice(0, 5 + i * 3))));
    await eventually(() => server.connectionCount === 40, 2_000, "the 40 clients counted");
    // Killed both ways: a plain close (FIN) and a reset (RST), in turn.
    midHandshake.forEach((raw, i) => (i % 2 === 0 ? raw.socket.destroy() : raw.socket.resetAndDestroy()));
    await eventually(() => server.connectionCount === 0, 2_000, "connectionCount back to 0 after 40 clients vanished mid-request");
    const { status } = await httpGet(url);
    expect(status, "the server still answers: a plain GET gets its 426").toBe(426);
  });
});

describe("Step 3 — echo and close: echoing", () => {
  test("§5.6: text comes back as text, binary as binary, in order (a ws client)", async () => {
    const { url } = await startEcho();
    const ws = await wsClient(url);
    const echoes = wsMessages(ws, 3);
    ws.send("héllo");
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send("");
    const got = await echoes;
    expect(got.map((m) => [m.isBinary, m.data.toString("hex")]), "each echo in order, with its type").toEqual([
      [false, Buffer.from("héllo").toString("hex")],
      [true, "000102ff"],
      [false, ""],
    ]);
  });

  test("§5.2: a 1 MiB message comes back whole", async () => {
    const { url } = await startEcho();
    const ws = await wsClient(url);
    const big = Buffer.alloc(1024 * 1024, 7);
    big[12345] = 1;
    const echoes = wsMessages(ws, 1);
    ws.send(big);
    const [echo] = await echoes;
    expect(echo?.data.equals(big), "the 1 MiB echo must equal what was sent").toBe(true);
  });

  test("§5.4: a fragmented message is echoed whole, as one frame", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url);
    raw.socket.write(clientFrame(0x1, text("Hel"), { fin: false }));
    raw.socket.write(clientFrame(0x9, text("!"))); // a ping between the fragments
    raw.socket.write(clientFrame(0x0, text("lo")));
    await eventually(() => raw.frames.length >= 2, 2_000, "the pong and the echo");
    const [pong, echo] = raw.frames;
    expect(pong?.opcode, "the ping in the middle is answered at once with a pong (§5.5.2)").toBe(0xa);
    expect(echo && { fin: echo.fin, opcode: echo.opcode, text: new TextDecoder().decode(echo.payload) }, "one text frame").toEqual({
      fin: true,
      opcode: 0x1,
      text: "Hello",
    });
    expect(echo?.maskKey, "§5.1 MUST NOT: a server never masks").toBeUndefined();
  });

  test("§5.5.2 MUST: a ping is answered with a pong, carrying the same payload (§5.5.3)", async () => {
    const { url } = await startEcho();
    const ws = await wsClient(url);
    const pong = within(new Promise<Buffer>((resolve) => ws.once("pong", resolve)), 2_000, "a pong");
    ws.ping("are you there?");
    expect((await pong).toString(), "the pong's payload is the ping's").toBe("are you there?");
  });
});

describe("Step 3 — echo and close: closing", () => {
  test("§5.5.1 MUST: the client's close is answered with its code; the server closes TCP first (§7.1.1)", async () => {
    const closes: { code: number; clean: boolean }[] = [];
    const { server, url } = await startEcho({ onClose: ({ code, clean }) => closes.push({ code, clean }) });
    const ws = await wsClient(url);
    const closed = wsClosed(ws);
    ws.close(4000, "done");
    expect(await closed, "the ws client sees the server's answer: the same code").toEqual({ code: 4000, reason: "done" });
    await eventually(() => server.connectionCount === 0, 2_000, "the server closing the TCP connection");
    expect(closes, "the server reports a clean close with 4000").toEqual([{ code: 4000, clean: true }]);
  });

  test("§7.1.5: a client that vanishes mid-frame is reported as 1006 and cleaned up", async () => {
    const closes: number[] = [];
    const { server, url } = await startEcho({ onClose: ({ code }) => closes.push(code) });
    const raw = await rawClient(url);
    raw.socket.write(clientFrame(0x1, text("never finished")).subarray(0, 8));
    await eventually(() => server.connectionCount === 1, 1_000, "the connection being open");
    raw.socket.destroy();
    await eventually(() => server.connectionCount === 0, 2_000, "the server cleaning up after a vanished client");
    expect(closes, "an abnormal closure is reported as 1006").toEqual([1006]);
  });

  test("§7.1.7 MUST: a failed connection is closed: a client that keeps TCP open after the 1002 is dropped by the close timer, without close()", async () => {
    const { server, url } = await startEcho({ closeTimeout: 200 });
    // allowHalfOpen: this client ignores the server's FIN and never closes its side.
    const raw = await RawClient.connect(url, upgradeRequest(url), true);
    clients.push({ close: () => raw.socket.destroy() });
    await eventually(() => raw.response.startsWith("HTTP/1.1 101"), 2_000, "the server's 101 response");
    raw.socket.write(clientFrame(0x1, text("not masked"), { masked: false })); // §5.1: the server must fail this
    expect((await raw.closeFrame()).code, "an unmasked client frame fails the connection with 1002").toBe(1002);
    await eventually(() => raw.ended, 2_000, "the server to end its side of TCP after failing the connection");
    // The client saw FIN and keeps its side open; the server's socket is gone only once its close timer drops it.
    await eventually(
      () => server.connectionCount === 0,
      2_000,
      "connectionCount to return to 0: the server dropping, after closeTimeout (200 ms), a failed client that keeps TCP open (close() was never called)",
    );
  });
});

describe("Step 3 — echo and close: bad input fails one connection only", () => {
  test("§5.1 MUST: an unmasked client frame fails the connection with 1002", async () => {
    await expectFailure(clientFrame(0x1, text("Hello"), { masked: false }), 1002, "an unmasked frame");
  });

  test("§8.1 MUST: invalid UTF-8 in a text message fails with 1007", async () => {
    await expectFailure(clientFrame(0x1, new Uint8Array([0x48, 0xc3, 0x28])), 1007, "text with c3 28");
  });

  test("§5.2 MUST: a reserved opcode fails with 1002", async () => {
    await expectFailure(clientFrame(0x3, text("?")), 1002, "opcode 0x3");
  });

  test("§10.4: a frame announcing more than maxMessageSize fails with 1009 before its payload arrives", async () => {
    // Only the header of a 1 MiB frame: 82 ff 00 00 00 00 00 10 00 00 + key. No payload follows.
    const header = clientFrame(0x2, new Uint8Array(1024 * 1024)).subarray(0, 14);
    await expectFailure(header, 1009, "a 1 MiB frame for a 1 KiB limit", { maxMessageSize: 1024 });
  });
});

describe("Step 3 — echo and close: accepting", () => {
  test("§4.2.2 item 4 MUST: with an origin allow-list (§10.2), another Origin is refused (the workbook's policy: 403, which §4.2.2 gives as its example) and an allowed one connects", async () => {
    const { url } = await startEcho({ origins: ["http://good.example"] });
    const bad = await rawClient(url, upgradeRequest(url, ["Origin: http://evil.example"]));
    await eventually(() => bad.response !== "", 2_000, "the answer to a foreign origin");
    expect(bad.response.split("\r\n")[0], "a foreign origin").toBe("HTTP/1.1 403 Forbidden");
    const ws = await wsClient(url, { origin: "http://good.example" });
    expect(ws.readyState, "an allowed origin connects").toBe(ws.OPEN);
  });

  test("§4.2.2 MUST: with paths, a request for a resource the server doesn't serve is refused (the workbook's policy: 404 Not Found, §4.2.2's example); a served one connects, query or not", async () => {
    const { server, url } = await startEcho({ paths: ["/echo"] });
    const other = new URL("/chat", url).href;
    const refused = await rawClient(other, upgradeRequest(other));
    await eventually(() => refused.response !== "", 2_000, "the answer to a request for /chat");
    expect(refused.response.split("\r\n")[0], "§4.2.2: /chat is not served here").toBe("HTTP/1.1 404 Not Found");
    const ws = await wsClient(new URL("/echo?room=1", url).href);
    expect(ws.readyState, "/echo (with a query) connects").toBe(ws.OPEN);
    const echo = wsMessages(ws, 1);
    ws.send("at /echo");
    expect((await echo)[0]?.data.toString(), "and echoes").toBe("at /echo");
    await eventually(() => server.connectionCount === 1, 4_000, "the refused client dropped, the served one kept");
  });

  test("§10.2, the workbook's policy (the allow-list): an entry matches case-insensitively and with trailing slashes; a request without Origin gets 403", async () => {
    const { url } = await startEcho({ origins: ["HTTPS://App.Example//"] });
    const ws = await wsClient(url, { origin: "https://app.example" });
    const echo = wsMessages(ws, 1);
    ws.send("allowed");
    expect((await echo)[0]?.data.toString(), "https://app.example is the origin HTTPS://App.Example// names (RFC 6454 §6.2)").toBe("allowed");
    const raw = await rawClient(url, upgradeRequest(url));
    await eventually(() => raw.ended, 2_000, "the server's refusal, then its FIN");
    expect(raw.response.split("\r\n")[0], "no Origin, with an allow-list: refused").toBe("HTTP/1.1 403 Forbidden");
  });

  test("§4.2.2, §9.1: an offered extension is declined: a permessage-deflate client connects without it", async () => {
    const { url } = await startEcho();
    const ws = await wsClient(url, { perMessageDeflate: true });
    expect(ws.extensions, "no Sec-WebSocket-Extensions in the response").toBe("");
    const echo = wsMessages(ws, 1);
    ws.send("uncompressed");
    expect((await echo)[0]?.data.toString(), "and it is echoed").toBe("uncompressed");
  });

  test("an empty paths list, like no list, serves every resource name", async () => {
    const { url } = await startEcho({ paths: [] });
    const ws = await wsClient(new URL("/any/path?q=1", url).href);
    expect(ws.readyState, "paths: [] refuses nothing").toBe(ws.OPEN);
  });

  test("§4.2.1: over TLS each connection keeps its own deadline: a TCP client idle before TLS is dropped, a wss client upgraded meanwhile stays", async () => {
    const credentials = await makeTestCertificate(["127.0.0.1"]);
    await sessionFirst({ handshakeTimeout: 1_500 });
    const server = createEchoServer({ handshakeTimeout: 1_500 }, createHttpsServer({ key: credentials.key, cert: credentials.cert }));
    servers.push(server);
    const url = await server.listen(0, "127.0.0.1");
    const plainUrl = url.replace("wss:", "ws:");
    // A: the TLS handshake now, the HTTP upgrade later.
    const a = tlsConnect({ host: "127.0.0.1", port: Number(new URL(url).port), ca: credentials.cert });
    a.on("error", () => {});
    clients.push({ close: () => a.destroy() });
    await within(once(a, "secureConnect"), 2_000, "client A's TLS handshake");
    let received = "";
    a.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    // B: TCP only, connected after A and idle.
    const b = await RawClient.connect(plainUrl);
    clients.push({ close: () => b.socket.destroy() });
    await eventually(() => server.connectionCount === 2, 1_000, "both TCP connections counted");
    a.write(upgradeRequest(plainUrl));
    await eventually(() => received.includes("\r\n\r\n"), 2_000, "client A's 101");
    expect(received.startsWith("HTTP/1.1 101"), "client A is upgraded").toBe(true);
    await eventually(() => b.closed, 4_000, "the server to drop client B, idle before TLS, at its own deadline (1.5 s)");
    a.write(clientFrame(0x1, text("still here")));
    await eventually(() => received.includes("still here"), 2_000, "an echo for client A after B was dropped: A's deadline ended with its upgrade");
  });
});

describe("Step 3 — echo and close: surviving its users", () => {
  test("backpressure: a client that does not read cannot make the server buffer without bound", async () => {
    const { url } = await startEcho({ maxMessageSize: 1024 * 1024 });
    const raw = await rawClient(url);
    raw.socket.pause(); // this client never reads its echoes
    const frame = clientFrame(0x2, new Uint8Array(64 * 1024));
    const total = 1024; // 64 MiB of messages to echo
    for (let i = 0; i < total; i++) raw.socket.write(frame);
    // Wait until the server stops taking bytes: what is left on our side has
    // not changed for a second (however slow the machine), at most 20 s.
    // The kernel's socket buffers absorb a few MiB; a server that kept reading
    // would take all 64 MiB, holding the echoes in its own memory.
    let [last, steady] = [raw.socket.writableLength, 0];
    for (const deadline = Date.now() + 20_000; steady < 10 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      [last, steady] = raw.socket.writableLength === last ? [last, steady + 1] : [raw.socket.writableLength, 0];
    }
    const notTaken = raw.socket.writableLength;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    expect(
      notTaken,
      `the server went on reading from a client that reads none of its echoes: of the 64 MiB written, only ${mib(notTaken)} MiB ` +
        `are still waiting on the client's side, so the server took the other ${mib(total * frame.length - notTaken)} MiB ` +
        "and holds their echoes in its memory (pause the socket while writableNeedDrain, resume on drain)",
    ).toBeGreaterThan(
      32 * 1024 * 1024,
    );
  });

  test("load: 200 ws clients at once each get their 5 echoes, in order; then connectionCount returns to 0", async () => {
    const { server, url } = await startEcho();
    const all = await Promise.all(Array.from({ length: 200 }, () => wsClient(url)));
    const sent = (i: number) => Array.from({ length: 5 }, (_, j) => `client ${i}, message ${j}`);
    const echoes = await Promise.all(
      all.map(async (ws, i) => {
        const received = wsMessages(ws, 5);
        // Text and binary in turn: each echo keeps its type.
        sent(i).forEach((message, j) => ws.send(j % 2 === 0 ? message : Buffer.from(message)));
        return (await received).map((m) => `${m.isBinary ? "binary" : "text"}: ${m.data.toString()}`);
      }),
    );
    const wrong = echoes.findIndex((got, i) => got.join("\n") !== sent(i).map((m, j) => `${j % 2 === 0 ? "text" : "binary"}: ${m}`).join("\n"));
    expect(wrong === -1 ? [] : echoes[wrong], `client ${wrong}'s echoes, in the order sent, with their types`).toEqual(
      wrong === -1 ? [] : sent(wrong).map((m, j) => `${j % 2 === 0 ? "text" : "binary"}: ${m}`),
    );
    await Promise.all(
      all.map((ws) => {
        const closed = wsClosed(ws);
        ws.close(1000);
        return closed;
      }),
    );
    await eventually(() => server.connectionCount === 0, 2_000, "connectionCount back to 0 once the 200 clients closed");
  }, 15_000);

  test("load: 40 clients killed mid-handshake and 40 killed mid-frame leave no socket behind; the server still serves", async () => {
    const closes: number[] = [];
    const { server, url } = await startEcho({ onClose: ({ code }) => closes.push(code) });
    const request = upgradeRequest(url);
    const big = clientFrame(0x2, new Uint8Array(100_000));
    const midHandshake = await Promise.all(Array.from({ length: 40 }, (_, i) => rawClient(url, request.slice(0, 5 + i * 3))));
    const midFrame = await Promise.all(Array.from({ length: 40 }, () => rawClient(url)));
    midFrame.forEach((raw, i) => raw.socket.write(big.subarray(0, 1 + i * 997))); // from 1 byte of header to ~39 KB of payload
    await eventually(() => server.connectionCount === 80, 2_000, "the 80 clients connected");
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the partial frames reach the server
    // Killed both ways: a plain close (FIN) and a reset (RST), in turn.
    [...midHandshake, ...midFrame].forEach((raw, i) => (i % 2 === 0 ? raw.socket.destroy() : raw.socket.resetAndDestroy()));
    await eventually(() => server.connectionCount === 0, 2_000, "connectionCount back to 0 after 80 clients vanished");
    expect(closes, "§7.1.5: each of the 40 upgraded clients that vanished is reported as 1006").toEqual(Array(40).fill(1006));
    await expectStillServing(server, url, "after 80 clients were killed");
  });

  test("§10.4, §7.4.1: a frame claiming 2^63 - 1 bytes fails with 1009 before any payload; the server survives", async () => {
    const { server, url } = await startEcho();
    const raw = await rawClient(url);
    // 82 ff 7f ff ff ff ff ff ff ff + key: a masked binary frame announcing 2^63 - 1 bytes, and nothing after.
    const header = clientFrame(0x2, new Uint8Array(65536)).subarray(0, 14);
    new DataView(header.buffer, header.byteOffset).setBigUint64(2, 2n ** 63n - 1n);
    raw.socket.write(header);
    expect((await raw.closeFrame()).code, "the close frame for a 2^63 - 1 byte frame carries 1009 (message too big)").toBe(1009);
    await eventually(() => raw.ended, 2_000, "the server closing TCP after failing the connection");
    await eventually(() => server.connectionCount === 0, 2_000, "connectionCount back to 0 after the failed connection");
    await expectStillServing(server, url, "after a frame claiming 2^63 - 1 bytes");
  });
});

describe("Step 3 — echo and close: strict ordering, frames in one read", () => {
  test("§4.2.1, §5.2: frames sent right behind the upgrade request (Node's `head`) are read and echoed", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url, "");
    raw.socket.write(Buffer.concat([Buffer.from(upgradeRequest(url), "latin1"), clientFrame(0x1, text("with the request"))]));
    await eventually(() => raw.frames.length > 0, 2_000, "the echo of a frame that came with the upgrade request");
    expect(received(raw), "the frame in the same write as the request is a message like any other").toEqual(["text with the request"]);
  });

  test("§5.5.1: a message and the close in one read: the echo goes out before the close reply", async () => {
    const { url } = await startEcho();
    const got = await oneRead(url, clientFrame(0x1, text("last words")), clientFrame(0x8, Uint8Array.of(0x03, 0xe8)));
    expect(got, "§5.5.1: the close is answered as soon as practical: after the message that came before it").toEqual(["text last words", "close 1000"]);
  });

  test("§5.4, §7.1.7: a message, a ping and a frame with RSV1 in one read: echo, pong, then the close 1002", async () => {
    const { url } = await startEcho();
    const rsv1 = clientFrame(0x1, text("x"));
    rsv1[0] = 0xc1; // FIN, RSV1, text
    const got = await oneRead(url, clientFrame(0x1, text("before")), clientFrame(0x9, text("p")), rsv1);
    expect(got, "nothing received before the violation is lost").toEqual(["text before", "pong p", "close 1002"]);
  });

  test("§5.5.2, §5.5.1: close, ping and text in one read: the close reply only, nothing after it", async () => {
    const { url } = await startEcho();
    const got = await oneRead(url, clientFrame(0x8, Uint8Array.of(0x03, 0xe8)), clientFrame(0x9, text("p")), clientFrame(0x1, text("late")));
    expect(got, "§5.5.2: no pong once a close frame was received; nothing follows our close frame").toEqual(["close 1000"]);
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): a bad byte inside a text frame fails with 1007 before the frame is complete", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url);
    const frame = clientFrame(0x1, Buffer.concat([text("fine so far "), Uint8Array.of(0xff), new Uint8Array(10_000).fill(0x61)]));
    raw.socket.write(frame.subarray(0, 100)); // the rest of the frame never comes
    await eventually(() => raw.frames.some((f) => f.opcode === 0x8), 2_000, "a close frame while 9,9xx bytes of the frame are still to come");
    expect(received(raw), "the bad byte is enough").toEqual(["close 1007"]);
  });
});

describe("Step 3 — echo and close: rules of §4.2.2–§7 seen from a raw client", () => {
  test("§4.2.2 MUST NOT: the server names no subprotocol and no extension it agreed to: offered chat and permessage-deflate, its 101 has neither header", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url, upgradeRequest(url, ["Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]));
    await eventually(() => raw.response !== "", 2_000, "the server's answer");
    expect(raw.response.split("\r\n")[0], "the server accepts the handshake").toBe("HTTP/1.1 101 Switching Protocols");
    expect(raw.response, "it agreed to no subprotocol, so it sends no Sec-WebSocket-Protocol header (§4.2.2)").not.toMatch(/\r\nSec-WebSocket-Protocol:/i);
    expect(raw.response, "it agreed to no extension, so it lists none (§4.2.2, §9.1)").not.toMatch(/\r\nSec-WebSocket-Extensions:/i);
  });

  test("§5.2, §5.8 MUST: with no extension agreed, the server's frames use none: RSV1-3 are sent as zero, even to a client that offered permessage-deflate", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url, upgradeRequest(url, ["Sec-WebSocket-Extensions: permessage-deflate"]));
    await eventually(() => raw.response.startsWith("HTTP/1.1 101"), 2_000, "the server's 101");
    raw.socket.write(Buffer.concat([clientFrame(0x1, text("compress me? ".repeat(20))), clientFrame(0x2, new Uint8Array(300))]));
    for (const frame of await framesFrom(raw, 2, "two echoes")) {
      expect([frame.rsv1, frame.rsv2, frame.rsv3], `the echo (opcode ${frame.opcode}) has RSV1, RSV2 and RSV3 clear: no extension gives them a meaning`).toEqual([false, false, false]);
    }
  });

  test("§5.4 MUST: messages are accepted unfragmented and fragmented, and the fragments are delivered in order", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url);
    raw.socket.write(
      Buffer.concat([
        clientFrame(0x1, text("whole")),
        clientFrame(0x1, text("fi"), { fin: false }),
        clientFrame(0x0, text("rst-"), { fin: false }),
        clientFrame(0x0, text("second-")),
      ]),
    );
    const [one, two] = await framesFrom(raw, 2, "the two echoes");
    expect(Buffer.from(one!.payload).toString(), "an unfragmented message comes back as is").toBe("whole");
    expect(Buffer.from(two!.payload).toString(), "fi + rst- + second-: the fragments joined in the order sent (§5.4)").toBe("first-second-");
  });

  test("§5.4 MUST NOT: a control frame is never fragmented: the pong to a 125-byte ping is one frame, with FIN set", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url);
    const payload = new Uint8Array(125).map((_, i) => i);
    raw.socket.write(clientFrame(0x9, payload));
    const [pong] = await framesFrom(raw, 1, "the pong");
    expect(pong!.opcode, "a pong (opcode 0xA)").toBe(0xa);
    expect(pong!.fin, "a control frame has FIN set: it is never fragmented").toBe(true);
    expect(Buffer.from(pong!.payload).equals(Buffer.from(payload)), "all 125 bytes of the ping's payload, in one frame").toBe(true);
  });

  test("§6.2 MUST: the server unmasks what a client sends: the echo carries the payload unmasked, and is itself not masked", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url);
    raw.socket.write(clientFrame(0x2, new Uint8Array([0x00, 0x11, 0x22, 0x33, 0x44])));
    const [echo] = await framesFrom(raw, 1, "the echo");
    expect(echo!.maskKey, "§5.1: a server's frame is never masked").toBeUndefined();
    expect(Array.from(echo!.payload), "the payload the client masked, unmasked again (§5.3)").toEqual([0x00, 0x11, 0x22, 0x33, 0x44]);
  });

  test("§6.2 MUST: after a frame with FIN set, the next data frame starts a new message: two messages in one chunk are echoed as two", async () => {
    const { url } = await startEcho();
    const raw = await rawClient(url);
    raw.socket.write(Buffer.concat([clientFrame(0x1, text("one")), clientFrame(0x2, text("two"))]));
    const frames = await framesFrom(raw, 2, "two echoes");
    expect(frames.map((f) => [f.opcode, Buffer.from(f.payload).toString()]), "text one, then binary two: two messages").toEqual([
      [0x1, "one"],
      [0x2, "two"],
    ]);
  });

  test("§7.1.1 SHOULD: once the closing handshake is done the server closes TCP at once, without waiting for the client", async () => {
    const { url } = await startEcho({ closeTimeout: 10_000 });
    const raw = await RawClient.connect(url, upgradeRequest(url), true); // this client never closes its side
    clients.push({ close: () => raw.socket.destroy() });
    await eventually(() => raw.response.startsWith("HTTP/1.1 101"), 2_000, "the server's 101");
    raw.socket.write(clientFrame(0x8, new Uint8Array([0x03, 0xe8])));
    expect((await raw.closeFrame()).code, "the server answers the close frame with 1000").toBe(1000);
    await eventually(() => raw.ended, 2_000, "the server's FIN right after the closing handshake (closeTimeout is 10 s: no timer involved)");
  });

  test("§7.1.7 SHOULD: failing a connection that was open, the server first sends a close frame with the fitting code, and logs the problem (onClose)", async () => {
    const closes: { code: number; reason: string; clean: boolean }[] = [];
    const { url } = await startEcho({ onClose: (info) => closes.push(info) });
    const raw = await rawClient(url);
    raw.socket.write(clientFrame(0x1, Uint8Array.of(0xc3, 0x28))); // not UTF-8: 1007 (§8.1)
    expect((await raw.closeFrame()).code, "the close frame carries 1007, invalid payload data").toBe(1007);
    await eventually(() => closes.length === 1, 2_000, "onClose, which npm run server logs");
    expect(closes[0]?.code, "onClose reports the failure's code").toBe(1007);
    expect(closes[0]?.clean, "a failed connection is not a clean close").toBe(false);
  });
});

describe("Step 3 — echo and close: tracing", () => {
  test("--trace: the handshake both ways and every frame both ways, one line each, with the direction", async () => {
    const lines: string[] = [];
    const { url } = await startEcho({ trace: (line) => lines.push(line) });
    const ws = await wsClient(url);
    const echo = wsMessages(ws, 1);
    ws.send("hi");
    await echo;
    const trace = lines.join("\n");
    expect(trace, "the request line, as the client sent it").toMatch(/^← client {2}GET \/ HTTP\/1\.1$/m);
    expect(trace, "the request's headers, one per line").toMatch(/^← client {2}Sec-WebSocket-Version: 13$/im);
    expect(trace, "the response's status line").toMatch(/^→ client {2}HTTP\/1\.1 101 Switching Protocols$/m);
    expect(trace, "the client's frame, masked").toMatch(/^← client {2}FIN text +MASK [0-9a-f ]+ {2}len 2 .*"hi"$/m);
    expect(trace, "the echo, unmasked").toMatch(/^→ client {2}FIN text +no mask {2}len 2 .*"hi"$/m);
    expect(trace, "every line is a real header or frame: no line of undefined values").not.toMatch(/undefined/);
  });
});

// The same cases as `npm run conformance` (scripts/lib/conformance.ts), all required strictly.
describe("Step 3 — echo and close: conformance", () => {
  test("conformance: the server passes every case strictly", async () => {
    const { url } = await startEcho();
    const results = await runConformance(url);
    const notStrict = results.filter((r) => r.verdict !== "OK");
    if (notStrict.length > 0) {
      assert.fail(`${summary(results)}. The cases not passed strictly (npm run conformance shows them all):\n${notStrict.map(formatResult).join("\n")}`);
    }
  }, 300_000); // a hang guard: each case has its own bound, and a server that does its job takes seconds in all
});

describe("Step 3 — echo and close: interop with Python's websockets", () => {
  const skipped = pythonSkipNote;
  test.skipIf(!pythonWebsocketsAvailable)(
    `interop: a Python websockets client: text, binary, empty, 125..65536-byte and 16 MiB messages, fragments, ping, close 4000${skipped}`,
    async () => {
      const { url } = await startEcho({ maxMessageSize: 32 * 1024 * 1024 }); // room for the 16 MiB message
      const { status, lines, stderr } = await runPythonClient(url);
      const byCase = new Map(lines.map((line) => [line.case, line]));
      const error = byCase.get("error")?.error;
      if (error !== undefined || status !== "exit 0") {
        const done = lines.filter((l) => l.case !== "error").map((l) => l.case).join(", ") || "nothing";
        assert.fail(`the Python client failed (${status}): ${String(error ?? stderr.trim().split("\n").at(-1))}\nwhat worked before: ${done}`);
      }
      expect(byCase.get("handshake")?.extensions, "§9.1: the permessage-deflate that websockets offers is declined").toEqual([]);
      for (const name of PYTHON_ECHOES) {
        const line = byCase.get(name);
        expect(line?.echo, `the Python client's "${name}" message: its echo has the message's type and size`).toEqual(line?.sent ?? "an echo");
        expect(line?.equal, `the Python client's "${name}" message: the echo equals it byte for byte`).toBe(true);
      }
      expect(byCase.get("ping")?.pong, "§5.5.2: websockets' ping got its pong, with the same payload").toBe(true);
      const close = byCase.get("close");
      expect({ code: close?.code, reason: close?.reason }, "§5.5.1: the close 4000 is answered with its code and reason").toEqual({
        code: 4000,
        reason: "bye from python",
      });
      // The Python client waits up to its close_timeout (20 s) for the server to close TCP, then closes it itself.
      expect(close?.ms, "§7.1.1: the server closes TCP after the closing handshake (otherwise websockets waits 20 s and closes it itself)").toBeLessThan(10_000);
    },
    PYTHON_TIME + 3_000,
  );
});

describe("Step 4 — heartbeats and goodbyes: heartbeats", () => {
  test("§5.5.2: with pingInterval, a client that stops answering is dropped (1006); one that answers stays", async () => {
    const closes: { code: number; clean: boolean }[] = [];
    const { server, url } = await startEcho({ pingInterval: 150, pongTimeout: 1_000, onClose: ({ code, clean }) => closes.push({ code, clean }) });
    const silent = await rawClient(url); // completes the handshake, then never answers (and never closes)
    const answering = await wsClient(url); // ws answers every ping with a pong, by itself
    let pingsAnswered = 0;
    answering.on("ping", () => pingsAnswered++);
    const started = Date.now();
    await eventually(() => silent.closed, 4_000, "the server dropping a client that answers no ping");
    const after = Date.now() - started;
    expect(silent.frames.some((f) => f.opcode === 0x9), "the server pinged the silent client first").toBe(true);
    expect(closes, "the silent client's connection ended abnormally, without a closing handshake").toEqual([{ code: 1006, clean: false }]);
    console.log(`heartbeat: pingInterval 150 ms, pongTimeout 1000 ms; the silent client was pinged, then dropped after ${after} ms, reported ${closes[0]?.code} (clean: ${closes[0]?.clean})`);
    expect(pingsAnswered, "the answering client was pinged too").toBeGreaterThan(0);
    const echo = wsMessages(answering, 1);
    answering.send("still here");
    expect((await echo)[0]?.data.toString(), "the client that answers its pings is untouched").toBe("still here");
    expect(server.connectionCount, "only the silent client's socket is gone").toBe(1);
  });

  test("§5.5.2: the heartbeat goes on: a client that answers is pinged again and again, not once", async () => {
    const { url } = await startEcho({ pingInterval: 100, pongTimeout: 50 });
    const answering = await wsClient(url); // ws answers every ping by itself
    let pings = 0;
    answering.on("ping", () => pings++);
    await eventually(() => pings >= 3, 5_000, "three heartbeat pings to a client that answers each one");
    expect(answering.readyState, "the client that answers stays connected").toBe(answering.OPEN);
  });

  test("the workbook's policy (heartbeat): one ping per pingInterval, never more often, however short pongTimeout is", async () => {
    const interval = 1_200;
    const { url } = await startEcho({ pingInterval: interval, pongTimeout: 500 });
    const started = Date.now(); // the server's heartbeat timer for this client starts after this
    const answering = await wsClient(url);
    let pings = 0;
    answering.on("ping", () => pings++);
    await eventually(() => pings >= 2, 8_000, "two heartbeat pings to a ws client");
    // The k-th ping leaves k × pingInterval after the upgrade at the earliest (a
    // timer never fires early; 50 ms spare for the clock's grain). A busy
    // machine only delays pings: this bound counts, it does not time.
    const allowed = Math.floor((Date.now() - started + 50) / interval);
    expect(pings, `after ${Date.now() - started} ms with pingInterval ${interval} ms (pongTimeout 500 ms), at most ${allowed} pings: the next ping waits out the interval, not only the pong's timeout`).toBeLessThanOrEqual(allowed);
    expect(answering.readyState, "the client answered each ping").toBe(answering.OPEN);
  });

  test("heartbeat options: 2^31 - 1 ms is the longest interval (setTimeout's range); 2^31 is a RangeError, not a ping every millisecond", async () => {
    expectThrows(() => createEchoServer({ pingInterval: 2 ** 31 }), RangeError, "pingInterval 2^31");
    expectThrows(() => createEchoServer({ pingInterval: 1_000, pongTimeout: 2 ** 31 }), RangeError, "pongTimeout 2^31");
    const { url } = await startEcho({ pingInterval: 2 ** 31 - 1, pongTimeout: 2 ** 31 - 1 });
    const ws = await wsClient(url);
    const echo = wsMessages(ws, 1);
    ws.send("2^31 - 1 ms is valid");
    expect((await echo)[0]?.data.toString(), "a server with the longest interval echoes").toBe("2^31 - 1 ms is valid");
  });
});

describe("Step 4 — heartbeats and goodbyes: close() says goodbye", () => {
  test("§7.1.1, §7.4.1: close() says 1001 going away to every client, then stops", async () => {
    const { server, url } = await startEcho();
    const [a, b] = await Promise.all([wsClient(url), wsClient(url)]);
    const closedA = wsClosed(a!);
    const closedB = wsClosed(b!);
    await within(server.close(), 2_000, "server.close() with two polite clients");
    expect((await closedA).code, "client A hears 1001").toBe(1001);
    expect((await closedB).code, "client B hears 1001").toBe(1001);
    expect(server.connectionCount, "no socket left").toBe(0);
  });

  test("§7.1.1: a client that never answers the close frame is dropped after closeTimeout", async () => {
    const { server, url } = await startEcho({ closeTimeout: 300 });
    const raw = await rawClient(url);
    // The guard (4 s) is well past closeTimeout (300 ms) and short of the default (5 s):
    // a server that ignored the option would still be waiting when it trips.
    await within(server.close(), 4_000, "server.close() with a silent client (closeTimeout: 300)");
    expect((await raw.closeFrame()).code, "the silent client was sent 1001").toBe(1001);
    await eventually(() => raw.closed, 4_000, "the server dropping the silent client (closeTimeout: 300)");
  });

  test("§7.1.2, §7.1.1 SHOULD: close() with a client that answers: close frames both ways, then TCP closes, reported as a clean 1001", async () => {
    const closes: { code: number; clean: boolean }[] = [];
    const { server, url } = await startEcho({ onClose: ({ code, clean }) => closes.push({ code, clean }) });
    const ws = await wsClient(url); // ws answers a close frame with its own (§5.5.1)
    const closed = wsClosed(ws);
    await within(server.close(), 2_000, "server.close() with a client that answers");
    expect((await closed).code, "the client hears 1001 going away").toBe(1001);
    expect(closes, "onClose: the server sent 1001, the client answered, so the close was clean").toEqual([{ code: 1001, clean: true }]);
  });

  test("§5.5.1 MUST: no data after close: a message that arrives after the server's close frame is not echoed, and the close completes", async () => {
    const closes: { code: number; clean: boolean }[] = [];
    const { server, url } = await startEcho({ onClose: ({ code, clean }) => closes.push({ code, clean }) });
    const raw = await rawClient(url);
    const stopping = server.close();
    expect((await raw.closeFrame()).code, "server.close() sends 1001").toBe(1001);
    // A message the client sent before it read the server's close frame, then its answer, in one chunk.
    raw.socket.write(Buffer.concat([clientFrame(0x1, text("late")), clientFrame(0x8, new Uint8Array([0x03, 0xe9]))]));
    await within(stopping, 2_000, "server.close() after a late message and the client's close frame");
    expect(raw.frames.map((f) => f.opcode), "the server sent its close frame and nothing after it (no echo of the late message)").toEqual([0x8]);
    expect(closes, "the server was not thrown off by the late message: a clean 1001").toEqual([{ code: 1001, clean: true }]);
  });

  test("§7.1.1: close() while a closing handshake is still ending (the client keeps TCP half-open) resolves, and drops it", async () => {
    const { server, url } = await startEcho({ closeTimeout: 300 });
    const raw = await RawClient.connect(url, upgradeRequest(url), true);
    clients.push({ close: () => raw.socket.destroy() });
    await eventually(() => raw.response.startsWith("HTTP/1.1 101"), 2_000, "the server's 101");
    raw.socket.write(clientFrame(0x8, new Uint8Array([0x03, 0xe8])));
    expect((await raw.closeFrame()).code, "the closing handshake: 1000 answered").toBe(1000);
    // The connection is CLOSED, its socket still open: close() must not try to say goodbye to it.
    await within(server.close(), 2_000, "server.close() with a connection whose closing handshake is done");
    expect(server.connectionCount, "no socket left").toBe(0);
  });
});
