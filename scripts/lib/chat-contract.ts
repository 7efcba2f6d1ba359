/**
 * The contract of `npm run chat` (DESIGN.md), checked by `npm test` stage 9:
 * it prints its ws:// URL on stdout; two real `ws` clients offering chat.v1
 * get it selected, join one room, and both receive one member's say with
 * seq 1; SIGTERM makes it exit 0. Every wait is bounded and names what hung.
 */
import { spawn } from "node:child_process";
import WebSocket from "ws";
import { root } from "./workbook.ts";

/** A hang guard: the server prints its URL in a second or two, a message arrives in milliseconds. */
export const GUARD_MS = 120_000;

export type Check = (ok: boolean, what: string, detail?: string) => void;

/** `promise`, or a rejection naming `what` once the guard has passed. */
export function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: ${what} within ${GUARD_MS / 1000} s`)), GUARD_MS))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * `npm run chat` with `args`, as package.json runs it: node with tsx as a
 * loader (the tsx CLI's parent kills a busy child on SIGTERM). `url` resolves
 * with the ws:// URL it prints (or the error of a hang); `stop` sends SIGTERM
 * and resolves with its exit code, or "hung" after GUARD_MS (then SIGKILL).
 */
export function startChat(args: readonly string[]): { url: Promise<string | Error>; stderr: () => string; stop(): Promise<number | null | "hung"> } {
  const chat = spawn(process.execPath, ["--import", "tsx", "scripts/chat.ts", ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1" } });
  let stderr = "";
  chat.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => chat.once("exit", (code) => resolve(code)));
  const url = bounded(
    new Promise<string>((resolve) =>
      chat.stdout.on("data", (chunk: Buffer) => {
        const found = /ws:\/\/\S+/.exec(chunk.toString());
        if (found) resolve(found[0]);
      }),
    ),
    `npm run chat ${args.join(" ")} printing its URL`,
  ).catch((error: Error) => error);
  return {
    url,
    stderr: () => stderr,
    async stop() {
      chat.kill("SIGTERM");
      let guard: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<"hung">((r) => (guard = setTimeout(() => r("hung"), GUARD_MS)))]);
      clearTimeout(guard);
      if (code === "hung") chat.kill("SIGKILL");
      return code;
    },
  };
}

export async function checkChatContract(check: Check): Promise<void> {
  const chat = startChat(["--port", "0"]);
  try {
    const url = await chat.url;
    check(typeof url === "string", `npm run chat -- --port 0 prints its ws:// URL (${String(url)})`, chat.stderr());
    if (typeof url !== "string") return;

    const seen: string[][] = [[], []];
    const clients = await bounded(
      Promise.all(
        [0, 1].map(
          (i) =>
            new Promise<WebSocket>((resolve, reject) => {
              const ws = new WebSocket(url, ["chat.v1"]);
              ws.on("message", (data: Buffer) => seen[i]?.push(data.toString()));
              ws.once("open", () => resolve(ws));
              ws.once("error", reject);
            }),
        ),
      ),
      "two chat.v1 clients connecting",
    ).catch((error: Error) => error);
    if (clients instanceof Error) {
      check(false, "two ws clients connect to npm run chat offering chat.v1", clients.message);
      return;
    }
    check(clients.every((ws) => ws.protocol === "chat.v1"), "npm run chat selects the subprotocol chat.v1");
    for (const ws of clients) ws.send(JSON.stringify({ type: "join", room: "contract" }));
    const joined = () => seen.every((list) => list.some((m) => m.includes('"joined"')));
    const gotSay = () => seen.every((list) => list.some((m) => m.includes('"message"')));
    const wait = (condition: () => boolean, what: string) =>
      bounded(
        new Promise<void>((resolve) => {
          const poll = setInterval(() => condition() && (clearInterval(poll), resolve()), 10);
        }),
        what,
      );
    const said = await wait(joined, "both clients joined")
      .then(() => {
        clients[0]?.send(JSON.stringify({ type: "say", room: "contract", text: "hello" }));
        return wait(gotSay, "both clients receiving the say");
      })
      .then(() => undefined)
      .catch((error: Error) => error);
    const messages = seen.map((list) => list.map((m) => JSON.parse(m) as Record<string, unknown>).find((m) => m.type === "message"));
    check(
      said === undefined && messages.every((m) => m?.room === "contract" && m.seq === 1 && m.text === "hello"),
      "npm run chat: a say reaches both members of the room (the sender too) with seq 1",
      JSON.stringify(seen) + (said instanceof Error ? `\n${said.message}` : ""),
    );
    for (const ws of clients) ws.terminate();
  } finally {
    const code = await chat.stop();
    check(code === 0, `npm run chat exits 0 on SIGTERM (${code === "hung" ? "hung" : `exit ${code}`})`, chat.stderr());
  }
}
