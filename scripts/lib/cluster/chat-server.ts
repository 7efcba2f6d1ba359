/**
 * One chat server of the cluster: `npm run chat -- --port P --redis URL` as a
 * child process (the reference, or the reader's with `impl`), on a port of its
 * own that it keeps across restarts, so the balancer's `server` line stays true.
 * A restart is the deploy of chapter 15: SIGTERM (it fails its health check,
 * closes its members with 1001 over its drain period, exits), then start again
 * and wait for GET /health to answer 200.
 */
import { get } from "node:http";
import type { Implementation } from "../workbook.ts";
import { root } from "../workbook.ts";
import { bounded, Child, sleep } from "./child.ts";
import { freePort } from "./ports.ts";

/** Hang guards: a server starts in a second or two on a quiet machine; ten times that on a loaded one. */
const START_GUARD_MS = 60_000;
/**
 * How long a SIGTERM'd server may take beyond its drain period to exit before
 * it is killed (and the result says so): its close handshakes are bounded by
 * a few seconds (chapter 15's closeTimeoutMs), then it exits.
 */
const STOP_MARGIN_MS = 30_000;

export interface ChatServerSettings {
  /** The bus every server joins (without it: the in-process bus, one server alone, as the bench compares). */
  redisUrl?: string;
  impl: Implementation;
  /** More arguments for `npm run chat` (say, a shorter drain period for the tests). */
  extraArgs?: readonly string[];
  /** Its drain period in ms (what `--drain` in extraArgs says; default npm run chat's 10 s): the stop waits that long and more. */
  drainMs?: number;
}

/** GET http://127.0.0.1:port/health → its status, or 0 when nothing answered. */
export function health(port: number): Promise<number> {
  return new Promise((resolve) => {
    const request = get({ host: "127.0.0.1", port, path: "/health", timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once("timeout", () => request.destroy());
    request.once("error", () => resolve(0));
  });
}

export class ChatServerProcess {
  #child: Child | undefined;
  /** How many times it was started (1 after the first start). */
  starts = 0;

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly settings: ChatServerSettings,
  ) {}

  static async start(name: string, settings: ChatServerSettings): Promise<ChatServerProcess> {
    const server = new ChatServerProcess(name, await freePort(), settings);
    await server.start();
    return server;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child?.alive ?? false;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** What it printed (the last 16 KiB), for a failure's message. */
  get output(): string {
    return this.#child?.output ?? "";
  }

  /** Starts it on its port; resolves once it printed its URL and (with Redis) GET /health answers 200. */
  async start(): Promise<void> {
    const args = ["--import", "tsx", "scripts/chat.ts", "--port", String(this.port)];
    // With --redis, chapter 15's server (named after its place in the cluster); without, chapter 13's.
    if (this.settings.redisUrl !== undefined) args.push("--redis", this.settings.redisUrl, "--server-id", this.name);
    if (this.settings.impl !== "solutions") args.push("--impl", this.settings.impl);
    args.push(...(this.settings.extraArgs ?? []));
    // As package.json's "chat" script runs it: node with tsx as a loader, so SIGTERM reaches the server itself.
    const child = new Child(this.name, process.execPath, args, { cwd: root });
    this.#child = child;
    this.starts++;
    await child.waitForOutput(/ws:\/\/\S+/, START_GUARD_MS, "printing its ws:// URL");
    if (this.settings.redisUrl === undefined) return; // chapter 13's server has no /health
    await bounded(
      (async () => {
        for (;;) {
          if (!child.alive) throw new Error(`${this.name} exited (${child.describeExit()}):\n${child.output.trim()}`);
          if ((await health(this.port)) === 200) return;
          await sleep(100);
        }
      })(),
      START_GUARD_MS,
      `${this.name}: GET /health answering 200`,
    );
  }

  /** SIGTERM, and waits for it to drain and exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; killed: boolean }> {
    if (this.#child === undefined) return { code: null, killed: false };
    const ended = await this.#child.stop(signal, (this.settings.drainMs ?? 10_000) + STOP_MARGIN_MS);
    return { code: ended.code, killed: ended.killed };
  }
}
