/**
 * One chat server for `npm run bench -- --fanout`, in its own process:
 * `reference` (solutions/13-rooms.ts, rate limit off) or `ws`: the same
 * chat.v1 rooms written the way most `ws` chat servers are, each message
 * serialised once and handed to every member with `client.send(text)`, so
 * that `ws` frames (and copies) it once per member. Plain `ws` is started
 * with WS_NO_BUFFER_UTIL=1 by the orchestrator, `ws-bufferutil` without it.
 *
 * IPC: sends { ready, url, bufferutil } or { failed }; answers any message with its CPU time in µs.
 */
import { createRequire } from "node:module";
import type * as RoomsChapter from "../../../solutions/13-rooms.ts";
import { loadChapter } from "../impl.ts";

const require = createRequire(import.meta.url);

async function startWsChat(): Promise<string> {
  const { WebSocketServer, WebSocket } = await import("ws");
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, handleProtocols: (offered) => (offered.has("chat.v1") ? "chat.v1" : false) });
  const rooms = new Map<string, { seq: number; members: Set<InstanceType<typeof WebSocket>> }>();
  let nextId = 1;
  server.on("connection", (ws) => {
    const id = `c${nextId++}`;
    const mine = new Set<string>();
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(data.toString()) as { type: string; room: string; text?: string };
      let room = rooms.get(m.room);
      if (room === undefined) rooms.set(m.room, (room = { seq: 0, members: new Set() }));
      if (m.type === "join") {
        room.members.add(ws);
        mine.add(m.room);
        ws.send(JSON.stringify({ type: "joined", room: m.room, seq: room.seq }));
      } else if (m.type === "say") {
        room.seq += 1;
        const text = JSON.stringify({ type: "message", room: m.room, seq: room.seq, from: id, text: m.text, time: Date.now() });
        room.members.forEach((member) => member.readyState === WebSocket.OPEN && member.send(text));
      }
    });
    ws.on("close", () => {
      for (const name of mine) rooms.get(name)?.members.delete(ws);
    });
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("not a TCP server");
  return `ws://127.0.0.1:${address.port}/`;
}

async function start(kind: string): Promise<string> {
  if (kind === "reference") {
    const { createChatServer } = await loadChapter<typeof RoomsChapter>("13-rooms", "solutions");
    return createChatServer({ rate: false, maxQueuedBytes: 64 * 1024 * 1024 }).listen(0, "127.0.0.1");
  }
  return startWsChat();
}

try {
  const url = await start(process.argv[2] ?? "reference");
  const bufferutil = Object.keys(require.cache).some((path) => path.includes("/node_modules/bufferutil/"));
  process.on("message", () => {
    const cpu = process.cpuUsage();
    process.send!({ cpu: cpu.user + cpu.system });
  });
  process.send!({ ready: true, url, bufferutil });
} catch (error) {
  process.send!({ failed: `${(error as Error).name}: ${(error as Error).message}` });
}
process.on("disconnect", () => process.exit(0));
