import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { lookup } from "node:dns/promises";
import { createServer, isIP, type AddressInfo, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import {
  backoffDelay,
  connect,
  reconnecting,
  shouldReconnect,
  TimeoutError,
  type ClientOptions,
  type Reconnecting,
  type ReconnectOptions,
  type WebSocketClient,
} from "@workbook/09-echo-client";
import { HandshakeError, InvalidStateError } from "../lib/errors.ts";
import { Opcode, type Frame } from "../lib/frame.ts";
import { escapeRegExp, expectRejects, expectThrows } from "./helpers/errors.ts";
// The misbehaving peers speak through the reference chapter 04, so a slip in
// your frames cannot hide inside the test's own data.
import { WireReader, wireFrame } from "./helpers/wire.ts";
import { utf8 } from "./helpers/bytes.ts";
import { makeTestCertificate } from "../lib/test-certificate.ts";
// A port nothing listens on (something did a moment ago): connecting to it is refused.
import { freePort } from "../scripts/lib/cluster/ports.ts";
import { eventually, PYTHON, pythonSkipNote, pythonWebsocketsAvailable, within } from "./helpers/peers.ts";

const text = utf8;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


// ---------------------------------------------------------------------------
// Peers and clean-up: every server and client a test makes is closed after it.

const teardown: (() => Promise<void> | void)[] = [];
const clients: WebSocketClient[] = [];

afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
  // With the servers gone, every client's TCP connection has ended.
  await Promise.all(clients.splice(0).map((client) => within(client.closed, 1000, "the client to see TCP close")));
});

/** `connect`, remembering the client for clean-up. */
async function open(url: string, options: ClientOptions = {}): Promise<WebSocketClient> {
  const client = await connect(url, options);
  clients.push(client);
  return client;
}

/** A `ws` server on 127.0.0.1 and an ephemeral port; `onConnection` defaults to echoing. */
async function wsServer(onConnection: (ws: WebSocket) => void = echo): Promise<string> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  server.on("connection", onConnection);
  teardown.push(() => {
    for (const ws of server.clients) ws.terminate();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The `ws` echo server: text back as text, binary as binary. */
function echo(ws: WebSocket): void {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/** What a `ws` server saw of the client's close: the code and reason of its 'close' event. */
function closeSeenBy(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Listens on `host` (127.0.0.1 unless told), an ephemeral port; destroys its connections and closes at clean-up. */
async function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, host);
  await once(server, "listening");
  teardown.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

interface RawPeer {
  socket: Socket;
  /** The client's request head, CRLFs and all. */
  request: string;
  /** Its Sec-WebSocket-Key. */
  key: string;
}

/**
 * A raw TCP server on `host` (127.0.0.1 unless told) that reads the client's
 * request head, then hands the socket to `onRequest`, which answers (or not)
 * byte by byte. `onConnection` hears of each TCP connection, before any byte.
 * Resolves with its ws: URL, the host as an IP address.
 */
async function rawServer(onRequest: (peer: RawPeer) => void, host = "127.0.0.1", onConnection = () => {}): Promise<string> {
  const server = createServer((socket) => {
    onConnection();
    socket.setNoDelay(true);
    let received = "";
    const onData = (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      const request = received.slice(0, end + 4);
      onRequest({ socket, request, key: /^sec-websocket-key: *(.*)$/im.exec(request)?.[1]?.trim() ?? "" });
    };
    socket.on("data", onData);
    socket.on("error", () => {});
  });
  const port = await listen(server, host);
  return `ws://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

const acceptFor = (key: string) =>
  createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");

/** A correct 101 for `key`. */
const switching = (key: string) =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;

/** A frame as a server sends it: unmasked. */
const serverFrame = (opcode: number, payload: Uint8Array) => wireFrame({ opcode, payload });

/** The frames a raw peer receives from the client, decoded by the tests' own reader, one at a time. */
function frameReader(socket: Socket): (what: string) => Promise<Frame> {
  const parser = new WireReader();
  const frames: Frame[] = [];
  let wake = () => {};
  socket.on("data", (chunk: Buffer) => {
    frames.push(...parser.push(chunk));
    wake();
  });
  return async (what) => {
    while (frames.length === 0) await within(new Promise<void>((resolve) => (wake = resolve)), 1000, what);
    return frames.shift() as Frame;
  };
}

/** The close code in a close frame's payload (§5.5.1: 2 bytes, network byte order). */
const closeCode = (frame: Frame) => (frame.payload.length < 2 ? undefined : ((frame.payload[0] ?? 0) << 8) | (frame.payload[1] ?? 0));

// ---------------------------------------------------------------------------

describe("Step 1 — connect, talk and close: a real server (the ws package's echo server)", () => {
  test("§5.6, §6.1, §6.2 MUST: text and binary messages come back in order, text as text and binary as binary", async () => {
    const client = await open(await wsServer());
    expect(client.state, "after a successful handshake the client is OPEN").toBe("OPEN");
    // All three go out before we ask for any: the echoes wait in the client's queue.
    client.send("Hello");
    client.send(new Uint8Array([0x00, 0xff, 0x10]));
    client.send("¡olé! ✓");
    expect(await client.receive(1000), "first echo: the text message").toEqual({ type: "text", data: "Hello" });
    expect(await client.receive(1000), "second echo: binary stays binary").toEqual({
      type: "binary",
      data: new Uint8Array([0x00, 0xff, 0x10]),
    });
    expect(await client.receive(1000), "third echo: non-ASCII text survives UTF-8 both ways").toEqual({
      type: "text",
      data: "¡olé! ✓",
    });
  });

  test("§5.2: a 1 MiB message travels both ways (64-bit extended length)", async () => {
    const client = await open(await wsServer());
    const big = new Uint8Array(randomBytes(1024 * 1024));
    client.send(big);
    const echoed = await client.receive(2000);
    expect(echoed.type, "a binary message comes back binary").toBe("binary");
    const data = echoed.data as Uint8Array;
    expect(data.length, "the echo has all 1 048 576 bytes").toBe(big.length);
    expect(Buffer.from(data).equals(big), "the echo has the same bytes, in the same order").toBe(true);
  });

  test("§5.5.2, §5.5.3 MUST: a ping from the server is answered with a pong carrying its payload", async () => {
    let pong: Promise<Buffer> | undefined;
    const client = await open(
      await wsServer((ws) => {
        pong = once(ws, "pong").then(([data]) => data as Buffer);
        ws.ping("heartbeat 1");
      }),
    );
    const data = await within(pong ?? Promise.reject(new Error("no connection")), 1000, "the client's pong");
    expect(data.toString(), "the pong's payload is the ping's").toBe("heartbeat 1");
    expect(client.state, "a ping changes nothing else").toBe("OPEN");
  });

  test('§7.1.2 MUST: close(1000, "done") sends a close frame — the server sees code and reason, close() resolves with its answer', async () => {
    let seen: Promise<{ code: number; reason: string }> | undefined;
    const client = await open(
      await wsServer((ws) => {
        echo(ws);
        seen = closeSeenBy(ws);
      }),
    );
    const closing = client.close(1000, "done");
    expect(client.state, "§7.1.3: after sending its close frame the client is CLOSING").toBe("CLOSING");
    const info = await within(closing, 1500, "close() to resolve");
    expect(info, "close() resolves with the server's close frame (ws echoes the code and reason)").toEqual({
      code: 1000,
      reason: "done",
      clean: true,
    });
    expect(await within(seen!, 1000, "the server's close event"), "the ws server received 1000 \"done\"").toEqual({
      code: 1000,
      reason: "done",
    });
    expect(client.state, "§7.1.4: once TCP is closed the client is CLOSED").toBe("CLOSED");
    expect(await client.closed, "`closed` resolves the same way").toEqual(info);
  });

  test('§5.5.1 MUST: a server\'s close (1001 "bye") is answered, and reported by `closed` and by a waiting receive()', async () => {
    let seen: Promise<{ code: number; reason: string }> | undefined;
    const client = await open(
      await wsServer((ws) => {
        seen = closeSeenBy(ws);
        setTimeout(() => ws.close(1001, "bye"), 50);
      }),
    );
    const waiting = client.receive(1500);
    await expectRejects(waiting, InvalidStateError, "a receive() waiting when the server closes rejects, naming the code", /1001/);
    expect(await within(client.closed, 1500, "`closed`"), "`closed` reports the server's code and reason").toEqual({
      code: 1001,
      reason: "bye",
      clean: true,
    });
    expect(
      await within(seen!, 1000, "the server's close event"),
      "§5.5.1: the client answered with a close frame of its own (echoing 1001)",
    ).toEqual({ code: 1001, reason: "bye" });
  });

  test("§10.4: a message over maxMessageSize fails the connection with 1009", async () => {
    let seen: Promise<{ code: number; reason: string }> | undefined;
    const client = await open(
      await wsServer((ws) => {
        echo(ws);
        seen = closeSeenBy(ws);
      }),
      { maxMessageSize: 1000 },
    );
    client.send(new Uint8Array(2000)); // the echo is 1000 bytes too many
    const info = await within(client.closed, 1500, "`closed`");
    expect(info.code, "`closed` reports 1009, message too big").toBe(1009);
    expect(info.clean, "a failed connection is not a clean close").toBe(false);
    expect((await within(seen!, 1000, "the server's close event")).code, "the server received a close frame with 1009").toBe(1009);
  });

  test("§5.5.1 MUST NOT: after close, send() throws and receive() rejects with InvalidStateError", async () => {
    const client = await open(await wsServer());
    await within(client.close(), 1500, "close()");
    expectThrows(() => client.send("too late"), InvalidStateError, "no data frame may follow the close frame");
    await expectRejects(
      client.receive(500),
      InvalidStateError,
      "no message can come after the close: receive() rejects at once",
      /1000/,
    );
  });

  test("bounded waits: receive(100) rejects with a TimeoutError, and a later message still arrives", async () => {
    const client = await open(await wsServer());
    await expectRejects(client.receive(100), TimeoutError, "receive(100) with nothing to receive");
    client.send("late");
    expect(await client.receive(500), "the timed-out receive() must not swallow the next message").toEqual({
      type: "text",
      data: "late",
    });
  });

});

describe("Step 1 — connect, talk and close: the opening handshake", () => {
  test("§4.1 MUST: the request has the GET line, Host with the port, Upgrade, Connection, a fresh key and version 13", async () => {
    const requests: string[] = [];
    const url = await rawServer((peer) => {
      requests.push(peer.request);
      peer.socket.write(switching(peer.key));
    });
    const port = new URL(url).port;
    await open(`${url}/chat?room=1`, { origin: "http://example.com" });
    await open(url);
    const [request = "", second = ""] = requests;
    const lines = request.split("\r\n");
    const header = (name: string, inRequest = request) =>
      inRequest
        .split("\r\n")
        .find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))
        ?.replace(/^[^:]*:\s*/, "");
    expect(lines[0], "the request line: GET, the resource name, HTTP/1.1").toBe("GET /chat?room=1 HTTP/1.1");
    expect(header("Host"), "Host carries the port, which is not the default 80").toBe(`127.0.0.1:${port}`);
    expect(header("Upgrade")?.toLowerCase(), "Upgrade: websocket").toBe("websocket");
    expect(header("Connection")?.toLowerCase().split(/\s*,\s*/), "Connection contains the token Upgrade").toContain("upgrade");
    expect(header("Sec-WebSocket-Key"), "the key is 16 random bytes in base64").toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(header("Sec-WebSocket-Version"), "the version is 13").toBe("13");
    expect(header("Origin"), "the origin given in the options").toBe("http://example.com");
    expect(request.endsWith("\r\n\r\n"), "the head ends with an empty line").toBe(true);
    expect(header("Sec-WebSocket-Key", second), "a second connection has a key of its own").not.toBe(header("Sec-WebSocket-Key"));
  });

  test("§4.1 SHOULD: with no proxy configured, the client opens a direct TCP connection to the URI's host and port, and its first line there is the handshake's GET (no proxy CONNECT)", async () => {
    let connections = 0;
    const requests: string[] = [];
    const url = await rawServer(
      (peer) => {
        requests.push(peer.request);
        peer.socket.write(switching(peer.key));
      },
      "127.0.0.1",
      () => connections++,
    );
    const client = await open(`${url}/direct`);
    expect(client.state, "the handshake with the server at the URI's own address completed").toBe("OPEN");
    expect(connections, "one TCP connection reached the host and port of the URI").toBe(1);
    expect(requests[0]?.split("\r\n")[0], "the first line on it is the opening handshake itself, sent straight to the server").toBe("GET /direct HTTP/1.1");
  });

  test("§4.1 MUST: the handshake response may arrive in pieces, and frames in the same chunk as its end are not lost", async () => {
    const url = await rawServer(async (peer) => {
      const response = switching(peer.key);
      peer.socket.write(response.slice(0, 16)); // "HTTP/1.1 101 Swi"
      await sleep(20);
      peer.socket.write(response.slice(16, 60));
      await sleep(20);
      // The end of the head and two frames in one write: one TCP chunk for the client.
      peer.socket.write(
        Buffer.concat([
          Buffer.from(response.slice(60), "latin1"),
          serverFrame(Opcode.Text, text("first")),
          serverFrame(Opcode.Text, text("second")),
        ]),
      );
    });
    const client = await open(url);
    expect(await client.receive(500), "the frame right after the empty line").toEqual({ type: "text", data: "first" });
    expect(await client.receive(500), "the frame after it").toEqual({ type: "text", data: "second" });
  });

  test("§4.1 MUST: a 400 from a plain HTTP server fails the handshake with a HandshakeError naming the status", async () => {
    const server = createHttpServer((_, response) => {
      response.writeHead(400, { "Content-Type": "text/plain" });
      response.end("this is not a WebSocket endpoint\n");
    });
    teardown.push(() => server.closeAllConnections());
    const port = await listen(server);
    await expectRejects(
      open(`ws://127.0.0.1:${port}/`),
      HandshakeError,
      "any status but 101 means no WebSocket",
      /400/,
    );
  });

  test("§4.1 MUST: a 101 naming an extension or a subprotocol the client never offered fails the handshake", async () => {
    for (const extra of ["Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Protocol: chat"]) {
      const url = await rawServer((peer) => peer.socket.write(switching(peer.key).replace(/\r\n\r\n$/, `\r\n${extra}\r\n\r\n`)));
      await expectRejects(open(url), HandshakeError, `a 101 with "${extra}" to a client that offered nothing`);
    }
  });

  test("§4.1 MUST: a wrong Sec-WebSocket-Accept fails the handshake", async () => {
    const url = await rawServer((peer) => peer.socket.write(switching("dGhlIHNhbXBsZSBub25jZQ==")));
    await expectRejects(
      open(url),
      HandshakeError,
      "the accept value must be computed from *our* key",
      /accept/i,
    );
  });

  test("§4.1: no answer within handshakeTimeout fails with a HandshakeError, and the client hangs up", async () => {
    let hungUp: Promise<unknown> | undefined;
    const url = await rawServer((peer) => {
      hungUp = once(peer.socket, "close"); // and never answer
    });
    // The guard (5 s) is well past handshakeTimeout (300 ms) and short of the default (10 s).
    await expectRejects(
      within(open(url, { handshakeTimeout: 300 }), 5_000, "open() with handshakeTimeout 300 against a server that never answers"),
      HandshakeError,
      "a server that never answers must not keep the client waiting",
    );
    await within(hungUp!, 5_000, "the client to close the TCP connection");
  });

  test("§10.4 (limits): a response head over 16 KiB fails the handshake instead of filling memory", async () => {
    const url = await rawServer((peer) =>
      peer.socket.write(`HTTP/1.1 101 Switching Protocols\r\nX-Padding: ${"a".repeat(20 * 1024)}`),
    );
    // handshakeTimeout is far off, so only the limit on the head can end this wait in time.
    await expectRejects(
      within(open(url, { handshakeTimeout: 60_000 }), 10_000, "open() against an endless head (handshakeTimeout is 60 s: only the 16 KiB limit can end it)"),
      HandshakeError,
      "an endless head is not a handshake",
    );
  });

  test("§4.1 MUST: one connection at a time in CONNECTING to an address and port: a second connect(), under another name, waits until the first has opened", async () => {
    // The same host under two names: "localhost", and the address it resolves to, on which the server listens.
    const { address } = await lookup("localhost");
    const peers: RawPeer[] = [];
    let connections = 0; // TCP connections: the second attempt may not even open one while it waits
    const url = await rawServer((peer) => peers.push(peer), address, () => connections++);
    const resource = (peer: RawPeer) => peer.request.split(" ")[1];
    const first = connect(`ws://localhost:${new URL(url).port}/first`);
    await eventually(() => peers.length === 1, 3000, "the first connect()'s request");
    const second = connect(`${url}/second`);
    second.catch(() => {}); // judged below; a failure here must not go unhandled meanwhile
    await sleep(300); // the server holds the first 101 back: the first connection stays in CONNECTING
    expect(
      [connections, ...peers.map(resource)],
      `TCP connections, then the requests: the first connection (to localhost, which is ${address}) is still in CONNECTING, so §4.1 (connection step 2) forbids a second one to ${address}; the second connect() must wait before it opens TCP`,
    ).toEqual([1, "/first"]);
    peers[0]!.socket.write(switching(peers[0]!.key));
    clients.push(await within(first, 3000, "the first connect(), answered with a 101"));
    await eventually(() => peers.length === 2, 3000, "the second connect()'s request, once the first connection was open");
    expect(resource(peers[1]!), "the second connection is the one that waited").toBe("/second");
    // The second is in CONNECTING now; a third attempt, made after the first one is done, waits for it in turn.
    const third = connect(`${url}/third`);
    third.catch(() => {});
    await sleep(300);
    expect(
      [connections, ...peers.map(resource)],
      "TCP connections, then the requests: the second connection is in CONNECTING, so the third connect() must wait for it before it opens TCP; the first one opening doesn't end the queue for the attempts behind it",
    ).toEqual([2, "/first", "/second"]);
    peers[1]!.socket.write(switching(peers[1]!.key));
    clients.push(await within(second, 3000, "the second connect(), answered with a 101"));
    await eventually(() => peers.length === 3, 3000, "the third connect()'s request, once the second connection was open");
    peers[2]!.socket.write(switching(peers[2]!.key));
    clients.push(await within(third, 3000, "the third connect(), answered with a 101"));
  });

  test("§4.1: one connection at a time in CONNECTING is per address and port: a connect() to another server goes ahead at once", async () => {
    const held: RawPeer[] = [];
    const slow = await rawServer((peer) => held.push(peer)); // never answers: its connect() stays in CONNECTING
    const fast = await rawServer((peer) => peer.socket.write(switching(peer.key)));
    const waiting = connect(slow, { handshakeTimeout: 5_000 });
    waiting.catch(() => {});
    await eventually(() => held.length === 1, 3000, "the first connect()'s request to the server that holds its 101 back");
    clients.push(
      await within(
        connect(fast),
        3000,
        "a connect() to another port while a connection to the first is in CONNECTING (only the same address and port wait: a slow server must not hold up every other)",
      ),
    );
    held[0]!.socket.destroy();
    await waiting.catch(() => {});
  });

  test("§4.1 MUST: one connection at a time in CONNECTING: an attempt that fails (a refused port, a 403) lets the next one to the same address go ahead", async () => {
    // Refused: nothing listens on the port. Each attempt fails with Node's ECONNREFUSED, the second after the first.
    const probe = createServer();
    const refusedPort = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    const refused = [1, 2].map(() => connect(`ws://127.0.0.1:${refusedPort}/`).catch((error: NodeJS.ErrnoException) => error.code));
    expect(
      await within(Promise.all(refused), 3000, "two connect()s to a refused port (a socket error must end the wait too, or every later attempt to that address hangs)"),
      "both attempts fail with the socket's own error",
    ).toEqual(["ECONNREFUSED", "ECONNREFUSED"]);

    const peers: RawPeer[] = [];
    const url = await rawServer((peer) => peers.push(peer));
    const first = connect(url).then(
      () => "it opened",
      (error: unknown) => error,
    );
    await eventually(() => peers.length === 1, 3000, "the first connect()'s request");
    const second = connect(url);
    second.catch(() => {});
    await sleep(300);
    expect(peers.length, "while the first connection is in CONNECTING, the second connect() must wait (§4.1, connection step 2)").toBe(1);
    peers[0]!.socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    expect(await within(first, 3000, "the first connect(), refused with a 403"), "a 403 fails the first attempt").toBeInstanceOf(HandshakeError);
    await eventually(
      () => peers.length === 2,
      3000,
      "the second connect()'s request after the first attempt failed (a failed attempt must end the wait as an open one does)",
    );
    peers[1]!.socket.write(switching(peers[1]!.key));
    clients.push(await within(second, 3000, "the second connect(), answered with a 101"));
  });

  test("§4.1 MUST: a refused TCP connection fails: connect() rejects with Node's own error (ECONNREFUSED)", async () => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve)); // now nothing listens on `port`
    const error = await open(`ws://127.0.0.1:${port}/`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, "connect() must reject when nothing listens").toBeInstanceOf(Error);
    expect(
      (error as NodeJS.ErrnoException).code,
      `the socket's error passes through with its code; got ${String(error)}`,
    ).toBe("ECONNREFUSED");
  });

  test("§4.1 MUST: an invalid URL (http:) fails before connecting, with chapter 01's SyntaxError", async () => {
    await expectRejects(connect("http://127.0.0.1/"), SyntaxError, "http: is not a WebSocket scheme", /http|ws/i);
  });
});

describe("Step 1 — connect, talk and close: frames on the wire (a raw peer)", () => {
  test("§5.1, §5.3 MUST: the client masks every frame (MASK bit set), with a new key for each", async () => {
    let firstBytes: Promise<Buffer> | undefined;
    let next: ((what: string) => Promise<Frame>) | undefined;
    const url = await rawServer((peer) => {
      firstBytes = once(peer.socket, "data").then(([chunk]) => chunk as Buffer);
      next = frameReader(peer.socket);
      peer.socket.write(switching(peer.key));
    });
    const client = await open(url);
    client.send("one");
    client.send("two");
    const raw = await within(firstBytes!, 1000, "the client's first frame");
    expect((raw[1] ?? 0) & 0x80, "byte 1 of the first frame: the MASK bit (0x80) must be set").toBe(0x80);
    const one = await next!("the first frame");
    const two = await next!("the second frame");
    expect(new TextDecoder().decode(one.payload), "the first frame unmasks to its text").toBe("one");
    expect(new TextDecoder().decode(two.payload), "the second frame unmasks to its text").toBe("two");
    expect(one.maskKey, "§5.3: a masked frame carries a 4-byte key").toHaveLength(4);
    expect(
      Buffer.from(one.maskKey ?? []).equals(Buffer.from(two.maskKey ?? [])),
      "§5.3: each frame needs a fresh, unpredictable masking key",
    ).toBe(false);
  });

  test("§5.1 MUST: a masked frame from the server fails the connection: close frame 1002, then TCP closed", async () => {
    let next: ((what: string) => Promise<Frame>) | undefined;
    let ended: Promise<unknown> | undefined;
    const url = await rawServer((peer) => {
      next = frameReader(peer.socket);
      ended = once(peer.socket, "end");
      peer.socket.write(switching(peer.key));
      peer.socket.write(wireFrame({ opcode: Opcode.Text, payload: text("masked!"), maskKey: new Uint8Array([1, 2, 3, 4]) }));
    });
    const client = await open(url, { closeTimeout: 300 });
    const frame = await next!("the client's close frame");
    expect(frame.opcode, "the client answers with a close frame").toBe(Opcode.Close);
    expect(frame.maskKey, "§5.1: the client's close frame is masked too").toBeDefined();
    expect(closeCode(frame), "§7.4.1: the close code for a protocol error is 1002").toBe(1002);
    // This server never closes TCP: the client waits for it (§7.1.1), then closes itself after closeTimeout.
    await within(ended!, 2000, "§7.1.7, §7.1.1: the client to close the TCP connection after failing it (closeTimeout: 300 ms)");
    const info = await within(client.closed, 1000, "`closed`");
    expect(info.code, "`closed` reports 1002").toBe(1002);
    expect(info.clean, "a failed connection is not a clean close").toBe(false);
  });

  test("§7.2.1 MUST: TCP dropped in the middle of a frame fails the connection — `closed` resolves with 1006, a waiting receive() rejects", async () => {
    const url = await rawServer((peer) => {
      peer.socket.write(switching(peer.key));
      // A text frame announcing 10 bytes, of which 3 arrive; then the server vanishes.
      peer.socket.write(new Uint8Array([0x81, 0x0a, 0x68, 0x65, 0x6c]));
      setTimeout(() => peer.socket.destroy(), 50);
    });
    const client = await open(url);
    await expectRejects(client.receive(1500), InvalidStateError, "no message can come from a dead connection", /1006/);
    expect(await within(client.closed, 1000, "`closed`"), "no closing handshake: 1006, abnormal closure").toEqual({
      code: 1006,
      reason: "",
      clean: false,
    });
    expect(client.state, "the TCP connection is gone").toBe("CLOSED");
  });
});

describe("Step 1 — connect, talk and close: the end of TCP (§7.1.1)", () => {
  test("§7.1.1 SHOULD: after the closing handshake the client waits for the server to close TCP first", async () => {
    let clientEndedEarly = false;
    let stateWhileWaiting = "";
    let client: WebSocketClient | undefined;
    const url = await rawServer((peer) => {
      const next = frameReader(peer.socket);
      peer.socket.on("end", () => (clientEndedEarly = true));
      peer.socket.write(switching(peer.key));
      void next("the client's close frame").then(async (frame) => {
        peer.socket.write(serverFrame(Opcode.Close, frame.payload)); // answer, echoing the code
        await sleep(200); // ... and hold TCP open for a while
        stateWhileWaiting = client?.state ?? "";
        if (!clientEndedEarly) peer.socket.end(); // the server closes first
      });
    });
    client = await open(url);
    const info = await within(client.close(1000, "done"), 1500, "close() to resolve");
    expect(clientEndedEarly, "the client must not close TCP before the server does").toBe(false);
    expect(stateWhileWaiting, "both close frames exchanged, TCP still up: CLOSING").toBe("CLOSING");
    expect(info, "close() resolves with the server's answer, cleanly").toEqual({ code: 1000, reason: "done", clean: true });
    expect(client.state, "TCP is closed: CLOSED").toBe("CLOSED");
  });

  test("§7.1.1 MAY: a server that never closes TCP is cut off after closeTimeout", async () => {
    let hungUp: Promise<unknown> | undefined;
    const url = await rawServer((peer) => {
      const next = frameReader(peer.socket);
      hungUp = once(peer.socket, "close");
      peer.socket.write(switching(peer.key));
      void next("the client's close frame").then((frame) => peer.socket.write(serverFrame(Opcode.Close, frame.payload)));
    });
    const client = await open(url, { closeTimeout: 200 });
    const info = await within(client.close(1000, "done"), 1500, "close() to give up waiting for the server");
    expect(info, "the closing handshake did complete: clean, with the server's answer").toEqual({
      code: 1000,
      reason: "done",
      clean: true,
    });
    await within(hungUp!, 1000, "the client to close TCP itself");
  });

  test("§7.1.5: a close frame that is never answered ends as 1006 after closeTimeout", async () => {
    const url = await rawServer((peer) => peer.socket.write(switching(peer.key))); // then silence
    const client = await open(url, { closeTimeout: 200 });
    const info = await within(client.close(), 1500, "close() to give up waiting for the server");
    expect(info, "no close frame came back: 1006, abnormal closure").toEqual({ code: 1006, reason: "", clean: false });
    expect(client.state, "the client closed TCP itself").toBe("CLOSED");
  });
});

// ---------------------------------------------------------------------------
// A second real peer: Python's websockets library as the echo server.


/** Starts tests/peers/python_server.py; resolves with its URL and what it reports about closes. */
async function pythonServer(): Promise<{ url: string; closes: { closed: number; reason: string }[] }> {
  const child = spawn(PYTHON, [fileURLToPath(new URL("./peers/python_server.py", import.meta.url))], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const closes: { closed: number; reason: string }[] = [];
  const lines = createInterface({ input: child.stdout });
  const port = within(
    new Promise<number>((resolve) =>
      lines.on("line", (line) => {
        const report = JSON.parse(line) as { port?: number; closed?: number; reason?: string };
        if (report.port !== undefined) resolve(report.port);
        if (report.closed !== undefined) closes.push({ closed: report.closed, reason: report.reason ?? "" });
      }),
    ),
    5_000,
    "the Python server to say its port",
  );
  teardown.push(() => {
    child.stdin.end(); // it serves until its stdin closes
    setTimeout(() => child.kill("SIGKILL"), 2_000).unref();
  });
  return { url: `ws://127.0.0.1:${await port}/`, closes };
}

const pythonNote = pythonSkipNote;

describe.skipIf(!pythonWebsocketsAvailable)(`Step 2 — ping, heartbeats and a real Python peer: interop with a Python websockets echo server${pythonNote}`, () => {
  test("§5.2, §5.6: text, binary, empty, 125..65536-byte and 16 MiB messages come back with their type", async () => {
    const { url } = await pythonServer();
    const client = await open(url, { maxMessageSize: 32 * 1024 * 1024 });
    const messages: (string | Uint8Array)[] = ["héllo from TypeScript", randomBytes(256), "", new Uint8Array(0)];
    for (const size of [125, 126, 127, 65535, 65536, 16 * 1024 * 1024]) messages.push(randomBytes(size));
    for (const message of messages) {
      client.send(message);
      const echo = await client.receive(30_000); // a hang guard: 16 MiB through Python on a busy machine takes seconds
      const what = typeof message === "string" ? `the text ${JSON.stringify(message)}` : `${message.length} binary bytes`;
      if (typeof message === "string") expect(echo, `${what} comes back as text`).toEqual({ type: "text", data: message });
      else {
        expect(echo.type, `${what} come back as binary`).toBe("binary");
        expect(Buffer.from(echo.data as Uint8Array).equals(Buffer.from(message)), `${what} come back unchanged`).toBe(true);
      }
    }
  }, 20_000);

  test("§5.4: a message the server sends in fragments arrives whole", async () => {
    const { url } = await pythonServer();
    const client = await open(url);
    client.send("fragments please");
    expect(await client.receive(3_000), '"Hel" + "lo", sent as two frames').toEqual({ type: "text", data: "Hello" });
  });

  test("§5.5.2: a ping is answered by the Python server with the same payload", async () => {
    const { url } = await pythonServer();
    const client = await open(url);
    expect(Buffer.from(await client.ping("are you there?", 3_000)).toString(), "the pong's payload").toBe("are you there?");
  });

  test("§5.5.1: the close code and reason cross both ways", async () => {
    const { url, closes } = await pythonServer();
    const ours = await open(url);
    const answer = await ours.close(4000, "bye from TypeScript");
    expect(answer, "the Python server answers our close with the same code").toMatchObject({ code: 4000, clean: true });
    await eventually(() => closes.length > 0, 3_000, "the Python server reporting the close");
    expect(closes[0], "the Python server read our code and reason").toEqual({ closed: 4000, reason: "bye from TypeScript" });

    const theirs = await open(url);
    theirs.send("close please");
    expect(await within(theirs.closed, 3_000, "the server's close"), "the server's close reaches us").toEqual({
      code: 4001,
      reason: "as you asked",
      clean: true,
    });
  });
});

// ---------------------------------------------------------------------------
// Strict by construction, from the client's side: what shares a TCP read is handled in order

/**
 * A raw server that answers the handshake, then writes `frames` in one write
 * (right behind the 101 if `withHead`), and records every frame the client sends.
 */
async function oneWriteServer(frames: Uint8Array[], withHead = false): Promise<{ url: string; fromClient: Frame[]; ended: () => boolean }> {
  const fromClient: Frame[] = [];
  let clientEnded = false;
  const url = await rawServer((peer) => {
    const reader = new WireReader();
    peer.socket.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
      fromClient.push(...frames);
      if (frames.some((f) => f.opcode === Opcode.Close)) peer.socket.end(); // §7.1.1: the server closes TCP first
    });
    peer.socket.on("end", () => {
      clientEnded = true;
      peer.socket.end();
    });
    if (withHead) peer.socket.write(Buffer.concat([Buffer.from(switching(peer.key), "latin1"), ...frames]));
    else {
      peer.socket.write(switching(peer.key));
      setTimeout(() => peer.socket.write(Buffer.concat(frames)), 20);
    }
  });
  return { url, fromClient, ended: () => clientEnded };
}

/** The client's frames in words: "pong p", "close 1002". */
const inWords = (frames: Frame[]) =>
  frames.map((f) => (f.opcode === Opcode.Close ? `close ${closeCode(f) ?? 1005}` : `${f.opcode === Opcode.Pong ? "pong" : `opcode ${f.opcode}`} ${new TextDecoder().decode(f.payload)}`));

describe("Step 1 — connect, talk and close: strict ordering, from the client's side", () => {
  test("§5.4, §7.1.7: a message, a ping, then a frame with RSV1 in one read: the message is delivered, the pong goes before the close 1002", async () => {
    const bad = wireFrame({ opcode: Opcode.Text, payload: text("no extension"), rsv1: true });
    const server = await oneWriteServer([serverFrame(Opcode.Text, text("before")), serverFrame(Opcode.Ping, text("p")), bad]);
    const client = await open(server.url);
    const info = await within(client.closed, 3_000, "`closed` after the violation");
    expect(info.code, "the connection failed with 1002 (§5.2: RSV1 without an extension)").toBe(1002);
    expect(await client.receive(100), "the message before the violation is not lost").toEqual({ type: "text", data: "before" });
    expect(inWords(server.fromClient), "what the client sent: the pong, then its close frame, nothing after").toEqual(["pong p", "close 1002"]);
  });

  test("§5.5.1: a message and the server's close in the same read as the 101: the message is delivered, the close answered", async () => {
    const server = await oneWriteServer([serverFrame(Opcode.Text, text("goodbye")), serverFrame(Opcode.Close, Uint8Array.of(0x03, 0xe8))], true);
    const client = await open(server.url);
    expect(await client.receive(1_000), "the message that came before the close").toEqual({ type: "text", data: "goodbye" });
    expect(await within(client.closed, 3_000, "`closed`"), "a clean close with the server's code").toEqual({ code: 1000, reason: "", clean: true });
    expect(inWords(server.fromClient), "the client answered the close, once").toEqual(["close 1000"]);
  });

  test("§5.5.2, §5.5.1: close, ping and text in one read: the client sends its close reply only, no pong", async () => {
    const server = await oneWriteServer([
      serverFrame(Opcode.Close, Uint8Array.of(0x03, 0xe8)),
      serverFrame(Opcode.Ping, text("p")),
      serverFrame(Opcode.Text, text("late")),
    ]);
    const client = await open(server.url);
    await within(client.closed, 3_000, "`closed`");
    await expectRejects(client.receive(100), InvalidStateError, "nothing after the server's close frame is a message", /1000/);
    expect(inWords(server.fromClient), "§5.5.2: no pong once a close frame was received; nothing follows the close reply").toEqual(["close 1000"]);
  });

  test("§8.1 MUST fail; the workbook's policy, fail fast (Autobahn's strict rating): a bad byte inside a text frame fails with 1007 before the frame is complete", async () => {
    const frame = serverFrame(Opcode.Text, Buffer.concat([text("fine so far "), Uint8Array.of(0xff), new Uint8Array(10_000).fill(0x61)]));
    const server = await oneWriteServer([frame.subarray(0, 100)]);
    const client = await open(server.url);
    await eventually(() => server.fromClient.length > 0, 2_000, "the client's close frame while the frame is still incomplete");
    expect(inWords(server.fromClient), "the bad byte is enough").toEqual(["close 1007"]);
    expect((await within(client.closed, 3_000, "`closed`")).code, "`closed` reports 1007").toBe(1007);
  });
});

describe("Step 2 — ping, heartbeats and a real Python peer: the client's heartbeat", () => {
  test("§5.5.2: with pingInterval, a server that stops answering is dropped: `closed` reports 1006", async () => {
    const server = await oneWriteServer([]); // answers the handshake, then never a byte more
    const client = await open(server.url, { pingInterval: 150, pongTimeout: 1_000 });
    const started = Date.now();
    const info = await within(client.closed, 4_000, "the client dropping a server that answers no ping");
    console.log(`heartbeat (client): pingInterval 150 ms, pongTimeout 1000 ms; the silent server was dropped after ${Date.now() - started} ms, reported ${info.code}`);
    expect(info, "no closing handshake: an abnormal closure").toEqual({ code: 1006, reason: "", clean: false });
    expect(inWords(server.fromClient)[0], "the client pinged first").toBe("opcode 9 ");
  });

  test("§5.5.2: a server that answers its pings (ws) keeps the connection; a bad pingInterval is a RangeError", async () => {
    let pings = 0;
    const url = await wsServer((ws) => {
      ws.on("ping", () => pings++);
      echo(ws);
    });
    const client = await open(url, { pingInterval: 50, pongTimeout: 1_000 });
    await eventually(() => pings >= 2, 4_000, "two heartbeat pings reaching the ws server");
    expect(client.state, "ws answered every ping: the connection stays open").toBe("OPEN");
    client.send("still here");
    expect(await client.receive(1_000), "and it still echoes").toEqual({ type: "text", data: "still here" });
    await expectRejects(connect(url, { pingInterval: -5 }), RangeError, "pingInterval -5");
    await client.close();
  });

  test("§5.5.2: the heartbeat goes on: a server that answers is pinged again and again, not once, and never dropped", async () => {
    let pings = 0;
    const url = await wsServer((ws) => {
      ws.on("ping", () => pings++); // ws answers each ping with a pong by itself
      echo(ws);
    });
    const client = await open(url, { pingInterval: 100, pongTimeout: 400 });
    await eventually(() => pings >= 3, 6_000, "three heartbeat pings reaching a ws server that answers each one");
    expect(client.state, "a server that answers every ping is never dropped").toBe("OPEN");
    await client.close();
  });

  test("the workbook's policy (heartbeat): one ping per pingInterval, never more often, however short pongTimeout is", async () => {
    const interval = 1_200;
    let pings = 0;
    const url = await wsServer((ws) => {
      ws.on("ping", () => pings++);
      echo(ws);
    });
    const started = Date.now(); // the client's heartbeat timer starts after this
    const client = await open(url, { pingInterval: interval, pongTimeout: 500 });
    await eventually(() => pings >= 2, 8_000, "two heartbeat pings reaching a ws server");
    // The k-th ping leaves k × pingInterval after the connection opened at the
    // earliest (a timer never fires early; 50 ms spare for the clock's grain). A
    // busy machine only delays pings: this bound counts, it does not time.
    const allowed = Math.floor((Date.now() - started + 50) / interval);
    expect(pings, `after ${Date.now() - started} ms with pingInterval ${interval} ms (pongTimeout 500 ms), at most ${allowed} pings: the next ping waits out the interval, not only the pong's timeout`).toBeLessThanOrEqual(allowed);
    expect(client.state, "the server answered each ping").toBe("OPEN");
    await client.close();
  });

  test("§5.5.1, the workbook's policy: once the client's close frame is out, the heartbeat stops: no ping follows it", async () => {
    const fromClient: Frame[] = [];
    // A server that answers every ping but never the close frame, and keeps TCP open.
    const url = await rawServer((peer) => {
      const reader = new WireReader();
      peer.socket.on("data", (chunk: Buffer) => {
        for (const frame of reader.push(chunk)) {
          fromClient.push(frame);
          if (frame.opcode === Opcode.Ping) peer.socket.write(serverFrame(Opcode.Pong, frame.payload));
        }
      });
      peer.socket.write(switching(peer.key));
    });
    const client = await open(url, { pingInterval: 40, pongTimeout: 300 });
    await eventually(() => fromClient.length >= 2, 3_000, "two heartbeat pings, each answered");
    const info = await within(client.close(1000, "", 1_000), 4_000, "close() giving up on a server that never answers the close frame");
    expect(info, "no close frame came back: 1006 once the client gave up waiting (§7.1.5)").toEqual({ code: 1006, reason: "", clean: false });
    const words = inWords(fromClient);
    expect(words.slice(words.indexOf("close 1000")), "nothing after the client's close frame, though the heartbeat's timer ran on").toEqual(["close 1000"]);
    expect(words.slice(0, words.indexOf("close 1000")).every((w) => w === "opcode 9 "), "before it, only heartbeat pings").toBe(true);
  });

  test("heartbeat options: pingInterval and pongTimeout are a number of ms from 1 to 2^31 - 1 (setTimeout's range); anything else is a RangeError", async () => {
    const url = await wsServer();
    for (const [name, bad] of [["pingInterval", 0], ["pingInterval", 2 ** 31], ["pongTimeout", -1], ["pongTimeout", 2 ** 31]] as const) {
      await expectRejects(connect(url, { pingInterval: 1_000, [name]: bad }), RangeError, `${name} ${bad}`);
    }
    const longest = await open(url, { pingInterval: 2 ** 31 - 1, pongTimeout: 2 ** 31 - 1 });
    expect(longest.state, "2^31 - 1 ms is the longest valid interval").toBe("OPEN");
    await longest.close();
  });
});

// Edges a reader's client could get wrong while every test above passes
// (found by mutation testing, npm run mutation).

describe("Step 1 — connect, talk and close: edges: TLS names, pongs, resets, odd answers", () => {
  /** A TLS server on `host` that records the SNI name each client sent, then hangs up. */
  async function sniRecorder(host: string): Promise<{ port: number; names: (string | false)[] }> {
    const credentials = await makeTestCertificate(["localhost", "127.0.0.1"]);
    const names: (string | false)[] = [];
    const server = createTlsServer({ key: credentials.key, cert: credentials.cert }, (socket) => {
      names.push((socket as TLSSocket & { servername?: string | false }).servername ?? false);
      socket.destroy();
    });
    server.listen(0, host);
    await once(server, "listening");
    teardown.push(() => new Promise((resolve) => server.close(() => resolve())));
    return { port: (server.address() as AddressInfo).port, names };
  }

  test("§4.1 MUST: over wss the client names the host in TLS's SNI (servername), and sends no SNI for an IP address", async () => {
    const byName = await sniRecorder("localhost");
    // The handshake fails once TLS is up (this server hangs up): only what TLS carried matters here.
    await connect(`wss://localhost:${byName.port}/`, { tls: { rejectUnauthorized: false }, handshakeTimeout: 2_000 }).catch(() => {});
    expect(byName.names, "wss://localhost/: the TLS ClientHello carries server_name localhost (RFC 6066 §3)").toEqual(["localhost"]);

    const byAddress = await sniRecorder("127.0.0.1");
    await connect(`wss://127.0.0.1:${byAddress.port}/`, { tls: { rejectUnauthorized: false }, handshakeTimeout: 2_000 }).catch(() => {});
    expect(byAddress.names, "wss://127.0.0.1/: RFC 6066 §3 allows no IP address in server_name, so no SNI").toEqual([false]);
  });

  test("§7.1.5: a TCP reset after the handshake ends the WebSocket as 1006, not as an uncaught error", async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", record);
    teardown.push(() => void process.off("uncaughtException", record));
    const url = await rawServer((peer) => {
      peer.socket.write(switching(peer.key));
      setTimeout(() => peer.socket.resetAndDestroy(), 50); // RST: the client's socket sees ECONNRESET
    });
    const client = await open(url);
    expect(await within(client.closed, 2_000, "`closed` after a TCP reset"), "a reset is an abnormal closure: 1006").toEqual({
      code: 1006,
      reason: "",
      clean: false,
    });
    await sleep(20); // an 'error' event nobody listens to is thrown on a later tick
    expect(uncaught.map(String), "the socket's error (ECONNRESET) must be handled, not thrown").toEqual([]);
  });

  test("§5.5.1, §7.1.1 SHOULD: even after failing the connection (a masked frame, §5.1) the client waits for the server to close TCP first", async () => {
    let clientEndedFirst: boolean | undefined;
    const url = await rawServer((peer) => {
      let clientEnded = false;
      peer.socket.once("end", () => (clientEnded = true));
      const next = frameReader(peer.socket);
      peer.socket.write(switching(peer.key));
      peer.socket.write(wireFrame({ opcode: Opcode.Text, payload: text("masked!"), maskKey: new Uint8Array([1, 2, 3, 4]) }));
      void next("the client's close frame").then(async () => {
        await sleep(100); // time for a client that closes first to do so
        clientEndedFirst = clientEnded;
        peer.socket.end(); // the server closes TCP, as §7.1.1 expects of it
      });
    });
    const client = await open(url, { closeTimeout: 5_000 });
    const info = await within(client.closed, 2_000, "`closed` once the server closed TCP");
    expect(clientEndedFirst, "§7.1.1: the client had not closed TCP before the server did (the client MAY close first only if the server doesn't, after a while)").toBe(false);
    expect(info, "`closed` reports our 1002, not clean").toEqual({ code: 1002, reason: expect.any(String), clean: false });
  });

  test("§4.1: a server that closes the connection before answering fails the handshake with a HandshakeError saying so, not at the timeout", async () => {
    const url = await rawServer((peer) => peer.socket.end()); // reads the request, answers nothing, closes
    // handshakeTimeout is far off, so only the server's FIN can end this wait in time.
    await expectRejects(
      within(open(url, { handshakeTimeout: 60_000 }), 10_000, "open() against a server that closed without answering (handshakeTimeout is 60 s)"),
      HandshakeError,
      "the server closed TCP without a response: the handshake has failed now, there is nothing to wait for",
    );
  });

  test("§4.1 MUST: an answer that is not HTTP fails the handshake with a HandshakeError, not a TypeError", async () => {
    const url = await rawServer((peer) => peer.socket.write("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    await expectRejects(open(url), HandshakeError, "an SSH banner is not an HTTP response");
  });

  test("§4.1 MUST: a 101 written together with a 20 KB frame: the handshake succeeds and the message arrives whole", async () => {
    const payload = randomBytes(20_000);
    const url = await rawServer((peer) => peer.socket.write(Buffer.concat([Buffer.from(switching(peer.key), "latin1"), serverFrame(Opcode.Binary, payload)])));
    const client = await open(url);
    const message = await client.receive(2_000);
    expect(message.type, "the frame after the 101 is a binary message").toBe("binary");
    expect(Buffer.from(message.data as Uint8Array).equals(payload), "all 20 000 bytes of the frame that came with the 101").toBe(true);
  });
});

/**
 * A raw server that answers the handshake, then collects every frame the
 * client sends; `then` runs after the 101 with the peer's socket.
 */
async function collectingServer(then: (socket: Socket) => void = () => {}): Promise<{ url: string; frames: Frame[]; ended: () => boolean }> {
  const frames: Frame[] = [];
  let ended = false;
  const url = await rawServer((peer) => {
    const parser = new WireReader();
    peer.socket.on("data", (chunk: Buffer) => frames.push(...parser.push(new Uint8Array(chunk))));
    peer.socket.once("end", () => (ended = true));
    peer.socket.write(switching(peer.key));
    then(peer.socket);
  });
  return { url, frames, ended: () => ended };
}

describe("Step 1 — connect, talk and close: edges: rules of §5.5–§7.3 seen from a raw server", () => {
  test("§6.1 MUST: a message is sent only while the connection is OPEN: after close(), send() throws and nothing more goes on the wire", async () => {
    const server = await collectingServer();
    const client = await open(server.url);
    void client.close(undefined, undefined, 300);
    expectThrows(() => client.send("too late"), InvalidStateError, "send() after close(): the state is CLOSING, not OPEN");
    await eventually(() => server.frames.length >= 1, 2_000, "the client's close frame");
    expect(Array.from(server.frames[0]?.payload ?? []), "close() with no arguments sends 1000 and no reason: 03 e8").toEqual([0x03, 0xe8]);
    await within(client.closed, 2_000, "`closed` after closeTimeout (this server never answers)");
    expect(server.frames.map((f) => f.opcode), "only the close frame: no data frame after it (§5.5.1)").toEqual([0x8]);
  });

  test("§5.5.1 SHOULD: the client answers the server's close frame as soon as it reads it, with no call from the application", async () => {
    const server = await collectingServer((socket) => socket.write(serverFrame(Opcode.Close, new Uint8Array([0x03, 0xe9]))));
    const client = await open(server.url);
    await eventually(() => server.frames.length >= 1, 2_000, "the client's answering close frame");
    expect(server.frames[0]?.opcode, "the first frame the client sends is its close frame").toBe(Opcode.Close);
    expect(Array.from(server.frames[0]?.payload ?? []), "it echoes the server's code, 1001 (03 e9)").toEqual([0x03, 0xe9]);
    expect(client.state, "the closing handshake is under way").not.toBe("OPEN");
  });

  test("§5.5.2 SHOULD: a ping is answered as soon as it is read, with no receive() pending", async () => {
    let peer: Socket | undefined;
    const server = await collectingServer((socket) => {
      peer = socket;
      socket.write(serverFrame(Opcode.Ping, text("now?")));
    });
    const client = await open(server.url); // and nothing else: nobody calls receive()
    await eventually(() => server.frames.length >= 1, 2_000, "the client's pong");
    expect(server.frames[0]?.opcode, "a pong (opcode 0xA)").toBe(Opcode.Pong);
    expect(Buffer.from(server.frames[0]?.payload ?? []).toString(), "with the ping's payload").toBe("now?");
    peer?.write(serverFrame(Opcode.Text, text("after the ping")));
    expect(await client.receive(2_000), "a ping changes nothing else: the connection stays OPEN and the next message arrives").toEqual({
      type: "text",
      data: "after the ping",
    });
  });

});

describe("Step 1 — connect, talk and close: edges: reading the response head, tracing, wss, bad timeouts", () => {
  /** A raw server that answers the handshake with `head` (its own key's accept value in place of ACCEPT). */
  const answering = (head: (accept: string) => string) => rawServer((peer) => peer.socket.write(head(acceptFor(peer.key))));
  const head101 = (accept: string, extra = "") => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;

  test("§4.1 MUST: the status line must be exactly HTTP/1.x and a 3-digit code: 1010, a prefix or a second line first fail the handshake", async () => {
    for (const statusLine of ["HTTP/1.1 1010 Nope", "XHTTP/1.1 101 Switching Protocols", "ICY 101 OK"]) {
      const url = await answering((accept) => head101(accept).replace("HTTP/1.1 101 Switching Protocols", statusLine));
      await expectRejects(open(url), HandshakeError, `status line "${statusLine}" is not HTTP/1.x 101`);
    }
    const bare = await answering((accept) => head101(accept).replace("HTTP/1.1 101 Switching Protocols", "HTTP/1.1 101"));
    expect((await open(bare)).state, "HTTP/1.1 101 without a reason phrase is still a 101").toBe("OPEN");
  });

  test("§4.1 MUST: a header line without a name (no colon, or nothing before it) fails the handshake", async () => {
    for (const line of ["Bogus", ": websocket"]) {
      const url = await answering((accept) => head101(accept, `${line}\r\n`));
      await expectRejects(open(url), HandshakeError, `the header line "${line}" is malformed`);
    }
  });

  test("§4.1, RFC 9110 §5.3: a header repeated on two lines is one list: Connection: Upgrade then Connection: keep-alive still contains upgrade", async () => {
    const url = await answering(
      (accept) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    expect((await open(url)).state, "both Connection lines count: the upgrade token is in the first").toBe("OPEN");
  });

  test("§4.1, the workbook's policy: a refusal's HandshakeError names the status and the server's reason phrase (HTTP 403 Forbidden)", async () => {
    const url = await rawServer((peer) => peer.socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
    const refused = await expectRejects(open(url), HandshakeError, "a 403 refusal", /403/);
    expect(refused.message, "the page's policy: the status and the reason phrase the server sent with it").toMatch(/Forbidden/);
  });

  test("§10.4 (limits): a response head of exactly 16 KiB is read; one byte more fails the handshake", async () => {
    // Padding so that the whole head, blank line included, is 16384 (then 16385) bytes long.
    const padded = (accept: string, total: number) => {
      const base = head101(accept, "X-Padding: \r\n");
      return base.replace("X-Padding: ", `X-Padding: ${"a".repeat(total - base.length)}`);
    };
    const exact = await answering((accept) => padded(accept, 16_384));
    expect((await open(exact)).state, "a head of 16 384 bytes is within the limit").toBe("OPEN");
    const over = await answering((accept) => padded(accept, 16_385));
    await expectRejects(open(over), HandshakeError, "a head of 16 385 bytes");
  });

  test("trace (what --trace prints): the request and frames sent are marked → server, the response and frames received ← server", async () => {
    const lines: string[] = [];
    const client = await open(await wsServer(), { trace: (line) => lines.push(line) });
    client.send("traced");
    await client.receive(1_000);
    const all = lines.join("\n");
    expect(all, "the request line, sent").toMatch(/^→ server {2}GET \/ HTTP\/1\.1$/m);
    expect(all, "the status line, received").toMatch(/^← server {2}HTTP\/1\.1 101 Switching Protocols$/m);
    expect(all, "our text frame, sent masked").toMatch(/^→ server {2}FIN text +MASK .*"traced"$/m);
    expect(all, "the echo, received unmasked").toMatch(/^← server {2}FIN text +no mask .*"traced"$/m);
    expect(all, "the server's echo, unmasked").toMatch(/text.*unmasked.*"traced"/);
  });

  test("§4.1 MUST: over wss the TLS handshake comes first, then the same WebSocket: an echo through a ws server on node:https", async () => {
    const credentials = await makeTestCertificate(["localhost", "127.0.0.1"]);
    const https = createHttpsServer({ key: credentials.key, cert: credentials.cert });
    const wss = new WebSocketServer({ server: https });
    wss.on("connection", echo);
    https.listen(0, "127.0.0.1");
    await once(https, "listening");
    teardown.push(() => {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => https.close(() => resolve()));
    });
    const client = await open(`wss://127.0.0.1:${(https.address() as AddressInfo).port}/`, { tls: { ca: credentials.cert } });
    client.send("over TLS");
    expect(await client.receive(2_000), "the echo, through TLS").toEqual({ type: "text", data: "over TLS" });
    await client.close();
  });

});

describe("Step 2 — ping, heartbeats and a real Python peer: ping()", () => {
  test("bounded waits: a timeout that is not a number of ms from 0 to 2^31 - 1 is a RangeError", async () => {
    const client = await open(await wsServer());
    for (const bad of [-1, 2 ** 31, Number.NaN]) {
      await expectRejects(client.receive(bad), RangeError, `receive(${bad})`, new RegExp(`timeout|${escapeRegExp(String(bad))}`, "i"));
    }
    await expectRejects(client.ping("x", -1), RangeError, "ping(x, -1)", /timeout|-1/i);
    await expectRejects(client.receive(0), TimeoutError, "receive(0): 0 ms is a valid bound, and nothing is there yet");
    client.send("still fine");
    expect(await client.receive(2 ** 31 - 1), "2^31 - 1 ms is the longest valid bound").toEqual({ type: "text", data: "still fine" });
  });

  test("§7.2.1, §7.3 SHOULD NOT: the client closes only when asked: a receive() or ping() that times out leaves it OPEN, and close() starts with a close frame", async () => {
    const server = await collectingServer(); // never answers anything
    const client = await open(server.url);
    const timedOut = await expectRejects(client.receive(50), TimeoutError, "no message within 50 ms");
    expect(timedOut.name, "the error's name says what it is").toBe("TimeoutError");
    await expectRejects(client.ping("anyone?", 50), TimeoutError, "no pong within 50 ms");
    expect(client.state, "a wait that timed out is not a reason to close the connection").toBe("OPEN");
    expect(server.ended(), "the client has not closed TCP").toBe(false);
    void client.close(4000, "bye", 300);
    await eventually(() => server.frames.some((f) => f.opcode === Opcode.Close), 2_000, "the client's close frame");
    expect(server.frames.map((f) => f.opcode), "the ping, then the close frame: the closing handshake starts the close").toEqual([Opcode.Ping, Opcode.Close]);
    await within(client.closed, 2_000, "`closed` after closeTimeout");
  });

  test("§6.1 MUST: a client masks every frame it sends, data, ping and close alike, and sets FIN on each message's last frame", async () => {
    const server = await collectingServer();
    const client = await open(server.url);
    client.send("text");
    client.send(new Uint8Array([1, 2, 3]));
    void client.ping("p", 2_000).catch(() => {});
    void client.close(1000, "done", 300);
    await eventually(() => server.frames.length >= 4, 2_000, "four frames from the client");
    for (const frame of server.frames) {
      expect(frame.maskKey, `frame with opcode ${frame.opcode}: a client masks every frame (§5.3)`).toBeDefined();
      expect(frame.fin, `frame with opcode ${frame.opcode}: a one-frame message is its own last frame, FIN set`).toBe(true);
    }
    expect(server.frames.map((f) => f.opcode), "text, binary, ping, close, in the order sent").toEqual([0x1, 0x2, 0x9, 0x8]);
  });

  test("§5.5.3 MUST: ping() resolves only with the pong whose payload matches: an unsolicited pong is not its answer", async () => {
    const url = await rawServer((peer) => {
      peer.socket.write(switching(peer.key));
      const parser = new WireReader();
      peer.socket.on("data", (chunk: Buffer) => {
        for (const frame of parser.push(new Uint8Array(chunk))) {
          // Answer a ping with a heartbeat pong first (§5.5.3 allows unsolicited pongs), then the real answer, in one write.
          // Pongs that do not match come first: another payload, one of the same length that differs in a byte, a prefix, an extension.
          if (frame.opcode === Opcode.Ping) {
            const near = Uint8Array.from(frame.payload, (byte, i) => (i === frame.payload.length - 1 ? byte ^ 1 : byte));
            const longer = Buffer.concat([frame.payload, text("!")]);
            const pongs = [text("heartbeat"), near, frame.payload.subarray(0, 3), longer, frame.payload].map((p) => serverFrame(Opcode.Pong, p));
            peer.socket.write(Buffer.concat(pongs));
          }
        }
      });
    });
    const client = await open(url);
    const pong = await client.ping("are you there?", 2_000);
    expect(Buffer.from(pong).toString(), "ping() resolves with the payload of its own pong, not of the unsolicited ones before it (one differs in its last byte, one is a prefix, one is longer)").toBe("are you there?");
  });

  test("§5.5.2, §5.5.3: ping() resolves with the payload of the server's pong", async () => {
    const client = await open(await wsServer());
    const payload = await client.ping(text("are you there?"), 1000);
    expect(Buffer.from(payload).toString(), "a pong carries the ping's payload back").toBe("are you there?");
  });
});

// ---------------------------------------------------------------------------
// Step 3 — come back after a loss (§7.2.3)
// ---------------------------------------------------------------------------

describe("Step 3 — come back after a loss: backoffDelay, full jitter", () => {
  const options = { baseMs: 100, capMs: 1_000 };
  const ceilings = [100, 200, 400, 800, 1_000, 1_000, 1_000];

  test("§7.2.3 SHOULD: each further attempt may wait longer (exponential: the ceiling doubles from baseMs), and never longer than capMs", () => {
    for (const [attempt, ceiling] of ceilings.entries()) {
      const top = backoffDelay(attempt, options, () => 0.999_999);
      expect(top, `attempt ${attempt} with random() near 1: just under min(capMs, baseMs × 2^${attempt}) = ${ceiling}`).toBeGreaterThanOrEqual(ceiling - 1);
      expect(top, `attempt ${attempt}: never more than its ceiling ${ceiling}`).toBeLessThanOrEqual(ceiling);
      const half = backoffDelay(attempt, options, () => 0.5);
      expect(Math.abs(half - ceiling / 2), `attempt ${attempt} with random() = 0.5: half the ceiling, ${ceiling / 2}`).toBeLessThanOrEqual(1);
    }
    for (const attempt of [60, 1_100, 1e6]) {
      const delay = backoffDelay(attempt, options, () => 0.999_999);
      expect(Number.isFinite(delay) && delay <= 1_000, `attempt ${attempt}: 2^attempt overflows, the delay is still capped (got ${delay})`).toBe(true);
    }
  });

  test("§7.2.3 SHOULD: the first reconnection waits a random time; the workbook's policy is full jitter, anywhere from 0 to the ceiling", () => {
    for (const attempt of [0, 3, 9]) {
      const ceiling = Math.min(1_000, 100 * 2 ** attempt);
      expect(backoffDelay(attempt, options, () => 0), `attempt ${attempt} with random() = 0: no wait at all (full jitter starts at 0)`).toBeLessThanOrEqual(1);
      const draws = [0.1, 0.25, 0.75, 0.9].map((r) => backoffDelay(attempt, options, () => r));
      for (const [i, r] of [0.1, 0.25, 0.75, 0.9].entries()) {
        expect(Math.abs((draws[i] ?? NaN) - r * ceiling), `attempt ${attempt}, random() = ${r}: ${r} of the ceiling ${ceiling}`).toBeLessThanOrEqual(1);
      }
    }
    let calls = 0;
    backoffDelay(2, options, () => (calls++, 0.3));
    expect(calls, "one random draw per delay").toBe(1);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(4, options);
      expect(delay >= 0 && delay <= 1_000, `Math.random by default: within [0, 1000], got ${delay}`).toBe(true);
    }
  });

  test("misuse by the caller is a RangeError: a negative or fractional attempt, baseMs 0, capMs below baseMs, capMs past setTimeout's 2^31 - 1 ms", () => {
    expect(() => backoffDelay(0, { baseMs: 100, capMs: 2 ** 31 }), "capMs 2^31 (setTimeout would fire after 1 ms: a hot loop)").toThrow(RangeError);
    expect(() => backoffDelay(0, { baseMs: 100, capMs: Infinity }), "capMs Infinity").toThrow(RangeError);
    expect(backoffDelay(40, { baseMs: 100, capMs: 2 ** 31 - 1 }, () => 0.5), "capMs 2^31 - 1 is allowed: half of it").toBe(Math.floor((2 ** 31 - 1) / 2));
    expect(() => backoffDelay(-1, options), "attempt -1").toThrow(RangeError);
    expect(() => backoffDelay(1.5, options), "attempt 1.5").toThrow(RangeError);
    expect(() => backoffDelay(0, { baseMs: 0, capMs: 100 }), "baseMs 0").toThrow(RangeError);
    expect(() => backoffDelay(0, { baseMs: 100, capMs: 50 }), "capMs 50 < baseMs 100").toThrow(RangeError);
  });
});


describe("Step 3 — come back after a loss: shouldReconnect", () => {
  test("§7.2.3: after an abnormal closure (no closing handshake completed), connect again, whatever the code says", () => {
    for (const code of [1006, 1000, 1002, 1011]) {
      expect(shouldReconnect({ code, reason: "", clean: false }), `closed with ${code}, clean: false`).toBe(true);
    }
  });

  test("the workbook's policy: a clean 1001, 1012 or 1013 means 'come back later'; any other clean close is the server's decision to end", () => {
    for (const code of [1001, 1012, 1013]) expect(shouldReconnect({ code, reason: "", clean: true }), `a clean ${code}`).toBe(true);
    for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 1011, 1014, 4000]) {
      expect(shouldReconnect({ code, reason: "", clean: true }), `a clean ${code}`).toBe(false);
    }
  });
});

describe("Step 3 — come back after a loss: reconnecting", () => {
  /** `reconnecting` with what the tests read: every open WebSocket, every wait (attempt, delay); stopped at clean-up. */
  function watch(url: string, options: ReconnectOptions) {
    const opens: WebSocketClient[] = [];
    const waits: [attempt: number, delayMs: number][] = [];
    const whys: string[] = [];
    const r: Reconnecting = reconnecting(url, {
      ...options,
      onOpen: (client) => opens.push(client),
      onRetry: (attempt, delayMs, why) => (waits.push([attempt, delayMs]), whys.push(why)),
    });
    teardown.push(async () => void (await within(r.stop().catch(() => r.ended), 6_000, "stop() at clean-up")));
    return { r, opens, waits, whys };
  }

  /** A `ws` server whose n-th connection (from 0) gets `handlers[n]`, and the last handler after that; counts them. */
  async function serverWith(...handlers: ((ws: WebSocket) => void)[]): Promise<{ url: string; count: () => number }> {
    let n = 0;
    const url = await wsServer((ws) => (handlers[Math.min(n++, handlers.length - 1)] ?? echo)(ws));
    return { url, count: () => n };
  }

  test("§7.2.3 SHOULD: after an abnormal closure it waits backoffDelay(0) (a random time, from your random source), connects again, and hands the new WebSocket to onOpen", async () => {
    const lost = (ws: WebSocket) => setTimeout(() => ws.terminate(), 50); // TCP ends without a close frame: 1006
    const server = await serverWith(lost, echo);
    const { r, opens, waits } = watch(server.url, { backoff: { baseMs: 40, capMs: 400 }, random: () => 0.5, stableMs: 10_000 });
    await eventually(() => opens.length === 2, 3_000, "a second WebSocket after the first was lost");
    expect(waits, "one wait before the reconnection: attempt 0, random() 0.5 × baseMs 40").toEqual([[0, 20]]);
    expect(r.current, "current is the WebSocket open now").toBe(opens[1]);
    opens[1]?.send("again");
    expect(await within(opens[1]!.receive(), 2_000, "the echo on the new WebSocket"), "the new WebSocket works").toEqual({ type: "text", data: "again" });
  });

  test("§7.2.3 SHOULD: a refused attempt waits longer each time (attempts 0, 1, 2, 3: 10, 20, 40, then the cap 40 ms); a connection that lasted stableMs starts the count again at 0", async () => {
    const port = await freePort();
    const { opens, waits } = watch(`ws://127.0.0.1:${port}/`, { backoff: { baseMs: 20, capMs: 80 }, random: () => 0.5, stableMs: 100 });
    await eventually(() => waits.length >= 4, 3_000, "four waits while nothing listens");
    expect(waits.slice(0, 4), "(attempt, delay) with random() 0.5: half of min(80, 20 × 2^attempt)").toEqual([[0, 10], [1, 20], [2, 40], [3, 40]]);
    // Now a server on that port that keeps each connection 300 ms (longer than stableMs), then drops it.
    const server = new WebSocketServer({ host: "127.0.0.1", port });
    await once(server, "listening");
    server.on("connection", (ws) => setTimeout(() => ws.terminate(), 300));
    teardown.push(() => {
      for (const ws of server.clients) ws.terminate();
      return new Promise((resolve) => server.close(() => resolve()));
    });
    await eventually(() => opens.length >= 1, 3_000, "a WebSocket once the server listens");
    const before = waits.length;
    await eventually(() => waits.length > before, 3_000, "a wait after the server dropped the stable connection");
    expect(waits[before]?.[0], "the first wait after a connection that lasted stableMs is attempt 0 again (reset on success)").toBe(0);
  });

  test("the workbook's policy: a connection shorter than stableMs is no success: against a server that accepts and drops at once, the attempts go on growing (0, 1, 2, 3)", async () => {
    const server = await serverWith((ws) => ws.terminate());
    const { waits } = watch(server.url, { backoff: { baseMs: 10, capMs: 1_000 }, random: () => 0.5, stableMs: 5_000 });
    await eventually(() => waits.length >= 4, 3_000, "four waits against a server that drops every connection");
    expect(waits.slice(0, 4).map(([attempt]) => attempt), "the attempt numbers").toEqual([0, 1, 2, 3]);
    expect(server.count(), "every attempt reached the server").toBeGreaterThanOrEqual(4);
  });

  test("the workbook's policy: a clean close that is not 'come back later' ends it (here 1008): ended says closed, with the code, and no attempt follows", async () => {
    const server = await serverWith((ws) => ws.close(1008, "not you"));
    const { r, waits } = watch(server.url, { backoff: { baseMs: 5, capMs: 10 }, random: () => 0.5 });
    const end = await within(r.ended, 3_000, "ended after the server's clean 1008");
    expect(end, "the server's decision to end").toEqual({ reason: "closed", close: { code: 1008, reason: "not you", clean: true } });
    await sleep(100);
    expect(waits, "no wait").toEqual([]);
    expect(server.count(), "no second connection").toBe(1);
  });

  test("the workbook's policy: after a clean 1001 (a server going away) it reconnects, starting at attempt 0", async () => {
    const server = await serverWith((ws) => ws.close(1001, "restarting"), echo);
    const { opens, waits, whys } = watch(server.url, { backoff: { baseMs: 20, capMs: 200 }, random: () => 0.5, stableMs: 10_000 });
    await eventually(() => opens.length === 2, 3_000, "a second WebSocket after the 1001");
    expect(waits, "one wait, attempt 0").toEqual([[0, 10]]);
    expect(whys[0], "onRetry's why names what was lost: the server's code and its reason").toMatch(/1001[^]*restarting|restarting[^]*1001/);
  });

  test("stop() cancels a wait at once (here 30 s), closes nothing more and connects no more; ended says stopped", async () => {
    const server = await serverWith((ws) => ws.terminate());
    const { r, waits } = watch(server.url, { backoff: { baseMs: 60_000, capMs: 60_000 }, random: () => 0.5 });
    await eventually(() => waits.length === 1, 3_000, "the first wait");
    expect(await within(r.stop(), 1_000, "stop() during a 30 s wait"), "why it ended").toEqual({ reason: "stopped" });
    expect(await r.ended, "ended agrees").toEqual({ reason: "stopped" });
    expect(r.current, "no WebSocket").toBeUndefined();
    expect(server.count(), "no connection after the first").toBe(1);
  });

  test("stop() on an open WebSocket closes it with the code given (default 1000), as the server sees, and never reconnects", async () => {
    let seen: Promise<{ code: number; reason: string }> | undefined;
    const server = await serverWith((ws) => {
      seen = closeSeenBy(ws);
      echo(ws);
    });
    const { r, opens, waits } = watch(server.url, { backoff: { baseMs: 5, capMs: 10 }, random: () => 0.5 });
    await eventually(() => opens.length === 1, 3_000, "the first WebSocket");
    expect(await within(r.stop(), 3_000, "stop() on an open WebSocket"), "why it ended").toEqual({ reason: "stopped" });
    expect(await within(seen!, 2_000, "the server to see the close"), "what the server saw").toEqual({ code: 1000, reason: "" });
    await sleep(100);
    expect(waits, "no wait after stop()").toEqual([]);
    expect(server.count(), "no second connection").toBe(1);
  });

  test("maxAttempts: it gives up once that many attempts in a row failed (the first counts), with the last error", async () => {
    const port = await freePort();
    const { r, waits } = watch(`ws://127.0.0.1:${port}/`, { backoff: { baseMs: 5, capMs: 10 }, random: () => 0.5, maxAttempts: 3 });
    const end = await within(r.ended, 3_000, "ended after three refused attempts");
    expect(end.reason, "why it ended").toBe("gave up");
    expect(end.reason === "gave up" && (end.error as NodeJS.ErrnoException).code, "the last attempt's own error, unchanged").toBe("ECONNREFUSED");
    expect(waits.map(([attempt]) => attempt), "two waits between three attempts").toEqual([0, 1]);
    const once = watch(`ws://127.0.0.1:${port}/`, { backoff: { baseMs: 5, capMs: 10 }, maxAttempts: 1 });
    expect((await within(once.r.ended, 3_000, "ended after one refused attempt")).reason, "maxAttempts: 1 gives up after the first attempt").toBe("gave up");
    expect(once.waits, "no wait at all").toEqual([]);
  });

  test("the defaults (no backoff, no callbacks given): a dropped connection comes back within the first default delay, 0 to 1 s", async () => {
    const server = await serverWith((ws) => setTimeout(() => ws.terminate(), 50), echo);
    const r = reconnecting(server.url);
    teardown.push(async () => void (await within(r.stop(), 6_000, "stop() at clean-up")));
    await eventually(() => r.current !== undefined, 3_000, "the first WebSocket");
    const first = r.current;
    await eventually(() => r.current !== undefined && r.current !== first, 4_000, "a second WebSocket after the first was dropped");
    expect(server.count(), "two connections").toBe(2);
  });

  test("stop() while an attempt is connecting: a failed attempt is not followed by a wait, and a WebSocket that opens after stop() is closed at once (1000), never handed to onOpen", async () => {
    let requests = 0;
    const silent = await rawServer(() => void requests++); // reads the request, never answers
    const quiet = watch(silent, { handshakeTimeout: 300, backoff: { baseMs: 5, capMs: 10 } });
    await eventually(() => requests === 1, 2_000, "the request of the first attempt");
    const stopping = quiet.r.stop();
    expect(await within(quiet.r.ended, 3_000, "ended after the attempt timed out"), "why it ended").toEqual({ reason: "stopped" });
    await stopping;
    expect(quiet.waits, "no wait after a failure that came after stop()").toEqual([]);

    let answer = () => {};
    let frames: ((what: string) => Promise<Frame>) | undefined;
    const late = await rawServer((peer) => {
      frames = frameReader(peer.socket);
      answer = () => peer.socket.write(switching(peer.key));
    });
    const slow = watch(late, { backoff: { baseMs: 5, capMs: 10 }, closeTimeout: 300 }); // this raw peer never answers the close
    await eventually(() => frames !== undefined, 2_000, "the request of the first attempt");
    const stopped = slow.r.stop();
    answer(); // the 101 arrives after stop()
    const close = await frames!("the close frame of a WebSocket opened after stop()");
    expect([close.opcode, closeCode(close)], "a close frame with 1000").toEqual([Opcode.Close, 1000]);
    expect(await within(slow.r.ended, 3_000, "ended"), "why it ended").toEqual({ reason: "stopped" });
    void stopped;
    expect(slow.opens, "onOpen never called").toEqual([]);
  });

  test("an application callback that throws ends the loop with its error, never a hang: onOpen's (its WebSocket closed with 1011), or random's", async () => {
    let seen: Promise<{ code: number; reason: string }> | undefined;
    const server = await serverWith((ws) => {
      seen = closeSeenBy(ws);
      echo(ws);
    });
    const bug = new Error("a bug in onOpen");
    const r = reconnecting(server.url, {
      onOpen: () => {
        throw bug;
      },
    });
    teardown.push(async () => void (await within(r.stop(), 6_000, "stop() at clean-up")));
    expect(await within(r.ended, 3_000, "ended after onOpen threw"), "why it ended").toEqual({ reason: "gave up", error: bug });
    expect((await within(seen!, 2_000, "the server to see the close")).code, "the WebSocket closed with 1011").toBe(1011);

    const dropping = await serverWith((ws) => ws.terminate());
    const noEntropy = new Error("no random numbers");
    const r2 = reconnecting(dropping.url, {
      backoff: { baseMs: 5, capMs: 10 },
      random: () => {
        throw noEntropy;
      },
    });
    teardown.push(async () => void (await within(r2.stop(), 6_000, "stop() at clean-up")));
    expect(await within(r2.ended, 3_000, "ended after random() threw"), "why it ended").toEqual({ reason: "gave up", error: noEntropy });
  });

  test("stop(code) with a code that may not be sent rejects with a RangeError, and the WebSocket is closed anyway, with 1000", async () => {
    let seen: Promise<{ code: number; reason: string }> | undefined;
    const server = await serverWith((ws) => {
      seen = closeSeenBy(ws);
      echo(ws);
    });
    const { r, opens } = watch(server.url, { backoff: { baseMs: 5, capMs: 10 } });
    await eventually(() => opens.length === 1, 3_000, "the first WebSocket");
    await expectRejects(r.stop(1005), RangeError, "§7.4.1: 1005 may not be sent in a close frame");
    expect((await within(seen!, 2_000, "the server to see the close")).code, "closed with 1000 instead").toBe(1000);
    expect(await within(r.ended, 3_000, "ended"), "why it ended").toEqual({ reason: "stopped" });
  });

  test("misuse is an error at once, not a loop of them: a URL that is not ws: or wss: (SyntaxError), a bad backoff, maxAttempts below 1, a negative stableMs (RangeError)", () => {
    expectThrows(() => reconnecting("http://127.0.0.1/"), SyntaxError, "an http: URL");
    expect(() => reconnecting("ws://127.0.0.1/", { backoff: { baseMs: 0, capMs: 10 } }), "baseMs 0").toThrow(RangeError);
    expect(() => reconnecting("ws://127.0.0.1/", { maxAttempts: 0 }), "maxAttempts 0").toThrow(RangeError);
    expect(() => reconnecting("ws://127.0.0.1/", { stableMs: -1 }), "stableMs -1").toThrow(RangeError);
  });

  test("the edges are allowed: stableMs 0 (every connection resets the count) and maxAttempts 1", async () => {
    const port = await freePort();
    for (const options of [{ stableMs: 0 }, { maxAttempts: 1 }]) {
      const r = reconnecting(`ws://127.0.0.1:${port}/`, { ...options, backoff: { baseMs: 5, capMs: 10 } });
      expect(await within(r.stop(), 3_000, `stop() with ${JSON.stringify(options)}`), `${JSON.stringify(options)} is accepted`).toBeDefined();
    }
  });
});
