/**
 * A redis-server of our own for one run: a free loopback port, a data folder
 * of its own, nothing saved (no RDB snapshot, no append-only file), and no
 * service of the system's touched. `stop()` and `start()` again on the same
 * port are how the Redis-outage test takes the bus away and gives it back.
 */
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { REDIS_SERVER } from "../system-peers.ts";
import { Child } from "./child.ts";
import { freePort } from "./ports.ts";

/** A hang guard: redis-server is ready in milliseconds. */
const START_GUARD_MS = 30_000;
const STOP_GUARD_MS = 10_000;

export class RedisServer {
  #child: Child | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** Starts one in `parent`/redis (created), on a free port. */
  static async start(parent: string): Promise<RedisServer> {
    const dir = join(parent, "redis");
    mkdirSync(dir, { recursive: true });
    const redis = new RedisServer(await freePort(), dir);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child?.alive ?? false;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** (Re)starts it on its port; resolves once it accepts commands. */
  async start(): Promise<void> {
    if (this.running) return;
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "no"];
    this.#child = new Child("redis-server", REDIS_SERVER, args);
    await this.#child.waitForOutput(/Ready to accept connections/, START_GUARD_MS, `ready on port ${this.port}`);
  }

  /** Stops it (SIGTERM: redis-server's own shutdown; with `--save ""` it keeps nothing). */
  async stop(): Promise<void> {
    await this.#child?.stop("SIGTERM", STOP_GUARD_MS);
  }

  /**
   * Stops it the way a Redis with persistence restarts: SHUTDOWN SAVE writes
   * its data to dump.rdb in its folder, which the next start() loads. The
   * outage test uses it: the rooms' seqs and histories survive, as they would
   * in production; only the connection to Redis is lost for a while.
   */
  async stopKeepingData(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !child.alive) return;
    await new Promise<void>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port: this.port }, () => socket.write("SHUTDOWN SAVE\r\n"));
      socket.on("error", () => resolve());
      socket.on("close", () => resolve());
    });
    await child.stop("SIGTERM", STOP_GUARD_MS); // it is exiting already; this waits (bounded) for it
  }
}
