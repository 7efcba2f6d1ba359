/**
 * Chapter 15 on a real cluster: a redis-server of its own, three chat servers
 * (`npm run chat -- --redis URL`, the implementation under test) and HAProxy in
 * front (deploy/haproxy.cfg), all on 127.0.0.1 (scripts/lib/cluster/).
 *
 * Not one of the chapter's unit tests (tests/15-cluster.test.ts): `npm test`
 * runs this file as its own stage, on the reference (it must pass) and on the
 * pristine stubs (each test must fail, and does at once: no server starts).
 *
 * The load is sized for a 2-core CI machine shared with the balancer, Redis
 * and three servers: 200 members, 5 rooms, 60 messages a second in all (2,400
 * deliveries a second).
 */
import { afterAll, describe, expect, test } from "vitest";
import { health as healthStatus } from "../scripts/lib/cluster/chat-server.ts";
import { Cluster, type RestartStep } from "../scripts/lib/cluster/cluster.ts";
import { ChatMember, tally } from "../scripts/lib/cluster/member.ts";
import { peer, skipNote } from "../scripts/lib/system-peers.ts";
import type { Implementation } from "../scripts/lib/workbook.ts";

const impl = (process.env.WORKBOOK_IMPL ?? "solutions") as Implementation;
const here = peer("redis-server").present() && peer("haproxy").present();
const note = skipNote("redis-server", peer("redis-server").present()) + skipNote("haproxy", peer("haproxy").present());

const MEMBERS = 200;
const ROOMS = ["lobby", "dev", "ops", "random", "support"];
const SAYS_PER_SECOND = 60;
/** Hang guards, not speed limits: what a loaded 2-core machine needs, several times over. */
const START_GUARD_MS = 120_000;
const SETTLE_GUARD_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `condition` holds, at most `ms`; then fails with what `explain` says is still missing. */
async function until(condition: () => boolean, ms: number, explain: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still not settled after ${ms / 1000} s: ${explain()}`);
    await sleep(50);
  }
}

/** Says one message every 1/SAYS_PER_SECOND s, from the members in turn; returns a stop function. */
function steadyTraffic(members: readonly ChatMember[]): { stop(): void; skipped: () => number } {
  let turn = 0;
  let skipped = 0;
  const timer = setInterval(() => {
    const member = members[(turn * 37) % members.length];
    turn++;
    if (member !== undefined && !member.say(`${member.name}#${turn}`)) skipped++; // away: reconnecting
  }, 1000 / SAYS_PER_SECOND);
  return { stop: () => clearInterval(timer), skipped: () => skipped };
}

describe.skipIf(!here)(`chapter 15 on a real cluster: redis-server, 3 chat servers, HAProxy${note}`, () => {
  // Started by the first test that needs it, inside that test (not in a beforeAll hook, whose
  // failure would report the tests as skipped): on the pristine stubs each test fails, at once,
  // with why no server started.
  let started: Promise<Cluster> | undefined;
  // A drain of 1 s per server (npm run chat's default is 10 s): the test's 200 members, not the wait, are the point.
  const cluster = () => (started ??= Cluster.start({ servers: 3, impl, drain: "1s" }));
  const members: ChatMember[] = [];

  afterAll(async () => {
    for (const member of members) member.terminate();
    await started?.then((c) => c.stop(), () => {});
  }, START_GUARD_MS);

  test(
    "the workbook's policy: a rolling restart behind the balancer loses no message and duplicates none; every drop is a goodbye with 1001 (going away, §7.4.1), and every dropped member comes back",
    async () => {
      const { url, balancer } = await cluster();
      for (let i = 0; i < MEMBERS; i++) members.push(new ChatMember(`m${i}`, url, ROOMS[i % ROOMS.length] ?? "lobby"));
      // Join in groups of 20: a herd of 200 handshakes at once is a test of the machine, not of the cluster.
      for (let i = 0; i < MEMBERS; i += 20) await Promise.all(members.slice(i, i + 20).map((m) => m.join()));
      const spread = await balancer.servers();

      const traffic = steadyTraffic(members);
      await sleep(1_000);
      const steps: RestartStep[] = await (await cluster()).rollingRestart();
      await sleep(1_000);
      traffic.stop();

      // Settle: every member back in its room, and every member of a room at the same last seq.
      const lagging = () =>
        ROOMS.flatMap((room) => {
          const inRoom = members.filter((m) => m.room === room);
          const final = Math.max(...inRoom.map((m) => m.last));
          return inRoom.filter((m) => !m.joined || m.last < final).map((m) => `${m.name} (${room}: ${m.joined ? `at ${m.last} of ${final}` : "not joined"})`);
        });
      // Not settling is a failure, but the counts below still print first: they say what went wrong.
      const unsettled = await until(() => lagging().length === 0, SETTLE_GUARD_MS, () => `${lagging().length} members behind: ${lagging().slice(0, 10).join(", ")}`).then(
        () => "",
        (error: Error) => error.message,
      );

      // Count, per member, against what it was owed; and one text per seq across a room, whoever received it.
      let owed = 0;
      let received = 0;
      let lost = 0;
      let duplicated = 0;
      let outOfOrder = 0;
      let conflicts = 0;
      const drops = new Map<number, number>();
      let rejoins = 0;
      for (const room of ROOMS) {
        const inRoom = members.filter((m) => m.room === room);
        const final = Math.max(...inRoom.map((m) => m.last));
        const textOf = new Map<number, string>();
        for (const member of inRoom) {
          const t = tally(member, final);
          owed += t.owed;
          received += t.received;
          lost += t.lost;
          duplicated += t.duplicated;
          outOfOrder += t.outOfOrder;
          for (const { seq, text } of member.received) {
            const known = textOf.get(seq);
            if (known === undefined) textOf.set(seq, text);
            else if (known !== text) conflicts++;
          }
        }
      }
      for (const member of members) {
        for (const [code, n] of member.drops) drops.set(code, (drops.get(code) ?? 0) + n);
        rejoins += member.rejoins;
      }
      const dropped = [...drops.values()].reduce((a, b) => a + b, 0);
      const gaps = members.reduce((n, m) => n + m.gaps.length, 0);
      const said = members.reduce((n, m) => n + m.said.length, 0);
      const after = await balancer.servers();
      const codes = [...drops].map(([code, n]) => `${n} × ${code}`).join(", ") || "none";
      console.log(
        [
          `rolling restart of ${steps.length} servers (${steps.map((s) => `${s.server} exit ${String(s.code)}${s.killed ? " KILLED" : ""}`).join(", ")})`,
          `${MEMBERS} members in ${ROOMS.length} rooms; ${said} messages said (${traffic.skipped()} turns skipped while the sayer was away)`,
          `deliveries owed ${owed}, received ${received}: lost ${lost}, duplicated ${duplicated}, out of order ${outOfOrder}, seqs with two texts ${conflicts}, gap messages ${gaps}`,
          `connections dropped ${dropped} (${codes}), rejoined ${rejoins}; members joined at the end ${members.filter((m) => m.joined).length}/${MEMBERS}`,
          `haproxy, connections per server: before ${spread.map((s) => `${s.name} ${s.current}`).join(", ")}; after ${after.map((s) => `${s.name} ${s.current}`).join(", ")}`,
        ].join("\n"),
      );

      expect(steps.every((s) => !s.killed && s.code === 0), "every server drained and exited 0 on SIGTERM").toBe(true);
      expect(dropped, "the restart dropped members (else nothing was tested)").toBeGreaterThan(0);
      expect({ lost, duplicated, outOfOrder, conflicts, gaps }).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0, conflicts: 0, gaps: 0 });
      expect(unsettled, "every member rejoined and reached its room's last seq").toBe("");
      expect(Object.fromEntries(drops), "every drop was a goodbye: 1001 (going away), §7.4.1").toEqual({ 1001: dropped });
      expect(rejoins, "every dropped member came back and rejoined").toBe(dropped);
      expect(members.every((m) => m.joined)).toBe(true);
      for (const member of members) member.close();
    },
    START_GUARD_MS,
  );
  test(
    "the workbook's policy: with redis-server stopped, every server keeps its members connected, answers their says with an error and its health check with 200; with Redis back, the bus works again without a restart",
    async () => {
      const running = await cluster();
      const { redis, servers } = running;
      // Two members on each server, straight to its port: whose server is whose is then known.
      const local = servers.flatMap((server, s) => [0, 1].map((i) => new ChatMember(`o${s}.${i}`, server.url, "outage")));
      members.push(...local);
      await Promise.all(local.map((m) => m.join()));
      const pidsBefore = servers.map((s) => s.pid);
      const heard = (text: string) => local.filter((m) => m.received.some((r) => r.text === text)).length;
      const [first, , second] = local;
      if (first === undefined || second === undefined) throw new Error("no members");

      first.say("before");
      await until(() => heard("before") === local.length, SETTLE_GUARD_MS, () => `${heard("before")} of ${local.length} members heard "before"`);
      const seqBefore = first.last;

      const stoppedAt = Date.now();
      await redis.stopKeepingData();
      // Each server is told by its own Redis connection; a say is refused once it knows.
      const errorsBefore = local.map((m) => m.errors.length);
      const refused = () => local.filter((m, i) => m.errors.length > (errorsBefore[i] ?? 0)).length;
      const sayers = [first, second];
      let turn = 0;
      let lastSay = 0;
      await until(
        () => {
          const waiting = sayers.filter((m) => m.errors.length === (errorsBefore[local.indexOf(m)] ?? 0));
          // One say per member every 500 ms, well inside chapter 13's rate limit.
          if (waiting.length > 0 && Date.now() - lastSay >= 500) {
            lastSay = Date.now();
            for (const m of waiting) m.say(`during ${turn++}`);
          }
          return waiting.length === 0;
        },
        SETTLE_GUARD_MS,
        () => `${refused()} of ${sayers.length} members saying while Redis is down were answered with an error`,
      );
      const health = await Promise.all(servers.map((s) => healthStatus(s.port)));
      const droppedDuring = local.filter((m) => !m.joined).length;
      const heardDuring = local.reduce((n, m) => n + m.received.filter((r) => r.text.startsWith("during")).length, 0);

      await redis.start();
      const backAt = Date.now();
      let n = 0;
      await until(
        () => {
          if (heard(`after ${n}`) === local.length) return true;
          if ((Date.now() - backAt) / 250 > n) first.say(`after ${++n}`);
          return false;
        },
        SETTLE_GUARD_MS,
        () => `no message said after Redis came back reached all ${local.length} members (tried ${n})`,
      );
      const recoveredMs = Date.now() - backAt;
      // And what each member got over the whole outage: every seq of the room once, in order (Redis kept its data).
      const final = Math.max(...local.map((m) => m.last));
      await until(() => local.every((m) => m.last === final), SETTLE_GUARD_MS, () => local.map((m) => `${m.name} at ${m.last} of ${final}`).join(", ")).catch(() => {});
      const counts = local.map((m) => tally(m, final));
      const lost = counts.reduce((sum, t) => sum + t.lost, 0);
      const duplicated = counts.reduce((sum, t) => sum + t.duplicated + t.outOfOrder, 0);
      const pidsAfter = servers.map((s) => s.pid);
      const after = local[0]?.received.find((r) => r.text === `after ${n}`);
      console.log(
        [
          `redis-server stopped for ${((backAt - stoppedAt) / 1000).toFixed(1)} s: says refused with an error ${sayers.length}/${sayers.length}, messages delivered meanwhile ${heardDuring}, members dropped ${droppedDuring}/${local.length}, health ${health.join(" ")}`,
          `while Redis was back: a message through the bus to all ${local.length} members ${(recoveredMs / 1000).toFixed(1)} s after its start (seq ${after?.seq ?? "?"}, after ${seqBefore} before); servers restarted ${pidsAfter.filter((p, i) => p !== pidsBefore[i]).length}; over the outage, seqs lost ${lost}, duplicated or out of order ${duplicated}`,
        ].join("\n"),
      );
      expect(droppedDuring, "members dropped while Redis was down").toBe(0);
      expect(heardDuring, "messages delivered although the bus was down").toBe(0);
      expect(health, "GET /health while Redis is down: the servers still serve (200), or the balancer would take them all out").toEqual(servers.map(() => 200));
      expect(pidsAfter, "the same server processes (no restart)").toEqual(pidsBefore);
      expect(after?.seq, "the room's seq goes on from where it was").toBeGreaterThan(seqBefore);
      expect({ lost, duplicated }, "every member got every seq of the room once, in order, across the outage").toEqual({ lost: 0, duplicated: 0 });
      for (const member of local) member.close();
    },
    START_GUARD_MS,
  );
});
