/**
 * A wire tap for interop tests: a TCP relay on 127.0.0.1 between a real client
 * and a real server that forwards every byte as it is, and writes down what
 * went by: the two HTTP heads and every frame's header (FIN, RSV1, opcode,
 * length), both ways. So a test can check what was negotiated and which frames
 * carried RSV1, whichever peers talk, a browser included.
 *
 * Frames are read by the tap's own header reader (below), not by a chapter:
 * a test's witness must not be the code under test. It keeps only headers and
 * skips payloads as they stream by, so a 16 MiB message costs it nothing.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TappedFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  length: number;
}

/**
 * Frame headers out of a byte stream (RFC 6455 §5.2), any cut: the 2 fixed
 * bytes, the 16- or 64-bit length, the masking key; then the payload's bytes
 * are counted off without being kept.
 */
class HeaderReader {
  /** Bytes of a header not complete yet (at most 14). */
  #head: number[] = [];
  /** Payload bytes of the last header still to skip. */
  #skip = 0;

  *push(bytes: Uint8Array): Generator<TappedFrame> {
    let at = 0;
    while (at < bytes.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, bytes.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      this.#head.push(bytes[at++]!);
      const frame = this.#complete();
      if (frame !== undefined) {
        this.#head = [];
        this.#skip = frame.length;
        yield frame;
      }
    }
  }

  /** The frame whose header #head holds, once all of it is there. */
  #complete(): TappedFrame | undefined {
    const head = this.#head;
    if (head.length < 2) return undefined;
    const length7 = head[1]! & 0x7f;
    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const size = 2 + lengthBytes + (head[1]! & 0x80 ? 4 : 0);
    if (head.length < size) return undefined;
    let length = lengthBytes === 0 ? length7 : 0;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + head[2 + i]!;
    return { fin: (head[0]! & 0x80) !== 0, rsv1: (head[0]! & 0x40) !== 0, opcode: head[0]! & 0x0f, length };
  }
}

/** One direction of one connection. */
class Direction {
  head = "";
  frames: TappedFrame[] = [];
  #afterHead = false;
  #reader = new HeaderReader();

  constructor(readonly framesFollow: () => boolean) {}

  take(chunk: Buffer): void {
    let bytes: Buffer = chunk;
    if (!this.#afterHead) {
      this.head += chunk.toString("latin1");
      const end = this.head.indexOf("\r\n\r\n");
      if (end === -1) return;
      bytes = Buffer.from(this.head.slice(end + 4), "latin1");
      this.head = this.head.slice(0, end + 4);
      this.#afterHead = true;
    }
    if (!this.framesFollow()) return;
    for (const frame of this.#reader.push(bytes)) this.frames.push(frame);
  }
}

export class TappedConnection {
  readonly toServer: Direction;
  readonly toClient: Direction;
  constructor() {
    const upgraded = () => this.toClient.head.startsWith("HTTP/1.1 101");
    this.toServer = new Direction(upgraded);
    this.toClient = new Direction(upgraded);
  }
  /** A header of the server's response, or undefined. */
  responseHeader(name: string): string | undefined {
    const line = this.toClient.head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line?.slice(line.indexOf(":") + 1).trim();
  }
  requestHeader(name: string): string | undefined {
    const line = this.toServer.head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line?.slice(line.indexOf(":") + 1).trim();
  }
}

export class WireTap {
  readonly connections: TappedConnection[] = [];
  readonly #sockets = new Set<Socket>();
  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  /** A relay to the server at `target` (ws://host:port/path); `url` is the same with the relay's port. */
  static start(target: string): Promise<WireTap> {
    const { hostname, port, pathname } = new URL(target);
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        if (address === null || typeof address === "string") return reject(new Error("the tap has no TCP address"));
        const tap = new WireTap(server, `ws://127.0.0.1:${address.port}${pathname}`);
        server.on("connection", (client) => tap.#relay(client, hostname, Number(port)));
        resolve(tap);
      });
    });
  }

  #relay(client: Socket, host: string, port: number): void {
    const recorded = new TappedConnection();
    this.connections.push(recorded);
    const upstream = connect({ host, port });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => recorded.toServer.take(chunk));
    upstream.on("data", (chunk: Buffer) => recorded.toClient.take(chunk));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The wire's verdict on RSV1 in one direction (RFC 7692 §6): how many data
 * messages started with RSV1, and the frames that must never carry it
 * (continuation and control frames) but did.
 */
export function rsv1Summary(frames: readonly TappedFrame[]): { messages: number; compressed: number; misplaced: TappedFrame[] } {
  const starts = frames.filter((f) => f.opcode === 0x1 || f.opcode === 0x2);
  return {
    messages: starts.length,
    compressed: starts.filter((f) => f.rsv1).length,
    misplaced: frames.filter((f) => f.rsv1 && f.opcode !== 0x1 && f.opcode !== 0x2),
  };
}
