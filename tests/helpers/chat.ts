/**
 * A chat.v1 client for the tests of chapter 13: the real `ws` package, with
 * every server message parsed and kept in order. Every wait is bounded.
 */
import WebSocket from "ws";
import { eventually, within } from "./peers.ts";

/** A server message as it arrived: parsed JSON, checked only for being an object with a type. */
export type Received = { type: string; [field: string]: unknown };

export class ChatClient {
  readonly received: Received[] = [];
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) throw new Error("chat.v1 servers send text messages, and this one sent binary");
      this.received.push(JSON.parse(data.toString()) as Received);
    });
    ws.on("close", (code: number, reason: Buffer) => (this.closed = { code, reason: reason.toString() }));
    ws.on("error", () => {}); // "close" follows
  }

  /** Connects with these subprotocols offered (default: chat.v1). */
  static async connect(url: string, protocols: string[] = ["chat.v1"]): Promise<ChatClient> {
    const ws = new WebSocket(url, protocols);
    const client = new ChatClient(ws);
    await within(
      new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      }),
      2_000,
      `a chat client connecting to ${url}`,
    );
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Joins `room` and waits for its "joined". */
  async join(room: string): Promise<Received> {
    const before = this.received.length;
    this.send({ type: "join", room });
    await this.until((r) => r.slice(before).some((m) => m.type === "joined" && m.room === room), `"joined" for room ${room}`);
    return this.received.slice(before).find((m) => m.type === "joined") as Received;
  }

  /** Waits until `condition` holds of everything received so far. */
  async until(condition: (received: Received[]) => boolean, what: string, ms = 5_000): Promise<void> {
    await eventually(() => condition(this.received), ms, what);
  }

  /** Waits until `count` messages of type "message" arrived. */
  messages(count: number, ms = 5_000): Promise<Received[]> {
    return this.until((r) => r.filter((m) => m.type === "message").length >= count, `${count} chat messages`, ms).then(() =>
      this.received.filter((m) => m.type === "message"),
    );
  }

  /** Waits for the close event. */
  async closedWith(ms = 5_000): Promise<{ code: number; reason: string }> {
    await eventually(() => this.closed !== undefined, ms, "the chat connection's close");
    return this.closed as { code: number; reason: string };
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}
