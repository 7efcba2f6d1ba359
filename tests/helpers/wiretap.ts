/**
 * A wire tap for interop tests: a TCP relay on 127.0.0.1 between a real client
 * and a real server that forwards every byte as it is, and writes down what
 * went by: the two HTTP heads and every frame's header (FIN, RSV1, opcode,
 * length), both ways. So a test can check what was negotiated and which frames
 * carried RSV1, whichever peers talk, a browser included.
 *
 * Frames are read with the reference chapter 04, with RSV1 allowed.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { FrameParser } from "../../solutions/04-frames.ts";

export interface TappedFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  length: number;
}

/** One direction of one connection. */
class Direction {
  head = "";
  frames: TappedFrame[] = [];
  error: string | undefined;
  #afterHead = false;
  #parser = new FrameParser({ allowRsv1: true, maxPayload: 2 ** 31 - 1 });

  constructor(readonly framesFollow: () => boolean) {}

  take(chunk: Buffer): void {
    if (this.error !== undefined) return;
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
    try {
      for (const f of this.#parser.push(new Uint8Array(bytes))) this.frames.push({ fin: f.fin, rsv1: f.rsv1, opcode: f.opcode, length: f.payload.length });
    } catch (error) {
      this.error = (error as Error).message;
    }
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
