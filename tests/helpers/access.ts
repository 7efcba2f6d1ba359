/**
 * Hostile and friendly clients for the tests of chapter 14: a raw handshake
 * (from any loopback address, with any headers) that reports the status the
 * server answered, and the two HTTP calls of a well-behaved client (log in,
 * fetch a ticket). Every wait is bounded.
 */
import { request } from "node:http";
import { rawHandshake, type RawAnswer } from "../../scripts/lib/raw-handshake.ts";
import { within } from "./peers.ts";

/** What a server answered to an upgrade request: the status, the headers (lower-case names), the socket. */
export type HandshakeAnswer = RawAnswer;

/**
 * Opens TCP from `localAddress` (any 127.x.y.z on Linux's loopback; default
 * 127.0.0.1), sends an upgrade request for `path` with chat.v1 offered and
 * the extra header lines, and resolves with the server's answer once its head
 * has arrived; rejects, naming the path, if none came.
 */
export async function handshake(url: string, options: { path?: string; headers?: string[]; localAddress?: string } = {}): Promise<HandshakeAnswer> {
  const answer = await rawHandshake(url, { path: options.path ?? "/", headers: options.headers ?? [], localAddress: options.localAddress ?? "127.0.0.1" });
  if (answer.status === 0) throw new Error(`no HTTP answer to an upgrade request for ${options.path ?? "/"} (the connection ${answer.closed ? "was closed" : "stayed silent for 5 s"})`);
  return answer;
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
