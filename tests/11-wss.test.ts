import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { connect as connectTcp, type AddressInfo, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { connectSecure, createSecureEchoServer, tlsOptionsFor, type SecureClientOptions } from "@workbook/11-wss";
import type { EchoServer, EchoServerOptions } from "@workbook/08-echo-server";
import type { WebSocketClient } from "@workbook/09-echo-client";
import type { Frame } from "../lib/frame.ts";
import { makeTestCertificate, type KeyAndCertificate } from "../lib/test-certificate.ts";
import { expectRejects, expectThrows } from "./helpers/errors.ts";
import { eventually, openWs, RawClient, upgradeRequest, within, wsMessages } from "./helpers/peers.ts";
// The raw TLS peer reads your frames with the reference chapter 04, so a slip
// in your frames cannot hide inside the test's own tools.
import { WireReader } from "./helpers/wire.ts";

// Chapter 11 runs your chapter 08 server and chapter 09 client over TLS, with
// certificates made here, at test time: `local` is valid for localhost,
// 127.0.0.1 and ::1; `elsewhere` only for other.example. Both are self-signed,
// so nobody trusts them unless told to (the `ca` option).

let local: KeyAndCertificate;
let elsewhere: KeyAndCertificate;

beforeAll(async () => {
  [local, elsewhere] = await within(
    Promise.all([makeTestCertificate(["localhost", "127.0.0.1", "::1"]), makeTestCertificate(["other.example"])]),
    5_000,
    "making the test certificates",
  );
});

const bytes = (...values: number[]) => new Uint8Array(values);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Peers and clean-up: everything a test starts is stopped after it, last first, each step bounded.

const teardown: (() => unknown)[] = [];
const clients: WebSocketClient[] = [];

afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) {
    await within(Promise.resolve().then(step), 2_000, "cleaning up after the test").catch(() => {});
  }
  // With the servers gone, every client's connection has ended.
  await Promise.all(clients.splice(0).map((client) => within(client.closed, 1_000, "the client to see TCP close").catch(() => {})));
});

/** Your `connectSecure`, bounded, the client remembered for clean-up. */
async function openSecure(url: string, options: SecureClientOptions = {}): Promise<WebSocketClient> {
  const client = await within(connectSecure(url, options), 3_000, `connectSecure("${url}")`);
  clients.push(client);
  return client;
}

/** Your wss echo server, listening on 127.0.0.1; `stop()` (once) closes it, and clean-up does if the test didn't. */
async function secureServer(options: EchoServerOptions = {}): Promise<{ server: EchoServer; url: string; stop: () => Promise<void> }> {
  const server = createSecureEchoServer(local, options);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= server.close());
  teardown.push(stop);
  const url = await within(server.listen(0, "127.0.0.1"), 2_000, "your secure echo server to listen");
  return { server, url, stop };
}

/** Listens on `host`, an ephemeral port; every TCP connection is destroyed at clean-up. */
async function listen(server: HttpsServer, host: string): Promise<number> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, host);
  await within(once(server, "listening"), 2_000, `an https server listening on ${host}`);
  teardown.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve(undefined)));
  });
  return (server.address() as AddressInfo).port;
}

/**
 * The `ws` package's echo server on `node:https`, with `credentials`. Counts
 * the HTTP requests that reached it, and records the SNI name of each WebSocket.
 */
async function wsWssServer(credentials: KeyAndCertificate = local, host = "127.0.0.1") {
  const https = createHttpsServer({ key: credentials.key, cert: credentials.cert });
  const wss = new WebSocketServer({ server: https });
  let requests = 0;
  https.on("upgrade", () => requests++);
  https.on("request", () => requests++);
  const servernames: (string | false | null)[] = [];
  wss.on("connection", (ws: WebSocket, req) => {
    servernames.push((req.socket as TLSSocket).servername);
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = await listen(https, host);
  teardown.push(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((resolve) => wss.close(() => resolve(undefined)));
  });
  return { url: `wss://${host}:${port}/`, requests: () => requests, servernames };
}

/** Expects `promise` to reject with Node's TLS error `code`: the reason the certificate was refused. */
async function expectTlsError(promise: Promise<unknown>, code: string, rule: string): Promise<void> {
  const error = await expectRejects(promise, Error, rule);
  const actual = (error as NodeJS.ErrnoException).code;
  expect(actual, `${rule}: expected Node's TLS error ${code}, got ${error.name}${actual === undefined ? "" : ` (${actual})`}: ${error.message}`).toBe(code);
}

// ---------------------------------------------------------------------------

describe("Step 1 — the TLS options of a wss: URI (pure): tlsOptionsFor", () => {
  test("§3: a wss: URI without a port means port 443; an explicit port is used as given", () => {
    const options = tlsOptionsFor("wss://example.com/chat");
    expect(options.host, "§3: the host to open TCP to").toBe("example.com");
    expect(options.port, "§3: wss:// without a port means 443, as https:// does").toBe(443);
    const other = tlsOptionsFor("WSS://Example.COM:8443/");
    expect([other.host, other.port], "§3: wss://Example.COM:8443/ is host example.com, port 8443").toEqual(["example.com", 8443]);
  });

  test("§4.1 MUST: the client names the host in SNI (servername), and never an IP address (RFC 6066 §3)", () => {
    expect(tlsOptionsFor("wss://example.com/").servername, "§4.1: SNI carries the URI's host name").toBe("example.com");
    expect(tlsOptionsFor("wss://127.0.0.1:8443/").servername, "RFC 6066 §3: no servername for an IPv4 address").toBeUndefined();
    const v6 = tlsOptionsFor("wss://[::1]:8443/");
    expect(v6.host, "an IPv6 host is the address, without brackets").toBe("::1");
    expect(v6.servername, "RFC 6066 §3: no servername for an IPv6 address").toBeUndefined();
    expect(tlsOptionsFor("wss://10.20.30.40/").servername, "RFC 6066 §3: no servername for 10.20.30.40, an IPv4 address with two-digit parts").toBeUndefined();
    for (const name of ["10.0.0.1.nip.io", "db-10.0.0.1"]) {
      expect(tlsOptionsFor(`wss://${name}/`).servername, `${name} holds an address but is a host name, the whole of it: SNI carries it`).toBe(name);
    }
  });

  test("§10.6: certificate checks stay on (rejectUnauthorized: true); ca is the only way to trust a certificate", () => {
    expect(tlsOptionsFor("wss://example.com/").rejectUnauthorized, "§10.6: rejectUnauthorized must be true, written out").toBe(true);
    const trusted = tlsOptionsFor("wss://127.0.0.1:8443/", { ca: local.cert });
    expect(trusted.rejectUnauthorized, "§10.6: trusting a certificate does not switch the checks off").toBe(true);
    expect(trusted.ca, "the ca option is passed on as it is").toBe(local.cert);
    expect(tlsOptionsFor("wss://example.com/", { ca: [local.cert, elsewhere.cert] }).ca, "a list of certificates too").toEqual([
      local.cert,
      elsewhere.cert,
    ]);
  });

});

describe("Step 2 — your client over TLS: connectSecure", () => {
  test("§10.6: a ws: URI is refused with a SyntaxError: asking for TLS never gets you plain TCP", async () => {
    expectThrows(() => tlsOptionsFor("ws://example.com/"), SyntaxError, "tlsOptionsFor(\"ws://…\")", /ws/i);
    // Port 1: if your connectSecure opened plain TCP anyway, this would fail with ECONNREFUSED instead.
    await expectRejects(connectSecure("ws://127.0.0.1:1/"), SyntaxError, "connectSecure(\"ws://…\")", /ws/i);
  });

  test("§4.1 MUST: over wss, the same messages echo as over TCP: text as text, binary as binary", async () => {
    const { url } = await wsWssServer();
    const client = await openSecure(url, { ca: local.cert });
    client.send("héllo over TLS");
    client.send(bytes(0x00, 0x01, 0x02, 0xff));
    expect(await client.receive(2_000), "§5.6: the text message comes back as text").toEqual({ type: "text", data: "héllo over TLS" });
    expect(await client.receive(2_000), "§5.6: the binary message comes back as binary").toEqual({
      type: "binary",
      data: bytes(0x00, 0x01, 0x02, 0xff),
    });
    expect(await within(client.close(1000, "done"), 2_000, "the closing handshake over TLS"), "§7.1.2: a clean close").toMatchObject({
      code: 1000,
      clean: true,
    });
  });

  test("§4.1 MUST: a certificate nobody trusts fails the connection before any HTTP (DEPTH_ZERO_SELF_SIGNED_CERT)", async () => {
    const server = await wsWssServer();
    await expectTlsError(
      within(connectSecure(server.url), 3_000, "connectSecure without ca"),
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "§4.1, §10.6: a self-signed certificate that the client was not told to trust",
    );
    await sleep(50);
    expect(server.requests(), "§4.1: TLS comes first, so a refused certificate means no HTTP request was ever sent").toBe(0);
    // The same certificate, trusted: the same server is fine.
    const client = await openSecure(server.url, { ca: local.cert });
    client.send("now trusted");
    expect(await client.receive(2_000), "with ca, the certificate is accepted").toEqual({ type: "text", data: "now trusted" });
  });

  test("§4.1 MUST: a certificate for another host fails the connection, even a trusted one (ERR_TLS_CERT_ALTNAME_INVALID)", async () => {
    const server = await wsWssServer(elsewhere);
    await expectTlsError(
      within(connectSecure(server.url, { ca: elsewhere.cert }), 3_000, "connectSecure to a server with another host's certificate"),
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "§10.6: a certificate for other.example is no proof of being 127.0.0.1",
    );
    expect(server.requests(), "no HTTP request may follow a failed certificate check").toBe(0);
  });

  test("§4.1 MUST: the client names the server in SNI: a server on localhost sees servername \"localhost\"", async () => {
    const server = await wsWssServer(local, "localhost");
    const client = await openSecure(server.url, { ca: local.cert });
    client.send("who am I talking to?");
    await client.receive(2_000);
    expect(server.servernames, "§4.1: the TLS ClientHello carries the URI's host name (SNI)").toEqual(["localhost"]);
  });

  test("§5.1, §5.3 MUST: over wss too, the client masks every frame, with a fresh key each (§10.3)", async () => {
    // A raw wss server: TLS and a correct 101 by hand, then it only reads frames.
    const https = createHttpsServer({ key: local.key, cert: local.cert });
    const frames: Frame[] = [];
    https.on("upgrade", (req, socket: Socket) => {
      const key = String(req.headers["sec-websocket-key"]);
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const parser = new WireReader();
      socket.on("data", (chunk: Buffer) => frames.push(...parser.push(chunk)));
      socket.on("error", () => {});
    });
    const port = await listen(https, "127.0.0.1");
    const client = await openSecure(`wss://127.0.0.1:${port}/`, { ca: local.cert });
    client.send("one");
    client.send("two");
    await eventually(() => frames.length >= 2, 2_000, "two frames from the client, over TLS");
    const [first, second] = frames as [Frame, Frame];
    expect(first.maskKey, "§5.1 MUST: a client frame is masked, TLS or not").toBeDefined();
    expect(second.maskKey, "§5.1 MUST: every client frame is masked").toBeDefined();
    expect(Buffer.from(first.maskKey ?? []).equals(Buffer.from(second.maskKey ?? [])), "§5.3 MUST: a fresh key for each frame").toBe(false);
    expect(new TextDecoder().decode(first.payload), "the payload unmasks to the text sent").toBe("one");
  });
});

describe("Step 3 — your server over TLS: createSecureEchoServer", () => {
  test("§3: your server on node:https reports a wss:// URL", async () => {
    const { url } = await secureServer();
    expect(url, "§3: a server behind TLS is reached with wss://").toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
  });

  test("§4.2, §10.6: a ws client that trusts your certificate (ca) gets its echoes over wss: text as text, binary as binary", async () => {
    const { url } = await secureServer();
    const ws = await openWs(url, { ca: local.cert });
    teardown.push(() => ws.terminate());
    const echoes = wsMessages(ws, 2);
    ws.send("hello, TLS");
    ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    const [text, binary] = await echoes;
    expect([text?.isBinary, text?.data.toString()], "§5.6: text comes back as text").toEqual([false, "hello, TLS"]);
    expect([binary?.isBinary, binary?.data.toString("hex")], "§5.6: binary comes back as binary").toEqual([true, "deadbeef"]);
  });

  test("§4.1: a plain ws:// client gets no HTTP answer from your wss server (its GET is not TLS), its trace says why, and the server keeps serving", async () => {
    const trace: string[] = [];
    const { url } = await secureServer({ trace: (line) => trace.push(line) });
    const plainUrl = url.replace(/^wss:/, "ws:");
    const plain = await RawClient.connect(plainUrl, upgradeRequest(plainUrl));
    teardown.push(() => plain.socket.destroy());
    await eventually(() => plain.closed, 1_000, "the server to drop a client that speaks HTTP where TLS was expected");
    expect(plain.response, "§4.1: a wss server speaks TLS first; it never answers plain HTTP, with a 101 or anything else").not.toMatch(/^HTTP\//);
    const traced = () => trace.some((line) => line.includes("ERR_SSL_HTTP_REQUEST"));
    await eventually(traced, 2_000, "the trace line of the failed TLS handshake").catch(() => {});
    expect(
      traced(),
      `a line of the server's trace for the failed TLS handshake, naming Node's error code ERR_SSL_HTTP_REQUEST (the trace: ${JSON.stringify(trace)})`,
    ).toBe(true);
    const ws = await openWs(url, { ca: local.cert });
    teardown.push(() => ws.terminate());
    const echo = wsMessages(ws, 1);
    ws.send("still here?");
    expect((await echo)[0]?.data.toString(), "the server still serves wss clients").toBe("still here?");
  });

  test("§4.1: without a trace option, a failed TLS handshake throws nothing out of your server", async () => {
    const thrown: unknown[] = [];
    const onUncaught = (error: unknown) => thrown.push(error);
    process.on("uncaughtException", onUncaught);
    teardown.push(() => process.off("uncaughtException", onUncaught));
    const { server, url } = await secureServer();
    const plainUrl = url.replace(/^wss:/, "ws:");
    const plain = await RawClient.connect(plainUrl, upgradeRequest(plainUrl));
    teardown.push(() => plain.socket.destroy());
    await eventually(() => plain.closed, 1_000, "the server to drop a client that speaks HTTP where TLS was expected");
    await eventually(() => server.connectionCount === 0, 2_000, "the failed connection to be gone from connectionCount");
    expect(thrown.map(String), "errors thrown out of the event loop by the failed TLS handshake (is the trace called when there is none?)").toEqual([]);
  });

  test("§10.6: your client and your server together over wss: an echo, a clean close, nothing left open", async () => {
    const { server, url } = await secureServer();
    const client = await openSecure(url, { ca: local.cert });
    client.send("all mine");
    expect(await client.receive(2_000), "your server's echo, through your client").toEqual({ type: "text", data: "all mine" });
    expect(await within(client.close(1000), 2_000, "the closing handshake"), "§7.1.2: a clean close over TLS").toMatchObject({
      code: 1000,
      clean: true,
    });
    await eventually(() => server.connectionCount === 0, 1_000, "connectionCount back to 0 after the close");
  });

  test("§4.2.1: a client that opens TCP and never starts TLS is counted, then dropped after handshakeTimeout", async () => {
    const { server, url } = await secureServer({ handshakeTimeout: 200 });
    const { port } = new URL(url);
    const socket = connectTcp({ host: "127.0.0.1", port: Number(port) });
    socket.on("error", () => {});
    teardown.push(() => socket.destroy());
    await eventually(() => server.connectionCount === 1, 500, "connectionCount to count a TCP connection still before its TLS handshake");
    // The guard (5 s) is well past handshakeTimeout (200 ms) and short of the default (10 s).
    await within(once(socket, "close"), 5_000, "the server to drop a client that never starts TLS (handshakeTimeout: 200)");
    await eventually(() => server.connectionCount === 0, 500, "connectionCount back to 0");
  });

  test("§4.2.1: close() drops a client stuck in its TLS handshake instead of waiting for it", async () => {
    const { server, url, stop } = await secureServer(); // handshakeTimeout: the default 10 s
    const { port } = new URL(url);
    const socket = connectTcp({ host: "127.0.0.1", port: Number(port) });
    socket.on("error", () => {});
    teardown.push(() => socket.destroy());
    await eventually(() => server.connectionCount === 1, 500, "connectionCount to count a TCP connection still before its TLS handshake");
    const socketClosed = once(socket, "close"); // listening before close(), which may drop it at once
    await within(stop(), 1_000, "close() with a client stuck before its TLS handshake (it must not wait 10 s for it)");
    await within(socketClosed, 500, "the stuck client's connection to be closed");
  });
});
