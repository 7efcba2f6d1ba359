/**
 * Chapter 15 — Many processes (Part III: in production)
 *
 * One chat server is one process: its rooms live in its memory, so a message
 * said on server A never reaches a member connected to server B. This chapter
 * puts a bus between the servers, and makes restarts lose nothing:
 *
 * 1. the bus, in one process (createLocalBus): publish gives each room's
 *    message its seq, keeps it in the room's history and hands it to every
 *    subscriber of the room, in seq order.
 * 2. the same bus on Redis (createRedisBus): a channel per room for the live
 *    flow, a capped Stream per room for history, and one Lua script that
 *    counts, appends and publishes in one atomic step, so seq order is stream
 *    order is delivery order on every server.
 * 3. the cluster chat server (createClusterChatServer): chapter 13's chat.v1
 *    on the bus, `since` resumed without a gap or a duplicate at the seam, a
 *    GET /health, and a graceful shutdown with 1001 (RFC 6455 §7.4.1).
 * 4. the reconnecting client (connectChat): resumes every room with `since`
 *    after each reconnect, and backs off with your chapter 09's backoffDelay.
 *
 * The sockets are the `ws` package of chapter 10: what is new here is all
 * between the servers. chat.v1 and the rate limit are your chapter 13's.
 *
 * Page: docs/chapters/15-cluster.md · Tests: tests/15-cluster.test.ts
 * Check: npm run grade -- 15
 */
import { NotImplementedError } from "../lib/not-implemented.ts";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createClient } from "redis";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { CloseCode } from "../lib/close-codes.ts";
// The reconnection schedule is your chapter 09's (its step 3): the same full jitter, for Redis and for chat clients.
import { backoffDelay, type BackoffOptions } from "./09-echo-client.ts";
import { CHAT_PROTOCOL, parseClientMessage, TokenBucket, type ServerMessage } from "./13-rooms.ts";

/** A chat message as chat.v1 sends it: `seq` per room, from 1, across every server of the cluster. */
export type ChatMessage = Extract<ServerMessage, { type: "message" }>;

/** What a server hands the bus to publish: the bus gives it its `seq` and its room. */
export interface Draft {
  from: string;
  text: string;
  time: number;
}

/** What the bus keeps of a room: its last seq (0 before the first message) and the kept messages asked for. */
export interface RoomHistory {
  /** The room's last seq, across the cluster: 0 before its first message. */
  last: number;
  /** The kept messages with a seq after `since`, oldest first (none when `since` was not given). */
  kept: ChatMessage[];
}

/** Called with every message of a room the listener subscribed to, in seq order. */
export type BusListener = (message: ChatMessage) => void;

/**
 * What carries a room's messages between the servers of a cluster.
 *
 * - `publish` gives the message the room's next seq (from 1, +1 per message,
 *   whichever server publishes), keeps it in the room's history (the newest
 *   `history` messages, exactly: the workbook's policy) and delivers it to
 *   every listener of the room, on every server, in seq order. It resolves
 *   with the message as delivered; it rejects at once when the bus is down.
 * - `subscribe` resolves once the listener will get every message published
 *   from then on; `unsubscribe` stops it. A room is subscribed at the broker
 *   while it has at least one listener here.
 * - `history(room, since)` reads the room's last seq and, with `since`, every
 *   kept message after it, in one atomic step.
 * - `up` and `onHealth` say whether the bus works right now: a server says
 *   so instead of failing in silence, and recovers when it comes back.
 */
export interface Bus {
  publish(room: string, draft: Draft): Promise<ChatMessage>;
  subscribe(room: string, listener: BusListener): Promise<void>;
  unsubscribe(room: string, listener: BusListener): Promise<void>;
  history(room: string, since?: number): Promise<RoomHistory>;
  /** True while the bus can publish and deliver. */
  readonly up: boolean;
  /** Told each time `up` changes, with why; returns a function that stops telling. */
  onHealth(listener: (up: boolean, reason: string) => void): () => void;
  /** Lets go of everything (connections, listeners); resolves when done. */
  close(): Promise<void>;
}

export interface BusOptions {
  /** Messages kept per room for `since`, exactly (the newest). Default 100; 0 keeps none. */
  history?: number;
}

export interface RedisBusOptions extends BusOptions {
  /** Prefix of every key and channel this bus uses. Default "chat". */
  prefix?: string;
  /** How long to wait for the first connection, in ms, before giving up with an error. Default 5 s. */
  connectTimeoutMs?: number;
  /** The backoff between reconnection attempts to Redis (chapter 09's backoffDelay). Default { baseMs: 50, capMs: 2000 }. */
  reconnect?: BackoffOptions;
}

/**
 * The bus inside one process: the default, needing nothing else. Every server
 * given the same bus shares its rooms (two servers in one test process).
 * Delivery is asynchronous (a microtask later), as it is over a network.
 */
export function createLocalBus(options: BusOptions = {}): Bus {
  throw new NotImplementedError("createLocalBus in chapters/15-cluster.ts");
}

/**
 * The bus on a real Redis (`redis://host:port`), with the `redis` package:
 * one connection for commands, one for pub/sub (a subscribed connection can
 * run nothing else). Resolves once both are ready; rejects after
 * `connectTimeoutMs` naming the URL. While Redis is away, `up` is false and
 * every publish, subscribe and history read rejects at once (nothing waits in
 * a queue); the client reconnects with backoff and subscribes again by itself.
 */
export async function createRedisBus(url: string, options: RedisBusOptions = {}): Promise<Bus> {
  throw new NotImplementedError("createRedisBus in chapters/15-cluster.ts");
}

// ---------------------------------------------------------------------------
// The cluster chat server
// ---------------------------------------------------------------------------

export interface ClusterChatServerOptions {
  /** The bus to share with the other servers. Default: a Redis bus on `redisUrl`, else a new local bus. */
  bus?: Bus;
  /** Redis to make the bus on (`redis://127.0.0.1:6379`), when no `bus` is given. The server closes a bus it made. */
  redisUrl?: string;
  /** History kept per room, for a bus the server makes. Default 100. */
  history?: number;
  /** This server's name: member ids are `<serverId>.c<n>`, unique across the cluster. Default: random. */
  serverId?: string;
  /** The clock for `time`, in ms. Default Date.now. */
  now?: () => number;
  /** Chapter 13's policy on rate (1008 past it). Default { burst: 20, perSecond: 10 }; false turns it off. */
  rate?: { burst: number; perSecond: number } | false;
  /** Chapter 13's bound on a member's queued bytes (1013 past it). Default 1 MiB. */
  maxQueuedBytes?: number;
  /** The largest message a client may send, in bytes (1009 past it). Default 64 KiB. */
  maxMessageSize?: number;
  /** Told how each member's connection ended (the code the server closed with, or the client's). */
  onClose?: (info: { id: string; code: number; reason: string }) => void;
  /** Told when the bus goes down or comes back. */
  onBusHealth?: (up: boolean, reason: string) => void;
  /**
   * The heartbeat (RFC 6455 §5.5.2, §5.5.3): every `pingInterval` ms each member
   * is sent a ping, and a member that has not answered the previous one with a
   * pong is dropped. Default 30 s; false turns it off.
   */
  pingInterval?: number | false;
}

export interface ShutdownOptions {
  /** Over how long to spread the members' 1001 closes, in ms. Default 10 s. */
  drainMs?: number;
  /** How long to wait for each member's close handshake before dropping it, in ms. Default 5 s. */
  closeTimeoutMs?: number;
}

export interface ClusterChatServer {
  /** Starts listening (port 0: any free port); resolves with the ws:// URL. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * The graceful shutdown: health answers 503 at once and new WebSocket
   * upgrades are refused with 503; then every member gets a close frame with
   * 1001 (going away, RFC 6455 §7.4.1), spread over `drainMs`; each close
   * handshake is waited for at most `closeTimeoutMs`; then the server stops
   * listening, closes a bus it made, and resolves. Calling it twice is one shutdown.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** shutdown with no drain period. */
  close(): Promise<void>;
  /** True from the start of a shutdown on. */
  readonly draining: boolean;
  /** WebSocket members connected right now. */
  readonly memberCount: number;
  /** The bus this server publishes on (once listening, for a Redis bus it made). */
  readonly bus: Bus | undefined;
}

/**
 * Chapter 13's chat (chat.v1, the subprotocol required, the rate limit, the
 * slow-member bound) with its rooms on a bus, so any number of these servers
 * make one chat. GET /health answers 200 while serving, 503 once draining.
 *
 * - A join subscribes this server to the room (first member here), then reads
 *   the room's history: "joined" with the room's last seq, then with `since`
 *   every kept message after it (a "gap" first for what is no longer kept),
 *   then the live flow, from the first seq after what was sent: nothing twice,
 *   nothing left out.
 * - A say is published on the bus; every member of the room, on every server,
 *   the sender included, gets it from the bus with its seq.
 * - While the bus is down, a join or a say is answered with an error naming
 *   it; when it comes back, each room catches up from its history, and a hole
 *   the history can no longer fill is announced as a gap, never skipped silently.
 *   A room whose count went down (a Redis back without its data) started over:
 *   its members get "joined" with the new count, then what is kept of it.
 */
export function createClusterChatServer(options: ClusterChatServerOptions = {}): ClusterChatServer {
  throw new NotImplementedError("createClusterChatServer in chapters/15-cluster.ts");
}

// ---------------------------------------------------------------------------
// The reconnecting client
// ---------------------------------------------------------------------------

export interface ConnectChatOptions {
  /** Rooms to join now and to resume after every reconnect. */
  rooms?: readonly string[];
  /** Every chat.v1 message from the server, after the client's own bookkeeping (a duplicate seq is dropped). */
  onMessage?: (message: ServerMessage) => void;
  /** What the connection is doing: "open", "closed" (with the close code), "waiting" (with the delay before the next attempt), "stopped". */
  onState?: (state: ChatClientState) => void;
  /** The backoff between attempts (chapter 09's backoffDelay). Default { baseMs: 100, capMs: 10_000 }. */
  backoff?: BackoffOptions;
  /** The random source for the jitter. Default Math.random. */
  random?: () => number;
  /** How long one attempt may take to open, in ms, before it counts as failed. Default 5 s. */
  connectTimeoutMs?: number;
  /** Give up after this many attempts in a row without success. Default: never. */
  maxAttempts?: number;
}

export type ChatClientState =
  | { state: "open"; url: string }
  | { state: "closed"; code: number }
  | { state: "waiting"; attempt: number; delayMs: number }
  | { state: "stopped"; reason: string };

export interface ReconnectingChat {
  /** Joins a room (now if open, and again after every reconnect, from the last seq seen). */
  join(room: string): void;
  /** Leaves a room. */
  leave(room: string): void;
  /** Says something; false when not connected right now (nothing is queued: the caller decides). */
  say(room: string, text: string): boolean;
  /** The last seq seen in a room (a message, a joined, or the end of a gap). */
  lastSeq(room: string): number | undefined;
  /** True while a connection is open. */
  readonly connected: boolean;
  /** Stops for good: closes with 1000 and never reconnects. */
  close(): Promise<void>;
}

/**
 * A chat.v1 client that comes back by itself: after any closure it did not
 * ask for, it waits `backoffDelay(attempt)` and connects again (to the next
 * URL, if given several), then joins each of its rooms with `since` = the last
 * seq it saw. The attempt count goes back to 0 once the server answers a join
 * with "joined" (once a connection opens, for a client with no rooms). A
 * message whose seq it has already seen is dropped; a "joined" below the last
 * seq it saw means the room's count started over (a Redis that lost its data),
 * and it starts over from 0. No URL, or a backoff that chapter 09's
 * backoffDelay refuses, is a RangeError at once.
 */
export function connectChat(url: string | readonly string[], options: ConnectChatOptions = {}): ReconnectingChat {
  throw new NotImplementedError("connectChat in chapters/15-cluster.ts");
}
