import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { WebSocketServer } from "ws";
import { createWsEchoServer, wsEcho, type WsEchoServer, type WsEchoServerOptions } from "@workbook/10-ws-library";
import { createEchoServer, type EchoServerOptions } from "@workbook/08-echo-server";
import { connect, type ClientOptions, type WebSocketClient } from "@workbook/09-echo-client";
import { HandshakeError } from "../lib/errors.ts";
import { expectRejects } from "./helpers/errors.ts";
import { clientFrame, eventually, openWs, RawClient, within } from "./helpers/peers.ts";
import { GOPATH, installCommand, peer, skipNote } from "../scripts/lib/system-peers.ts";

// Chapter 10 puts your hand-made code and the `ws` library on the same wire:
// your chapter 09 client against your ws server, your wsEcho against your
// chapter 08 server, and both of your hand-made ends against Go's
// golang.org/x/net/websocket.

const bytes = (...values: number[]) => new Uint8Array(values);
const hex = (data: Uint8Array) => Buffer.from(data).toString("hex");

// Everything a test starts is stopped after it, last started first stopped, each step bounded.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) {
    await within(Promise.resolve().then(step), 3_000, "cleaning up after the test").catch(() => {});
  }
});

/** `fn`, but only the first call does anything: a test may stop a server that clean-up stops again. */
function firstCallOnly<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

/** Your ws echo server, stopped after the test. */
async function wsServer(options?: WsEchoServerOptions): Promise<WsEchoServer & { stop: () => Promise<void> }> {
  const server = await within(createWsEchoServer(options), 2_000, "createWsEchoServer() to resolve");
  const stop = firstCallOnly(() => server.close());
  cleanups.push(stop);
  return { ...server, stop };
}

/** Your chapter 08 echo server, listening, stopped after the test. */
async function handMadeServer(options?: EchoServerOptions): Promise<string> {
  const server = createEchoServer(options);
  cleanups.push(() => server.close());
  return within(server.listen(0, "127.0.0.1"), 2_000, "your chapter 08 server to listen");
}

/** Your chapter 09 client, connected, closed after the test. */
async function handMadeClient(url: string, options?: ClientOptions): Promise<WebSocketClient> {
  const client = await within(connect(url, options), 3_000, `your chapter 09 client connecting to ${url}`);
  cleanups.push(() => client.close());
  return client;
}

/** A TCP server that accepts and never says a word; tells when a connection came and whether its last one ended. */
async function silentServer(): Promise<{ url: string; hungUp: () => boolean; connected: Promise<void> }> {
  const sockets = new Set<Socket>();
  let hungUp = false;
  let connection = () => {};
  const connected = new Promise<void>((resolve) => (connection = resolve));
  const server = createServer((socket) => {
    connection();
    sockets.add(socket);
    socket.resume(); // read and drop the request: a socket never read never sees the client's FIN
    socket.on("error", () => {});
    socket.on("close", () => ((hungUp = true), sockets.delete(socket)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, hungUp: () => hungUp, connected };
}

/** A ws server that completes the handshake and then ignores every message; tells when one came and whether its client left. */
async function swallowingServer(): Promise<{ url: string; clientLeft: () => boolean; received: Promise<void> }> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  let left = false;
  let message = () => {};
  const received = new Promise<void>((resolve) => (message = resolve));
  server.on("connection", (ws) => {
    ws.on("message", () => message());
    ws.on("error", () => {});
    ws.on("close", () => (left = true));
  });
  cleanups.push(() => {
    for (const ws of server.clients) ws.terminate();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, clientLeft: () => left, received };
}

// The real timers, kept before any test fakes them: a test on a fake clock still
// bounds its own waits in real time.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** `within`, on the real clock even while the test runs on a fake one. */
function withinReally<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof realSetTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}

/** Lets sockets and promises move on: a few turns of the event loop (setImmediate is never faked here). */
async function turns(count = 20): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("Step 1 — an echo server on ws: createWsEchoServer", () => {
  test("§5.6: text comes back as text and binary as binary, in order", async () => {
    const { url } = await wsServer();
    const client = await handMadeClient(url);
    client.send("héllo, ws 👋");
    client.send(bytes(0, 1, 2, 0xff));
    client.send("");
    const echoes = [await client.receive(2_000), await client.receive(2_000), await client.receive(2_000)];
    expect(
      echoes.map((m) => (m.type === "text" ? m : { type: m.type, data: hex(m.data) })),
      "each echo with the type it was sent with: did you pass { binary: isBinary } to ws.send?",
    ).toEqual([
      { type: "text", data: "héllo, ws 👋" },
      { type: "binary", data: "000102ff" },
      { type: "text", data: "" },
    ]);
  });

  test("§5.2: a 64 KiB message (65 536 bytes, the first size that needs the 64-bit length) comes back whole", async () => {
    const { url } = await wsServer();
    const client = await handMadeClient(url);
    const big = new Uint8Array(randomBytes(64 * 1024));
    client.send(big);
    const echo = await client.receive(3_000);
    expect(echo.type, "a binary echo").toBe("binary");
    expect(echo.type === "binary" && Buffer.from(echo.data).equals(Buffer.from(big)), "the 64 KiB echo equals what was sent").toBe(true);
  });

  test("§5.5.2: ws answers your ping with a pong carrying the same payload (autoPong)", async () => {
    const { url } = await wsServer();
    const client = await handMadeClient(url);
    const payload = await client.ping("are you there?", 2_000);
    expect(new TextDecoder().decode(payload), "the pong's payload is the ping's").toBe("are you there?");
  });

  test("§7.4.1, §10.4: maxPayload 1024 echoes 1024 bytes, and fails 1025 with 1009 (message too big), seen by your client", async () => {
    const { url } = await wsServer({ maxPayload: 1024 });
    const client = await handMadeClient(url);
    client.send(new Uint8Array(1024));
    expect((await client.receive(2_000)).type, "1024 bytes is within the limit: echoed").toBe("binary");
    client.send(new Uint8Array(1025));
    const info = await within(client.closed, 3_000, "your client's `closed` after a message over maxPayload");
    expect(info.code, "the ws server failed the connection with 1009, message too big").toBe(1009);
  });

  test("§5.5.1, §7.1.2: your close code and reason reach the ws server, which answers with the same code and reason", async () => {
    const { url } = await wsServer();
    const client = await handMadeClient(url);
    const info = await within(client.close(4001, "bye from chapter 09"), 3_000, "your client's close()");
    expect(info, "ws parsed your close frame and echoed its code and reason; TCP then closed").toEqual({
      code: 4001,
      reason: "bye from chapter 09",
      clean: true,
    });
  });

  test("§4.2.2 item 4, §10.2: with an origin allow-list, a foreign or missing Origin gets 403 Forbidden and an allowed one connects", async () => {
    const { url } = await wsServer({ origins: ["http://good.example"] });
    await expectRejects(
      connect(url, { origin: "http://evil.example", handshakeTimeout: 2_000 }),
      HandshakeError,
      "a foreign Origin is refused with 403 Forbidden (a one-argument verifyClient that returns false answers 401)",
      /403/,
    );
    await expectRejects(
      connect(url, { handshakeTimeout: 2_000 }),
      HandshakeError,
      "with an allow-list, a request without Origin is refused with 403 too",
      /403/,
    );
    const client = await handMadeClient(url, { origin: "http://good.example" });
    client.send("allowed");
    expect(await client.receive(2_000), "an allowed origin is echoed").toEqual({ type: "text", data: "allowed" });
  });

  test("§9.1, RFC 7692: perMessageDeflate is off: a client that offers permessage-deflate connects without it", async () => {
    const { url } = await wsServer();
    const ws = await openWs(url, { perMessageDeflate: true });
    cleanups.push(() => ws.terminate());
    expect(ws.extensions, "no Sec-WebSocket-Extensions in the 101, so no RSV1 compressed frames").toBe("");
  });

  test("§7.1.1, §7.4.1: close() says 1001 (going away) to your client and resolves once it is gone", async () => {
    const server = await wsServer();
    const client = await handMadeClient(server.url);
    await within(server.stop(), 4_000, "your server's close()");
    const info = await within(client.closed, 1_000, "your client's `closed` once the server stopped");
    expect(info.code, "the server said goodbye with 1001 before it stopped").toBe(1001);
    await expectRejects(
      connect(server.url, { handshakeTimeout: 1_000 }),
      Error,
      "a stopped server accepts no connection",
      /ECONNREFUSED|refused/i,
    );
  });

  test("§7.1.1: close() does not wait on a client that never answers its close frame: after a few seconds it cuts it off (not ws's 30 s)", async () => {
    const server = await wsServer();
    const mute = await RawClient.upgraded(server.url); // completes the handshake, then never sends a byte
    cleanups.push(() => mute.socket.destroy());
    await within(
      server.stop(),
      10_000,
      "your server's close() with a client that never sends its close frame (ws's own close timer is 30 s: cut it off yourself with terminate())",
    );
    expect((await mute.closeFrame()).code, "the mute client was told 1001 first").toBe(1001);
    await eventually(() => mute.closed, 2_000, "the mute client's TCP connection to be gone once close() resolved");
  });

  test("loopback only: the server listens on 127.0.0.1, so through ::1 or this machine's other addresses it can't be reached", async () => {
    const server = await wsServer();
    const { port } = new URL(server.url);
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i !== undefined && !(i.family === "IPv4" && i.internal))
      .map((i) => i!.address);
    for (const address of new Set(["::1", ...others])) {
      const socket = connectTcp({ host: address, port: Number(port) });
      cleanups.push(() => socket.destroy());
      const reached = await within(
        new Promise<boolean>((resolve) => {
          socket.once("connect", () => resolve(true));
          socket.once("error", () => resolve(false));
        }),
        3_000,
        `a TCP connection to ${address} port ${port} to be accepted or refused`,
      );
      expect(reached, `a connection to ${address} port ${port} was accepted: listen on host "127.0.0.1", or every other machine may reach an echo server meant for this one`).toBe(false);
    }
  });
});

describe("Step 2 — an echo client on ws: wsEcho", () => {
  test("§5.6: text comes back as a string, binary as a Uint8Array", async () => {
    const url = await handMadeServer();
    const echoText = await within(wsEcho(url, "héllo 👋"), 3_000, "wsEcho with text");
    expect(echoText, "a text echo resolves as a string").toBe("héllo 👋");
    const echoBinary = await within(wsEcho(url, bytes(0, 1, 2, 0xff)), 3_000, "wsEcho with bytes");
    expect(echoBinary instanceof Uint8Array, "a binary echo resolves as a Uint8Array").toBe(true);
    expect(hex(echoBinary as Uint8Array), "the same bytes").toBe("000102ff");
  });

  test("§5.2: a 64 KiB binary message comes back whole", async () => {
    const url = await handMadeServer();
    const big = new Uint8Array(randomBytes(64 * 1024));
    const echo = await within(wsEcho(url, big), 3_000, "wsEcho with 64 KiB");
    expect(echo instanceof Uint8Array && Buffer.from(echo).equals(Buffer.from(big)), "the 64 KiB echo equals what was sent").toBe(true);
  });

  test("§7.1.2: wsEcho closes with 1000, and your server completes a clean closing handshake", async () => {
    const closes: { code: number; clean: boolean }[] = [];
    const url = await handMadeServer({ onClose: ({ code, clean }) => closes.push({ code, clean }) });
    await within(wsEcho(url, "one and done"), 3_000, "wsEcho");
    await eventually(() => closes.length > 0, 2_000, "your server reporting the end of the connection");
    expect(closes, "one connection, closed by wsEcho with 1000, cleanly").toEqual([{ code: 1000, clean: true }]);
  });

  test("§7.4.1: wsEcho rejects, naming the code, when the server closes before echoing (your ws server's 1009)", async () => {
    const { url } = await wsServer({ maxPayload: 16 });
    await expectRejects(
      within(wsEcho(url, "more than sixteen bytes"), 3_000, "wsEcho against a server that refuses the message"),
      Error,
      "no echo came, only a close frame with 1009: wsEcho rejects and says so",
      /1009/,
    );
  });

  test("§4.1: a connection that fails rejects with its own error: Node's ECONNREFUSED for a closed port, the status for a refused handshake", async () => {
    const closed = await silentServer();
    const { port } = new URL(closed.url);
    await within(Promise.resolve(cleanups.pop()!()), 3_000, "stopping the silent server"); // nothing listens on its port now
    const refused = await within(wsEcho(`ws://127.0.0.1:${port}/`, "anyone?").catch((error: unknown) => error), 3_000, "wsEcho to a closed port");
    expect((refused as NodeJS.ErrnoException).code, `the error of the failed connection, kept from 'error', not a generic one made at 'close': got ${String(refused)}`).toBe("ECONNREFUSED");
    const { url } = await wsServer({ origins: ["https://allowed.example"] });
    await expectRejects(
      within(wsEcho(url, "let me in"), 3_000, "wsEcho to a server that answers 403"),
      Error,
      "the handshake was refused with 403 Forbidden: the error says so",
      /403/,
    );
  });

  test("§9.1: wsEcho offers no extension: perMessageDeflate is off on the client too, as in chapter 09 without `deflate`", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true });
    await new Promise((resolve) => server.once("listening", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const offers: (string | undefined)[] = [];
    server.on("connection", (ws, request) => {
      offers.push(request.headers["sec-websocket-extensions"]);
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    expect(await within(wsEcho(url, "plain, please"), 3_000, "wsEcho to a ws server that would compress"), "the echo").toBe("plain, please");
    expect(offers, "the request's Sec-WebSocket-Extensions: ws's client offers permessage-deflate unless told perMessageDeflate: false").toEqual([undefined]);
  });

  test("bounded waits: wsEcho gives up when timeoutMs has passed on its clock, not before, if the handshake or the echo never comes, and hangs up", async () => {
    // setTimeout runs on a fake clock that only the test moves: whether wsEcho waits
    // timeoutMs, and no less, is then the same on any machine. Sockets run for real,
    // and a wait of the test's own is bounded on the real clock (a hang guard).
    const timeoutMs = 10_000;
    const silent = await silentServer();
    const swallowing = await swallowingServer();
    const cases = [
      { what: "a server that never answers the handshake", url: silent.url, reached: silent.connected, gone: silent.hungUp, bye: "the TCP connection it gave up on" },
      { what: "a server that never echoes", url: swallowing.url, reached: swallowing.received, gone: swallowing.clientLeft, bye: "the WebSocket it gave up on" },
    ];
    for (const { what, url, reached, gone, bye } of cases) {
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      try {
        type Outcome = { settled: false } | { settled: true; result: unknown; failed: boolean };
        let outcome = { settled: false } as Outcome; // set by the callbacks below
        const echo = wsEcho(url, "hello?", timeoutMs).then(
          (result) => (outcome = { settled: true, result, failed: false }),
          (error: unknown) => (outcome = { settled: true, result: error, failed: true }),
        );
        await withinReally(reached, 10_000, `${what}: wsEcho's request (or its message) reaching the server`);
        await turns();
        expect(outcome, `${what}: no time has passed on the clock yet, and wsEcho already gave up`).toEqual({ settled: false });
        vi.advanceTimersByTime(timeoutMs - 1);
        await turns();
        expect(outcome, `${what}: 1 ms before timeoutMs (${timeoutMs} ms) wsEcho must still be waiting: is timeoutMs what it waits?`).toEqual({ settled: false });
        vi.advanceTimersByTime(1);
        await withinReally(echo, 30_000, `${what}: wsEcho giving up once timeoutMs (${timeoutMs} ms) had passed on setTimeout's clock (did it set a timer of timeoutMs?)`);
        expect(outcome.settled && outcome.failed, `${what}: wsEcho rejects (no echo came)`).toBe(true);
        expect(outcome.settled && outcome.result instanceof Error, `${what}: it rejects with an Error`).toBe(true);
      } finally {
        vi.useRealTimers();
      }
      await eventually(gone, 4_000, `wsEcho closing ${bye}`);
    }
  });
});

// ---------------------------------------------------------------------------
// Go's golang.org/x/net/websocket, from Debian's packages (no download).

const goAvailable = peer("go-x-net").present();
const peers = resolve(import.meta.dirname, "peers/go");

/** Runs a command; resolves with its stdout, or rejects with its stderr. Bounded by `timeout`. */
function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout: number }): Promise<string> {
  return new Promise((resolveRun, reject) => {
    execFile(file, args, { ...options, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ").slice(0, 200)} failed: ${stderr.trim() || error.message}`));
      else resolveRun(stdout);
    });
  });
}

describe.skipIf(!goAvailable)(
  `Step 2 — an echo client on ws: interop with Go's golang.org/x/net/websocket${skipNote("go-x-net", goAvailable)}`,
  () => {
    let bin = "";
    let goServer: ChildProcess | undefined;
    let goUrl = "";

    beforeAll(async () => {
      bin = mkdtempSync(join(tmpdir(), "workbook-go-"));
      // Debian's x/net is a GOPATH package: build without modules, offline. Without
      // cgo, no C compiler is needed; the cache outlives this run, so later builds are quick.
      const env = {
        ...process.env,
        GO111MODULE: "off",
        GOPATH,
        GOFLAGS: "",
        CGO_ENABLED: "0",
        GOCACHE: join(tmpdir(), "workbook-go-cache"),
      };
      await run("go", ["build", "-o", `${bin}/`, "./echo-server", "./echo-client"], { cwd: peers, env, timeout: 110_000 }).catch(
        (error: Error) => {
          throw new Error(`building tests/peers/go failed (${error.message}); is ${installCommand([peer("go-x-net")])} done?`);
        },
      );
      goServer = spawn(join(bin, "echo-server"), [], { stdio: ["ignore", "pipe", "inherit"] });
      goUrl = await within(
        new Promise<string>((resolveUrl) => createInterface({ input: goServer!.stdout! }).once("line", resolveUrl)),
        5_000,
        "Go's echo server printing its URL",
      );
    }, 120_000);

    afterAll(() => {
      goServer?.kill();
      if (bin !== "") rmSync(bin, { recursive: true, force: true });
    });

    const goClient = (args: string[]) => run(join(bin, "echo-client"), args, { timeout: 10_000 });

    test("§5.6 interop: your client ↔ Go's echo server: text and binary up to 64 KiB, each with its type", async () => {
      const client = await handMadeClient(goUrl);
      const big = new Uint8Array(randomBytes(64 * 1024));
      client.send("héllo, Go");
      client.send(bytes(0, 1, 2, 0xff));
      client.send(big);
      const echoes = [await client.receive(2_000), await client.receive(2_000), await client.receive(3_000)];
      expect(
        echoes.map((m) => (m.type === "text" ? m : { type: m.type, data: m.data.length > 16 ? `${m.data.length} bytes` : hex(m.data) })),
        "Go's Message.Send sends a string as text and a []byte as binary",
      ).toEqual([
        { type: "text", data: "héllo, Go" },
        { type: "binary", data: "000102ff" },
        { type: "binary", data: "65536 bytes" },
      ]);
      const last = echoes[2];
      expect(last?.type === "binary" && Buffer.from(last.data).equals(Buffer.from(big)), "the 64 KiB echo is intact").toBe(true);
    });

    test("§5.5.2 interop: Go answers your ping with a pong carrying its payload", async () => {
      const client = await handMadeClient(goUrl);
      expect(new TextDecoder().decode(await client.ping("ping from TypeScript", 2_000)), "the pong's payload").toBe("ping from TypeScript");
    });

    test("§5.5.1 interop: Go answers your close (4001) with 1000, its own default, then closes TCP", async () => {
      const client = await handMadeClient(goUrl);
      const info = await within(client.close(4001, "bye, Go"), 3_000, "your client's close() against Go");
      // Receive returns io.EOF on a close frame; the handler's deferred ws.Close() then sends 1000.
      expect(info, "x/net/websocket does not echo the code: it always closes with 1000").toEqual({ code: 1000, reason: "", clean: true });
    });

    test("§4.1, §10.2 interop: websocket.Handler refuses a request without Origin with 403; websocket.Server accepts it", async () => {
      await expectRejects(
        connect(`${goUrl}handler`, { handshakeTimeout: 2_000 }),
        HandshakeError,
        "websocket.Handler checks that Origin is present and a URL; yours sends none, so 403",
        /403/,
      );
      const viaHandler = await handMadeClient(`${goUrl}handler`, { origin: "http://localhost" });
      viaHandler.send("with an Origin");
      expect(await viaHandler.receive(2_000), "websocket.Handler with an Origin").toEqual({ type: "text", data: "with an Origin" });
      const viaServer = await handMadeClient(goUrl);
      viaServer.send("without one");
      expect(await viaServer.receive(2_000), "websocket.Server without a Handshake func").toEqual({ type: "text", data: "without one" });
    });

    test("§5.6 interop: Go's client (Message.Send, then Receive) ↔ your echo server (chapter 08): text and binary", async () => {
      const closes: number[] = [];
      const url = await handMadeServer({ onClose: ({ code }) => closes.push(code) });
      const text = await goClient([url, "héllo from Go", "", "second"]);
      expect(text, "Go's client prints each echo with its frame type").toBe('text "héllo from Go"\ntext ""\ntext "second"\n');
      const big = randomBytes(30_000).toString("hex"); // 30 000 bytes: a 16-bit length, and one command-line argument
      const binary = await goClient(["-binary", url, "0001ff", big]);
      expect(binary, "binary echoes come back as binary frames").toBe(`binary 0001ff\nbinary ${big}\n`);
      await eventually(() => closes.length === 2, 2_000, "your server reporting both connections closed");
      expect(closes, "Go's Conn.Close sends 1000 (and drops TCP at once)").toEqual([1000, 1000]);
    });

    test("§5.6 interop: Go's client ↔ your ws echo server: text and binary", async () => {
      const { url } = await wsServer();
      expect(await goClient([url, "to ws, from Go"]), "text").toBe('text "to ws, from Go"\n');
      expect(await goClient(["-binary", url, "00ff10"]), "binary").toBe("binary 00ff10\n");
    });
  },
);

describe("Step 2 — an echo client on ws: the server, seen through wsEcho", () => {
  test("§7.1.7: a client's protocol error fails its connection with 1002 and throws nothing out of your server, which goes on serving", async () => {
    const { url } = await wsServer();
    // ws emits a peer's protocol error as an 'error' event; with no listener, Node throws it out of the event loop.
    const thrown: unknown[] = [];
    const onUncaught = (error: unknown) => thrown.push(error);
    process.on("uncaughtException", onUncaught);
    cleanups.push(() => process.off("uncaughtException", onUncaught));
    const bad = await RawClient.upgraded(url);
    cleanups.push(() => bad.socket.destroy());
    bad.socket.write(clientFrame(0x3, bytes(0x21))); // opcode 3 is reserved (§5.2)
    expect((await bad.closeFrame()).code, "a reserved opcode fails the connection with 1002").toBe(1002);
    expect(await within(wsEcho(url, "still there?"), 3_000, "an echo after the failed connection"), "the server still echoes").toBe("still there?");
    expect(
      thrown.map(String),
      "errors thrown out of the event loop: give every ws an 'error' listener, or one peer's bad frame brings the whole server down",
    ).toEqual([]);
  });
});
