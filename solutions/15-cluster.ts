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

// #region reference-only
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const isWhole = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
const checkRoomHistory = (history: number) => {
  if (!isWhole(history)) throw new RangeError(`history is a count of messages, not ${history}`);
};
// #endregion

/**
 * The bus inside one process: the default, needing nothing else. Every server
 * given the same bus shares its rooms (two servers in one test process).
 * Delivery is asynchronous (a microtask later), as it is over a network.
 */
export function createLocalBus(options: BusOptions = {}): Bus {
  // #region solution step 1
  const keep = options.history ?? 100;
  checkRoomHistory(keep);
  const rooms = new Map<string, { seq: number; kept: ChatMessage[]; listeners: Set<BusListener> }>();
  const roomOf = (name: string) => {
    let room = rooms.get(name);
    if (room === undefined) rooms.set(name, (room = { seq: 0, kept: [], listeners: new Set() }));
    return room;
  };
  let closed = false;
  const notClosed = () => {
    if (closed) throw new Error("this bus is closed");
  };
  return {
    async publish(name, draft) {
      notClosed();
      const room = roomOf(name);
      // One synchronous step: count, keep, deliver. Nothing can come between them in one process.
      room.seq += 1;
      const message: ChatMessage = { type: "message", room: name, seq: room.seq, from: draft.from, text: draft.text, time: draft.time };
      if (keep > 0) {
        room.kept.push(message);
        if (room.kept.length > keep) room.kept.shift();
      }
      const listeners = [...room.listeners];
      queueMicrotask(() => {
        for (const listener of listeners) listener(message);
      });
      return message;
    },
    async subscribe(name, listener) {
      notClosed();
      roomOf(name).listeners.add(listener);
    },
    async unsubscribe(name, listener) {
      rooms.get(name)?.listeners.delete(listener);
    },
    async history(name, since) {
      notClosed();
      const room = roomOf(name);
      return { last: room.seq, kept: since === undefined ? [] : room.kept.filter((m) => m.seq > since) };
    },
    get up() {
      return !closed;
    },
    onHealth() {
      return () => {}; // one process: the bus is up as long as the process is
    },
    async close() {
      closed = true;
      for (const room of rooms.values()) room.listeners.clear();
    },
  };
  // #endregion
}

// #region reference-only
/**
 * The atomic step of a publish, run inside Redis (a script runs alone: no
 * other command of any client comes between its lines). KEYS[1] is the room's
 * counter, KEYS[2] its stream; ARGV[1] the room's channel, ARGV[2] how many
 * to keep, ARGV[3] the message without its seq (JSON). The stream entry's ID
 * is `<seq>-0`, so reading "after since" is a range of IDs; the live copy is
 * "<seq> <json>" on the channel. Returns the seq.
 */
const PUBLISH_SCRIPT = `
local seq = redis.call("INCR", KEYS[1])
if tonumber(ARGV[2]) > 0 then
  redis.call("XADD", KEYS[2], "MAXLEN", ARGV[2], seq .. "-0", "m", ARGV[3])
end
redis.call("PUBLISH", ARGV[1], seq .. " " .. ARGV[3])
return seq
`;
/** The last seq and the kept entries from ARGV[1] on, read in one atomic step. */
const HISTORY_SCRIPT = `
local last = redis.call("GET", KEYS[1])
local kept = {}
if ARGV[1] ~= "" then kept = redis.call("XRANGE", KEYS[2], ARGV[1], "+") end
return { last or "0", kept }
`;
/** The key names of a room. `{room}` is a hash tag: in a Redis Cluster, a room's keys live on one node. */
const roomKeys = (prefix: string, room: string) => ({ seq: `${prefix}:{${room}}:seq`, log: `${prefix}:{${room}}:log`, channel: `${prefix}:{${room}}:live` });
/** A message as stored and published, without its seq and room (those are the entry's ID and the key). */
const bodyOf = (draft: Draft) => JSON.stringify({ from: draft.from, text: draft.text, time: draft.time });
const fromBody = (room: string, seq: number, body: string): ChatMessage => {
  const { from, text, time } = JSON.parse(body) as Draft;
  return { type: "message", room, seq, from, text, time };
};
// #endregion

/**
 * The bus on a real Redis (`redis://host:port`), with the `redis` package:
 * one connection for commands, one for pub/sub (a subscribed connection can
 * run nothing else). Resolves once both are ready; rejects after
 * `connectTimeoutMs` naming the URL. While Redis is away, `up` is false and
 * every publish, subscribe and history read rejects at once (nothing waits in
 * a queue); the client reconnects with backoff and subscribes again by itself.
 */
export async function createRedisBus(url: string, options: RedisBusOptions = {}): Promise<Bus> {
  // #region solution step 2
  const keep = options.history ?? 100;
  checkRoomHistory(keep);
  const prefix = options.prefix ?? "chat";
  const reconnect = options.reconnect ?? { baseMs: 50, capMs: 2_000 };
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const commands = createClient({
    url,
    // Fail at once while Redis is away: a chat message held in a queue for minutes is worse than an error now.
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (retries: number) => backoffDelay(retries, reconnect) },
  });
  const subscriber = commands.duplicate();

  // Health: up when both connections are ready; each change told once.
  const healthListeners = new Set<(up: boolean, reason: string) => void>();
  let up = false;
  let closing = false;
  let lastError = "";
  const update = (reason: string) => {
    const now = !closing && commands.isReady && subscriber.isReady;
    if (now === up) return;
    up = now;
    for (const listener of healthListeners) listener(up, reason);
  };
  for (const [name, client] of [["commands", commands], ["pub/sub", subscriber]] as const) {
    client.on("error", (error: Error) => (lastError = `${name} connection: ${error.message}`)); // without a listener, an error would crash the process
    client.on("ready", () => update(`${name} connection ready`));
    client.on("reconnecting", () => update(`${name} connection lost (${lastError || "closed"}): reconnecting`));
    client.on("end", () => update(`${name} connection closed`));
  }

  // The first connection, bounded: a wrong URL must not hang the server's start.
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all([commands.connect(), subscriber.connect()]),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no Redis at ${url} after ${connectTimeoutMs} ms${lastError ? ` (${lastError})` : ""}`)), connectTimeoutMs))),
    ]);
  } catch (error) {
    commands.destroy();
    subscriber.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  update("connected");

  /** Per room: its listeners here, and the SUBSCRIBE that made them live. */
  const rooms = new Map<string, { listeners: Set<BusListener>; subscribed: Promise<void> }>();
  const down = () => new Error(`the bus is down (Redis at ${url}): ${lastError || "not connected"}`);

  return {
    async publish(room, draft) {
      if (!up) throw down();
      const keys = roomKeys(prefix, room);
      const body = bodyOf(draft);
      const seq = await commands.sendCommand<number>(["EVAL", PUBLISH_SCRIPT, "2", keys.seq, keys.log, keys.channel, String(keep), body]);
      return fromBody(room, Number(seq), body);
    },
    async subscribe(room, listener) {
      if (!up) throw down();
      let entry = rooms.get(room);
      if (entry === undefined) {
        const listeners = new Set<BusListener>();
        const channel = roomKeys(prefix, room).channel;
        // One SUBSCRIBE per room, whatever the number of listeners; it hands each message to all of them.
        const subscribed = subscriber.subscribe(channel, (raw: string) => {
          const space = raw.indexOf(" ");
          const message = fromBody(room, Number(raw.slice(0, space)), raw.slice(space + 1));
          for (const each of [...listeners]) each(message);
        });
        entry = { listeners, subscribed };
        rooms.set(room, entry);
        subscribed.catch(() => {
          if (rooms.get(room) === entry) rooms.delete(room);
        });
      }
      entry.listeners.add(listener);
      await entry.subscribed;
    },
    async unsubscribe(room, listener) {
      const entry = rooms.get(room);
      if (entry === undefined || !entry.listeners.delete(listener) || entry.listeners.size > 0) return;
      rooms.delete(room);
      // The last listener here is gone: Redis stops sending this server the room's messages.
      // (While Redis is away this still forgets the channel, so the reconnection does not subscribe it again.)
      await subscriber.unsubscribe(roomKeys(prefix, room).channel).catch(() => {});
    },
    async history(room, since) {
      if (!up) throw down();
      const keys = roomKeys(prefix, room);
      const from = since === undefined ? "" : `${since + 1}-0`;
      const [last, entries] = await commands.sendCommand<[string, [string, string[]][]]>(["EVAL", HISTORY_SCRIPT, "2", keys.seq, keys.log, from]);
      const kept = entries.map(([id, fields]) => fromBody(room, Number(id.split("-")[0]), fields[1] ?? "{}"));
      return { last: Number(last), kept };
    },
    get up() {
      return up;
    },
    onHealth(listener) {
      healthListeners.add(listener);
      return () => healthListeners.delete(listener);
    },
    async close() {
      closing = true;
      update("closed");
      rooms.clear();
      await Promise.all([commands, subscriber].map((client) => (client.isOpen ? client.close().catch(() => client.destroy()) : undefined)));
    },
  };
  // #endregion
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

// #region reference-only
interface Member {
  id: string;
  ws: WebSocket;
  bucket: TokenBucket | undefined;
  rooms: Set<string>;
  /** This member's messages, handled one after the other (a say after a join finds it joined). */
  inbox: Promise<void>;
  closing: boolean;
  /** Resolves with the close code ws reported (the client's, or 1006) once the connection is gone. */
  closed: Promise<{ code: number; reason: string }>;
}
/** A room as one server sees it: its members here and how far each has been sent. */
interface LocalRoom {
  name: string;
  /** Member id → the highest seq sent to that member in this room. */
  members: Map<string, { member: Member; seen: number }>;
  /** The highest seq this server has handed on in this room; -1 before its first join read the history. */
  last: number;
  /** Everything that touches the room, in order: joins, live messages, catch-ups. */
  queue: Promise<void>;
  listener: BusListener;
}
const SERVER_DEFAULTS = { history: 100, now: Date.now, rate: { burst: 20, perSecond: 10 } as const, maxQueuedBytes: 1024 * 1024, maxMessageSize: 64 * 1024, pingInterval: 30_000 };
/** The gap to announce when `kept` should start right after `after` but starts later (or is empty while `last` is past it). */
function gapAfter(room: string, after: number, kept: readonly ChatMessage[], last: number): ServerMessage | undefined {
  const first = kept[0]?.seq ?? last + 1;
  return first > after + 1 ? { type: "gap", room, from: after + 1, to: first - 1 } : undefined;
}
// #endregion

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
  // #region solution step 3
  // Each default on its own (an option given as undefined still gets its default).
  const settings = {
    history: options.history ?? SERVER_DEFAULTS.history,
    now: options.now ?? SERVER_DEFAULTS.now,
    maxQueuedBytes: options.maxQueuedBytes ?? SERVER_DEFAULTS.maxQueuedBytes,
    maxMessageSize: options.maxMessageSize ?? SERVER_DEFAULTS.maxMessageSize,
    onClose: options.onClose,
    onBusHealth: options.onBusHealth,
  };
  const pingInterval = options.pingInterval ?? SERVER_DEFAULTS.pingInterval;
  // (Above 2^31 - 1 ms, Node's timers fire after 1 ms instead: a ping storm, not a slow heartbeat.)
  if (pingInterval !== false && !(pingInterval > 0 && pingInterval <= 2 ** 31 - 1)) throw new RangeError(`pingInterval must be a number of ms from 1 to 2^31 - 1, or false, not ${pingInterval}`);
  const serverId = options.serverId ?? Math.random().toString(36).slice(2, 8);
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxMessageSize, clientTracking: false, handleProtocols: (offered) => (offered.has(CHAT_PROTOCOL) ? CHAT_PROTOCOL : false) });
  const members = new Set<Member>();
  const rooms = new Map<string, LocalRoom>();
  let bus: Bus | undefined = options.bus;
  let ownsBus = false;
  let stopHealth = () => {};
  let draining = false;
  let shuttingDown: Promise<void> | undefined;
  let nextId = 1;

  // ---- sending: each message serialised and encoded to UTF-8 once, for every member it goes to
  const sendTo = (member: Member, bytes: Buffer) => {
    if (member.closing || member.ws.readyState !== WebSocket.OPEN) return;
    // Chapter 13's bound: a member that cannot keep up is closed, the room never waits for it.
    if (member.ws.bufferedAmount + bytes.length > settings.maxQueuedBytes) {
      void closeMember(member, CloseCode.TryAgainLater, `too slow: over ${settings.maxQueuedBytes} bytes queued`, 5_000);
      return;
    }
    member.ws.send(bytes, { binary: false }); // the same bytes for everyone, sent as a text message
  };
  const encode = (message: ServerMessage) => Buffer.from(JSON.stringify(message));
  const send = (member: Member, message: ServerMessage) => sendTo(member, encode(message));
  const error = (member: Member, reason: string) => send(member, { type: "error", reason });

  /** Hands a message (or a gap) to every member of the room here that has not had it yet. */
  const fanOut = (room: LocalRoom, message: ChatMessage | Extract<ServerMessage, { type: "gap" }>) => {
    const bytes = encode(message);
    const upTo = message.type === "message" ? message.seq : message.to;
    for (const entry of room.members.values()) {
      if (message.type === "message" && message.seq <= entry.seen) continue;
      entry.seen = Math.max(entry.seen, upTo);
      sendTo(entry.member, bytes);
    }
    room.last = Math.max(room.last, upTo);
  };

  /** Runs `task` after everything already queued in the room (and never breaks the queue). */
  const inRoom = (room: LocalRoom, task: () => Promise<void> | void) => {
    const done = room.queue.then(task);
    room.queue = done.catch(() => {});
    return done;
  };

  /** Reads what this server missed in `room` (after a hole, or after the bus was down) and hands it on. */
  const catchUp = async (room: LocalRoom) => {
    if (bus === undefined || room.last < 0) return;
    try {
      let { last, kept } = await bus.history(room.name, room.last);
      if (last < room.last) {
        // The bus forgot the room (a Redis restarted without its data): its count started over.
        // Each member is told with "joined" at the new count (below what it has seen: a client
        // starts over from 0), then gets everything kept of the new count.
        ({ last, kept } = await bus.history(room.name, 0));
        room.last = 0;
        for (const entry of room.members.values()) {
          entry.seen = 0;
          send(entry.member, { type: "joined", room: room.name, seq: last });
        }
      }
      const gap = gapAfter(room.name, room.last, kept, last);
      if (gap?.type === "gap") fanOut(room, gap);
      for (const message of kept) fanOut(room, message);
      room.last = Math.max(room.last, last);
    } catch {
      // The bus is down again: the next live message or the next recovery tries again.
    }
  };

  const onLive = (room: LocalRoom, message: ChatMessage) =>
    inRoom(room, async () => {
      if (room.last < 0 || message.seq <= room.last) return; // before our first read, or had already
      if (message.seq > room.last + 1) {
        // A hole: messages published while our subscription was down. Fill it from the history.
        await catchUp(room);
        if (message.seq > room.last + 1) fanOut(room, { type: "gap", room: room.name, from: room.last + 1, to: message.seq - 1 });
      }
      fanOut(room, message);
    });

  const roomFor = (name: string): LocalRoom => {
    let room = rooms.get(name);
    if (room === undefined) {
      const created: LocalRoom = { name, members: new Map(), last: -1, queue: Promise.resolve(), listener: (message) => void onLive(created, message) };
      rooms.set(name, (room = created));
    }
    return room;
  };

  /** The member is no longer in the room here; the last one out unsubscribes this server. */
  const leaveRoom = (member: Member, name: string) => {
    member.rooms.delete(name);
    const room = rooms.get(name);
    if (room === undefined) return;
    room.members.delete(member.id);
    if (room.members.size > 0) return;
    rooms.delete(name);
    void inRoom(room, () => bus?.unsubscribe(name, room.listener)).catch(() => {});
  };

  const join = (member: Member, name: string, asked: number | undefined) => {
    let since = asked;
    const room = roomFor(name);
    return inRoom(room, async () => {
      if (bus === undefined || member.closing) return;
      try {
        // Subscribe first, then read: whatever is published after the read arrives live, and
        // whatever arrives live that the read already had is dropped by its seq (`seen`).
        await bus.subscribe(name, room.listener);
        let { last, kept } = await bus.history(name, since);
        // A since past the room's last: the room started over (see catchUp), so everything it kept is new.
        if (since !== undefined && since > last) ({ last, kept } = await bus.history(name, (since = 0)));
        if (member.closing) return void leaveRoom(member, name); // gone while we read: out again, unsubscribing if last
        if (room.last < 0) room.last = last; // the first member here: the room starts from now
        send(member, { type: "joined", room: name, seq: last });
        let seen = last;
        if (since !== undefined && since < last) {
          const gap = gapAfter(name, since, kept, last);
          if (gap !== undefined) send(member, gap);
          for (const message of kept) send(member, message);
        }
        const entry = room.members.get(member.id);
        if (entry !== undefined) seen = Math.max(entry.seen, seen);
        room.members.set(member.id, { member, seen });
        member.rooms.add(name);
      } catch (cause) {
        error(member, `could not join ${name}: ${(cause as Error).message}`);
        if (room.members.size === 0 && rooms.get(name) === room) {
          rooms.delete(name);
          await bus.unsubscribe(name, room.listener).catch(() => {});
        }
      }
    });
  };

  const say = async (member: Member, name: string, text: string) => {
    // Chapter 13's policy: only members speak in a room.
    if (!member.rooms.has(name)) return error(member, `join room ${name} before you say anything in it`);
    try {
      await bus?.publish(name, { from: member.id, text, time: settings.now() });
    } catch (cause) {
      error(member, `not sent: ${(cause as Error).message}`);
    }
  };

  const handle = async (member: Member, data: RawData, isBinary: boolean) => {
    if (isBinary) return error(member, "chat.v1 messages are text (JSON), not binary");
    const parsed = parseClientMessage(data.toString());
    if (!parsed.ok) return error(member, parsed.reason);
    const request = parsed.message;
    if (request.type === "join") return join(member, request.room, request.since);
    if (request.type === "say") return say(member, request.room, request.text);
    if (!member.rooms.has(request.room)) return error(member, `not in room ${request.room}`);
    leaveRoom(member, request.room);
  };

  /** Closes a member with `code`, waits for its close handshake at most `timeoutMs`, then drops it. */
  const closeMember = (member: Member, code: number, reason: string, timeoutMs: number): Promise<unknown> => {
    if (!member.closing) {
      member.closing = true;
      for (const name of [...member.rooms]) leaveRoom(member, name);
      settings.onClose?.({ id: member.id, code, reason });
      member.ws.close(code, reason);
      const timer = setTimeout(() => member.ws.terminate(), timeoutMs);
      void member.closed.then(() => clearTimeout(timer));
    }
    return member.closed;
  };

  const accept = (ws: WebSocket) => {
    const rate = options.rate ?? SERVER_DEFAULTS.rate;
    const member: Member = {
      id: `${serverId}.c${nextId++}`,
      ws,
      bucket: rate === false ? undefined : new TokenBucket(rate.burst, rate.perSecond, settings.now),
      rooms: new Set(),
      inbox: Promise.resolve(),
      closing: false,
      closed: new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))),
    };
    members.add(member);
    ws.on("error", () => {}); // "close" follows
    // The heartbeat: a peer that vanished without a FIN (a laptop closed, a NAT
    // that forgot the mapping) is found only by asking. §5.5.3: a pong answers
    // a ping; none since the last ping means nobody is there. It is also what
    // keeps a quiet member's connection busy enough for a balancer's idle timeout.
    if (pingInterval !== false) {
      let answered = true;
      ws.on("pong", () => (answered = true));
      const heartbeat = setInterval(() => {
        if (!answered) return ws.terminate(); // "close" follows, with 1006
        answered = false;
        ws.ping();
      }, pingInterval);
      void member.closed.then(() => clearInterval(heartbeat));
    }
    ws.on("message", (data, isBinary) => {
      if (member.closing) return;
      // Fairness first, as in chapter 13: a message over the rate is not read at all.
      if (member.bucket !== undefined && !member.bucket.take()) {
        void closeMember(member, CloseCode.PolicyViolation, "too many messages: over the rate limit", 5_000);
        return;
      }
      member.inbox = member.inbox.then(() => handle(member, data, isBinary)).catch(() => {});
    });
    void member.closed.then(({ code, reason }) => {
      members.delete(member);
      if (!member.closing) {
        // The client closed first (or the connection dropped: ws reports 1006).
        member.closing = true;
        for (const name of [...member.rooms]) leaveRoom(member, name);
        settings.onClose?.({ id: member.id, code, reason });
      }
    });
  };

  // ---- HTTP: health for the balancer, 426 for anything else, upgrades for chat.v1
  http.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/health") {
      const body = JSON.stringify({ status: draining ? "draining" : "serving", bus: bus?.up ? "up" : "down", members: members.size });
      res.writeHead(draining ? 503 : 200, { "Content-Type": "application/json", "Cache-Control": "no-store", Connection: "close" });
      res.end(body);
      return;
    }
    res.writeHead(426, { "Content-Type": "text/plain; charset=utf-8", Upgrade: "websocket", Connection: "close" });
    res.end(`a chat.v1 WebSocket endpoint: connect with the subprotocol ${CHAT_PROTOCOL}\n`);
  });
  const refuse = (socket: Socket, status: number, text: string, reason: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${reason}\n`);
  };
  http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => {});
    if (draining) return refuse(socket, 503, "Service Unavailable", "this server is shutting down: connect again");
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(CHAT_PROTOCOL)) return refuse(socket, 400, "Bad Request", `this server speaks only the subprotocol ${CHAT_PROTOCOL}`);
    wss.handleUpgrade(req, socket, head, accept);
  });

  return {
    async listen(port = 0, host = "127.0.0.1") {
      if (bus === undefined) {
        ownsBus = true;
        bus = options.redisUrl === undefined ? createLocalBus({ history: settings.history }) : await createRedisBus(options.redisUrl, { history: settings.history });
      }
      const watched = bus;
      stopHealth = watched.onHealth((up, reason) => {
        settings.onBusHealth?.(up, reason);
        // Back up: every room reads what it missed while the bus was away.
        if (up) for (const room of rooms.values()) void inRoom(room, () => catchUp(room));
      });
      return new Promise((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => {
          const address = http.address() as AddressInfo;
          const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
          resolve(`ws://${shownHost}:${address.port}/`);
        });
      });
    },
    shutdown({ drainMs = 10_000, closeTimeoutMs = 5_000 } = {}) {
      shuttingDown ??= (async () => {
        // Health fails first, in this same step: the balancer stops sending new clients here.
        draining = true;
        const leaving = [...members];
        const spacing = leaving.length > 0 ? drainMs / leaving.length : 0;
        // Spread the goodbyes: every client reconnecting at the same instant would be a herd at the others.
        await Promise.all(
          leaving.map(async (member, i) => {
            await sleep(i * spacing);
            await closeMember(member, CloseCode.GoingAway, "server going away", closeTimeoutMs);
          }),
        );
        stopHealth();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
        if (ownsBus) await bus?.close();
      })();
      return shuttingDown;
    },
    close() {
      return this.shutdown({ drainMs: 0 });
    },
    get draining() {
      return draining;
    },
    get memberCount() {
      return members.size;
    },
    get bus() {
      return bus;
    },
  };
  // #endregion
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
  // #region solution step 4
  const urls = typeof url === "string" ? [url] : [...url];
  if (urls.length === 0) throw new RangeError("connectChat needs at least one URL");
  const backoff = options.backoff ?? { baseMs: 100, capMs: 10_000 };
  backoffDelay(0, backoff, () => 0); // a bad backoff is a RangeError now, not a crash at the first reconnection
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const rooms = new Set(options.rooms ?? []);
  const last = new Map<string, number>();
  let ws: WebSocket | undefined;
  let attempt = 0;
  let tries = 0;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let stoppedNow: () => void = () => {};
  const finished = new Promise<void>((resolve) => (stoppedNow = resolve));

  const state = (s: ChatClientState) => options.onState?.(s);
  const sendJoin = (socket: WebSocket, room: string) => {
    const since = last.get(room);
    socket.send(JSON.stringify(since === undefined ? { type: "join", room } : { type: "join", room, since }));
  };

  const received = (message: ServerMessage) => {
    if (message.type === "message") {
      // A message already seen (a replay overlapping what came live) is dropped, so the caller sees each once.
      if (message.seq <= (last.get(message.room) ?? 0)) return;
      last.set(message.room, message.seq);
    } else if (message.type === "joined") {
      const seen = last.get(message.room);
      // The server answered a join: this connection really works, so the next failure starts the
      // schedule over. (Not at "open": a server that accepts and closes at once would be retried in a tight loop.)
      attempt = 0;
      if (seen === undefined) last.set(message.room, message.seq); // from now on; an earlier seq stays to resume from
      else if (message.seq < seen) last.set(message.room, 0); // the room's count started over: what follows is all new
    } else if (message.type === "gap") {
      last.set(message.room, Math.max(last.get(message.room) ?? 0, message.to));
    }
    options.onMessage?.(message);
  };

  const stop = (reason: string) => {
    stopped = true;
    clearTimeout(retry);
    state({ state: "stopped", reason });
    stoppedNow();
  };

  const open = () => {
    if (stopped) return;
    const target = urls[tries % urls.length] as string;
    tries += 1;
    const socket = new WebSocket(target, [CHAT_PROTOCOL]);
    ws = socket;
    // A bound on the attempt: a server that never answers counts as a failure.
    const deadline = setTimeout(() => socket.terminate(), connectTimeoutMs);
    socket.on("error", () => {}); // "close" follows
    socket.on("open", () => {
      clearTimeout(deadline);
      if (rooms.size === 0) attempt = 0; // no join to wait for: an open connection is the only success there is
      state({ state: "open", url: target });
      for (const room of rooms) sendJoin(socket, room);
    });
    socket.on("message", (data, isBinary) => {
      if (isBinary) return;
      try {
        received(JSON.parse(data.toString()) as ServerMessage);
      } catch {
        // not chat.v1: ignored
      }
    });
    socket.on("close", (code) => {
      clearTimeout(deadline);
      if (ws === socket) ws = undefined;
      state({ state: "closed", code });
      if (stopped) return stoppedNow();
      if (options.maxAttempts !== undefined && attempt >= options.maxAttempts) return stop(`${attempt} attempts in a row failed`);
      // §7.2.3: after an abnormal closure, wait before trying again, and not all at the same moment.
      const delayMs = backoffDelay(attempt, backoff, options.random);
      state({ state: "waiting", attempt, delayMs });
      attempt += 1;
      retry = setTimeout(open, delayMs);
    });
  };
  open();

  return {
    join(room) {
      rooms.add(room);
      if (ws?.readyState === WebSocket.OPEN) sendJoin(ws, room);
    },
    leave(room) {
      rooms.delete(room);
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "leave", room }));
    },
    say(room, text) {
      if (ws?.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify({ type: "say", room, text }));
      return true;
    },
    lastSeq(room) {
      return last.get(room);
    },
    get connected() {
      return ws?.readyState === WebSocket.OPEN;
    },
    async close() {
      if (stopped) return finished;
      stopped = true;
      clearTimeout(retry);
      const socket = ws;
      if (socket === undefined || socket.readyState === WebSocket.CLOSED) stop("closed by the caller");
      else {
        socket.close(CloseCode.Normal, "bye");
        const timer = setTimeout(() => socket.terminate(), 5_000);
        await finished;
        clearTimeout(timer);
      }
      return finished;
    },
  };
  // #endregion
}
