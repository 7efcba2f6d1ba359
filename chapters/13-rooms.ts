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
import { NotImplementedError } from "../lib/not-implemented.ts";
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

/** The room-name rule of chat.v1: 1 to 64 characters, each a letter, a digit, `.`, `_` or `-`. */
export function isRoomName(value: unknown): value is string {
  throw new NotImplementedError("isRoomName in chapters/13-rooms.ts");
}

/**
 * One client message (the text of one WebSocket text message) read and
 * checked: a JSON object with a known `type`, a valid room, a string `text`
 * for "say", a whole number ≥ 0 for `since`. Fields it does not know are
 * ignored (a later version may add some). Never throws: what can't be read
 * is `{ ok: false, reason }`, which the hub answers with an error message.
 */
export function parseClientMessage(text: string): ParsedClientMessage {
  throw new NotImplementedError("parseClientMessage in chapters/13-rooms.ts");
}

/**
 * A token bucket: `burst` tokens to start with, `perSecond` more each second
 * (never more than `burst`); each message takes one. The clock is given, so
 * a test can move time by hand.
 */
export class TokenBucket {
  constructor(burst: number, perSecond: number, now: () => number) {
    throw new NotImplementedError("new TokenBucket in chapters/13-rooms.ts");
  }

  /** Takes a token if there is one: true if the message may go ahead. */
  take(): boolean {
    throw new NotImplementedError("TokenBucket.take in chapters/13-rooms.ts");
  }
}

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
  constructor(options: HubOptions = {}) {
    throw new NotImplementedError("new ChatHub in chapters/13-rooms.ts");
  }

  /** A new connection, by the shell's id for it ("from" in its messages). */
  connect(id: string): void {
    throw new NotImplementedError("ChatHub.connect in chapters/13-rooms.ts");
  }

  /**
   * One message from connection `id`: what to send to whom, and whom to close.
   * A connection the hub does not know (never connected, or gone) is ignored.
   */
  receive(id: string, message: Message): HubAction[] {
    throw new NotImplementedError("ChatHub.receive in chapters/13-rooms.ts");
  }

  /** Connection `id` is gone: it leaves every room it was in. Nothing is sent (chat.v1 has no "left"). */
  disconnect(id: string): void {
    throw new NotImplementedError("ChatHub.disconnect in chapters/13-rooms.ts");
  }

  /** The ids of the members of `room`, in the order they joined. */
  members(room: string): string[] {
    throw new NotImplementedError("ChatHub.members in chapters/13-rooms.ts");
  }

  /** The rooms connection `id` is in. */
  roomsOf(id: string): string[] {
    throw new NotImplementedError("ChatHub.roomsOf in chapters/13-rooms.ts");
  }
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

/**
 * The chat server: chat.v1 over WebSocket, on a new node:http server or the
 * one given. A client must offer the subprotocol chat.v1; one that doesn't is
 * refused with 400 before any WebSocket exists (the workbook's policy).
 */
export function createChatServer(options: ChatServerOptions = {}, server: HttpServer = createServer()): ChatServer {
  throw new NotImplementedError("createChatServer in chapters/13-rooms.ts");
}

