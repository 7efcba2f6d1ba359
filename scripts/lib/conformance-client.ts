/**
 * The client of the conformance runner (scripts/lib/conformance.ts): raw TCP
 * that completes a proper opening handshake, then writes whatever bytes a
 * case wants, well-formed or not, and records everything the server does in
 * return: its HTTP answer, its frames and messages, its close frame, and
 * whether it closed TCP.
 *
 * Frames and messages are built and read with the reference chapters
 * (02, 03, 04, 05, 06): the runner is a measuring tool, so it must not share
 * the bugs of the server it measures when that server is the reader's.
 *
 * Every wait stops at the client's deadline: a server that never answers
 * makes a case fail, never hang.
 */
import { connect, type Socket } from "node:net";
import type { CloseStatus } from "../../lib/close-codes.ts";
import { Opcode, type Frame } from "../../lib/frame.ts";
import type { Message } from "../../lib/message.ts";
import { checkUpgradeResponse, createClientKey } from "../../solutions/02-handshake.ts";
import { createMaskKey } from "../../solutions/03-masking.ts";
import { encodeFrame, FrameParser, type FrameInit } from "../../solutions/04-frames.ts";
import { MessageAssembler } from "../../solutions/05-messages.ts";
import { parseClosePayload } from "../../solutions/06-closing.ts";

/** An HTTP response head, as the server sent it. */
export interface HttpHead {
  /** "HTTP/1.1 101 Switching Protocols" */
  statusLine: string;
  status: number;
  /** Lower-cased names; a repeated field's values joined with ", " (RFC 9110 §5.3). */
  headers: Record<string, string>;
}

/** How long a client waits, at most, after its case is over, to see the server close TCP. */
const GOODBYE_GRACE = 300;
const POLL = 5;

export class Client {
  /** The server's HTTP response head, once it is complete. */
  response: HttpHead | undefined;
  /** Every frame the server sent after its 101, in order. */
  readonly frames: Frame[] = [];
  /** The messages its data frames made (a fragmented echo is joined, §5.4). */
  readonly messages: Message[] = [];
  /** The server's first close frame, and what it says. */
  closeFrame: Frame | undefined;
  closeStatus: CloseStatus | undefined;
  /** The first thing the server sent that no server may send, in words. */
  violation: string | undefined;
  /** The server closed TCP (or the connection broke): nothing more will come. */
  closed = false;
  /** We have sent a close frame: ours, or the answer to the server's (§5.5.1). */
  closeSent = false;
  /** Why the socket failed, if it did (ECONNREFUSED, ECONNRESET, ...). */
  socketError: string | undefined;

  readonly #socket: Socket;
  readonly #deadline: number;
  #connected = false;
  /** The response head so far, as latin1 text: HTTP heads are bytes, not UTF-8. */
  #head = "";
  readonly #parser = new FrameParser();
  readonly #assembler = new MessageAssembler({ maxMessageSize: Infinity });

  private constructor(socket: Socket, deadline: number) {
    this.#socket = socket;
    this.#deadline = deadline;
    socket.setNoDelay(true); // a write is a TCP segment: the one-byte-per-write case relies on it
    socket.on("connect", () => (this.#connected = true));
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("end", () => (this.closed = true));
    socket.on("close", () => (this.closed = true));
    socket.on("error", (error: NodeJS.ErrnoException) => (this.socketError ??= error.code ?? error.message));
  }

  /** A TCP connection to the server of `url`, nothing sent yet. */
  static async connect(url: string, deadline: number): Promise<Client> {
    const { hostname, port } = new URL(url);
    const host = hostname.replace(/^\[|\]$/g, ""); // an IPv6 literal without its brackets
    const client = new Client(connect({ host, port: Number(port || 80) }), deadline);
    await client.until(() => client.#connected || client.closed);
    if (!client.#connected) {
      client.destroy();
      throw new Error(`could not open TCP to ${host}:${port}: ${client.socketError ?? "no answer in time"}`);
    }
    return client;
  }

  /**
   * A WebSocket connection: TCP, then a valid upgrade request (RFC 6455 §4.1),
   * and the server's 101 checked as a client must (chapter 02's reference
   * `checkUpgradeResponse`). Throws, saying what went wrong, otherwise.
   */
  static async open(url: string, deadline: number): Promise<Client> {
    const client = await Client.connect(url, deadline);
    const key = createClientKey();
    client.write(upgradeRequest(url, { key }));
    await client.until(() => client.response !== undefined || client.closed);
    const response = client.response;
    try {
      if (response === undefined) {
        throw new Error(client.closed ? "the server closed the connection without answering a valid upgrade request" : "no answer to a valid upgrade request in time");
      }
      checkUpgradeResponse({ status: response.status, headers: response.headers }, key);
    } catch (error) {
      client.destroy();
      throw new Error(`the opening handshake failed: ${(error as Error).message}`);
    }
    return client;
  }

  /** Writes raw bytes: whatever a case wants the server to read. */
  write(bytes: Uint8Array | string): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(bytes);
  }

  /** Sends a frame as a client must: masked with a fresh key (§5.3). */
  send(frame: Omit<FrameInit, "maskKey">): void {
    if (frame.opcode === Opcode.Close) this.closeSent = true;
    this.write(encodeFrame({ ...frame, maskKey: createMaskKey() }));
  }

  /** Waits until `condition` holds, at most until the deadline (or `capMs`); says whether it held. */
  async until(condition: () => boolean, capMs = Infinity): Promise<boolean> {
    const end = Math.min(this.#deadline, Date.now() + capMs);
    while (!condition()) {
      if (Date.now() >= end) return false;
      await new Promise((resolve) => setTimeout(resolve, POLL));
    }
    return true;
  }

  /** The server did something that ends the conversation: closed, or broke the protocol. */
  get over(): boolean {
    return this.closeFrame !== undefined || this.closed || this.violation !== undefined;
  }

  /**
   * Ends politely when the case is over: a close frame with 1000 unless one
   * was already sent, a short wait for the server to close TCP (§7.1.1),
   * then the socket is destroyed whatever happened.
   */
  async finish(): Promise<void> {
    if (this.response?.status === 101 && !this.closeSent && !this.closed) {
      this.send({ opcode: Opcode.Close, payload: new Uint8Array([0x03, 0xe8]) });
    }
    const end = Date.now() + GOODBYE_GRACE;
    while (!this.closed && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, POLL));
    this.destroy();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    let bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.response === undefined) {
      this.#head += chunk.toString("latin1");
      const end = this.#head.indexOf("\r\n\r\n");
      if (end === -1) return;
      this.response = parseHead(this.#head.slice(0, end));
      bytes = Buffer.from(this.#head.slice(end + 4), "latin1"); // frames that came with the 101
    }
    // After a refusal the rest is the body of an HTTP response, not frames.
    if (this.response.status !== 101 || this.violation !== undefined) return;
    try {
      for (const frame of this.#parser.push(bytes)) this.#handle(frame);
    } catch (error) {
      this.violation = `the server sent what no server may send: ${(error as Error).message}`;
    }
  }

  /** One frame from the server: checked, recorded, and answered as a client must. */
  #handle(frame: Frame): void {
    this.frames.push(frame);
    if (frame.maskKey !== undefined) throw new Error("a masked frame: a server must not mask (RFC 6455 §5.1)");
    if (this.closeFrame !== undefined) return; // §5.5.1: nothing may follow a close frame; ignore it
    switch (frame.opcode) {
      case Opcode.Close: {
        this.closeFrame = frame;
        try {
          this.closeStatus = parseClosePayload(frame.payload);
        } catch (error) {
          throw new Error(`its close frame is invalid: ${(error as Error).message}`);
        }
        // §5.5.1: answer a close frame with one, echoing its code, unless we sent ours.
        if (!this.closeSent) {
          const code = this.closeStatus.code;
          const payload = code === 1005 ? new Uint8Array(0) : new Uint8Array([code >> 8, code & 0xff]);
          this.send({ opcode: Opcode.Close, payload });
        }
        return;
      }
      case Opcode.Ping:
        if (!this.closeSent) this.send({ opcode: Opcode.Pong, payload: frame.payload }); // §5.5.2
        return;
      case Opcode.Pong:
        return; // kept in `frames` for the cases that sent a ping
      default: {
        const message = this.#assembler.push(frame);
        if (message !== undefined) this.messages.push(message);
      }
    }
  }
}

/** Parses "HTTP/1.1 426 Upgrade Required\r\nName: value\r\n..." (no body). */
function parseHead(head: string): HttpHead {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { statusLine, status, headers };
}

/**
 * An upgrade request for `url` (RFC 6455 §4.1), valid unless `changes` say
 * otherwise: another method, headers replaced, or removed (null).
 */
export function upgradeRequest(
  url: string,
  changes: { key?: string; method?: string; headers?: Record<string, string | null> } = {},
): string {
  const { host, pathname, search } = new URL(url);
  const headers: Record<string, string | null> = {
    Host: host,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": changes.key ?? createClientKey(),
    "Sec-WebSocket-Version": "13",
    ...changes.headers,
  };
  const lines = [`${changes.method ?? "GET"} ${pathname}${search} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) if (value !== null) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}
