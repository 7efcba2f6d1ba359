/**
 * The contract of `npm run cluster` (DESIGN.md), checked by `npm test` stage 9:
 * it prints one ws:// URL on stdout; two chat.v1 members through it hear a say
 * with seq 1; `r` + Enter restarts the servers one by one, the members come
 * back (they reconnect with `since`) and the next say has seq 2; SIGINT makes
 * it exit 0, and no process it started is left running. Every wait is bounded
 * and names what hung.
 */
import { spawn } from "node:child_process";
import { bounded } from "./cluster/child.ts";
import { ChatMember } from "./cluster/member.ts";
import { root } from "./workbook.ts";

/** A hang guard: two servers and haproxy start in seconds, a restart of two takes seconds more. */
const GUARD_MS = 180_000;

type Check = (ok: boolean, what: string, detail?: string) => void;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function checkClusterContract(check: Check): Promise<void> {
  // As package.json runs it: node with tsx as a loader, so SIGINT reaches the script itself.
  const cluster = spawn(process.execPath, ["--import", "tsx", "scripts/cluster.ts", "--servers", "2", "--drain", "500ms"], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const changed = new Set<() => void>();
  cluster.stdout.on("data", (chunk: Buffer) => ((stdout += chunk.toString()), changed.forEach((f) => f())));
  cluster.stderr.on("data", (chunk: Buffer) => ((stderr += chunk.toString()), changed.forEach((f) => f())));
  const exited = new Promise<number | null>((resolve) => cluster.once("exit", (code) => resolve(code)));
  const until = (condition: () => boolean, what: string) =>
    bounded(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => condition() && (clearInterval(poll), resolve()), 20);
      }),
      GUARD_MS,
      what,
    );
  const members: ChatMember[] = [];
  try {
    const url = await Promise.race([
      until(() => /ws:\/\/\S+/.test(stdout), "npm run cluster printing its URL").then(() => /ws:\/\/\S+/.exec(stdout)?.[0] ?? ""),
      exited.then((code) => new Error(`it exited (${String(code)}) first`)),
    ]).catch((error: Error) => error);
    check(typeof url === "string", `npm run cluster -- --servers 2 prints its ws:// URL (${String(url)})`, stderr);
    if (typeof url !== "string") return;

    members.push(new ChatMember("a", url, "contract"), new ChatMember("b", url, "contract"));
    const heard = (text: string) => members.every((m) => m.received.some((r) => r.text === text));
    const first = await bounded(Promise.all(members.map((m) => m.join())), GUARD_MS, "two members joining through the balancer")
      .then(() => members[0]?.say("hello"))
      .then(() => until(() => heard("hello"), "both members hearing the say"))
      .catch((error: Error) => error);
    check(
      first === undefined && members.every((m) => m.received.find((r) => r.text === "hello")?.seq === 1),
      "npm run cluster: a say through the balancer reaches both members with seq 1",
      `${String(first)}\n${stderr}`,
    );

    cluster.stdin.write("r\n");
    const restarted = await until(() => stderr.includes("rolling restart done"), "the rolling restart finishing after r + Enter")
      .then(() => until(() => members.every((m) => m.joined), "both members rejoining"))
      .then(() => members[1]?.say("again"))
      .then(() => until(() => heard("again"), "both members hearing a say after the restart"))
      .catch((error: Error) => error);
    check(
      restarted === undefined && members.every((m) => m.received.find((r) => r.text === "again")?.seq === 2),
      "npm run cluster: r + Enter restarts the servers one by one; the members come back and the next say has seq 2",
      `${String(restarted)}\n${stderr}`,
    );
  } finally {
    for (const member of members) member.terminate();
    const pids = [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    cluster.kill("SIGINT");
    let guard: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<"hung">((r) => (guard = setTimeout(() => r("hung"), GUARD_MS)))]);
    clearTimeout(guard);
    if (code === "hung") cluster.kill("SIGKILL");
    const left = pids.filter(alive);
    check(
      code === 0 && left.length === 0,
      `npm run cluster exits 0 on SIGINT and leaves nothing running (${code === "hung" ? "hung" : `exit ${String(code)}`}; ${pids.length} processes it started, ${left.length} still running)`,
      stderr,
    );
  }
}
