/**
 * The cluster's child processes (redis-server, haproxy, the chat servers), each
 * started by us and stopped by us: its output is kept (the last lines, to say
 * why it died), every wait on it is bounded and names what it waited for, and
 * whatever is still running when this process exits is killed, so that no run
 * leaves an orphan behind.
 */
import { spawn, type ChildProcess } from "node:child_process";

/** Every child still running, for the exit hook below. */
const running = new Set<ChildProcess>();
let hooked = false;

function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers may only do synchronous work: a signal is synchronous.
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

/** A promise that rejects with `what` named if `promise` takes longer than `ms`. */
export function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hung: ${what} (waited ${(ms / 1000).toFixed(0)} s)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #output = "";
  #listeners = new Set<() => void>();

  constructor(
    /** How messages name it: "redis-server", "chat server 2". */
    readonly name: string,
    file: string,
    args: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    killAllOnExit();
    // Its own process group (detached): a Ctrl-C in the terminal reaches only
    // the parent, which then stops the children in order (balancer, servers, Redis).
    this.process = spawn(file, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    running.add(this.process);
    const keep = (chunk: Buffer) => {
      // The last 16 KiB are enough to say why it stopped.
      this.#output = (this.#output + chunk.toString()).slice(-16_384);
      for (const listener of this.#listeners) listener();
    };
    this.process.stdout?.on("data", keep);
    this.process.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      this.process.once("exit", (code, signal) => {
        running.delete(this.process);
        resolve({ code, signal });
        for (const listener of this.#listeners) listener();
      });
      this.process.once("error", (error) => {
        running.delete(this.process);
        this.#output += `\n${error.message}`;
        resolve({ code: null, signal: null });
        for (const listener of this.#listeners) listener();
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && running.has(this.process);
  }

  /** Its output so far (the last 16 KiB), for an error message. */
  get output(): string {
    return this.#output;
  }

  /**
   * Waits until its output matches `pattern`; fails at once, with its output,
   * if it exits first, and after `ms` naming `what`.
   */
  waitForOutput(pattern: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
    return bounded(
      new Promise<RegExpExecArray>((resolve, reject) => {
        const look = () => {
          const found = pattern.exec(this.#output);
          if (found !== null) {
            this.#listeners.delete(look);
            resolve(found);
          } else if (!this.alive) {
            this.#listeners.delete(look);
            reject(new Error(`${this.name} exited (${this.describeExit()}) before ${what}:\n${this.#output.trim()}`));
          }
        };
        this.#listeners.add(look);
        look();
      }),
      ms,
      `${this.name}: ${what}`,
    );
  }

  describeExit(): string {
    const { exitCode, signalCode } = this.process;
    return signalCode !== null ? `signal ${signalCode}` : `exit ${String(exitCode)}`;
  }

  /**
   * Sends `signal` and waits up to `ms` for it to exit; past that, SIGKILL
   * (and the result says so). Resolves with how it ended.
   */
  async stop(signal: NodeJS.Signals, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    if (!this.alive) return { ...(await this.exited), killed: false };
    this.process.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== "late") return { ...first, killed: false };
    this.process.kill("SIGKILL");
    return { ...(await this.exited), killed: true };
  }
}
