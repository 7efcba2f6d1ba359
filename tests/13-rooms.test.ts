import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  ChatHub,
  isRoomName,
  parseClientMessage,
  TokenBucket,
  type HubAction,
  type HubOptions,
  type ServerMessage,
} from "@workbook/13-rooms";
import type { Message } from "../lib/message.ts";

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

describe("13-hub: chat.v1 messages read and checked", () => {
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

describe("13-hub: rooms, join and leave, fan-out", () => {
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
});

describe("13-hub: history and since", () => {
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

describe("13-hub: fairness (a token bucket per connection)", () => {
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
