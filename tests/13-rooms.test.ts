import { createServer, type Server as HttpServer } from "node:http";
import type { Socket } from "node:net";
import fc from "fast-check";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, peer, skipNote } from "../scripts/lib/system-peers.ts";
import {
  createChatServer,
  ChatHub,
  isRoomName,
  parseClientMessage,
  TokenBucket,
  type HubAction,
  type HubOptions,
  type ChatServer,
  type ChatServerOptions,
  type ServerMessage,
} from "@workbook/13-rooms";
import type { Message } from "../lib/message.ts";
import { utf8 } from "./helpers/bytes.ts";
import { ChatClient, type Received } from "./helpers/chat.ts";
import { clientFrame, eventually, RawClient, upgradeRequest, within } from "./helpers/peers.ts";

/** A hub on a clock the test moves by hand. */
function hubAt(options: HubOptions = {}) {
  const clock = { ms: 1_700_000_000_000 };
  const hub = new ChatHub({ now: () => clock.ms, rate: false, ...options });
  return { hub, clock };
}
const text = (value: unknown): Message => ({ type: "text", data: typeof value === "string" ? value : JSON.stringify(value) });
/** What each connection receives from `actions`, in order (a "send" to several is one message each). */
function inboxes(actions: readonly HubAction[]): Map<string, ServerMessage[]> {
  const byId = new Map<string, ServerMessage[]>();
  for (const action of actions) {
    if (action.type !== "send") continue;
    for (const id of action.to) byId.set(id, [...(byId.get(id) ?? []), action.message]);
  }
  return byId;
}
const onlyErrorTo = (actions: readonly HubAction[], id: string) => {
  expect(actions, "one answer: an error message to the sender alone").toHaveLength(1);
  const [action] = actions;
  expect(action?.type === "send" && action.to, "the error goes to the sender alone").toEqual([id]);
  expect(action?.type === "send" && action.message.type, 'the answer is {"type":"error",...}').toBe("error");
  expect(action?.type === "send" && action.message.type === "error" && typeof action.message.reason, "its reason is a string").toBe("string");
};

describe("Step 1 — read chat.v1 messages: isRoomName, parseClientMessage", () => {
  test("the workbook's policy (chat.v1): a room name is 1 to 64 of A-Z a-z 0-9 . _ -", () => {
    for (const good of ["a", "lobby", "Room-1", "a.b_c-d", "x".repeat(64), "0"]) expect(isRoomName(good), JSON.stringify(good)).toBe(true);
    for (const bad of ["", "x".repeat(65), "a b", "é", "a/b", "lobby\n", "#general", 7, null, undefined, ["lobby"]]) {
      expect(isRoomName(bad), JSON.stringify(bad) ?? String(bad)).toBe(false);
    }
  });

  test("chat.v1: join (with and without since), leave and say are read; fields it does not know are ignored", () => {
    expect(parseClientMessage('{"type":"join","room":"lobby"}')).toEqual({ ok: true, message: { type: "join", room: "lobby" } });
    expect(parseClientMessage('{"type":"join","room":"lobby","since":0}')).toEqual({ ok: true, message: { type: "join", room: "lobby", since: 0 } });
    expect(parseClientMessage('{"type":"join","room":"lobby","since":41}')).toEqual({ ok: true, message: { type: "join", room: "lobby", since: 41 } });
    expect(parseClientMessage('{"type":"leave","room":"lobby"}')).toEqual({ ok: true, message: { type: "leave", room: "lobby" } });
    expect(parseClientMessage('{"type":"say","room":"lobby","text":""}')).toEqual({ ok: true, message: { type: "say", room: "lobby", text: "" } });
    expect(parseClientMessage('{"text":"hi ☃","room":"r","type":"say","colour":"red"}')).toEqual({ ok: true, message: { type: "say", room: "r", text: "hi ☃" } });
  });

  test("chat.v1: what is not a valid client message is refused, never thrown", () => {
    const bad = [
      "",
      "hello",
      "[]",
      "null",
      '"join"',
      "{",
      '{"type":"join"}',
      '{"type":"join","room":""}',
      '{"type":"join","room":"a b"}',
      '{"type":"join","room":"lobby","since":-1}',
      '{"type":"join","room":"lobby","since":1.5}',
      '{"type":"join","room":"lobby","since":"3"}',
      '{"type":"say","room":"lobby"}',
      '{"type":"say","room":"lobby","text":42}',
      '{"type":"shout","room":"lobby","text":"hi"}',
      '{"room":"lobby","text":"hi"}',
      '{"type":"leave","room":["lobby"]}',
    ];
    for (const input of bad) {
      const parsed = parseClientMessage(input);
      expect(parsed.ok, `${JSON.stringify(input)} is not a valid chat.v1 message`).toBe(false);
      expect(!parsed.ok && typeof parsed.reason === "string" && parsed.reason.length > 0, `${JSON.stringify(input)}: a reason is given`).toBe(true);
    }
  });
});

describe("Step 2 — a fair share: TokenBucket", () => {
  test("misuse by the caller is a RangeError: a token bucket with burst 0 or perSecond 0", () => {
    expect(() => new TokenBucket(0, 1, () => 0), "burst 0").toThrow(RangeError);
    expect(() => new TokenBucket(5, 0, () => 0), "perSecond 0").toThrow(RangeError);
  });
  test("the workbook's policy: a token bucket lets burst through at once, then perSecond, on the clock it is given", () => {
    const clock = { ms: 0 };
    const bucket = new TokenBucket(3, 2, () => clock.ms);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()], "3 at once, not a 4th").toEqual([true, true, true, false]);
    clock.ms += 499;
    expect(bucket.take(), "2 per second: not one token after 499 ms").toBe(false);
    clock.ms += 1;
    expect(bucket.take(), "one token after 500 ms").toBe(true);
    expect(bucket.take()).toBe(false);
    clock.ms += 60_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()], "a long pause refills up to burst, no more").toEqual([true, true, true, false]);
  });
});

describe("Step 3 — the hub: rooms, join and leave, fan-out", () => {
  test("chat.v1: a say goes to every member of the room, the sender included, and to no one else", () => {
    const { hub, clock } = hubAt();
    for (const id of ["a", "b", "c", "d"]) hub.connect(id);
    for (const id of ["a", "b", "c"]) hub.receive(id, text({ type: "join", room: "lobby" }));
    hub.receive("d", text({ type: "join", room: "other" }));
    clock.ms += 5;
    const sent = inboxes(hub.receive("b", text({ type: "say", room: "lobby", text: "hello" })));
    const expected: ServerMessage = { type: "message", room: "lobby", seq: 1, from: "b", text: "hello", time: clock.ms };
    for (const id of ["a", "b", "c"]) expect(sent.get(id), `member ${id} gets the message once, with seq 1, the sender's id and the clock's time`).toEqual([expected]);
    expect(sent.has("d"), "a connection in another room gets nothing").toBe(false);
    expect(hub.members("lobby").sort()).toEqual(["a", "b", "c"]);
    expect(hub.roomsOf("d")).toEqual(["other"]);
  });

  test("chat.v1: joined carries the room's last seq; seq is per room, from 1, +1 per message", () => {
    const { hub } = hubAt();
    hub.connect("a");
    expect(inboxes(hub.receive("a", text({ type: "join", room: "one" }))).get("a")).toEqual([{ type: "joined", room: "one", seq: 0 }]);
    hub.receive("a", text({ type: "join", room: "two" }));
    const seqs = (room: string, n: number) =>
      Array.from({ length: n }, () => inboxes(hub.receive("a", text({ type: "say", room, text: "x" }))).get("a")?.[0]).map((m) => (m?.type === "message" ? m.seq : undefined));
    expect(seqs("one", 3), "room one counts 1, 2, 3").toEqual([1, 2, 3]);
    expect(seqs("two", 2), "room two has its own count, from 1").toEqual([1, 2]);
    expect(seqs("one", 1), "room one goes on from 3").toEqual([4]);
    hub.connect("b");
    expect(inboxes(hub.receive("b", text({ type: "join", room: "one" }))).get("b")).toEqual([{ type: "joined", room: "one", seq: 4 }]);
  });

  test("chat.v1: after leave, the room sends that connection nothing more", () => {
    const { hub } = hubAt();
    hub.connect("a");
    hub.connect("b");
    hub.receive("a", text({ type: "join", room: "lobby" }));
    hub.receive("b", text({ type: "join", room: "lobby" }));
    expect(hub.receive("b", text({ type: "leave", room: "lobby" })), "chat.v1 has no answer to leave").toEqual([]);
    const sent = inboxes(hub.receive("a", text({ type: "say", room: "lobby", text: "anyone?" })));
    expect(sent.has("b"), "b left: it gets nothing").toBe(false);
    expect(sent.get("a")).toHaveLength(1);
    expect(hub.members("lobby")).toEqual(["a"]);
  });

  test("the workbook's policy: a closed connection leaves every room it was in", () => {
    const { hub } = hubAt();
    for (const id of ["a", "b"]) hub.connect(id);
    for (const room of ["r1", "r2", "r3"]) hub.receive("a", text({ type: "join", room }));
    hub.receive("b", text({ type: "join", room: "r2" }));
    hub.disconnect("a");
    for (const room of ["r1", "r2", "r3"]) expect(hub.members(room), `${room} without a`).not.toContain("a");
    expect(hub.roomsOf("a")).toEqual([]);
    const sent = inboxes(hub.receive("b", text({ type: "say", room: "r2", text: "hi" })));
    expect([...sent.keys()], "a say after a's close goes to b alone").toEqual(["b"]);
    expect(hub.receive("a", text({ type: "say", room: "r2", text: "ghost" })), "a connection that is gone is ignored").toEqual([]);
  });

  test("the workbook's policy: joining twice is one membership (and joined again); only members may say", () => {
    const { hub } = hubAt();
    hub.connect("a");
    hub.connect("b");
    hub.receive("a", text({ type: "join", room: "lobby" }));
    expect(inboxes(hub.receive("a", text({ type: "join", room: "lobby" }))).get("a")).toEqual([{ type: "joined", room: "lobby", seq: 0 }]);
    expect(hub.members("lobby")).toEqual(["a"]);
    expect(inboxes(hub.receive("a", text({ type: "say", room: "lobby", text: "once" }))).get("a"), "a member hears its message once").toHaveLength(1);
    onlyErrorTo(hub.receive("b", text({ type: "say", room: "lobby", text: "from outside" })), "b");
    onlyErrorTo(hub.receive("b", text({ type: "leave", room: "lobby" })), "b");
  });

  test("chat.v1: errors are messages to the sender; the connection stays and still works", () => {
    const { hub } = hubAt();
    hub.connect("a");
    for (const input of ["nonsense", '{"type":"join","room":"no spaces"}', '{"type":"say"}']) onlyErrorTo(hub.receive("a", text(input)), "a");
    onlyErrorTo(hub.receive("a", { type: "binary", data: new Uint8Array([123, 125]) }), "a");
    expect(inboxes(hub.receive("a", text({ type: "join", room: "lobby" }))).get("a")).toEqual([{ type: "joined", room: "lobby", seq: 0 }]);
  });

  test("chat.v1: no garbage makes the hub throw, and every answer is a chat.v1 server message", () => {
    const { hub } = hubAt();
    hub.connect("a");
    hub.connect("b");
    hub.receive("b", text({ type: "join", room: "lobby" }));
    const types = new Set(["joined", "message", "gap", "error"]);
    const anyJson = fc.jsonValue().map((v) => JSON.stringify(v));
    const nearlyChat = fc.record({ type: fc.constantFrom("join", "leave", "say", "x"), room: fc.oneof(fc.constantFrom("lobby", "", "a b"), fc.string()), text: fc.anything(), since: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v) ?? "");
    fc.assert(
      fc.property(fc.oneof(fc.string(), anyJson, nearlyChat), (input) => {
        for (const action of hub.receive("a", text(input))) {
          expect(action.type, "garbage is answered, never closed for (the rate limit is off)").toBe("send");
          if (action.type === "send") expect(types.has(action.message.type), JSON.stringify(action.message)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  test("the workbook's policy: a join mayJoin refuses gets an error, no membership, and the member stays connected", () => {
    const asked: [string, string][] = [];
    const { hub } = hubAt({
      mayJoin: (id, room) => {
        asked.push([id, room]);
        return room !== "staff" || id === "boss";
      },
    });
    for (const id of ["a", "boss"]) hub.connect(id);
    hub.receive("a", text({ type: "join", room: "lobby" }));
    expect(asked, "mayJoin is asked with the connection's id and the room").toEqual([["a", "lobby"]]);
    onlyErrorTo(hub.receive("a", text({ type: "join", room: "staff" })), "a");
    expect(hub.members("staff"), "a refused join is no membership").toEqual([]);
    expect(hub.roomsOf("a"), "a is still in lobby, and only there").toEqual(["lobby"]);
    onlyErrorTo(hub.receive("a", text({ type: "say", room: "staff", text: "let me in" })), "a");
    expect(inboxes(hub.receive("a", text({ type: "say", room: "lobby", text: "still here" }))).get("a"), "a still chats in lobby").toHaveLength(1);
    expect(inboxes(hub.receive("boss", text({ type: "join", room: "staff" }))).get("boss"), "mayJoin allows boss in staff").toEqual([{ type: "joined", room: "staff", seq: 0 }]);
    const said = inboxes(hub.receive("boss", text({ type: "say", room: "staff", text: "staff only" })));
    expect([...said.keys()], "a say in staff reaches boss alone").toEqual(["boss"]);
    onlyErrorTo(hub.receive("a", text({ type: "join", room: "staff" })), "a");
    expect(hub.members("staff"), "mayJoin is asked for a room that exists too").toEqual(["boss"]);
  });

  test("the workbook's policy: a refused join makes no room (it does not count against maxRooms)", () => {
    const { hub } = hubAt({ maxRooms: 1, mayJoin: (_id, room) => room !== "secret" });
    hub.connect("a");
    onlyErrorTo(hub.receive("a", text({ type: "join", room: "secret" })), "a");
    expect(inboxes(hub.receive("a", text({ type: "join", room: "lobby" }))).get("a"), "the one room allowed is still free").toEqual([{ type: "joined", room: "lobby", seq: 0 }]);
  });
});

describe("Step 3 — the hub: limits and misuse", () => {
  test("the workbook's policy: the number of rooms is bounded; one more is answered with an error, existing rooms still work", () => {
    const { hub } = hubAt({ maxRooms: 2 });
    hub.connect("a");
    hub.receive("a", text({ type: "join", room: "one" }));
    hub.receive("a", text({ type: "join", room: "two" }));
    onlyErrorTo(hub.receive("a", text({ type: "join", room: "three" })), "a");
    expect(hub.roomsOf("a").sort()).toEqual(["one", "two"]);
    hub.connect("b");
    expect(inboxes(hub.receive("b", text({ type: "join", room: "two" }))).get("b")).toEqual([{ type: "joined", room: "two", seq: 0 }]);
  });

  test("misuse by the caller is a RangeError: an id connected twice, a negative history", () => {
    const { hub } = hubAt();
    hub.connect("a");
    expect(() => hub.connect("a"), "connect() twice with one id").toThrow(RangeError);
    expect(() => new ChatHub({ history: -1 }), "history -1").toThrow(RangeError);
  });
});

describe("Step 3 — the hub: history and since", () => {
  test("chat.v1: join with since gets joined, then every kept message after since, in order", () => {
    const { hub } = hubAt();
    hub.connect("a");
    hub.receive("a", text({ type: "join", room: "lobby" }));
    const said = [1, 2, 3, 4, 5].map((n) => inboxes(hub.receive("a", text({ type: "say", room: "lobby", text: `m${n}` }))).get("a")?.[0]);
    hub.connect("b");
    expect(inboxes(hub.receive("b", text({ type: "join", room: "lobby", since: 2 }))).get("b")).toEqual([
      { type: "joined", room: "lobby", seq: 5 },
      said[2],
      said[3],
      said[4],
    ]);
    hub.connect("c");
    expect(inboxes(hub.receive("c", text({ type: "join", room: "lobby", since: 5 }))).get("c"), "since = the last seq: nothing to catch up").toEqual([{ type: "joined", room: "lobby", seq: 5 }]);
    hub.connect("d");
    expect(inboxes(hub.receive("d", text({ type: "join", room: "lobby", since: 0 }))).get("d"), "since 0: everything kept").toHaveLength(6);
  });

  test("chat.v1: a gap names what history no longer holds; the history per room is bounded", () => {
    const { hub } = hubAt({ history: 3 });
    hub.connect("a");
    hub.receive("a", text({ type: "join", room: "lobby" }));
    for (let n = 1; n <= 10; n++) hub.receive("a", text({ type: "say", room: "lobby", text: `m${n}` }));
    hub.connect("b");
    const got = inboxes(hub.receive("b", text({ type: "join", room: "lobby", since: 2 }))).get("b") ?? [];
    expect(got[0]).toEqual({ type: "joined", room: "lobby", seq: 10 });
    expect(got[1], "seq 3 to 7 are gone: a gap from 3 to 7").toEqual({ type: "gap", room: "lobby", from: 3, to: 7 });
    expect(got.slice(2).map((m) => (m.type === "message" ? m.seq : m.type)), "then the three kept").toEqual([8, 9, 10]);
    hub.connect("c");
    const noGap = inboxes(hub.receive("c", text({ type: "join", room: "lobby", since: 7 }))).get("c") ?? [];
    expect(noGap.map((m) => m.type), "since 7: all of 8..10 are kept, no gap").toEqual(["joined", "message", "message", "message"]);
    const none = hubAt({ history: 0 });
    none.hub.connect("a");
    none.hub.receive("a", text({ type: "join", room: "r" }));
    none.hub.receive("a", text({ type: "say", room: "r", text: "x" }));
    none.hub.receive("a", text({ type: "say", room: "r", text: "y" }));
    none.hub.connect("b");
    expect(inboxes(none.hub.receive("b", text({ type: "join", room: "r", since: 0 }))).get("b"), "history 0: everything is a gap").toEqual([
      { type: "joined", room: "r", seq: 2 },
      { type: "gap", room: "r", from: 1, to: 2 },
    ]);
  });
});

describe("Step 3 — the hub: fairness (a token bucket per connection)", () => {

  test("the workbook's policy: a connection over its rate is closed with 1008 (policy violation), and leaves its rooms", () => {
    const { hub, clock } = hubAt({ rate: { burst: 5, perSecond: 1 } });
    hub.connect("noisy");
    hub.connect("calm");
    hub.receive("noisy", text({ type: "join", room: "lobby" }));
    hub.receive("calm", text({ type: "join", room: "lobby" }));
    for (let n = 0; n < 4; n++) expect(hub.receive("noisy", text({ type: "say", room: "lobby", text: `${n}` })).every((a) => a.type === "send")).toBe(true);
    const over = hub.receive("noisy", text({ type: "say", room: "lobby", text: "one too many" }));
    const close = over.find((a) => a.type === "close");
    expect(close, "the 6th message in a burst of 5 closes the connection").toMatchObject({ type: "close", id: "noisy", code: 1008 });
    expect(inboxes(over).size, "the message over the rate goes to no one").toBe(0);
    expect(hub.members("lobby")).toEqual(["calm"]);
    clock.ms += 1_000;
    expect(inboxes(hub.receive("calm", text({ type: "say", room: "lobby", text: "quiet now" }))).get("calm")?.[0]).toMatchObject({ seq: 5 });
  });

  test("the workbook's policy: garbage counts against the rate too", () => {
    const { hub } = hubAt({ rate: { burst: 3, perSecond: 1 } });
    hub.connect("a");
    for (let n = 0; n < 3; n++) hub.receive("a", text("garbage"));
    expect(hub.receive("a", text("garbage")).find((a) => a.type === "close")).toMatchObject({ code: 1008 });
  });
});

// ---------------------------------------------------------------------------
// The shell: real sockets on 127.0.0.1, real `ws` clients
// ---------------------------------------------------------------------------

/** Everything a test started, stopped after it. */
const started: { servers: ChatServer[]; clients: ChatClient[]; raw: RawClient[] } = { servers: [], clients: [], raw: [] };
afterEach(async () => {
  for (const client of started.clients.splice(0)) client.close();
  for (const raw of started.raw.splice(0)) raw.socket.destroy();
  await Promise.all(started.servers.splice(0).map((server) => within(server.close(), 10_000, "the chat server's close()")));
});

/** A chat server on its own node:http server, whose server-side sockets the test can see (to measure their queues). */
async function chatServer(options: ChatServerOptions = {}) {
  const http: HttpServer = createServer();
  const sockets: Socket[] = [];
  http.on("connection", (socket: Socket) => sockets.push(socket));
  const closed: { id: string; code: number; reason: string; queued: Map<number, number> }[] = [];
  const server = createChatServer(
    {
      rate: false,
      ...options,
      onClose: (info) => {
        // Measured at the moment the server decides: every server-side socket's queue, by the client's port.
        closed.push({ ...info, queued: new Map(sockets.map((s) => [s.remotePort ?? 0, s.writableLength])) });
        options.onClose?.(info);
      },
    },
    http,
  );
  started.servers.push(server);
  const url = await server.listen(0, "127.0.0.1");
  return { url, sockets, closed };
}
async function clients(url: string, n: number): Promise<ChatClient[]> {
  const opened = await Promise.all(Array.from({ length: n }, () => ChatClient.connect(url)));
  started.clients.push(...opened);
  return opened;
}

describe("Step 4 — the server on real sockets: createChatServer", () => {
  test("§1.9, §4.2.2: the server selects the subprotocol chat.v1 when the client offers it", async () => {
    const { url } = await chatServer();
    const [client] = await clients(url, 1);
    expect(client?.ws.protocol, "the 101 names chat.v1 in Sec-WebSocket-Protocol").toBe("chat.v1");
    const [other] = await Promise.all([ChatClient.connect(url, ["chat.v2", "chat.v1"])]);
    started.clients.push(other as ChatClient);
    expect(other?.ws.protocol, "offered after an unknown one, chat.v1 is still selected").toBe("chat.v1");
  });

  test("the workbook's policy: a client that does not offer chat.v1 is refused before any WebSocket exists (HTTP 400)", async () => {
    const { url } = await chatServer();
    const refused = await RawClient.connect(url, upgradeRequest(url));
    started.raw.push(refused);
    await eventually(() => refused.response !== "", 2_000, "the server's answer to an upgrade request without a subprotocol");
    expect(refused.response, "a refusal: 400, not 101").toMatch(/^HTTP\/1\.1 400 /);
  });

  test("chat.v1: a say reaches every member of the room, the sender included, with seq and the sender's id; other rooms hear nothing", async () => {
    const { url } = await chatServer();
    const [a, b, c, d] = (await clients(url, 4)) as [ChatClient, ChatClient, ChatClient, ChatClient];
    for (const member of [a, b, c]) expect(await member.join("lobby")).toMatchObject({ type: "joined", room: "lobby", seq: 0 });
    await d.join("elsewhere");
    b.send({ type: "say", room: "lobby", text: "hello ☃" });
    const got = await Promise.all([a, b, c].map((member) => member.messages(1)));
    const first = got[0]?.[0] as Received;
    expect(first, "the message as chat.v1 says").toMatchObject({ type: "message", room: "lobby", seq: 1, text: "hello ☃" });
    expect(typeof first.from === "string" && typeof first.time === "number", "from is the sender's id, time a number of ms").toBe(true);
    for (const inbox of got) expect(inbox, "every member gets the same message, once").toEqual([first]);
    d.send({ type: "say", room: "elsewhere", text: "ping" });
    await d.messages(1);
    expect(a.received.filter((m) => m.type === "message"), "a member of lobby hears nothing of another room").toHaveLength(1);
  });

  test("the workbook's policy: a broadcast is encoded once, and the same bytes are written to every member", async () => {
    const { url, sockets } = await chatServer();
    const members = await clients(url, 5);
    for (const member of members) await member.join("lobby");
    // Watch what the server writes on each of its sockets from now on.
    const writes = new Map<Socket, unknown[]>();
    for (const socket of sockets) {
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      writes.set(socket, []);
      socket.write = ((chunk: unknown, ...rest: unknown[]) => {
        writes.get(socket)?.push(chunk);
        return write(chunk, ...rest);
      }) as Socket["write"];
    }
    members[0]?.send({ type: "say", room: "lobby", text: "x".repeat(1000) });
    await Promise.all(members.map((member) => member.messages(1)));
    const chunks = [...writes.values()].map((list) => list.filter((chunk) => typeof chunk !== "string" && (chunk as Uint8Array).length > 1000));
    expect(chunks.map((list) => list.length), "each member's socket is written the frame once").toEqual(members.map(() => 1));
    const [one] = chunks[0] ?? [];
    for (const list of chunks) expect(list[0] === one, "the very same bytes object, encoded once for all five").toBe(true);
  });

  test("chat.v1: messages of one room reach every member in the same order, seq 1..N, each sender's in the order it sent them", async () => {
    const { url } = await chatServer();
    const members = await clients(url, 6);
    for (const member of members) await member.join("lobby");
    const each = 25;
    // Every member sends at once, as fast as it can: the server sees the senders interleaved.
    for (let n = 0; n < each; n++) for (const [i, member] of members.entries()) member.send({ type: "say", room: "lobby", text: `${i}:${n}` });
    const inboxes = await Promise.all(members.map((member) => member.messages(each * members.length)));
    const first = inboxes[0] ?? [];
    expect(first.map((m) => m.seq), "seq counts 1, 2, 3, ... with no hole and no repeat").toEqual(Array.from({ length: first.length }, (_, k) => k + 1));
    for (const inbox of inboxes) expect(inbox.map((m) => `${m.seq} ${String(m.text)}`), "every member sees the same order").toEqual(first.map((m) => `${m.seq} ${String(m.text)}`));
    for (let i = 0; i < members.length; i++) {
      const own = first.filter((m) => String(m.text).startsWith(`${i}:`)).map((m) => String(m.text));
      expect(own, `sender ${i}'s messages in the order it sent them`).toEqual(Array.from({ length: each }, (_, n) => `${i}:${n}`));
    }
  });

  test("chat.v1: garbage in the chat format is answered with errors; the connection and the server go on", async () => {
    const { url } = await chatServer();
    const [noisy, bystander] = (await clients(url, 2)) as [ChatClient, ChatClient];
    await bystander.join("lobby");
    const garbage = ["", "{", "[1,2]", "null", '{"type":"join","room":"bad room"}', '{"type":"say","room":"lobby","text":"not a member"}', '{"type":"join","room":"lobby","since":-4}', "x".repeat(5000), '{"type":"leave","room":"never-joined"}'];
    for (const input of garbage) noisy.send(input);
    noisy.ws.send(Buffer.from([1, 2, 3])); // binary: chat.v1 is text
    await noisy.until((r) => r.filter((m) => m.type === "error").length === garbage.length + 1, "one error message for each bad message");
    for (const error of noisy.received) expect(error, "each answer is a chat.v1 error").toMatchObject({ type: "error", reason: expect.any(String) });
    expect(noisy.closed, "still open").toBeUndefined();
    await noisy.join("lobby");
    noisy.send({ type: "say", room: "lobby", text: "sorry" });
    expect((await bystander.messages(1))[0], "the room still works").toMatchObject({ text: "sorry", seq: 1 });
  });

  test("the workbook's policy: a client over the rate limit is closed with 1008 (policy violation)", async () => {
    const { url, closed } = await chatServer({ rate: { burst: 10, perSecond: 1 } });
    const [noisy, calm] = (await clients(url, 2)) as [ChatClient, ChatClient];
    await noisy.join("lobby");
    await calm.join("lobby");
    for (let n = 0; n < 30; n++) noisy.send({ type: "say", room: "lobby", text: `${n}` });
    expect((await noisy.closedWith()).code, "the close frame the flooding client got").toBe(1008);
    expect(closed.map((c) => c.code)).toEqual([1008]);
    calm.send({ type: "say", room: "lobby", text: "still here" });
    await calm.until((r) => r.some((m) => m.text === "still here"), "the calm member's own message back");
    expect(calm.closed).toBeUndefined();
  });
  test("the workbook's policy: authorizeJoin is asked with the joining member's own upgrade request; a refused join gets an error and the member stays", async () => {
    const asked: string[] = [];
    const { url, closed } = await chatServer({
      authorizeJoin: (request, room) => {
        asked.push(`${request.url} ${room}`);
        return new URL(request.url ?? "/", "http://any/").searchParams.get("may") === room;
      },
    });
    const lobbyOnly = await ChatClient.connect(`${url}?may=lobby`);
    const staffOnly = await ChatClient.connect(`${url}?may=staff`);
    started.clients.push(lobbyOnly, staffOnly);
    expect(await lobbyOnly.join("lobby")).toMatchObject({ type: "joined", room: "lobby" });
    const before = lobbyOnly.received.length;
    lobbyOnly.send({ type: "join", room: "staff" });
    await lobbyOnly.until((r) => r.slice(before).some((m) => m.type === "error"), "an error for a refused join");
    expect(lobbyOnly.received.slice(before).map((m) => m.type), "an error, not joined").toEqual(["error"]);
    expect(await staffOnly.join("staff"), "the other member's request allows staff").toMatchObject({ type: "joined", room: "staff" });
    expect(asked, "each join asked with its own member's request").toEqual(["/?may=lobby lobby", "/?may=lobby staff", "/?may=staff staff"]);
    lobbyOnly.send({ type: "say", room: "lobby", text: "still in lobby" });
    expect(await lobbyOnly.messages(1), "the refused member still chats in lobby").toMatchObject([{ type: "message", room: "lobby", text: "still in lobby" }]);
    expect(closed, "no one was closed").toEqual([]);
  });
});

describe("Step 4 — the server on real sockets: catching up and stopping", () => {
  test("chat.v1: a client that comes back with since gets joined, a gap for what the history lost, then the kept messages in order", async () => {
    const { url } = await chatServer({ history: 3 });
    const [speaker] = (await clients(url, 1)) as [ChatClient];
    await speaker.join("lobby");
    for (let n = 1; n <= 6; n++) speaker.send({ type: "say", room: "lobby", text: `m${n}` });
    await speaker.messages(6);
    const [late] = (await clients(url, 1)) as [ChatClient];
    late.send({ type: "join", room: "lobby", since: 1 });
    await late.until((r) => r.filter((m) => m.type === "message").length === 3, "the three kept messages");
    expect(late.received.slice(0, 2), "joined, then the gap").toEqual([
      { type: "joined", room: "lobby", seq: 6 },
      { type: "gap", room: "lobby", from: 2, to: 3 },
    ]);
    expect(late.received.slice(2).map((m) => [m.type, m.seq, m.text]), "then the kept messages, in order").toEqual([
      ["message", 4, "m4"],
      ["message", 5, "m5"],
      ["message", 6, "m6"],
    ]);
  });

  test("the workbook's policy: a TCP connection that never sends its upgrade request is dropped after handshakeTimeout", async () => {
    const { url } = await chatServer({ handshakeTimeout: 500 });
    const idle = await RawClient.connect(url);
    started.raw.push(idle);
    await eventually(() => idle.closed || idle.ended, 10_000, "the server dropping a connection that never sent its request");
  });

  test("the workbook's policy: close() says goodbye to every member with 1001 (going away), and every socket is gone after", async () => {
    const http: HttpServer = createServer();
    const server = createChatServer({ rate: false }, http);
    const url = await server.listen(0, "127.0.0.1");
    const members = await clients(url, 3);
    for (const member of members) await member.join("lobby");
    await within(server.close(), 10_000, "the chat server's close()");
    for (const member of members) expect((await member.closedWith()).code, "each member's close code").toBe(1001);
    expect(server.connectionCount, "no TCP connection left").toBe(0);
  });
});

describe("Step 4 — the server on real sockets: a member that stops reading", () => {
  test("the workbook's policy: among 50 members that read, one that stops is closed with 1013 once its queued bytes pass the bound; the 50 get everything, and no queue passes the bound", async () => {
    const bound = 256 * 1024;
    const { url, sockets, closed } = await chatServer({ maxQueuedBytes: bound, closeTimeout: 3_000 });
    const readers = await clients(url, 50);
    for (const reader of readers) await reader.join("lobby");
    // The slow member: a raw socket that joins, then never reads again.
    const slow = await RawClient.connect(url, upgradeRequest(url, ["Sec-WebSocket-Protocol: chat.v1"]));
    started.raw.push(slow);
    await eventually(() => slow.response.startsWith("HTTP/1.1 101"), 2_000, "the slow member's 101");
    slow.socket.write(clientFrame(0x1, utf8(JSON.stringify({ type: "join", room: "lobby" }))));
    await eventually(() => slow.frames.length > 0, 2_000, "the slow member's joined");
    slow.socket.pause();
    const slowPort = slow.socket.localPort ?? -1;

    const publisher = readers[0] as ChatClient;
    const text = "m".repeat(16_000);
    const frameSize = 4 + JSON.stringify({ type: "message", room: "lobby", seq: 1, from: "c1", text, time: Date.now() }).length + 40;
    const perRound = 4;
    let sent = 0;
    let worst = 0;
    const worstQueue = () => Math.max(...sockets.filter((s) => !s.destroyed).map((s) => s.writableLength));
    // Until the slow member is closed, then ten rounds more; 400 rounds (25 MiB) without a close is a failure.
    let roundsAfter = 0;
    for (let round = 0; roundsAfter < 10; round++) {
      if (round >= 400) throw new Error(`the slow member was never closed: ${sent} messages of ${text.length} bytes later, its server-side queue holds ${sockets.find((s) => s.remotePort === slowPort)?.writableLength} bytes`);
      for (let n = 0; n < perRound; n++) publisher.send({ type: "say", room: "lobby", text });
      sent += perRound;
      await Promise.all(readers.map((reader) => reader.messages(sent, 10_000)));
      worst = Math.max(worst, worstQueue());
      if (closed.length > 0) roundsAfter++;
    }
    expect(closed.map((c) => c.code), "one member closed, with 1013 (try again later)").toEqual([1013]);
    const atClose = closed[0]?.queued.get(slowPort);
    expect(atClose, "onClose is told when the server decides to close (the slow member's socket must still be there), not when the socket has gone").toBeDefined();
    expect(atClose, "closed once one more frame would pass the bound, not before").toBeGreaterThan(bound - frameSize);
    expect(worst, "no server-side queue ever held more than the bound and a close frame").toBeLessThanOrEqual(bound + 127);
    for (const reader of readers) {
      expect(reader.closed, "every reader is still open").toBeUndefined();
      expect(reader.received.filter((m) => m.type === "message").map((m) => m.seq), "every reader got every message, in order").toEqual(Array.from({ length: sent }, (_, k) => k + 1));
    }
    // The slow member reads again: what was queued arrives, and then the close frame with 1013.
    slow.socket.resume();
    const frame = await slow.closeFrame(5_000);
    expect(frame.code, "the close frame the slow member finds at the end of its queue").toBe(1013);
    // It never answers the close frame: the server does not wait for it forever (closeTimeout).
    await eventually(() => slow.closed, 15_000, "the server dropping a slow member that never answers its close frame");
  }, 120_000); // a hang guard only: about 5 MB pass before the kernel's buffers fill (more on a busy machine's clock)
});

describe("Step 4 — the server on real sockets: two Chromium pages talking through it", () => {
  const haveChromium = peer("chromium").present();
  let browser: Promise<Browser> | undefined;
  afterAll(async () => {
    if (browser !== undefined) await within((await browser).close(), 10_000, "closing Chromium");
  });

  /** In the page: the browser's own WebSocket offering chat.v1; every message it receives kept, parsed. */
  const openIn = (page: Page, url: string) =>
    within(
      page.evaluate(
        (target) =>
          new Promise<string>((resolve, reject) => {
            const ws = new WebSocket(target, "chat.v1");
            const chat = { ws, got: [] as unknown[] };
            (globalThis as unknown as { chat: typeof chat }).chat = chat;
            ws.onmessage = (event) => chat.got.push(JSON.parse(String(event.data)));
            ws.onopen = () => resolve(ws.protocol);
            ws.onerror = () => reject(new Error("the browser's WebSocket failed to open"));
          }),
        url,
      ),
      10_000,
      "Chromium's WebSocket opening",
    );
  const sendIn = (page: Page, message: unknown) => page.evaluate((m) => (globalThis as unknown as { chat: { ws: WebSocket } }).chat.ws.send(JSON.stringify(m)), message);
  const inboxOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { chat: { got: Received[] } }).chat.got);
  async function waitIn(page: Page, condition: (got: Received[]) => boolean, what: string): Promise<Received[]> {
    let got: Received[] = [];
    const deadline = Date.now() + 10_000;
    while (!condition((got = await inboxOf(page)))) {
      if (Date.now() > deadline) throw new Error(`${what}: not after 10 s; the page has ${JSON.stringify(got)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return got;
  }

  test.skipIf(!haveChromium)(
    `interop, §1.9: two Chromium pages select chat.v1, join one room and each hears the other${skipNote("chromium", haveChromium)}`,
    async () => {
      const { url } = await chatServer();
      browser ??= chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
      const pages = await Promise.all([0, 1].map(async () => (await browser)!.newPage()));
      const [alice, bob] = pages as [Page, Page];
      try {
        for (const page of pages) expect(await openIn(page, url), "the browser's WebSocket.protocol").toBe("chat.v1");
        for (const page of pages) {
          await sendIn(page, { type: "join", room: "lobby" });
          await waitIn(page, (got) => got.some((m) => m.type === "joined"), "joined");
        }
        await sendIn(alice, { type: "say", room: "lobby", text: "hello from page one" });
        await waitIn(bob, (got) => got.some((m) => m.text === "hello from page one"), "page two hearing page one");
        await sendIn(bob, { type: "say", room: "lobby", text: "and back from page two" });
        for (const page of pages) {
          const got = await waitIn(page, (g) => g.filter((m) => m.type === "message").length === 2, "both messages on each page");
          expect(got.filter((m) => m.type === "message").map((m) => [m.seq, m.text]), "each page: both messages, in order, seq 1 and 2").toEqual([
            [1, "hello from page one"],
            [2, "and back from page two"],
          ]);
        }
      } finally {
        await Promise.all(pages.map((page) => within(page.close(), 5_000, "closing a page")));
      }
    },
    60_000,
  );
});
