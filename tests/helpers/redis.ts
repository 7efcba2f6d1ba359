/**
 * A real `redis-server` for the tests of chapter 15: its own free port on
 * 127.0.0.1, its own temporary folder, no persistence (`--save ""
 * --appendonly no`), started by the test and killed after. It can be stopped
 * and started again on the same port, to test what a server does while the bus
 * is away. Every wait is bounded and names what hung.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REDIS_SERVER = process.env.REDIS_SERVER ?? "redis-server";
const INSTALL = "sudo apt-get install redis-server (npm test installs it where it may)";

/** True when redis-server runs here. */
export const haveRedis = (() => {
  const probe = spawnSync(REDIS_SERVER, ["--version"], { timeout: 10_000, encoding: "utf8" });
  return probe.status === 0;
})();

/** A free TCP port on 127.0.0.1 (the kernel picks it; it is free again once we close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  #process: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a redis-server on a free port; throws at once, with the install command, if there is none. */
  static async start(): Promise<RedisServer> {
    if (!haveRedis) throw new Error(`redis-server was not found (${REDIS_SERVER}): chapter 15's tests need a real Redis. Install it: ${INSTALL}`);
    const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), "workbook-redis-")));
    await server.resume();
    return server;
  }

  /** (Re)starts the server on its port and waits until it accepts connections (10 s at most). */
  async resume(): Promise<void> {
    const child = spawn(REDIS_SERVER, ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir, "--daemonize", "no", "--loglevel", "notice"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#process = child;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on port ${this.port} not ready after 10 s:\n${output}`)), 10_000);
      const seen = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", seen);
      child.stderr?.on("data", seen);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server on port ${this.port} exited (${code}) before it was ready:\n${output}`));
      });
    });
  }

  /** Kills the server (SIGKILL: as abrupt as a crash) and waits for it to be gone. */
  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
  }

  /** Stops the server and removes its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
