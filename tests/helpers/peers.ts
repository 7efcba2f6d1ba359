/**
 * Real peers for the tests of a server: the `ws` package's client, and a raw
 * TCP client that can misbehave on purpose. Every wait here is bounded.
 *
 * Frames are built and read with the tests' own encoder and decoder
 * (helpers/wire.ts): never with the code under test.
 */
import { connect, type Socket } from "node:net";
import WebSocket from "ws";
import { readCloseBody, WireReader, wireFrame } from "./wire.ts";
import type { Frame } from "../../lib/frame.ts";
import { peer, skipNote } from "../../scripts/lib/system-peers.ts";

export { PYTHON } from "../../scripts/lib/system-peers.ts";

/** Whether Python's `websockets` (Debian's python3-websockets) is here to act as a peer. */
export const pythonWebsocketsAvailable = peer("python-websockets").present();
/** What a Python interop test adds to its name where it is skipped: the package to install. */
export const pythonSkipNote = skipNote("python-websockets", pythonWebsocketsAvailable);

/**
 * The shortest bound a wait gets. A bound guards against a hang; it is not a
 * speed limit, so a busy machine must not trip it: a bound written shorter is
 * raised to this. It stays below every default timeout (5 s and more) that a
 * test tells apart from an option set shorter, so those tests keep their meaning.
 */
export const MIN_GUARD_MS = 3_000;

/** Resolves like `promise`, or rejects after `ms` (at least MIN_GUARD_MS) with a message saying what never happened. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const bound = Math.max(ms, MIN_GUARD_MS);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${bound} ms`)), bound);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every 10 ms until it holds, at most `ms` (at least MIN_GUARD_MS). */
export async function eventually(condition: () => boolean, ms: number, what: string): Promise<void> {
  const bound = Math.max(ms, MIN_GUARD_MS);
  const deadline = Date.now() + bound;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: still not true after ${bound} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A `ws` client, open. */
export function openWs(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  return within(
    new Promise((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
    }),
    2_000,
    `a ws client connecting to ${url}`,
  );
}

/** The next `count` messages a `ws` client receives, with their type. */
export function wsMessages(ws: WebSocket, count: number): Promise<{ data: Buffer; isBinary: boolean }[]> {
  const received: { data: Buffer; isBinary: boolean }[] = [];
  return within(
    new Promise((resolve) => {
      const onMessage = (data: Buffer, isBinary: boolean) => {
        received.push({ data, isBinary });
        if (received.length === count) {
          ws.off("message", onMessage);
          resolve(received);
        }
      };
      ws.on("message", onMessage);
    }),
    3_000,
    `waiting for ${count} echoes`,
  );
}

/** How a `ws` client saw its connection end. */
export function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return within(
    new Promise((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))),
    3_000,
    "waiting for the ws client's close event",
  );
}

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame, masked as §5.3 requires (unless `masked` is false, to misbehave). */
export function clientFrame(opcode: number, payload: Uint8Array, options: { fin?: boolean; masked?: boolean } = {}): Uint8Array {
  return wireFrame({ opcode, payload, fin: options.fin ?? true, maskKey: options.masked === false ? undefined : KEY });
}

/** A raw TCP client: it speaks the handshake, then whatever bytes a test wants. */
export class RawClient {
  readonly frames: Frame[] = [];
  ended = false;
  closed = false;
  #parser = new WireReader();
  #head = "";
  #afterHead = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("end", () => (this.ended = true));
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => {});
  }

  /**
   * Connects; sends `request` (a whole or partial HTTP head) if given.
   * `allowHalfOpen`: keep our side open when the server ends its side.
   */
  static async connect(url: string, request?: string, allowHalfOpen = false): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port), allowHalfOpen });
    await within(new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject)), 2_000, "TCP connect");
    const client = new RawClient(socket);
    if (request !== undefined) socket.write(request);
    return client;
  }

  /** Connects and completes a valid handshake; resolves once the 101 arrived. */
  static async upgraded(url: string): Promise<RawClient> {
    const client = await RawClient.connect(url, upgradeRequest(url));
    await eventually(() => client.#afterHead, 2_000, "the server's 101 response");
    if (!client.#head.startsWith("HTTP/1.1 101")) throw new Error(`no 101: ${client.#head}`);
    return client;
  }

  /** The HTTP head the server answered with, once it arrived. */
  get response(): string {
    return this.#head;
  }

  /** The first close frame received, decoded, once it arrives. */
  async closeFrame(ms = 2_000): Promise<{ code: number; reason: string }> {
    await eventually(() => this.frames.some((f) => f.opcode === 0x8), ms, "a close frame from the server");
    const frame = this.frames.find((f) => f.opcode === 0x8);
    return readCloseBody(frame?.payload ?? new Uint8Array(0));
  }

  #receive(chunk: Buffer): void {
    if (!this.#afterHead) {
      this.#head += chunk.toString("latin1");
      const end = this.#head.indexOf("\r\n\r\n");
      if (end === -1) return;
      const rest = Buffer.from(this.#head.slice(end + 4), "latin1");
      this.#head = this.#head.slice(0, end + 4);
      this.#afterHead = true;
      if (!this.#head.startsWith("HTTP/1.1 101")) return; // a refusal: its body is not frames
      chunk = rest;
    }
    if (this.#head.startsWith("HTTP/1.1 101")) this.frames.push(...this.#parser.push(new Uint8Array(chunk)));
  }
}

/** A valid upgrade request for `url`, with extra header lines if given. */
export function upgradeRequest(url: string, extra: string[] = []): string {
  const { host, pathname } = new URL(url);
  return [
    `GET ${pathname} HTTP/1.1`,
    `Host: ${host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...extra,
    "",
    "",
  ].join("\r\n");
}
