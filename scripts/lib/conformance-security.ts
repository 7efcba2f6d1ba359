/**
 * Security cases (RFC 6455 §10, chapter 14): hostile clients against any chat
 * or echo server, each on its own raw connection. `npm run conformance --
 * --security` runs them against chapter 14's server (or `--url` any server,
 * with `--user NAME:PASSWORD` for one that speaks the workbook's POST /login
 * and POST /ticket); `--compare ws` against a `ws` server with its defaults.
 *
 * Verdicts, for these cases:
 * - OK: refused or closed as chapter 14 documents (403, 401, 429, 1009, ...);
 * - NON-STRICT: defended another way (another status or close code), or not
 *   defended where the RFC leaves the defence to the application (no
 *   authentication, no rate or connection limits, no deadline): the detail
 *   says "exposed" and what got through;
 * - FAILED: a rule of §10 broken: a page from any origin let in (§10.2
 *   SHOULD), a frame of 2^60 bytes not refused (§10.4 MUST), or a ticket
 *   accepted twice.
 *
 * The hostile clients come from their own loopback addresses (127.0.1.x) when
 * the server is on 127.0.0.1, so that each per-address limit meets only the
 * case that provokes it.
 */
import { request } from "node:http";
import { connect } from "node:net";
import type { Outcome, Result } from "./conformance-kit.ts";
import { rawHandshake as handshake, waitFor, type RawAnswer } from "./raw-handshake.ts";

const ok = (): Outcome => ({ verdict: "OK", detail: "" });
const nonStrict = (detail: string): Outcome => ({ verdict: "NON-STRICT", detail });
const failed = (detail: string): Outcome => ({ verdict: "FAILED", detail });
const SESSION_COOKIE = "chat_session";
/** The most one case may take (the slowloris case waits longest). */
const SECURITY_CASE_TIME = 25_000;
/** How long the slowloris case lets a request drip before calling the server exposed. */
const SLOWLORIS_WAIT = 15_000;

/** What a run needs to know about the server: where it is, and how to get credentials if it asks for them. */
export interface SecurityTarget {
  url: string;
  /** A user of the workbook's POST /login, for the cases that need a logged-in client. */
  user?: { name: string; password: string };
}

interface SecurityCase {
  id: string;
  title: string;
  run(target: SecurityTarget): Promise<Outcome>;
}

// ---------------------------------------------------------------------------
// Raw clients

const loopback = (url: string) => /^127\./.test(new URL(url).hostname);
/** A source address of its own for case `n`, when the server is on loopback. */
const from = (url: string, n: number) => (loopback(url) ? `127.0.1.${n}` : undefined);

function post(url: string, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; setCookie: string | undefined; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, method: "POST", headers: { "Content-Type": "application/json", ...headers }, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, setCookie: [res.headers["set-cookie"] ?? []].flat()[0], body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject).on("timeout", () => req.destroy(new Error(`POST ${path}: no answer in 5 s`)));
    req.end(body);
  });
}

/** The Cookie header line of a fresh session, or [] without a user. */
async function credentials(target: SecurityTarget): Promise<string[]> {
  if (target.user === undefined) return [];
  const answer = await post(target.url, "/login", JSON.stringify({ user: target.user.name, password: target.user.password }));
  if (answer.setCookie === undefined) throw new Error(`POST /login as ${target.user.name} answered ${answer.status} without a cookie`);
  return [`Cookie: ${answer.setCookie.split(";")[0]}`];
}

async function ticket(target: SecurityTarget, cookie: string[]): Promise<string> {
  const answer = await post(target.url, "/ticket", "", cookie.length > 0 ? { Cookie: cookie[0]!.slice("Cookie: ".length) } : {});
  if (answer.status !== 200) throw new Error(`POST /ticket answered ${answer.status}`);
  return (JSON.parse(answer.body) as { ticket: string }).ticket;
}

const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

/** A client frame, masked (RFC 6455 §5.3), of up to 65535 bytes. */
function masked(first: number, payload: Uint8Array): Buffer {
  const key = crypto.getRandomValues(new Uint8Array(4));
  const length = payload.length < 126 ? [0x80 | payload.length] : [0x80 | 126, payload.length >> 8, payload.length & 0xff];
  return Buffer.from([first, ...length, ...key, ...payload.map((b, i) => b ^ (key[i % 4] ?? 0))]);
}

/** The code of the first close frame in the server's bytes (server frames are not masked), or undefined. */
function closeCodeIn(bytes: readonly number[]): number | undefined {
  for (let at = 0; at + 1 < bytes.length; ) {
    let length = (bytes[at + 1] ?? 0) & 0x7f;
    let header = 2;
    if (length === 126) [length, header] = [((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0), 4];
    else if (length === 127) [length, header] = [Number(Buffer.from(bytes.slice(at + 2, at + 10)).readBigUInt64BE()), 10];
    if (at + header + length > bytes.length) return undefined;
    if (((bytes[at] ?? 0) & 0x0f) === 0x8) return length >= 2 ? ((bytes[at + header] ?? 0) << 8) | (bytes[at + header + 1] ?? 0) : 1005;
    at += header + length;
  }
  return undefined;
}

/** A refusal judged against the status chapter 14 documents. */
function refusal(answer: RawAnswer, expected: number, opened: () => Outcome): Outcome {
  if (answer.status === expected) return ok();
  if (answer.status === 101) return opened();
  if (answer.status === 0) return nonStrict(`the server closed the connection without an HTTP answer (expected ${expected})`);
  return nonStrict(`refused with ${answer.status}, not ${expected}`);
}

// ---------------------------------------------------------------------------
// The cases

const originCase = (id: string, title: string, origin: (url: string) => string): SecurityCase => ({
  id,
  title,
  async run(target) {
    const cookie = await credentials(target);
    const answer = await handshake(target.url, { headers: [`Origin: ${origin(target.url)}`, ...cookie] });
    answer.socket.destroy();
    if (answer.status === 401 && cookie.length === 0) return nonStrict("refused with 401: credentials come first here; give --user to see whether Origin is checked");
    return refusal(answer, 403, () => failed(`opened for a page from ${origin(target.url)}${cookie.length > 0 ? ", with the user's cookie" : ""}: any such page can act as your users (§10.2 SHOULD)`));
  },
});

const refusedCredential = (id: string, title: string, path: (url: string) => string, headers: string[]): SecurityCase => ({
  id,
  title,
  async run(target) {
    const answer = await handshake(target.url, { path: path(target.url), headers });
    answer.socket.destroy();
    return refusal(answer, 401, () => nonStrict("exposed: opened without valid credentials (the RFC leaves authentication to the server, §10.5)"));
  },
});

export const securityCases: readonly SecurityCase[] = [
  originCase("origin-foreign", "a page from another site is refused with 403 (§10.2)", () => "http://evil.example"),
  originCase("origin-sibling", "a page on the same host, another port (the same site: SameSite does not help) is refused with 403 (§10.2)", (url) => {
    const { protocol, hostname, port } = new URL(url);
    return `${protocol === "wss:" ? "https" : "http"}://${hostname}:${Number(port) + 1}`;
  }),
  originCase("origin-null", "a sandboxed page (Origin: null) is refused with 403 (§10.2)", () => "null"),
  refusedCredential("no-credentials", "a handshake without credentials is refused with 401 before 101 (§10.5)", (url) => new URL(url).pathname, []),
  refusedCredential("forged-ticket", "a ticket nobody issued is refused with 401 (§10.5, §10.7)", () => `/?ticket=${randomHex()}`, []),
  refusedCredential("forged-session", "a session cookie nobody was given is refused with 401 (§10.5, §10.7)", (url) => new URL(url).pathname, [`Cookie: ${SESSION_COOKIE}=${randomHex()}`]),
  {
    id: "reused-ticket",
    title: "a ticket used once is refused the second time with 401 (§10.5)",
    async run(target) {
      if (target.user === undefined) return nonStrict("not run: needs --user NAME:PASSWORD (a server with POST /login and POST /ticket)");
      const cookie = await credentials(target);
      const once = await ticket(target, cookie);
      const first = await handshake(target.url, { path: `/?ticket=${once}` });
      first.socket.destroy();
      if (first.status !== 101) return failed(`a fresh ticket was refused with ${first.status}`);
      const again = await handshake(target.url, { path: `/?ticket=${once}`, localAddress: from(target.url, 7) });
      again.socket.destroy();
      return refusal(again, 401, () => failed("the same ticket opened a second connection: anyone who saw it (a log, a proxy) can use it"));
    },
  },
  {
    id: "handshake-storm",
    title: "40 handshakes at once from one address: refused with 429 and Retry-After once over the rate",
    async run(target) {
      const cookie = await credentials(target);
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let n = 0; n < 40; n++) {
        const answer = await handshake(target.url, { headers: cookie, localAddress: from(target.url, 8) });
        answer.socket.destroy();
        statuses.push(answer.status);
        if (answer.status === 429 || answer.status === 503) retryAfter ??= answer.headers["retry-after"];
      }
      const refused = statuses.findIndex((s) => s === 429 || s === 503);
      if (refused === -1) return nonStrict(`exposed: ${statuses.filter((s) => s === 101).length} of 40 handshakes opened, none refused for the rate`);
      if (retryAfter === undefined) return nonStrict(`refused from handshake ${refused + 1} on with ${statuses[refused]}, without Retry-After`);
      return statuses[refused] === 429 ? ok() : nonStrict(`refused from handshake ${refused + 1} on with ${statuses[refused]}, not 429`);
    },
  },
  {
    id: "connection-flood",
    title: "60 connections held open from one address: refused once over the per-address cap (429)",
    async run(target) {
      const cookie = await credentials(target);
      const held: RawAnswer[] = [];
      try {
        for (let n = 0; n < 60; n++) {
          const answer = await handshake(target.url, { headers: cookie, localAddress: from(target.url, 9) });
          held.push(answer);
          if (answer.status !== 101) {
            if (answer.status === 429) return ok();
            return answer.status === 503 ? nonStrict(`connection ${n + 1} refused with 503 (the total cap), not 429`) : nonStrict(`connection ${n + 1} answered ${answer.status}`);
          }
        }
        return nonStrict("exposed: 60 connections open from one address, none refused");
      } finally {
        for (const answer of held) answer.socket.destroy();
      }
    },
  },
  {
    id: "slowloris",
    title: `an upgrade request that never ends (a header line a second) is dropped within ${SLOWLORIS_WAIT / 1000} s`,
    async run(target) {
      const { hostname, port } = new URL(target.url);
      const address = from(target.url, 10);
      const socket = connect({ host: hostname, port: Number(port), ...(address ? { localAddress: address } : {}) });
      let closed = false;
      socket.on("close", () => (closed = true)).on("error", () => {});
      socket.write(`GET / HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\n`);
      const drip = setInterval(() => socket.writable && socket.write("X-Drip: 1\r\n"), 1_000);
      try {
        const dropped = await waitFor(() => closed, SLOWLORIS_WAIT);
        return dropped ? ok() : nonStrict(`exposed: still open after ${SLOWLORIS_WAIT / 1000} s (the RFC sets no deadline; Node's headersTimeout is 60 s by default)`);
      } finally {
        clearInterval(drip);
        socket.destroy();
      }
    },
  },
  {
    id: "giant-frame",
    title: "a frame announcing 2^60 bytes is closed with 1009 from its header alone (§10.4)",
    async run(target) {
      const answer = await handshake(target.url, { headers: await credentials(target), localAddress: from(target.url, 11) });
      try {
        if (answer.status !== 101) return nonStrict(`not run: the handshake was refused with ${answer.status}${target.user === undefined ? " (give --user)" : ""}`);
        answer.socket.write(Buffer.from([0x82, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
        await waitFor(() => closeCodeIn(answer.rest) !== undefined || answer.closed, 5_000);
        const code = closeCodeIn(answer.rest);
        if (code === 1009) return ok();
        if (code !== undefined) return nonStrict(`closed with ${code}, not 1009`);
        return answer.closed ? nonStrict("TCP closed without a close frame") : failed("no reaction in 5 s: the server waits for 2^60 bytes (§10.4 MUST)");
      } finally {
        answer.socket.destroy();
      }
    },
  },
  {
    id: "message-flood",
    title: "500 messages at once on one connection: closed with 1008 once over the rate",
    async run(target) {
      const answer = await handshake(target.url, { headers: await credentials(target), localAddress: from(target.url, 12) });
      try {
        if (answer.status !== 101) return nonStrict(`not run: the handshake was refused with ${answer.status}${target.user === undefined ? " (give --user)" : ""}`);
        const join = masked(0x81, new TextEncoder().encode(JSON.stringify({ type: "join", room: "flood" })));
        const say = masked(0x81, new TextEncoder().encode(JSON.stringify({ type: "say", room: "flood", text: "flood" })));
        answer.socket.write(Buffer.concat([join, ...Array.from({ length: 500 }, () => say)]));
        await waitFor(() => closeCodeIn(answer.rest) !== undefined || answer.closed, 5_000);
        const code = closeCodeIn(answer.rest);
        if (code === 1008) return ok();
        if (code !== undefined) return nonStrict(`closed with ${code}, not 1008`);
        return answer.closed ? nonStrict("TCP closed without a close frame") : nonStrict("exposed: 500 messages taken at once, the connection still open (the RFC sets no rate)");
      } finally {
        answer.socket.destroy();
      }
    },
  },
];

/** Runs every security case at once (each on its own address) and returns the results in order. */
export async function runSecurityConformance(target: SecurityTarget, options: { onResult?: (result: Result) => void } = {}): Promise<Result[]> {
  const results: Result[] = [];
  let reported = 0;
  await Promise.all(
    securityCases.map(async (c, index) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve(failed(`the case did not finish within ${SECURITY_CASE_TIME / 1000} s`)), SECURITY_CASE_TIME);
      });
      const outcome = await Promise.race([c.run(target).catch((error: Error) => failed(error.message)), bound]);
      clearTimeout(timer);
      results[index] = { id: c.id, title: c.title, group: "security", chapter: 14, ...outcome, ms: Date.now() - started };
      for (; results[reported] !== undefined; reported++) options.onResult?.(results[reported]!);
    }),
  );
  return results;
}
