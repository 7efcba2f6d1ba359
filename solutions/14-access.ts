/**
 * Chapter 14 — Who may connect (Part III: in production)
 *
 * Exercise: a gate in front of your chapter 13 chat server. Every decision is
 * sans-I/O (a string in, a verdict out, the clock given), so each rule is a
 * plain function call to test; the node:http shell only carries them out.
 * 1. Origin (RFC 6455 §4.2.2 /origin/, §10.2): an allow-list of web origins;
 *    a browser page from anywhere else is refused with 403 before any upgrade.
 * 2. Who you are (§10.5): a session cookie, and short-lived one-time tickets
 *    presented in the URL (`?ticket=`); without either, 401 before any upgrade.
 * 3. Limits (§10.4): handshakes per address per second (429 and Retry-After),
 *    a total cap (503), connections per address (429).
 * 4. The shell: chapter 13's server with the gate in front of its upgrades,
 *    and two tiny HTTP endpoints, POST /login and POST /ticket.
 *
 * Steps 1 to 3 use no node: module; step 4 is the only one that does.
 *
 * Page: docs/chapters/14-access.md · Tests: tests/14-access.test.ts
 * Check: npm run grade -- 14
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { getHeader } from "../lib/http-headers.ts";
import { createChatServer, TokenBucket, type ChatServer, type ChatServerOptions } from "./13-rooms.ts";

/** A handshake the gate refuses: the HTTP status, a reason for people, and headers to send with it. */
export interface Refusal {
  ok: false;
  status: number;
  reason: string;
  headers: Record<string, string>;
}

// #region reference-only
const refuse = (status: number, reason: string, headers: Record<string, string> = {}): Refusal => ({ ok: false, status, reason, headers });
// #endregion

// ---------------------------------------------------------------------------
// Step 1 — Origin
// ---------------------------------------------------------------------------

/**
 * An origin as browsers serialize it (`scheme://host[:port]`, RFC 6454 §6.2):
 * lower case, the default port left out. Only http and https origins exist for
 * this check; anything else (`null`, a path, garbage) is undefined.
 */
export function normalizeOrigin(value: string): string | undefined {
  // #region solution step 1
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  // An Origin header is exactly scheme://host[:port]: with a path, a query or user info it is not one.
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "" || !/^[a-z]+:\/\/[^/]+\/?$/i.test(value)) return undefined;
  return url.origin;
  // #endregion
}

/**
 * RFC 6455 §4.2.2 (its /origin/ step) and §10.2: the Origin header says which
 * web page opened the WebSocket. With an allow-list, a page from an origin not
 * on it is refused with 403; an empty list allows no page. Without one
 * (`allow` undefined) nothing is checked.
 * The workbook's policy: a request without Origin is let through (§4.2.1 item 7:
 * a request without one SHOULD NOT be taken as from a browser; authentication
 * still applies).
 */
export function checkOrigin(origin: string | undefined, allow: readonly string[] | undefined): { ok: true } | Refusal {
  // #region solution step 1
  if (allow === undefined || origin === undefined) return { ok: true };
  const normalized = normalizeOrigin(origin);
  if (normalized !== undefined && allow.some((entry) => normalizeOrigin(entry) === normalized)) return { ok: true };
  return refuse(403, `origin ${origin} is not allowed here`);
  // #endregion
}

// ---------------------------------------------------------------------------
// Step 2 — Who you are: a session cookie, one-time tickets
// ---------------------------------------------------------------------------

/** The name of the session cookie set by POST /login. */
export const SESSION_COOKIE = "chat_session";

/** The value of cookie `name` in a Cookie header (`a=1; b=2`, RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  // #region solution step 2
  if (header === undefined) return undefined;
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    if (pair.slice(0, equals).trim() === name) return pair.slice(equals + 1).trim();
  }
  return undefined;
  // #endregion
}

/**
 * The Set-Cookie value for a session: readable by no script (HttpOnly),
 * withheld from cross-site requests (SameSite=Lax), for the whole server (Path=/),
 * for `maxAgeSeconds`. (Over https add Secure; chapter 11.)
 */
export function sessionCookie(value: string, maxAgeSeconds: number): string {
  // #region solution step 2
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeSeconds)}`;
  // #endregion
}

/** 128 random bits as 32 hex digits: a session id or a ticket nobody can guess. */
export function randomToken(): string {
  // #region solution step 2
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  // #endregion
}

/** Why a ticket was not accepted: for the server's log, never for the client (all three are 401). */
export type TicketProblem = "unknown" | "expired" | "used";

/**
 * Short-lived, one-time tickets. `issue(user)` makes one that is good for
 * `ttl` ms on the given clock, from its issue up to but not including issue + ttl;
 * `redeem(ticket)` accepts it once. A ttl that is not above 0 is a RangeError.
 */
export class TicketStore {
  // #region reference-only
  readonly #ttl: number;
  readonly #now: () => number;
  /** Every ticket not yet expired, used or not (so a second use is told apart from a guess). */
  readonly #tickets = new Map<string, { user: string; expires: number; used: boolean }>();
  // #endregion

  constructor(ttl: number, now: () => number) {
    // #region solution step 2
    if (!(ttl > 0)) throw new RangeError(`a ticket's lifetime is a number of ms above 0, not ${ttl}`);
    this.#ttl = ttl;
    this.#now = now;
    // #endregion
  }

  /** A new ticket for `user`. */
  issue(user: string): string {
    // #region solution step 2
    const now = this.#now();
    // Forget expired tickets as new ones come: the store never grows past what one ttl issues.
    for (const [ticket, entry] of this.#tickets) if (entry.expires <= now) this.#tickets.delete(ticket);
    const ticket = randomToken();
    this.#tickets.set(ticket, { user, expires: now + this.#ttl, used: false });
    return ticket;
    // #endregion
  }

  /** The ticket's user, once; afterwards, or after `ttl`, or for a ticket never issued, why not. */
  redeem(ticket: string): { ok: true; user: string } | { ok: false; problem: TicketProblem } {
    // #region solution step 2
    const entry = this.#tickets.get(ticket);
    if (entry === undefined) return { ok: false, problem: "unknown" };
    if (entry.expires <= this.#now()) {
      this.#tickets.delete(ticket);
      return { ok: false, problem: "expired" };
    }
    if (entry.used) return { ok: false, problem: "used" };
    entry.used = true;
    return { ok: true, user: entry.user };
    // #endregion
  }
}

/** Sessions made by POST /login: an id (the cookie's value) for a user, for `ttl` ms (a ttl not above 0 is a RangeError). */
export class SessionStore {
  // #region reference-only
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, { user: string; expires: number }>();
  // #endregion

  constructor(ttl: number, now: () => number) {
    // #region solution step 2
    if (!(ttl > 0)) throw new RangeError(`a session's lifetime is a number of ms above 0, not ${ttl}`);
    this.#ttl = ttl;
    this.#now = now;
    // #endregion
  }

  /** A new session for `user`: its id. */
  create(user: string): string {
    // #region solution step 2
    const now = this.#now();
    for (const [id, entry] of this.#sessions) if (entry.expires <= now) this.#sessions.delete(id);
    const id = randomToken();
    this.#sessions.set(id, { user, expires: now + this.#ttl });
    return id;
    // #endregion
  }

  /** The user of session `id`, or undefined (never made, or expired). */
  userOf(id: string): string | undefined {
    // #region solution step 2
    const entry = this.#sessions.get(id);
    if (entry === undefined || entry.expires <= this.#now()) return undefined;
    return entry.user;
    // #endregion
  }
}

/** The 401 challenge (RFC 9110 §11.6.1): the scheme is this chat's own, naming what to bring. */
export const CHALLENGE = 'Ticket realm="chat"';

/**
 * RFC 6455 §10.5: the server decides who is talking, before 101. A ticket in
 * the request's URL (`/?ticket=T`) wins; otherwise the session cookie. The
 * workbook's policy: a ticket that fails (unknown, expired, used) is 401 even
 * if a cookie came along, and so is no credential at all; every 401 carries
 * `WWW-Authenticate: CHALLENGE`.
 */
export function authenticate(
  request: { url: string; cookie: string | undefined },
  tickets: Pick<TicketStore, "redeem">,
  sessions: Pick<SessionStore, "userOf">,
): { ok: true; user: string } | Refusal {
  // #region solution step 2
  const challenge = { "WWW-Authenticate": CHALLENGE };
  const ticket = new URL(request.url, "ws://any/").searchParams.get("ticket");
  if (ticket !== null) {
    const redeemed = tickets.redeem(ticket);
    return redeemed.ok ? { ok: true, user: redeemed.user } : refuse(401, `ticket ${redeemed.problem}: fetch a new one with POST /ticket`, challenge);
  }
  const session = readCookie(request.cookie, SESSION_COOKIE);
  const user = session === undefined ? undefined : sessions.userOf(session);
  if (user !== undefined) return { ok: true, user };
  return refuse(401, session === undefined ? "no credentials: log in, or bring a ticket" : "session unknown or expired: log in again", challenge);
  // #endregion
}

// ---------------------------------------------------------------------------
// Step 3 — Limits: the gate
// ---------------------------------------------------------------------------

/** The workbook's limits on who connects how often (each has a default; the page's table lists them). */
export interface LimitOptions {
  /** Connections open at once, in all; one more is refused with 503 and Retry-After. Default 1000. */
  maxConnections?: number;
  /** Connections open at once from one client address; one more is refused with 429. Default 10. */
  maxConnectionsPerAddress?: number;
  /** Handshakes per client address: `burst` at once, `perSecond` on average; one more is 429 with Retry-After. Default { burst: 10, perSecond: 2 }; `false` turns it off. */
  handshakeRate?: { burst: number; perSecond: number } | false;
}

export interface GateOptions extends LimitOptions {
  /** The web origins allowed to connect (step 1); undefined: no Origin check. */
  allowOrigins?: readonly string[];
  /** Where to check credentials (step 2); undefined: anyone may connect, as in chapter 13. */
  auth?: { tickets: Pick<TicketStore, "redeem">; sessions: Pick<SessionStore, "userOf"> };
  /** The clock, in ms, for the handshake rate. */
  now: () => number;
}

/** What a client's handshake carries that the gate looks at. */
export interface HandshakeRequest {
  /** The client's IP address, as the socket sees it. */
  address: string;
  /** The Origin header, if any. */
  origin: string | undefined;
  /** The request target: path and query (`/?ticket=...`). */
  url: string;
  /** The Cookie header, if any. */
  cookie: string | undefined;
}

/** A handshake let through: who it is (undefined without authentication), and `release()` to call once its connection is gone. */
export interface Admitted {
  ok: true;
  user: string | undefined;
  release: () => void;
}

/**
 * Decides, for each handshake, before anything else is spent on it: the
 * handshake rate first (it counts every attempt, refused or not), then the
 * total cap, then the cap per address, then Origin, then credentials.
 * An admitted handshake holds its place in the counts until `release()`.
 */
export class AccessGate {
  // #region reference-only
  readonly #options: Required<Omit<GateOptions, "allowOrigins" | "auth">> & GateOptions;
  readonly #buckets = new Map<string, { bucket: TokenBucket; seen: number }>();
  #swept = -Infinity;
  readonly #open = new Map<string, number>();
  #total = 0;
  // #endregion

  constructor(options: GateOptions) {
    // #region solution step 3
    this.#options = { maxConnections: 1000, maxConnectionsPerAddress: 10, handshakeRate: { burst: 10, perSecond: 2 }, ...options };
    const { maxConnections, maxConnectionsPerAddress } = this.#options;
    if (!(maxConnections >= 1) || !(maxConnectionsPerAddress >= 1)) throw new RangeError(`connection caps are counts of 1 or more, not ${maxConnections} and ${maxConnectionsPerAddress}`);
    // #endregion
  }

  /** The verdict on one handshake. */
  admit(request: HandshakeRequest): Admitted | Refusal {
    // #region solution step 3
    const { address } = request;
    const rate = this.#options.handshakeRate;
    if (rate !== false && !this.#bucketFor(address, rate).take()) {
      // RFC 6585 §4: 429 may say when to come back; one token takes 1/perSecond seconds.
      return refuse(429, `too many handshakes from ${address}`, { "Retry-After": String(Math.max(1, Math.ceil(1 / rate.perSecond))) });
    }
    if (this.#total >= this.#options.maxConnections) return refuse(503, "the server is full", { "Retry-After": "5" });
    const fromHere = this.#open.get(address) ?? 0;
    if (fromHere >= this.#options.maxConnectionsPerAddress) return refuse(429, `too many connections from ${address}`);
    const origin = checkOrigin(request.origin, this.#options.allowOrigins);
    if (!origin.ok) return origin;
    let user: string | undefined;
    if (this.#options.auth !== undefined) {
      const who = authenticate(request, this.#options.auth.tickets, this.#options.auth.sessions);
      if (!who.ok) return who;
      user = who.user;
    }
    this.#total += 1;
    this.#open.set(address, fromHere + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#total -= 1;
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left === 0) this.#open.delete(address);
      else this.#open.set(address, left);
    };
    return { ok: true, user, release };
    // #endregion
  }

  /** Connections admitted and not released: in all, or from `address`. */
  openCount(address?: string): number {
    // #region solution step 3
    return address === undefined ? this.#total : (this.#open.get(address) ?? 0);
    // #endregion
  }

  // #region reference-only
  /**
   * One bucket per address, dropped once it is full again: a bucket left alone
   * for burst/perSecond seconds has refilled, and a new one would be the same.
   * Without this the map keeps every address ever seen (IPv6 makes addresses
   * cheap). Swept at most once per refill time, so the map holds only the
   * addresses of the last two refill times, and the sweeps cost O(1) per admit on average.
   */
  #bucketFor(address: string, rate: { burst: number; perSecond: number }): TokenBucket {
    const now = this.#options.now();
    const refill = (rate.burst / rate.perSecond) * 1000;
    if (now - this.#swept >= refill) {
      for (const [key, entry] of this.#buckets) if (now - entry.seen >= refill) this.#buckets.delete(key);
      this.#swept = now;
    }
    let entry = this.#buckets.get(address);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(rate.burst, rate.perSecond, this.#options.now), seen: now };
      this.#buckets.set(address, entry);
    }
    entry.seen = now;
    return entry.bucket;
  }
  // #endregion
}

// ---------------------------------------------------------------------------
// Step 4 — The shell: chapter 13's server behind the gate
// ---------------------------------------------------------------------------

export interface AccessServerOptions extends ChatServerOptions, LimitOptions {
  /** The web origins allowed to connect (`--allow-origin`); undefined: no Origin check. */
  allowOrigins?: readonly string[];
  /** Users who may log in, name → password; with it, every handshake must authenticate. Undefined: anyone, as in chapter 13. */
  users?: Readonly<Record<string, string>>;
  /** How long a ticket is good for, in ms. Default 30 s. */
  ticketTtl?: number;
  /** How long a session lasts, in ms. Default 8 h. */
  sessionTtl?: number;
  /** Told of each refusal and of nothing else: each refused handshake (the status and reason the client got), each refused POST /login and POST /ticket. */
  onRefused?: (info: { address: string; status: number; reason: string }) => void;
  /**
   * Who may join which room, by the user the gate admitted (undefined without
   * `users`): asked on each join (chapter 13's `authorizeJoin`). A refused join
   * gets an error message, and the connection stays. Default: everyone.
   */
  mayJoin?: (user: string | undefined, room: string) => boolean;
}

// #region reference-only
const MAX_BODY = 4 * 1024;
const STATUS_TEXT: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests", 503: "Service Unavailable" };

/** The whole HTTP refusal, written before the socket is ended: no 101, no WebSocket. */
function refusalResponse(refusal: Refusal): string {
  const body = `${refusal.reason}\n`;
  const headers = { ...refusal.headers, "Content-Type": "text/plain; charset=utf-8", "Content-Length": String(Buffer.byteLength(body)), Connection: "close" };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status] ?? "Refused"}\r\n${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** A small request body, or undefined if it is larger than MAX_BODY. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(undefined));
  });
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)), "Cache-Control": "no-store" });
  res.end(text);
}
// #endregion

/**
 * The chat server of chapter 13 behind an AccessGate. Chapter 13 registered an
 * "upgrade" and a "request" listener on the node:http server; this takes them
 * and puts itself in front: a refused handshake gets its HTTP status and no
 * 101, an admitted one goes on to chapter 13 as before. With `users`:
 * - POST /login, JSON `{"user":U,"password":P}` → 204 and the session cookie (401 if wrong);
 * - POST /ticket with the cookie → 200 `{"ticket":T}` (401 without a session).
 * Every other plain request goes to chapter 13's listener.
 */
export function createAccessServer(options: AccessServerOptions = {}): ChatServer {
  // #region solution step 4
  const now = options.now ?? Date.now;
  const sessionTtl = options.sessionTtl ?? 8 * 3600_000;
  const tickets = new TicketStore(options.ticketTtl ?? 30_000, now);
  const sessions = new SessionStore(sessionTtl, now);
  const users = options.users;
  const gate = new AccessGate({ ...options, now, auth: users === undefined ? undefined : { tickets, sessions } });

  const server = createServer();
  // Who each upgrade request is, once the gate has admitted it: chapter 13 asks by request on each join.
  const admitted = new WeakMap<IncomingMessage, string | undefined>();
  const { mayJoin = () => true, ...chatOptions } = options;
  const authorizeJoin = (req: IncomingMessage, room: string) =>
    admitted.has(req) && mayJoin(admitted.get(req), room) && (chatOptions.authorizeJoin?.(req, room) ?? true);
  const chat = createChatServer({ ...chatOptions, authorizeJoin }, server);
  // Chapter 13's listeners, taken off the server: the gate decides first.
  const chatUpgrade = server.listeners("upgrade") as ((req: IncomingMessage, socket: Socket, head: Buffer) => void)[];
  const chatRequest = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("upgrade");
  server.removeAllListeners("request");

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const address = socket.remoteAddress ?? "";
    const verdict = gate.admit({ address, origin: getHeader(req.headers, "origin"), url: req.url ?? "/", cookie: getHeader(req.headers, "cookie") });
    if (!verdict.ok) {
      options.onRefused?.({ address, status: verdict.status, reason: verdict.reason });
      // Refused before 101 (never upgrade, then close): the client's WebSocket never opens.
      socket.end(refusalResponse(verdict));
      const timer = setTimeout(() => socket.destroy(), options.closeTimeout ?? 5_000);
      socket.once("close", () => clearTimeout(timer));
      return;
    }
    socket.once("close", verdict.release);
    admitted.set(req, verdict.user);
    for (const listener of chatUpgrade) listener.call(server, req, socket, head);
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://any/").pathname;
    if (users === undefined || req.method !== "POST" || (path !== "/login" && path !== "/ticket")) {
      for (const listener of chatRequest) listener.call(server, req, res);
      return;
    }
    const address = req.socket.remoteAddress ?? "";
    if (path === "/ticket") {
      const user = sessions.userOf(readCookie(getHeader(req.headers, "cookie"), SESSION_COOKIE) ?? "");
      if (user === undefined) {
        options.onRefused?.({ address, status: 401, reason: "ticket without a session" });
        answer(res, 401, { error: "log in first" }, { "WWW-Authenticate": CHALLENGE });
        return;
      }
      answer(res, 200, { ticket: tickets.issue(user) });
      return;
    }
    void readBody(req).then((body) => {
      let login: { user?: unknown; password?: unknown } = {};
      try {
        login = JSON.parse(body ?? "") as typeof login;
      } catch {
        // an empty object: refused below like a wrong password
      }
      const { user, password } = login ?? {};
      const known = typeof user === "string" && Object.hasOwn(users, user) ? users[user] : undefined;
      if (known === undefined || typeof password !== "string" || password !== known) {
        options.onRefused?.({ address, status: 401, reason: "login refused" });
        answer(res, 401, { error: "unknown user or wrong password" }, { "WWW-Authenticate": CHALLENGE });
        return;
      }
      res.writeHead(204, { "Set-Cookie": sessionCookie(sessions.create(user as string), sessionTtl / 1000), "Cache-Control": "no-store" });
      res.end();
    });
  });

  return chat;
  // #endregion
}
