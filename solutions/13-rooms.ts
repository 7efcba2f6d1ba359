/**
 * Chapter 13 — Rooms and broadcast (Part III: in production)
 *
 * Exercise, in two halves, like chapters 07 and 08:
 * 1. the hub, sans-I/O: rooms, join and leave, a per-room sequence number and
 *    a little history, the chat.v1 messages read and answered (errors as
 *    messages, never a crash), and a token bucket per connection. It decides
 *    *what goes to whom*; it never touches a socket, a timer or the clock
 *    (the clock is given), so every rule is a plain function call to test.
 * 2. the shell, on node:http and your chapters 02, 04, 07, 08 and 12: it
 *    negotiates the subprotocol chat.v1, encodes each broadcast frame once
 *    and writes the same bytes to every member, and closes a member that
 *    cannot keep up (1013) before it costs the others memory.
 *
 * chat.v1 (one JSON object per text message), client → server:
 *   {"type":"join","room":R,"since"?:SEQ} {"type":"leave","room":R} {"type":"say","room":R,"text":T}
 * server → client:
 *   {"type":"joined","room":R,"seq":LAST} {"type":"message","room":R,"seq":N,"from":ID,"text":T,"time":MS}
 *   {"type":"gap","room":R,"from":A,"to":B} {"type":"error","reason":TEXT}
 *
 * The hub's half uses no node: module; the shell's half is the only one that does.
 *
 * Page: docs/chapters/13-rooms.md · Tests: tests/13-rooms.test.ts
 * Check: npm run grade -- 13
 */
import { createServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { CloseCode } from "../lib/close-codes.ts";
import { getHeader } from "../lib/http-headers.ts";
import { Opcode } from "../lib/frame.ts";
import type { UpgradeDecision } from "../lib/handshake.ts";
import type { Message } from "../lib/message.ts";
import { checkUpgradeRequest } from "./02-handshake.ts";
import { encodeFrame } from "./04-frames.ts";
import { Connection, type ConnectionEvent } from "./07-connection.ts";
import { handshakeResponse } from "./08-echo-server.ts";
import { selectSubprotocol } from "./12-extensions.ts";

/** The subprotocol this chat speaks (RFC 6455 §1.9): its name says which message format, and which version. */
export const CHAT_PROTOCOL = "chat.v1";

/** What a client may send (chat.v1). */
export type ClientMessage =
  | { type: "join"; room: string; since?: number }
  | { type: "leave"; room: string }
  | { type: "say"; room: string; text: string };

/** What the server sends (chat.v1). */
export type ServerMessage =
  | { type: "joined"; room: string; seq: number }
  | { type: "message"; room: string; seq: number; from: string; text: string; time: number }
  | { type: "gap"; room: string; from: number; to: number }
  | { type: "error"; reason: string };

/**
 * What the hub decided, for the shell to carry out in order: one message to
 * some connections (by id), or a connection to close with a code.
 */
export type HubAction =
  | { type: "send"; to: readonly string[]; message: ServerMessage }
  | { type: "close"; id: string; code: number; reason: string };

/** A client message read, or why it can't be. */
export type ParsedClientMessage = { ok: true; message: ClientMessage } | { ok: false; reason: string };

export interface HubOptions {
  /** Messages kept per room for `since` (the newest ones). Default 100; 0 keeps none. */
  history?: number;
  /** The clock, in ms: stamps each message's `time` and refills the token buckets. Default `Date.now`. */
  now?: () => number;
  /**
   * The workbook's policy on rate: each connection may send `burst` messages
   * at once and `perSecond` on average; one more is closed with 1008.
   * Default { burst: 20, perSecond: 10 }; `false` turns it off.
   */
  rate?: { burst: number; perSecond: number } | false;
  /** How many rooms may exist; joining one more is answered with an error. Default 10,000. */
  maxRooms?: number;
  /**
   * Who may join which room (chapter 14 gives it): asked on each join, before
   * the room is made or joined. A refused join is answered with an error to
   * that connection alone: no membership, no room made, and the connection
   * stays (it may be in other rooms). Default: everyone may join every room.
   */
  mayJoin?: (id: string, room: string) => boolean;
}

// #region reference-only
const ROOM_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HUB_DEFAULTS: Required<HubOptions> = { history: 100, now: Date.now, rate: { burst: 20, perSecond: 10 }, maxRooms: 10_000, mayJoin: () => true };
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
// #endregion

/** The room-name rule of chat.v1: 1 to 64 characters, each a letter, a digit, `.`, `_` or `-`. */
export function isRoomName(value: unknown): value is string {
  // #region solution step 1
  return typeof value === "string" && ROOM_NAME.test(value);
  // #endregion
}

/**
 * One client message (the text of one WebSocket text message) read and
 * checked: a JSON object with a known `type`, a valid room, a string `text`
 * for "say", a whole number ≥ 0 for `since`. Fields it does not know are
 * ignored (a later version may add some). Never throws: what can't be read
 * is `{ ok: false, reason }`, which the hub answers with an error message.
 */
export function parseClientMessage(text: string): ParsedClientMessage {
  // #region solution step 1
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON: chat.v1 sends one JSON object per text message" };
  }
  if (!isObject(value)) return { ok: false, reason: "not a JSON object" };
  const { type, room } = value;
  if (type !== "join" && type !== "leave" && type !== "say") {
    return { ok: false, reason: `unknown type ${JSON.stringify(type) ?? "(none)"}: join, leave or say` };
  }
  if (!isRoomName(room)) return { ok: false, reason: `bad room ${JSON.stringify(room) ?? "(none)"}: 1-64 of A-Z a-z 0-9 . _ -` };
  if (type === "leave") return { ok: true, message: { type, room } };
  if (type === "say") {
    if (typeof value.text !== "string") return { ok: false, reason: "say needs a string text" };
    return { ok: true, message: { type, room, text: value.text } };
  }
  const since = value.since;
  if (since === undefined) return { ok: true, message: { type, room } };
  if (typeof since !== "number" || !Number.isSafeInteger(since) || since < 0) {
    return { ok: false, reason: `since must be a whole number, 0 or more, not ${JSON.stringify(since)}` };
  }
  return { ok: true, message: { type, room, since } };
  // #endregion
}

/**
 * A token bucket: `burst` tokens to start with, `perSecond` more each second
 * (never more than `burst`); each message takes one. The clock is given, so
 * a test can move time by hand.
 */
export class TokenBucket {
  // #region reference-only
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;
  // #endregion

  constructor(burst: number, perSecond: number, now: () => number) {
    // #region solution step 2
    if (!(burst >= 1) || !(perSecond > 0)) throw new RangeError(`a token bucket needs burst ≥ 1 and perSecond > 0, not ${burst} and ${perSecond}`);
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
    // #endregion
  }

  /** Takes a token if there is one: true if the message may go ahead. */
  take(): boolean {
    // #region solution step 2
    const now = this.#now();
    // Refill for the time that passed (a clock that goes back refills nothing).
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
    // #endregion
  }
}

// #region reference-only
interface Room {
  members: Set<string>;
  /** The last seq given out: 0 before the first message. */
  seq: number;
  /** The newest messages, oldest first, at most `history`. */
  kept: Extract<ServerMessage, { type: "message" }>[];
}
// #endregion

/**
 * The chat's rooms, sans-I/O. The shell tells it who connected, what each
 * connection sent and who went away; it answers with `HubAction`s.
 *
 * - A "say" goes to every member of the room, the sender included, with the
 *   room's next `seq` (from 1, +1 per message) and the clock's `time`.
 * - A "join" is answered with "joined" and the room's last seq; with `since`,
 *   then every kept message after it, after a "gap" for those no longer kept.
 * - Anything wrong is answered with an "error" to the sender alone, and the
 *   connection stays: the workbook's policy is that only the rate limit closes one.
 */
export class ChatHub {
  // #region reference-only
  readonly #options: Required<HubOptions>;
  readonly #rooms = new Map<string, Room>();
  /** Each connection: the rooms it is in, and its bucket. */
  readonly #connections = new Map<string, { rooms: Set<string>; bucket: TokenBucket | undefined }>();
  // #endregion

  constructor(options: HubOptions = {}) {
    // #region solution step 3
    this.#options = { ...HUB_DEFAULTS, ...options };
    if (!(Number.isSafeInteger(this.#options.history) && this.#options.history >= 0)) throw new RangeError(`history is a count of messages, not ${this.#options.history}`);
    // #endregion
  }

  /** A new connection, by the shell's id for it ("from" in its messages). */
  connect(id: string): void {
    // #region solution step 3
    if (this.#connections.has(id)) throw new RangeError(`connection ${id} is already connected`);
    const rate = this.#options.rate;
    const bucket = rate === false || rate === undefined ? undefined : new TokenBucket(rate.burst, rate.perSecond, this.#options.now);
    this.#connections.set(id, { rooms: new Set(), bucket });
    // #endregion
  }

  /**
   * One message from connection `id`: what to send to whom, and whom to close.
   * A connection the hub does not know (never connected, or gone) is ignored.
   */
  receive(id: string, message: Message): HubAction[] {
    // #region solution step 3
    const connection = this.#connections.get(id);
    if (connection === undefined) return [];
    // Fairness first: a message over the rate is not read at all.
    if (connection.bucket !== undefined && !connection.bucket.take()) {
      this.disconnect(id);
      return [{ type: "close", id, code: CloseCode.PolicyViolation, reason: "too many messages: over the rate limit" }];
    }
    if (message.type !== "text") return [this.#error(id, "chat.v1 messages are text (JSON), not binary")];
    const parsed = parseClientMessage(message.data);
    if (!parsed.ok) return [this.#error(id, parsed.reason)];
    const request = parsed.message;
    switch (request.type) {
      case "join":
        return this.#join(id, request.room, request.since);
      case "leave":
        if (!connection.rooms.delete(request.room)) return [this.#error(id, `not in room ${request.room}`)];
        this.#rooms.get(request.room)?.members.delete(id);
        return [];
      case "say":
        return this.#say(id, request.room, request.text);
    }
    // #endregion
  }

  /** Connection `id` is gone: it leaves every room it was in. Nothing is sent (chat.v1 has no "left"). */
  disconnect(id: string): void {
    // #region solution step 3
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    for (const name of connection.rooms) this.#rooms.get(name)?.members.delete(id);
    this.#connections.delete(id);
    // #endregion
  }

  /** The ids of the members of `room`, in the order they joined. */
  members(room: string): string[] {
    // #region solution step 3
    return [...(this.#rooms.get(room)?.members ?? [])];
    // #endregion
  }

  /** The rooms connection `id` is in. */
  roomsOf(id: string): string[] {
    // #region solution step 3
    return [...(this.#connections.get(id)?.rooms ?? [])];
    // #endregion
  }

  // #region reference-only
  #error(id: string, reason: string): HubAction {
    return { type: "send", to: [id], message: { type: "error", reason } };
  }

  #join(id: string, name: string, since: number | undefined): HubAction[] {
    // Asked first: a refused join makes no room and no membership (chapter 14 decides who may).
    if (!this.#options.mayJoin(id, name)) return [this.#error(id, `not allowed in room ${name}`)];
    let room = this.#rooms.get(name);
    if (room === undefined) {
      if (this.#rooms.size >= this.#options.maxRooms) return [this.#error(id, `no room for room ${name}: this server holds ${this.#options.maxRooms}`)];
      room = { members: new Set(), seq: 0, kept: [] };
      this.#rooms.set(name, room);
    }
    // Joining twice is harmless: still one membership, and the answer again (a way to catch up).
    room.members.add(id);
    this.#connections.get(id)?.rooms.add(name);
    const actions: HubAction[] = [{ type: "send", to: [id], message: { type: "joined", room: name, seq: room.seq } }];
    if (since === undefined || since >= room.seq) return actions;
    // Kept: the messages after `since`; missing: those after `since` that fell out of the history.
    const oldestKept = room.kept[0]?.seq ?? room.seq + 1;
    if (oldestKept > since + 1) actions.push({ type: "send", to: [id], message: { type: "gap", room: name, from: since + 1, to: oldestKept - 1 } });
    for (const kept of room.kept) if (kept.seq > since) actions.push({ type: "send", to: [id], message: kept });
    return actions;
  }

  #say(id: string, name: string, text: string): HubAction[] {
    const room = this.#rooms.get(name);
    // The workbook's policy: only members speak in a room (and so hear their own words back).
    if (room === undefined || !room.members.has(id)) return [this.#error(id, `join room ${name} before you say anything in it`)];
    room.seq += 1;
    const message: ServerMessage = { type: "message", room: name, seq: room.seq, from: id, text, time: this.#options.now() };
    if (this.#options.history > 0) {
      room.kept.push(message);
      if (room.kept.length > this.#options.history) room.kept.shift();
    }
    return [{ type: "send", to: [...room.members], message }];
  }
  // #endregion
}

// ---------------------------------------------------------------------------
// The shell: node:http and your earlier chapters
// ---------------------------------------------------------------------------

export interface ChatServerOptions extends HubOptions {
  /**
   * The workbook's policy on slow consumers: the most bytes one connection may
   * have queued and not yet taken by its socket (`socket.writableLength`).
   * A frame that would pass it is not written: the member is closed with 1013
   * instead. Default 1 MiB.
   */
  maxQueuedBytes?: number;
  /** The largest message a client may send, in bytes (1009 past it). Default 64 KiB. */
  maxMessageSize?: number;
  /** How long to wait for a client's close frame, then for TCP to end, in ms. Default 5 s. */
  closeTimeout?: number;
  /** How long a client may take, from TCP connect, to complete its upgrade request, in ms. Default 10 s. */
  handshakeTimeout?: number;
  /**
   * Told how each chat connection ended, once: `code` is what the server
   * closed it with if the server closed first (1008, 1013, 1001), otherwise
   * what chapter 07 reported (the client's code, or 1006). When the server
   * closes first, it is told at once, when the server decides, not when the
   * socket has gone.
   */
  onClose?: (info: { id: string; code: number; reason: string }) => void;
  /**
   * Who may join which room, by the member's upgrade request (its cookie,
   * its URL...): the shell keeps each member's request and answers the hub's
   * `mayJoin` with it (a join passes only if both allow, when both are given).
   * Chapter 14 uses it for rooms per user. Default: everyone.
   */
  authorizeJoin?: (request: IncomingMessage, room: string) => boolean;
}

export interface ChatServer {
  /** Starts listening (port 0: any free port); resolves with the ws:// URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, closes every member with 1001, and resolves when every socket is gone. */
  close(): Promise<void>;
  /** TCP connections open right now. */
  readonly connectionCount: number;
}

// #region reference-only
const SHELL_DEFAULTS = { maxQueuedBytes: 1024 * 1024, maxMessageSize: 64 * 1024, closeTimeout: 5_000, handshakeTimeout: 10_000 };
type ShellSettings = typeof SHELL_DEFAULTS & ChatServerOptions;
const textEncoder = new TextEncoder();
const ignore = () => {};
interface MemberHooks {
  /** A message from this member, for the hub. */
  received: (message: Message) => void;
  /** This member is gone (or going): out of every room. */
  gone: () => void;
}
// #endregion

/**
 * The chat server: chat.v1 over WebSocket, on a new node:http server or the
 * one given. A client must offer the subprotocol chat.v1; one that doesn't is
 * refused with 400 before any WebSocket exists (the workbook's policy).
 */
export function createChatServer(options: ChatServerOptions = {}, server: HttpServer = createServer()): ChatServer {
  // #region solution step 4
  const settings: ShellSettings = { ...SHELL_DEFAULTS, ...options };
  /** Each member's upgrade request, for authorizeJoin: who it is lives in the request, not in the hub. */
  const requests = new Map<string, IncomingMessage>();
  const { authorizeJoin, mayJoin = () => true } = options;
  /** The hub asks by id; the shell answers with that member's request (both must allow, if both are given). */
  const joinRule = (id: string, room: string) => {
    const request = requests.get(id);
    return request !== undefined && authorizeJoin !== undefined && authorizeJoin(request, room) && mayJoin(id, room);
  };
  const hub = new ChatHub(authorizeJoin === undefined ? options : { ...options, mayJoin: joinRule });
  const members = new Map<string, Member>();
  const sockets = new Set<Socket>();
  /** The handshake deadline of each socket still in its HTTP phase. */
  const deadlines = new Map<Socket, NodeJS.Timeout>();
  let nextId = 1;

  /** Carries out the hub's decisions: each message encoded once, the same bytes written to every member. */
  const carryOut = (actions: readonly HubAction[]) => {
    for (const action of actions) {
      if (action.type === "close") {
        members.get(action.id)?.closeWith(action.code, action.reason);
        continue;
      }
      const frame = encodeFrame({ opcode: Opcode.Text, payload: textEncoder.encode(JSON.stringify(action.message)) });
      for (const id of action.to) members.get(id)?.write(frame);
    }
  };

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    deadlines.set(socket, setTimeout(() => socket.destroy(), settings.handshakeTimeout));
    socket.once("close", () => {
      clearTimeout(deadlines.get(socket));
      deadlines.delete(socket);
      sockets.delete(socket);
    });
  });

  server.on("request", (_req: IncomingMessage, res) => {
    res.writeHead(426, { "Content-Type": "text/plain; charset=utf-8", Upgrade: "websocket", Connection: "close" });
    res.end(`a chat.v1 WebSocket endpoint: connect with the subprotocol ${CHAT_PROTOCOL}\n`);
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    clearTimeout(deadlines.get(socket));
    deadlines.delete(socket);
    let decision: UpgradeDecision = checkUpgradeRequest({ method: req.method ?? "", httpVersion: req.httpVersion, headers: req.headers });
    const protocol = selectSubprotocol(getHeader(req.headers, "sec-websocket-protocol"), [CHAT_PROTOCOL]);
    if (decision.ok && protocol === undefined) {
      decision = { ok: false, status: 400, reason: `this server speaks only the subprotocol ${CHAT_PROTOCOL}: offer it in Sec-WebSocket-Protocol`, headers: {} };
    }
    if (!decision.ok) {
      socket.end(handshakeResponse(decision));
      const timer = setTimeout(() => socket.destroy(), settings.closeTimeout);
      socket.once("close", () => clearTimeout(timer));
      return;
    }
    socket.write(handshakeResponse(decision, { "Sec-WebSocket-Protocol": CHAT_PROTOCOL }));
    const id = `c${nextId++}`;
    hub.connect(id);
    requests.set(id, req);
    const member = new Member(id, socket, settings, {
      received: (message) => carryOut(hub.receive(id, message)),
      gone: () => {
        hub.disconnect(id);
        members.delete(id);
        requests.delete(id);
      },
    });
    members.set(id, member);
    member.start(head);
  });

  return {
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
          resolve(`ws://${shownHost}:${address.port}/`);
        });
      });
    },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const member of members.values()) member.closeWith(CloseCode.GoingAway, "server going away");
      for (const socket of deadlines.keys()) socket.destroy(); // handshakes in progress
      const deadline = Date.now() + settings.closeTimeout + 1_000;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
    get connectionCount() {
      return sockets.size;
    },
  };
  // #endregion
}

// #region reference-only
/**
 * One member's socket and its chapter 07 Connection. Data frames come ready
 * from the shell (`write`): the Connection here only answers pings and closes.
 */
class Member {
  readonly #id: string;
  readonly #socket: Socket;
  readonly #settings: ShellSettings;
  readonly #connection: Connection;
  readonly #hooks: MemberHooks;
  /** Set once the server has decided to close: nothing more is written but the close frame. */
  #closing = false;
  #reported = false;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(id: string, socket: Socket, settings: ShellSettings, hooks: MemberHooks) {
    this.#id = id;
    this.#socket = socket;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#connection = new Connection("server", { maxMessageSize: settings.maxMessageSize });
    this.#connection.open();
  }

  start(head: Buffer): void {
    const socket = this.#socket;
    socket.setNoDelay(true); // chat messages are small and someone waits for each
    socket.on("data", (chunk: Buffer) => this.#handle(this.#connection.receive(chunk)));
    socket.on("end", () => this.#handle(this.#connection.receiveEnd()));
    socket.on("error", ignore); // "close" follows
    socket.on("close", () => {
      this.#handle(this.#connection.receiveEnd());
      this.#report(CloseCode.AbnormalClosure, "");
      clearTimeout(this.#closeTimer);
    });
    this.#handle(this.#connection.receive(head));
  }

  /**
   * One frame for this member, already encoded (the same bytes for everyone).
   * The bound: a frame that would take the bytes queued past maxQueuedBytes
   * is not written, and the member is closed with 1013 instead.
   */
  write(frame: Uint8Array): void {
    if (this.#closing || this.#connection.state !== "OPEN" || this.#socket.destroyed) return;
    if (this.#socket.writableLength + frame.length > this.#settings.maxQueuedBytes) {
      this.closeWith(CloseCode.TryAgainLater, `too slow: over ${this.#settings.maxQueuedBytes} bytes queued`);
      return;
    }
    this.#socket.write(frame);
  }

  /** The server closes this member: a close frame (past the bound: it is tiny), then a bounded wait. */
  closeWith(code: number, reason: string): void {
    if (this.#closing || this.#connection.state !== "OPEN") return;
    this.#closing = true;
    this.#report(code, reason);
    this.#hooks.gone(); // out of every room now: nothing more is sent to it
    this.#connection.close(code, reason);
    this.#flush();
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#settings.closeTimeout);
  }

  #handle(events: Iterable<ConnectionEvent>): void {
    let closed: Extract<ConnectionEvent, { type: "close" }> | undefined;
    for (const event of events) {
      if (event.type === "message" && !this.#closing && this.#connection.state === "OPEN") this.#hooks.received(event.message);
      else if (event.type === "close") closed = event;
    }
    this.#flush();
    if (closed !== undefined) {
      this.#report(closed.code, closed.reason);
      this.#hooks.gone();
      // §7.1.1: the server closes TCP first, and does not wait forever for the client to follow.
      this.#socket.end();
      clearTimeout(this.#closeTimer);
      this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#settings.closeTimeout);
    }
  }

  /** What the Connection queued itself (pongs, close frames). */
  #flush(): void {
    for (const bytes of this.#connection.bytesToSend()) if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  #report(code: number, reason: string): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#hooks.gone();
    this.#settings.onClose?.({ id: this.#id, code, reason });
  }
}
// #endregion
