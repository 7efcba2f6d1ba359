/**
 * Hostile and friendly clients for the tests of chapter 14: a raw handshake
 * (from any loopback address, with any headers) that reports the status the
 * server answered, and the two HTTP calls of a well-behaved client (log in,
 * fetch a ticket). Every wait is bounded.
 */
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { eventually, within } from "./peers.ts";

/** What a server answered to an upgrade request: the status, the headers (lower-case names), and the socket. */
export interface HandshakeAnswer {
  status: number;
  headers: Record<string, string>;
  socket: Socket;
  /** The socket has been closed (by either side). */
  readonly closed: boolean;
}

/**
 * Opens TCP from `localAddress` (any 127.x.y.z on Linux's loopback), sends an
 * upgrade request for `path` with chat.v1 offered and the extra header lines,
 * and resolves with the server's answer once its head has arrived.
 */
export async function handshake(url: string, options: { path?: string; headers?: string[]; localAddress?: string } = {}): Promise<HandshakeAnswer> {
  const { hostname, port, host } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), localAddress: options.localAddress ?? "127.0.0.1" });
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  await within(new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject)), 2_000, `TCP connect from ${options.localAddress ?? "127.0.0.1"}`);
  const lines = [
    `GET ${options.path ?? "/"} HTTP/1.1`,
    `Host: ${host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Protocol: chat.v1",
    ...(options.headers ?? []),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  let head = "";
  socket.on("data", (chunk: Buffer) => {
    if (!head.includes("\r\n\r\n")) head += chunk.toString("latin1");
  });
  await eventually(() => head.includes("\r\n\r\n") || closed, 5_000, `the server's answer to an upgrade request for ${options.path ?? "/"}`);
  if (!head.includes("\r\n\r\n")) throw new Error(`the server closed the connection without an HTTP answer (got ${JSON.stringify(head)})`);
  const [statusLine = "", ...headerLines] = head.slice(0, head.indexOf("\r\n\r\n")).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? NaN),
    headers,
    socket,
    get closed() {
      return closed;
    },
  };
}

/** One plain HTTP request to the chat server: status, headers, body. */
export function post(url: string, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return within(
    new Promise((resolve, reject) => {
      const req = request({ host: hostname, port: Number(port), path, method: "POST", headers: { "Content-Type": "application/json", ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      req.end(body);
    }),
    5_000,
    `POST ${path}`,
  );
}

/** Logs in: the Cookie header value ("name=value") of the session cookie the server set. */
export async function login(url: string, user: string, password: string): Promise<string> {
  const answer = await post(url, "/login", JSON.stringify({ user, password }));
  const setCookie = [answer.headers["set-cookie"] ?? []].flat()[0];
  if (answer.status >= 300 || setCookie === undefined) throw new Error(`POST /login as ${user}: ${answer.status}, no session cookie (${answer.body})`);
  return setCookie.split(";")[0] ?? "";
}

/** Fetches a one-time ticket with the session cookie. */
export async function fetchTicket(url: string, cookie: string): Promise<string> {
  const answer = await post(url, "/ticket", "", { Cookie: cookie });
  if (answer.status !== 200) throw new Error(`POST /ticket: ${answer.status} (${answer.body})`);
  return (JSON.parse(answer.body) as { ticket: string }).ticket;
}

/** The chat URL with a ticket in its query. */
export const withTicket = (url: string, ticket: string) => `${url.replace(/\/?$/, "/")}?ticket=${encodeURIComponent(ticket)}`;
