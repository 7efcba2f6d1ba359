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
import { NotImplementedError } from "../lib/not-implemented.ts";
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

// ---------------------------------------------------------------------------
// Step 1 — Origin
// ---------------------------------------------------------------------------

/**
 * An origin as browsers serialize it (`scheme://host[:port]`, RFC 6454 §6.2):
 * lower case, the default port left out. Only http and https origins exist for
 * this check; anything else (`null`, a path, garbage) is undefined.
 */
export function normalizeOrigin(value: string): string | undefined {
  throw new NotImplementedError("normalizeOrigin in chapters/14-access.ts");
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
  throw new NotImplementedError("checkOrigin in chapters/14-access.ts");
}

// ---------------------------------------------------------------------------
// Step 2 — Who you are: a session cookie, one-time tickets
// ---------------------------------------------------------------------------

/** The name of the session cookie set by POST /login. */
export const SESSION_COOKIE = "chat_session";

/** The value of cookie `name` in a Cookie header (`a=1; b=2`, RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  throw new NotImplementedError("readCookie in chapters/14-access.ts");
}

/**
 * The Set-Cookie value for a session: readable by no script (HttpOnly),
 * withheld from cross-site requests (SameSite=Lax), for the whole server (Path=/),
 * for `maxAgeSeconds`. (Over https add Secure; chapter 11.)
 */
export function sessionCookie(value: string, maxAgeSeconds: number): string {
  throw new NotImplementedError("sessionCookie in chapters/14-access.ts");
}

/** 128 random bits as 32 hex digits: a session id or a ticket nobody can guess. */
export function randomToken(): string {
  throw new NotImplementedError("randomToken in chapters/14-access.ts");
}

/** Why a ticket was not accepted: for the server's log, never for the client (all three are 401). */
export type TicketProblem = "unknown" | "expired" | "used";

/**
 * Short-lived, one-time tickets. `issue(user)` makes one that is good for
 * `ttl` ms on the given clock, from its issue up to but not including issue + ttl;
 * `redeem(ticket)` accepts it once. A ttl that is not above 0 is a RangeError.
 */
export class TicketStore {
  constructor(ttl: number, now: () => number) {
    throw new NotImplementedError("new TicketStore in chapters/14-access.ts");
  }

  /** A new ticket for `user`. */
  issue(user: string): string {
    throw new NotImplementedError("TicketStore.issue in chapters/14-access.ts");
  }

  /** The ticket's user, once; afterwards, or after `ttl`, or for a ticket never issued, why not. */
  redeem(ticket: string): { ok: true; user: string } | { ok: false; problem: TicketProblem } {
    throw new NotImplementedError("TicketStore.redeem in chapters/14-access.ts");
  }
}

/** Sessions made by POST /login: an id (the cookie's value) for a user, for `ttl` ms (a ttl not above 0 is a RangeError). */
export class SessionStore {
  constructor(ttl: number, now: () => number) {
    throw new NotImplementedError("new SessionStore in chapters/14-access.ts");
  }

  /** A new session for `user`: its id. */
  create(user: string): string {
    throw new NotImplementedError("SessionStore.create in chapters/14-access.ts");
  }

  /** The user of session `id`, or undefined (never made, or expired). */
  userOf(id: string): string | undefined {
    throw new NotImplementedError("SessionStore.userOf in chapters/14-access.ts");
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
  throw new NotImplementedError("authenticate in chapters/14-access.ts");
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
  constructor(options: GateOptions) {
    throw new NotImplementedError("new AccessGate in chapters/14-access.ts");
  }

  /** The verdict on one handshake. */
  admit(request: HandshakeRequest): Admitted | Refusal {
    throw new NotImplementedError("AccessGate.admit in chapters/14-access.ts");
  }

  /** Connections admitted and not released: in all, or from `address`. */
  openCount(address?: string): number {
    throw new NotImplementedError("AccessGate.openCount in chapters/14-access.ts");
  }
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
  throw new NotImplementedError("createAccessServer in chapters/14-access.ts");
}
