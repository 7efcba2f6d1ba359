/**
 * Child processes for `npm run bench`: each echo server, the load generator
 * and the masking micro-benchmark run in a process of their own, each pinned
 * to one CPU with `taskset` when there are two or more (servers on CPU 0,
 * the generator on CPU 1), so that they never share a core or an event loop.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { root } from "../workbook.ts";

const here = join(root, "scripts", "lib", "bench");

/** Which CPU each role gets, or undefined when pinning is not possible (one CPU, or no taskset). */
export const pinning: { server: number; generator: number } | undefined =
  availableParallelism() >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0 ? { server: 0, generator: 1 } : undefined;

export interface Child {
  process: ChildProcess;
  /** Sends a message and resolves with the next one the child sends back. */
  ask<T>(message: unknown): Promise<T>;
  /** The next message the child sends on its own. */
  next<T>(): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `script` (in scripts/lib/bench) with tsx, on `cpu` if pinning, with an IPC channel. */
export function startChild(script: string, args: string[], options: { cpu?: number; env?: Record<string, string>; nodeOptions?: string[] } = {}): Child {
  const node = [process.execPath, ...(options.nodeOptions ?? []), "--import", "tsx", join(here, script), ...args];
  const command = options.cpu === undefined ? node : ["taskset", "-c", String(options.cpu), ...node];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...options.env },
  });
  const waiting: ((message: unknown) => void)[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("message", (message) => waiting.shift()?.(message));
  child.once("exit", (code, signal) => {
    for (const reject of waiting.splice(0)) reject({ failed: `the process ended (${signal ?? `exit code ${code}`})` });
  });
  const next = <T>() => new Promise<T>((resolve) => waiting.push(resolve as (message: unknown) => void));
  return {
    process: child,
    next,
    ask<T>(message: unknown) {
      const reply = next<T>();
      child.send(message as object);
      return reply;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // Politely first: a child exits on its own when the IPC channel closes
      // (and only then does `node --cpu-prof` write its profile).
      if (child.connected) {
        child.disconnect();
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode !== null || child.signalCode !== null) return;
      }
      child.kill();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** Runs `script` to completion (no IPC), pinned like a server; resolves with its stdout. */
export function runScript(script: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const node = [process.execPath, "--import", "tsx", join(here, script), ...args];
  const command = pinning === undefined ? node : ["taskset", "-c", String(pinning.server), ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}`))));
  });
}
