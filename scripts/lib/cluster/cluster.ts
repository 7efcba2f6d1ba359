/**
 * A whole cluster on loopback, as `npm run cluster`, the rolling-restart test
 * and `npm run bench -- --cluster` start it: one redis-server, N chat servers
 * joined through it, and HAProxy in front. It stops the servers first (each
 * fails its health check and says goodbye to its members with 1001, through
 * the balancer that is still there to carry it), then the balancer, then Redis. Everything lives in one temporary folder, removed at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration } from "../duration.ts";
import type { Implementation } from "../workbook.ts";
import { ChatServerProcess } from "./chat-server.ts";
import { HAProxy } from "./haproxy.ts";
import { RedisServer } from "./redis.ts";

/** A hang guard: a restarted server passes haproxy's checks (`rise 2`, every 500 ms) in about a second. */
const UP_GUARD_MS = 20_000;

export interface ClusterOptions {
  servers: number;
  impl?: Implementation;
  /** The balancer's port (default: a free one). */
  port?: number;
  /** How long each server spreads its 1001s over when it stops (`npm run chat -- --drain`; its default: 10 s). */
  drain?: string;
  /** More arguments for each `npm run chat`. */
  chatArgs?: readonly string[];
  /** Where progress goes (default: nowhere). */
  log?: (line: string) => void;
}

export interface RestartStep {
  server: string;
  /** How the old process ended: its exit code, and whether it had to be killed. */
  code: number | null;
  killed: boolean;
}

export class Cluster {
  #stopped = false;

  private constructor(
    readonly dir: string,
    readonly redis: RedisServer,
    readonly servers: ChatServerProcess[],
    readonly balancer: HAProxy,
    readonly log: (line: string) => void,
  ) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const log = options.log ?? (() => {});
    const drainMs = options.drain === undefined ? undefined : parseDuration(options.drain, "--drain"); // bad input: an error before anything starts
    const dir = mkdtempSync(join(tmpdir(), "workbook-cluster-"));
    const started: { stop(): Promise<unknown> }[] = [];
    try {
      const redis = await RedisServer.start(dir);
      started.push(redis);
      log(`redis-server on ${redis.url} (pid ${redis.pid ?? "?"})`);
      const settings = {
        redisUrl: redis.url,
        impl: options.impl ?? "solutions",
        extraArgs: [...(options.drain === undefined ? [] : ["--drain", options.drain]), ...(options.chatArgs ?? [])],
        ...(drainMs === undefined ? {} : { drainMs }),
      } as const;
      // One at a time: three tsx start-ups at once on two busy cores are slower than in turn.
      const servers: ChatServerProcess[] = [];
      for (let i = 1; i <= options.servers; i++) {
        const server = await ChatServerProcess.start(`chat${i}`, settings);
        servers.push(server);
        started.push(server);
        log(`chat${i} on ${server.url} (pid ${server.pid ?? "?"})`);
      }
      const balancer = await HAProxy.start(dir, servers.map((s) => s.port), options.port);
      started.push(balancer);
      for (const server of servers) await balancer.untilUp(server.name, UP_GUARD_MS);
      log(`haproxy on ${balancer.url} (pid ${balancer.pid ?? "?"}): ${servers.length} servers UP`);
      return new Cluster(dir, redis, servers, balancer, log);
    } catch (error) {
      for (const child of started.reverse()) await child.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get url(): string {
    return this.balancer.url;
  }

  /**
   * The deploy: each server in turn gets SIGTERM, drains and exits, starts
   * again and is UP in haproxy before the next one goes, so that at most one
   * server is ever away.
   */
  async rollingRestart(onStep: (step: RestartStep) => void = () => {}): Promise<RestartStep[]> {
    const steps: RestartStep[] = [];
    for (const server of this.servers) {
      this.log(`${server.name}: SIGTERM (draining with 1001)`);
      const { code, killed } = await server.stop("SIGTERM");
      this.log(`${server.name}: ${killed ? "did not exit in time: killed" : `exited (${String(code)})`}; starting again`);
      await server.start();
      await this.balancer.untilUp(server.name, UP_GUARD_MS);
      this.log(`${server.name}: UP again (pid ${server.pid ?? "?"})`);
      const step = { server: server.name, code, killed };
      steps.push(step);
      onStep(step);
    }
    return steps;
  }

  /** Every pid this cluster started and that still runs (for a check that nothing is left behind). */
  pids(): number[] {
    return [this.balancer.pid, ...this.servers.map((s) => s.pid), this.redis.pid].filter((p): p is number => p !== undefined);
  }

  /** Stops everything it started: the servers (1001 to their members), then the balancer, then Redis. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.servers.map((s) => s.stop("SIGTERM")));
    await this.balancer.stop();
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
