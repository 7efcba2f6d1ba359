/**
 * A real `redis-server` for the tests of chapter 15, the same one `npm run
 * cluster` starts (scripts/lib/cluster/redis.ts): its own free port on
 * 127.0.0.1, its own temporary folder, nothing saved, started by the test and
 * stopped after. `stop()` then `resume()` on the same port take the bus away and
 * give it back, to test what a server does while Redis is gone.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisServer as OwnRedis } from "../../scripts/lib/cluster/redis.ts";
import { installCommand, peer, REDIS_SERVER } from "../../scripts/lib/system-peers.ts";

export { freePort } from "../../scripts/lib/cluster/ports.ts";

export class RedisServer {
  private constructor(
    readonly own: OwnRedis,
    readonly dir: string,
  ) {}

  get url(): string {
    return this.own.url;
  }

  /** Starts one on a free port; throws at once, naming the install command, where there is no redis-server. */
  static async start(): Promise<RedisServer> {
    if (!existsSync(REDIS_SERVER)) {
      throw new Error(`${peer("redis-server").name} was not found at ${REDIS_SERVER}: chapter 15's tests need a real Redis. Install it: ${installCommand([peer("redis-server")])}`);
    }
    const dir = mkdtempSync(join(tmpdir(), "workbook-redis-"));
    return new RedisServer(await OwnRedis.start(dir), dir);
  }

  /** Stops it (bounded); its port stays ours for `resume()`. */
  stop(): Promise<void> {
    return this.own.stop();
  }

  /** Starts it again on the same port; resolves once it accepts commands. */
  resume(): Promise<void> {
    return this.own.start();
  }

  /** Stops it and removes its folder. */
  async dispose(): Promise<void> {
    await this.own.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
