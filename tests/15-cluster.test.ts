import { once } from "node:events";
import { get } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  connectChat,
  createClusterChatServer,
  createLocalBus,
  createRedisBus,
  type Bus,
  type BusOptions,
  type ChatClientState,
  type ChatMessage,
  type ClusterChatServer,
  type ClusterChatServerOptions,
  type ReconnectingChat,
} from "@workbook/15-cluster";
import type { ServerMessage } from "@workbook/13-rooms";
import { ChatClient, type Received } from "./helpers/chat.ts";
import { eventually, RawClient, upgradeRequest, within } from "./helpers/peers.ts";
import { freePort, RedisServer } from "./helpers/redis.ts";

// ---------------------------------------------------------------------------
// What every test may start, and everything stopped after each test
// ---------------------------------------------------------------------------

let redis: RedisServer | undefined;
/** One Redis for the whole file (each test uses its own key prefix or rooms); started on first use. */
async function redisServer(): Promise<RedisServer> {
  redis ??= await RedisServer.start();
  return redis;
}
afterAll(async () => {
  await redis?.dispose();
});

const started = { buses: [] as Bus[], servers: [] as ClusterChatServer[], clients: [] as ChatClient[], chats: [] as ReconnectingChat[], raw: [] as RawClient[] };
afterEach(async () => {
  for (const client of started.clients.splice(0)) client.close();
  for (const raw of started.raw.splice(0)) raw.socket.destroy();
  await Promise.all(started.chats.splice(0).map((chat) => within(chat.close(), 10_000, "closing a reconnecting client").catch(() => {})));
  await Promise.all(started.servers.splice(0).map((server) => within(server.close(), 15_000, "closing a cluster chat server").catch(() => {})));
  await Promise.all(started.buses.splice(0).map((bus) => within(bus.close(), 10_000, "closing a bus").catch(() => {})));
});

let prefixes = 0;
/** A bus of either kind, closed after the test; Redis buses of one test share a key prefix, so they share rooms. */
type BusKind = "local" | "redis";
async function makeBuses(kind: BusKind, count: number, options: BusOptions = {}): Promise<Bus[]> {
  if (kind === "local") {
    // One process: the servers share one local bus.
    const bus = createLocalBus(options);
    started.buses.push(bus);
    return Array.from({ length: count }, () => bus);
  }
  const { url } = await redisServer();
  const prefix = `t${++prefixes}`;
  const buses: Bus[] = [];
  for (let i = 0; i < count; i++) {
    const bus = await within(createRedisBus(url, { ...options, prefix }), 10_000, "createRedisBus connecting to the test's redis-server");
    started.buses.push(bus);
    buses.push(bus);
  }
  return buses;
}

const draft = (text: string, from = "a.c1") => ({ from, text, time: 1_700_000_000_000 });
/** Collects what a bus listener gets. */
function collector() {
  const got: ChatMessage[] = [];
  return { got, listener: (message: ChatMessage) => void got.push(message) };
}
const seqs = (messages: readonly object[]) => messages.map((m) => (m as { seq?: unknown }).seq);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

async function cluster(count: number, kind: BusKind, options: ClusterChatServerOptions & BusOptions = {}) {
  const buses = await makeBuses(kind, count, { history: options.history ?? 1000 });
  const servers: ClusterChatServer[] = [];
  const urls: string[] = [];
  for (const [i, bus] of buses.entries()) {
    const server = createClusterChatServer({ rate: false, serverId: `s${i}`, ...options, bus });
    started.servers.push(server);
    servers.push(server);
    urls.push(await within(server.listen(0, "127.0.0.1"), 10_000, "a cluster chat server's listen()"));
  }
  return { servers, urls };
}
async function clients(url: string, n: number): Promise<ChatClient[]> {
  const list: ChatClient[] = [];
  for (let i = 0; i < n; i++) {
    const client = await ChatClient.connect(url);
    started.clients.push(client);
    list.push(client);
  }
  return list;
}
const chatMessages = (received: readonly Received[]) => received.filter((m) => m.type === "message");
/** GET a path of a ws:// server's HTTP side: its status and body (bounded). */
function httpGet(wsUrl: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, wsUrl.replace(/^ws/, "http"));
  return within(
    new Promise((resolve, reject) => {
      const req = get(url, { agent: false }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
    }),
    5_000,
    `GET ${url}`,
  );
}

// ---------------------------------------------------------------------------
// Steps 1 and 2: one contract, two buses
// ---------------------------------------------------------------------------

/** The contract every Bus keeps, whatever carries it: the same tests for the local bus (step 1) and the Redis bus (step 2). */
function busContract(kind: BusKind) {
  test("the bus: publish gives each room its own seq, from 1, +1 per message, and resolves with the message as delivered", async () => {
    const [bus] = (await makeBuses(kind, 1)) as [Bus];
    const one = [];
    for (const text of ["a", "b", "c"]) one.push(await bus.publish("one", draft(text)));
    expect(one.map((m) => [m.type, m.room, m.seq, m.text]), "room one: 1, 2, 3").toEqual([
      ["message", "one", 1, "a"],
      ["message", "one", 2, "b"],
      ["message", "one", 3, "c"],
    ]);
    expect((await bus.publish("two", draft("x", "b.c7"))), "room two counts on its own, and the message keeps from, text and time").toEqual({
      type: "message",
      room: "two",
      seq: 1,
      from: "b.c7",
      text: "x",
      time: 1_700_000_000_000,
    });
    expect((await bus.publish("one", draft("d"))).seq, "room one goes on from 3").toBe(4);
    expect(await bus.history("one"), "history without since: the last seq, nothing kept asked for").toEqual({ last: 4, kept: [] });
    expect((await bus.history("never-used")).last, "a room with no message: last seq 0").toBe(0);
  });

  test("the bus: every listener of a room gets each message once, in seq order; other rooms' listeners get nothing; unsubscribed, nothing more", async () => {
    const [bus] = (await makeBuses(kind, 1)) as [Bus];
    const first = collector();
    const second = collector();
    const elsewhere = collector();
    await bus.subscribe("lobby", first.listener);
    await bus.subscribe("lobby", second.listener);
    await bus.subscribe("elsewhere", elsewhere.listener);
    for (let n = 1; n <= 5; n++) await bus.publish("lobby", draft(`m${n}`));
    await eventually(() => first.got.length >= 5 && second.got.length >= 5, 5_000, "both listeners receiving the five messages");
    for (const { got } of [first, second]) expect(got.map((m) => [m.seq, m.text]), "once each, in seq order").toEqual(range(1, 5).map((n) => [n, `m${n}`]));
    await bus.unsubscribe("lobby", first.listener);
    await bus.publish("lobby", draft("after"));
    await eventually(() => second.got.length >= 6, 5_000, "the listener still subscribed receiving the sixth message");
    await bus.publish("elsewhere", draft("there"));
    await eventually(() => elsewhere.got.length >= 1, 5_000, "the other room's listener receiving its own message");
    expect(first.got, "unsubscribed: nothing more").toHaveLength(5);
    expect(elsewhere.got.map((m) => m.text), "the other room's listener got only its room's message").toEqual(["there"]);
    expect(bus.up, "a working bus reports itself up").toBe(true);
  });

  test("the bus: the workbook's policy: history keeps the newest `history` messages exactly; history(room, since) gives those after since, oldest first", async () => {
    const [bus] = (await makeBuses(kind, 1, { history: 3 })) as [Bus];
    for (let n = 1; n <= 10; n++) await bus.publish("lobby", draft(`m${n}`));
    const all = await bus.history("lobby", 0);
    expect(all.last, "the last seq").toBe(10);
    expect(all.kept.map((m) => [m.type, m.room, m.seq, m.text]), "the three newest, oldest first").toEqual([
      ["message", "lobby", 8, "m8"],
      ["message", "lobby", 9, "m9"],
      ["message", "lobby", 10, "m10"],
    ]);
    expect(seqs((await bus.history("lobby", 8)).kept), "after 8").toEqual([9, 10]);
    expect((await bus.history("lobby", 10)).kept, "after the last: nothing").toEqual([]);
    const [none] = (await makeBuses(kind, 1, { history: 0 })) as [Bus];
    await none.publish("r", draft("x"));
    expect(await none.history("r", 0), "history 0 keeps nothing, and still counts").toEqual({ last: 1, kept: [] });
    expect(() => createLocalBus({ history: -1 }), "misuse by the caller is a RangeError: history -1").toThrow(RangeError);
  });

  test("the bus: two publishers at once never give a seq twice, and seq order is history order is delivery order, for every listener", async () => {
    const [a, b] = (await makeBuses(kind, 2, { history: 1000 })) as [Bus, Bus];
    const onA = collector();
    const onB = collector();
    await a.subscribe("race", onA.listener);
    await b.subscribe("race", onB.listener);
    const each = 60;
    const results = await Promise.all([
      ...range(1, each).map((n) => a.publish("race", draft(`a${n}`, "A"))),
      ...range(1, each).map((n) => b.publish("race", draft(`b${n}`, "B"))),
    ]);
    expect(
      seqs(results).sort((x, y) => Number(x) - Number(y)),
      "the seqs given out: 1 to 120, each once",
    ).toEqual(range(1, 2 * each));
    await eventually(() => onA.got.length >= 2 * each && onB.got.length >= 2 * each, 10_000, "both listeners receiving all 120 messages");
    expect(seqs(onA.got), "delivered in seq order, each once").toEqual(range(1, 2 * each));
    expect(onB.got, "the other listener: the very same messages in the very same order").toEqual(onA.got);
    expect((await a.history("race", 0)).kept, "the history: the same messages in the same order").toEqual(onA.got);
    const bySeq = new Map(results.map((m) => [m.seq, m]));
    for (const delivered of onA.got) expect(bySeq.get(delivered.seq), `seq ${delivered.seq}: what publish resolved with is what was delivered`).toEqual(delivered);
  });
}

describe("Step 1 — the bus in one process: createLocalBus", () => {
  busContract("local");
});

describe("Step 2 — the bus on Redis: createRedisBus", () => {
  busContract("redis");

  test("the workbook's policy: a server is subscribed at Redis to a room while it has listeners there, and unsubscribed when the last one goes", async () => {
    const { url } = await redisServer();
    const [bus] = (await makeBuses("redis", 1)) as [Bus];
    const admin = createClient({ url });
    admin.on("error", () => {});
    await within(admin.connect(), 5_000, "a test client connecting to redis-server");
    try {
      const channels = async () => ((await admin.sendCommand(["PUBSUB", "CHANNELS"])) as string[]).length;
      const before = await channels();
      const one = collector();
      const two = collector();
      await bus.subscribe("watched", one.listener);
      await bus.subscribe("watched", two.listener);
      expect(await channels(), "one channel more at Redis for the room, however many listeners").toBe(before + 1);
      await bus.unsubscribe("watched", one.listener);
      expect(await channels(), "a listener left: still subscribed").toBe(before + 1);
      await bus.unsubscribe("watched", two.listener);
      expect(await channels(), "the last listener left: unsubscribed at Redis").toBe(before);
    } finally {
      await admin.close().catch(() => admin.destroy());
    }
  });

  test("createRedisBus: no Redis at the URL is an error within connectTimeoutMs, naming the URL, not a hang", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const failure = await within(createRedisBus(url, { connectTimeoutMs: 1_000, reconnect: { baseMs: 20, capMs: 100 } }).then(
      (bus) => (started.buses.push(bus), undefined),
      (error: unknown) => error,
    ), 10_000, "createRedisBus giving up on a port where no Redis listens");
    expect(failure, "rejected with an Error").toBeInstanceOf(Error);
    expect(String((failure as Error).message), "the message names where it looked").toContain(String(port));
  });

  test("the bus reports its health: Redis killed → down, publishing fails at once; Redis back → up again, subscriptions restored, by itself", async () => {
    const own = await RedisServer.start();
    try {
      const health: boolean[] = [];
      const bus = await within(createRedisBus(own.url, { reconnect: { baseMs: 20, capMs: 200 } }), 10_000, "createRedisBus");
      started.buses.push(bus);
      bus.onHealth((up) => health.push(up));
      const live = collector();
      await bus.subscribe("lobby", live.listener);
      await bus.publish("lobby", draft("before"));
      await eventually(() => live.got.length === 1, 5_000, "the first message, live");
      await own.stop();
      await eventually(() => !bus.up, 10_000, "bus.up turning false after redis-server was killed");
      expect(health, "told once: down").toEqual([false]);
      const failed = await within(bus.publish("lobby", draft("while down")).then(() => "published", (e: unknown) => e), 5_000, "a publish while Redis is down, settling");
      expect(failed, "a publish while Redis is down rejects (nothing waits for Redis in a queue)").toBeInstanceOf(Error);
      await own.resume();
      await eventually(() => bus.up, 15_000, "bus.up turning true again after redis-server came back");
      expect(health, "told again: up").toEqual([false, true]);
      // The data went with the killed server (no persistence in this test): what matters is the live flow.
      const other = await within(createRedisBus(own.url), 10_000, "a second bus connecting");
      started.buses.push(other);
      await within(
        (async () => {
          while (live.got.length < 2) {
            await other.publish("lobby", draft("after"));
            await new Promise((r) => setTimeout(r, 50));
          }
        })(),
        10_000,
        "a message from another server reaching the listener subscribed before the restart",
      );
      expect(live.got.at(-1)?.text, "the subscription came back by itself").toBe("after");
    } finally {
      await own.dispose();
    }
  });
});

// ---------------------------------------------------------------------------
// Step 3: the cluster chat server
// ---------------------------------------------------------------------------

for (const kind of ["local", "redis"] as const) {
  describe(`Step 3 — the cluster chat server (${kind} bus): one chat across servers`, () => {
    test("chat.v1: a message said on server A reaches the members on A and on B, the sender included, with one seq", async () => {
      const { urls } = await cluster(2, kind);
      const [alice, bob] = (await clients(urls[0] as string, 2)) as [ChatClient, ChatClient];
      const [carol, dave] = (await clients(urls[1] as string, 2)) as [ChatClient, ChatClient];
      for (const member of [alice, bob, carol, dave]) await member.join("lobby");
      const [outsider] = (await clients(urls[1] as string, 1)) as [ChatClient];
      await outsider.join("other");
      alice.send({ type: "say", room: "lobby", text: "hello from A" });
      await dave.messages(1);
      carol.send({ type: "say", room: "lobby", text: "hello from B" });
      for (const member of [alice, bob, carol, dave]) {
        const got = await member.messages(2);
        expect(got.map((m) => [m.seq, m.text]), "every member, on either server: both messages, seq 1 and 2, in order").toEqual([
          [1, "hello from A"],
          [2, "hello from B"],
        ]);
      }
      const first = chatMessages(alice.received)[0];
      expect(first?.from, "from: the sender's id").toBeTypeOf("string");
      expect(chatMessages(dave.received)[0], "the same message on the other server").toEqual(first);
      expect(chatMessages(outsider.received), "a member of another room gets nothing").toEqual([]);
    });

    test("chat.v1: senders on two servers at once: every member sees seq 1..N, each once, in order, the same messages", async () => {
      const { urls } = await cluster(2, kind);
      const members = [...(await clients(urls[0] as string, 3)), ...(await clients(urls[1] as string, 3))];
      for (const member of members) await member.join("busy");
      const each = 15;
      for (let n = 0; n < each; n++) for (const [i, member] of members.entries()) member.send({ type: "say", room: "busy", text: `${i}:${n}` });
      const total = each * members.length;
      const first = await (members[0] as ChatClient).messages(total, 20_000);
      expect(seqs(first), `seq 1 to ${total}, each once, in order`).toEqual(range(1, total));
      for (const member of members) {
        const got = await member.messages(total, 20_000);
        expect(got, "every member, on either server, the same messages in the same order").toEqual(first);
      }
      for (const [i] of members.entries()) {
        const own = first.filter((m) => String(m.text).startsWith(`${i}:`)).map((m) => m.text);
        expect(own, `sender ${i}'s messages in the order it sent them`).toEqual(range(0, each - 1).map((n) => `${i}:${n}`));
      }
    });

    test("chat.v1 resume: since = the last seq → joined and then the live flow; since before it → exactly what was missed, then live; too much missed → a gap first", async () => {
      const { urls } = await cluster(2, kind, { history: 5 });
      const [speaker] = (await clients(urls[0] as string, 1)) as [ChatClient];
      await speaker.join("lobby");
      for (let n = 1; n <= 8; n++) speaker.send({ type: "say", room: "lobby", text: `m${n}` });
      await speaker.messages(8);
      const [upToDate, behind, farBehind] = (await clients(urls[1] as string, 3)) as [ChatClient, ChatClient, ChatClient];
      upToDate.send({ type: "join", room: "lobby", since: 8 });
      behind.send({ type: "join", room: "lobby", since: 5 });
      farBehind.send({ type: "join", room: "lobby", since: 1 });
      await behind.until((r) => chatMessages(r).length === 3, "the three messages after 5");
      await farBehind.until((r) => chatMessages(r).length === 5, "the five kept messages");
      await upToDate.until((r) => r.some((m) => m.type === "joined"), "joined");
      speaker.send({ type: "say", room: "lobby", text: "m9" });
      for (const member of [upToDate, behind, farBehind]) await member.until((r) => r.some((m) => m.text === "m9"), "m9, live");
      expect(upToDate.received.map((m) => [m.type, m.seq]), "nothing missed: joined with the last seq, then only the live message").toEqual([
        ["joined", 8],
        ["message", 9],
      ]);
      expect(behind.received.map((m) => [m.type, m.seq, m.text]), "some missed: joined, exactly 6 to 8, then 9 live: no gap, no duplicate").toEqual([
        ["joined", 8, undefined],
        ["message", 6, "m6"],
        ["message", 7, "m7"],
        ["message", 8, "m8"],
        ["message", 9, "m9"],
      ]);
      expect(farBehind.received.slice(0, 2), "too much missed (history 5): joined, then a gap naming 2 to 3").toEqual([
        { type: "joined", room: "lobby", seq: 8 },
        { type: "gap", room: "lobby", from: 2, to: 3 },
      ]);
      expect(seqs(farBehind.received.slice(2)), "then the kept 4 to 8, and 9 live").toEqual(range(4, 9));
    });

    test("chat.v1 resume at the seam: a join with since while messages keep coming gets every seq after since exactly once, in order", async () => {
      const { urls } = await cluster(2, kind, { history: 1000 });
      const [speaker] = (await clients(urls[0] as string, 1)) as [ChatClient];
      await speaker.join("flow");
      const total = 150;
      for (let n = 1; n <= 40; n++) speaker.send({ type: "say", room: "flow", text: `m${n}` });
      await speaker.messages(20);
      const [late] = (await clients(urls[1] as string, 1)) as [ChatClient];
      // While the speaker's messages 21.. are still arriving, and more are sent.
      late.send({ type: "join", room: "flow", since: 10 });
      for (let n = 41; n <= total; n++) speaker.send({ type: "say", room: "flow", text: `m${n}` });
      await late.messages(total - 10, 20_000);
      await speaker.messages(total, 20_000);
      expect(late.received[0]?.type, "joined first").toBe("joined");
      expect(late.received.filter((m) => m.type === "gap"), "no gap: everything is kept").toEqual([]);
      expect(seqs(chatMessages(late.received)), `11 to ${total}, each once, in order: nothing lost or doubled at the seam between history and live`).toEqual(range(11, total));
    });
  });
}

describe("Step 3 — the cluster chat server: when the bus goes down", () => {
  test("the workbook's policy: while Redis is down a say is answered with an error and every member stays; when it comes back (empty), the rooms go on by themselves on both servers", async () => {
    const own = await RedisServer.start();
    try {
      const health: boolean[] = [];
      const servers: ClusterChatServer[] = [];
      const urls: string[] = [];
      for (const id of ["a", "b"]) {
        const server = createClusterChatServer({ rate: false, serverId: id, redisUrl: own.url, onBusHealth: (up) => health.push(up) });
        started.servers.push(server);
        servers.push(server);
        urls.push(await within(server.listen(0, "127.0.0.1"), 10_000, "a cluster chat server on its own Redis"));
      }
      const [onA] = (await clients(urls[0] as string, 1)) as [ChatClient];
      const [onB] = (await clients(urls[1] as string, 1)) as [ChatClient];
      for (const member of [onA, onB]) await member.join("lobby");
      for (let n = 1; n <= 3; n++) onA.send({ type: "say", room: "lobby", text: `before ${n}` });
      await onB.messages(3);
      await own.stop();
      await eventually(() => servers.every((s) => s.bus?.up === false), 10_000, "both servers' buses reporting down");
      expect(health.filter((up) => !up).length, "onBusHealth told each server: down").toBeGreaterThanOrEqual(2);
      const healthWhileDown = await httpGet(urls[0] as string, "/health");
      expect(healthWhileDown.status, "/health while the bus is down: still 200 (the server serves its members)").toBe(200);
      expect(JSON.parse(healthWhileDown.body).bus, "/health names the bus as down").toBe("down");
      onA.send({ type: "say", room: "lobby", text: "while down" });
      await onA.until((r) => r.some((m) => m.type === "error"), "an error answering a say while the bus is down");
      expect(onA.closed ?? onB.closed, "every member still connected").toBeUndefined();
      await own.resume();
      await eventually(() => servers.every((s) => s.bus?.up === true), 20_000, "both servers' buses reporting up again, by themselves");
      const mark = { a: onA.received.length, b: onB.received.length };
      onB.send({ type: "say", room: "lobby", text: "after" });
      for (const [member, from] of [[onA, mark.a], [onB, mark.b]] as const) {
        await member.until((r) => r.slice(from).some((m) => m.text === "after"), "the first message after Redis came back");
      }
      expect(chatMessages(onA.received).map((m) => m.text), "on A: the three before, then the one after; nothing while down").toEqual(["before 1", "before 2", "before 3", "after"]);
      expect(chatMessages(onB.received).map((m) => m.text), "on B: the same").toEqual(["before 1", "before 2", "before 3", "after"]);
    } finally {
      await own.dispose();
    }
  });
});

describe("Step 3 — the cluster chat server: health and a graceful shutdown", () => {
  test("the workbook's policy: GET /health answers 200 while serving; an upgrade that does not offer chat.v1 is refused with 400 (§4.2.2 would let a server accept it with no subprotocol)", async () => {
    const { urls } = await cluster(1, "local");
    const url = urls[0] as string;
    expect((await httpGet(url, "/health")).status, "health while serving").toBe(200);
    const refused = await RawClient.connect(url, upgradeRequest(url));
    started.raw.push(refused);
    await eventually(() => refused.response.length > 0, 5_000, "an answer to an upgrade without chat.v1");
    expect(refused.response, "no chat.v1 offered: 400").toMatch(/^HTTP\/1\.1 400/);
  });

  test("the workbook's policy: a heartbeat every pingInterval (§5.5.2 MUST: a ping is answered with a pong): a member that never answers is dropped, one that answers stays", async () => {
    const { urls } = await cluster(1, "local", { pingInterval: 150 });
    const url = urls[0] as string;
    const [live] = (await clients(url, 1)) as [ChatClient];
    let pings = 0;
    live.ws.on("ping", () => (pings += 1));
    const silent = await RawClient.connect(url, upgradeRequest(url, ["Sec-WebSocket-Protocol: chat.v1"]));
    started.raw.push(silent);
    await eventually(() => silent.response.startsWith("HTTP/1.1 101"), 5_000, "the silent member's 101");
    await eventually(() => silent.frames.some((f) => f.opcode === 0x9), 5_000, "a ping (opcode 0x9) to the member that never answers");
    await eventually(() => silent.closed || silent.ended, 5_000, "the member that never answered its ping dropped");
    // Three pings: the second and the third each checked that the one before was answered.
    await eventually(() => pings >= 3, 5_000, "three pings to the member that answers them");
    expect(live.closed, "the member that answers every ping is still connected").toBeUndefined();
    for (const bad of [0, -1, Number.NaN, 2 ** 31]) expect(() => createClusterChatServer({ pingInterval: bad }), `misuse by the caller is a RangeError: pingInterval ${bad}`).toThrow(RangeError);
  });

  test("§7.4.1 (1001, going away): shutdown closes every member with 1001, spread over drainMs; /health answers 503 before the first close; new upgrades are refused", async () => {
    const { servers, urls } = await cluster(1, "local");
    const [server, url] = [servers[0] as ClusterChatServer, urls[0] as string];
    const members = await clients(url, 4);
    for (const member of members) await member.join("lobby");
    let healthAtFirstClose: Promise<{ status: number }> | undefined;
    const closedAt: number[] = [];
    for (const member of members) member.ws.once("close", () => {
      closedAt.push(Date.now());
      healthAtFirstClose ??= httpGet(url, "/health");
    });
    const start = Date.now();
    const done = server.shutdown({ drainMs: 1_200, closeTimeoutMs: 3_000 });
    expect(server.draining, "draining from the call on").toBe(true);
    const during = await RawClient.connect(url, upgradeRequest(url, ["Sec-WebSocket-Protocol: chat.v1"])).catch(() => undefined);
    if (during !== undefined) {
      started.raw.push(during);
      await eventually(() => during.response.length > 0 || during.closed, 5_000, "an answer to an upgrade during the drain");
      expect(during.response, "an upgrade during the drain gets no 101").not.toMatch(/^HTTP\/1\.1 101/);
    }
    await within(done, 20_000, "shutdown({ drainMs: 1200, closeTimeoutMs: 3000 })");
    for (const member of members) expect((await member.closedWith()).code, "each member's close code").toBe(1001);
    expect((await within(healthAtFirstClose ?? Promise.reject(new Error("no member was closed")), 5_000, "GET /health at the first close")).status, "health when the first member was closed").toBe(503);
    expect(Math.max(...closedAt) - start, "spread over the drain: the last goodbye is not sent at once (at least half of drainMs later)").toBeGreaterThanOrEqual(600);
    expect(server.memberCount, "no member left").toBe(0);
  });

  test("the workbook's policy: shutdown waits for each close handshake at most closeTimeoutMs: a member that never answers is dropped, and shutdown still resolves", async () => {
    const { servers, urls } = await cluster(1, "local");
    const [server, url] = [servers[0] as ClusterChatServer, urls[0] as string];
    const silent = await RawClient.connect(url, upgradeRequest(url, ["Sec-WebSocket-Protocol: chat.v1"]));
    started.raw.push(silent);
    await eventually(() => silent.response.startsWith("HTTP/1.1 101"), 5_000, "the silent member's 101");
    await within(server.shutdown({ drainMs: 0, closeTimeoutMs: 500 }), 15_000, "shutdown with a member that never answers its close frame");
    expect((await silent.closeFrame(5_000)).code, "the silent member was sent 1001").toBe(1001);
    await eventually(() => silent.closed || silent.ended, 5_000, "the silent member's TCP connection ended");
  });
});

// ---------------------------------------------------------------------------
// Step 4: the reconnecting client
// ---------------------------------------------------------------------------

describe("Step 4 — the reconnecting client: connectChat", () => {
  test("misuse by the caller is a RangeError at once, not a crash at the first reconnection: no URL, or a backoff chapter 09's backoffDelay refuses", () => {
    expect(() => connectChat([]), "no URL").toThrow(RangeError);
    expect(() => connectChat("ws://127.0.0.1:1/", { backoff: { baseMs: 0, capMs: 100 } }), "baseMs 0").toThrow(RangeError);
    expect(() => connectChat("ws://127.0.0.1:1/", { backoff: { baseMs: 100, capMs: 2 ** 31 } }), "capMs 2^31").toThrow(RangeError);
  });

  test("§7.2.3 SHOULD: back off after an abnormal closure (chapter 09's schedule with its random source); the workbook's policy: also after a 1001, and the schedule starts over once a connection opened and joined", async () => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/`;
    const states: ChatClientState[] = [];
    const chat = connectChat(url, { rooms: ["lobby"], backoff: { baseMs: 40, capMs: 400 }, random: () => 0.5, onState: (s) => states.push(s), connectTimeoutMs: 2_000 });
    started.chats.push(chat);
    const waits = () => states.filter((s) => s.state === "waiting") as Extract<ChatClientState, { state: "waiting" }>[];
    await eventually(() => waits().length >= 4, 10_000, "four failed attempts on a port where nothing listens");
    expect(waits().slice(0, 4).map((w) => [w.attempt, Math.round(w.delayMs)]), "attempts 0..3: half of 40, 80, 160, 320 (random() = 0.5)").toEqual([
      [0, 20],
      [1, 40],
      [2, 80],
      [3, 160],
    ]);
    // A server appears on that port: the next attempt opens, and the schedule starts over.
    const server = createClusterChatServer({ rate: false, bus: (await makeBuses("local", 1))[0] });
    started.servers.push(server);
    await server.listen(port, "127.0.0.1");
    await eventually(() => chat.lastSeq("lobby") !== undefined, 10_000, "the client connecting and joined once a server listens");
    const before = waits().length;
    await within(server.close(), 10_000, "the server closing");
    await eventually(() => waits().length > before, 10_000, "the client waiting to reconnect after the server went away");
    expect(waits()[before]?.attempt, "after a connection that opened, the count starts over at attempt 0").toBe(0);
    expect(states.some((s) => s.state === "closed" && s.code === 1001), "it saw the server's 1001").toBe(true);
  });

  test("the workbook's policy: the schedule starts over only once a join was answered, so a server that accepts and closes at once is still backed off from", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: () => "chat.v1" });
    wss.on("connection", (ws) => ws.close(1001, "going away at once"));
    try {
      await within(once(wss, "listening"), 5_000, "a ws server listening");
      const { port } = wss.address() as AddressInfo;
      const states: ChatClientState[] = [];
      const chat = connectChat(`ws://127.0.0.1:${port}/`, { rooms: ["lobby"], backoff: { baseMs: 10, capMs: 10_000 }, random: () => 0.5, onState: (s) => states.push(s), connectTimeoutMs: 2_000 });
      started.chats.push(chat);
      const waits = () => states.filter((s) => s.state === "waiting") as Extract<ChatClientState, { state: "waiting" }>[];
      await eventually(() => waits().length >= 4, 10_000, "four reconnections to a server that closes every connection at once");
      expect(states.filter((s) => s.state === "open").length, "every attempt opened").toBeGreaterThanOrEqual(4);
      expect(waits().slice(0, 4).map((w) => w.attempt), "opened, but never joined: attempts 0, 1, 2, 3, not 0 again and again").toEqual([0, 1, 2, 3]);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
  });

  test("the workbook's policy: after a server's shutdown the client reconnects (to the next URL) and resumes each room with since: every message exactly once, in order", async () => {
    const { servers, urls } = await cluster(2, "local", { history: 1000 });
    const [leaving] = servers as [ClusterChatServer];
    const got: ServerMessage[] = [];
    const chat = connectChat(urls, { rooms: ["lobby", "side"], backoff: { baseMs: 20, capMs: 200 }, onMessage: (m) => got.push(m) });
    started.chats.push(chat);
    await eventually(() => got.filter((m) => m.type === "joined").length === 2, 5_000, "the client's two joined");
    const [speaker] = (await clients(urls[1] as string, 1)) as [ChatClient];
    await speaker.join("lobby");
    await speaker.join("side");
    const total = 60;
    const sending = (async () => {
      for (let n = 1; n <= total; n++) {
        speaker.send({ type: "say", room: n % 3 === 0 ? "side" : "lobby", text: `m${n}` });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await eventually(() => got.some((m) => m.type === "message"), 5_000, "the first message before the restart");
    await within(leaving.shutdown({ drainMs: 0, closeTimeoutMs: 2_000 }), 10_000, "server A shutting down");
    await sending;
    const lobbyCount = range(1, total).filter((n) => n % 3 !== 0).length;
    await eventually(
      () => chat.lastSeq("lobby") === lobbyCount && chat.lastSeq("side") === total - lobbyCount,
      15_000,
      "the client, reconnected to server B, catching up both rooms",
    );
    const messages = got.filter((m): m is ChatMessage => m.type === "message");
    expect(got.filter((m) => m.type === "gap"), "nothing lost: no gap").toEqual([]);
    for (const room of ["lobby", "side"]) {
      const texts = messages.filter((m) => m.room === room).map((m) => m.text);
      const expected = range(1, total).filter((n) => (room === "side") === (n % 3 === 0)).map((n) => `m${n}`);
      expect(texts, `${room}: every message exactly once, in order, across the restart`).toEqual(expected);
    }
    expect(chat.connected, "connected again").toBe(true);
  });

  test("the workbook's policy: close() stops for good: 1000 to the server, no reconnection after it", async () => {
    const ended: { code: number }[] = [];
    const { urls } = await cluster(1, "local", { onClose: (info) => ended.push(info) });
    const states: ChatClientState[] = [];
    const chat = connectChat(urls[0] as string, { rooms: ["lobby"], backoff: { baseMs: 10, capMs: 20 }, onState: (s) => states.push(s) });
    await eventually(() => chat.connected, 5_000, "the client connecting");
    await within(chat.close(), 10_000, "the client's close()");
    expect(chat.connected, "not connected after close()").toBe(false);
    await eventually(() => ended.length === 1, 5_000, "the server seeing the client's close");
    expect(ended[0]?.code, "the code the server got from the client").toBe(1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(states.filter((s) => s.state === "waiting"), "no reconnection was scheduled").toEqual([]);
    expect(states.filter((s) => s.state === "open"), "opened once").toHaveLength(1);
  });
});
