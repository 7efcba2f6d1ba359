/**
 * A raw opening handshake (RFC 6455 §4.1) for hostile and test clients: TCP
 * from any loopback address, an upgrade request offering chat.v1 with any
 * extra header lines, and the server's answer as it came: its status (0 when
 * it closed without answering), its headers, and the bytes after the head.
 * Chapter 14's tests and `npm run conformance -- --security` both use it.
 * Every wait is bounded.
 */
import { connect, type Socket } from "node:net";

/** What a server answered to an upgrade request. */
export interface RawAnswer {
  /** The HTTP status, or 0 if there was no answer: TCP refused, or closed (or silent) before a whole head. */
  status: number;
  /** The response's headers, names in lower case. */
  headers: Record<string, string>;
  socket: Socket;
  /** Bytes after the head (frames, after a 101), as they arrive. */
  rest: number[];
  /** The socket has been closed (by either side). */
  readonly closed: boolean;
}

export interface RawHandshakeOptions {
  /** The request target; default the URL's path. */
  path?: string;
  /** More header lines, such as "Origin: http://evil.example". */
  headers?: readonly string[];
  /** The source address (any 127.x.y.z on Linux's loopback); default the system's choice. */
  localAddress?: string | undefined;
  /** How long to wait for the answer's head, in ms. Default 5 000. */
  timeoutMs?: number;
}

/** Polls `condition` every 10 ms until it holds or `ms` pass; resolves with whether it held. */
export function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const until = Date.now() + ms;
    const poll = () => (condition() ? resolve(true) : Date.now() > until ? resolve(false) : setTimeout(poll, 10));
    poll();
  });
}

export async function rawHandshake(url: string, options: RawHandshakeOptions = {}): Promise<RawAnswer> {
  const { hostname, port, host, pathname } = new URL(url);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const socket = connect({ host: hostname, port: Number(port), ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  let closed = false;
  let head = "";
  const rest: number[] = [];
  socket.on("close", () => (closed = true)).on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    if (head.includes("\r\n\r\n")) return void rest.push(...chunk);
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end !== -1) {
      rest.push(...Buffer.from(head.slice(end + 4), "latin1"));
      head = head.slice(0, end + 4);
    }
  });
  const lines = [
    `GET ${options.path ?? pathname} HTTP/1.1`,
    `Host: ${host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Protocol: chat.v1",
    ...(options.headers ?? []),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  await waitFor(() => head.includes("\r\n\r\n") || closed, timeoutMs);
  const headers: Record<string, string> = {};
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
    headers,
    socket,
    rest,
    get closed() {
      return closed;
    },
  };
}
