/**
 * A chat.v1 member for load and for proof (DESIGN.md's chat.v1): a real `ws`
 * client in one room that keeps every seq it receives, and comes back on its
 * own when its connection drops: after a backoff with full jitter it connects
 * again (through the balancer: to whichever server is UP) and joins with
 * `since` = the last seq it saw, so the server sends what it missed, then the
 * live flow. The rolling-restart test and `npm run bench -- --cluster` use it;
 * it is the tests' own client, not the reader's.
 */
import WebSocket from "ws";
// The reference schedule (chapter 09, step 3): the test's members back off as a reader's client does.
import { backoffDelay, type BackoffOptions } from "../../../solutions/09-echo-client.ts";

export interface MemberOptions {
  /** Reconnect backoff: the first delay's ceiling and the cap (full jitter: a random delay in [0, ceiling]). */
  backoff?: BackoffOptions;
  /** Called for every message received (the bench times them). */
  onMessage?: (message: ChatMessage, member: ChatMember) => void;
}

export interface ChatMessage {
  room: string;
  seq: number;
  from: string;
  text: string;
  time: number;
}

export class ChatMember {
  /** Every message received, in arrival order (live or resumed). */
  readonly received: ChatMessage[] = [];
  /** The seq of the first `joined`: this member is owed every message after it. */
  firstJoined: number | undefined;
  /** The highest seq received (or joined at): what `since` says on a rejoin. */
  last = 0;
  /** Connections that ended without our asking, by close code (1006: no close frame). */
  readonly drops = new Map<number, number>();
  /** Rejoins that succeeded after a drop. */
  rejoins = 0;
  /** `gap` messages: history no longer held what `since` asked for. */
  readonly gaps: { from: number; to: number }[] = [];
  /** `error` messages from the server. */
  readonly errors: string[] = [];
  /** Texts said (only while joined). */
  readonly said: string[] = [];
  #ws: WebSocket | undefined;
  #joined = false;
  #attempt = 0;
  #closing = false;
  #timer: NodeJS.Timeout | undefined;
  #firstJoin: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(
    readonly name: string,
    readonly url: string,
    readonly room: string,
    readonly options: MemberOptions = {},
  ) {}

  /** Connects and joins; resolves once the first `joined` arrived (or rejects with why it could not). */
  join(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#firstJoin = { resolve, reject };
      this.#connect();
    });
  }

  /** Whether it is connected and joined now. */
  get joined(): boolean {
    return this.#joined;
  }

  /** Says `text` in its room, if joined (returns false otherwise: nothing sent). */
  say(text: string): boolean {
    if (!this.#joined || this.#ws?.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify({ type: "say", room: this.room, text }));
    this.said.push(text);
    return true;
  }

  /** Closes with 1000 and stops coming back. */
  close(): void {
    this.#closing = true;
    clearTimeout(this.#timer);
    if (this.#ws !== undefined && this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000);
  }

  /** Closes the TCP connection at once, with no closing handshake, and stays away (a client that vanished). */
  terminate(): void {
    this.#closing = true;
    clearTimeout(this.#timer);
    this.#ws?.terminate();
  }

  #connect(): void {
    const ws = new WebSocket(this.url, ["chat.v1"]);
    this.#ws = ws;
    ws.on("open", () => {
      const since = this.firstJoined === undefined ? {} : { since: this.last };
      ws.send(JSON.stringify({ type: "join", room: this.room, ...since }));
    });
    ws.on("message", (data: Buffer) => this.#receive(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on("error", () => {}); // 'close' follows, and decides
    ws.on("close", (code: number) => {
      const wasJoined = this.#joined;
      this.#joined = false;
      if (this.#closing) return;
      if (wasJoined) this.drops.set(code, (this.drops.get(code) ?? 0) + 1);
      if (this.#firstJoin !== undefined && this.#attempt >= 20) {
        this.#firstJoin.reject(new Error(`${this.name}: could not join ${this.room} at ${this.url} (last close ${code})`));
        this.#firstJoin = undefined;
        return;
      }
      // §7.2.3: after an abnormal closure, back off before reconnecting; full jitter spreads the herd.
      const delayMs = backoffDelay(this.#attempt, this.options.backoff ?? { baseMs: 100, capMs: 2_000 });
      this.#attempt++;
      this.#timer = setTimeout(() => this.#connect(), delayMs);
    });
  }

  #receive(message: Record<string, unknown>): void {
    switch (message.type) {
      case "joined": {
        const seq = Number(message.seq);
        this.#joined = true;
        this.#attempt = 0;
        if (this.firstJoined === undefined) {
          this.firstJoined = seq;
          this.last = seq;
          this.#firstJoin?.resolve();
          this.#firstJoin = undefined;
        } else {
          this.rejoins++;
        }
        break;
      }
      case "message": {
        const received = message as unknown as ChatMessage;
        this.received.push(received);
        this.last = Math.max(this.last, received.seq);
        this.options.onMessage?.(received, this);
        break;
      }
      case "gap":
        this.gaps.push({ from: Number(message.from), to: Number(message.to) });
        break;
      case "error":
        this.errors.push(String(message.reason));
        break;
    }
  }
}

/** What one member received, against what it was owed: seqs firstJoined+1 .. final, each once, in order. */
export interface Tally {
  owed: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

export function tally(member: ChatMember, final: number): Tally {
  const first = (member.firstJoined ?? 0) + 1;
  const owed = Math.max(0, final - first + 1);
  const seen = new Map<number, number>();
  let outOfOrder = 0;
  let previous = first - 1;
  for (const { seq } of member.received) {
    const before = seen.get(seq) ?? 0;
    seen.set(seq, before + 1);
    // A first arrival below one already seen came out of order (a second arrival is a duplicate, counted below).
    if (before === 0 && seq < previous) outOfOrder++;
    previous = Math.max(previous, seq);
  }
  let lost = 0;
  let duplicated = 0;
  for (let seq = first; seq <= final; seq++) {
    const times = seen.get(seq) ?? 0;
    if (times === 0) lost++;
    else duplicated += times - 1;
  }
  return { owed, received: member.received.length, lost, duplicated, outOfOrder };
}
