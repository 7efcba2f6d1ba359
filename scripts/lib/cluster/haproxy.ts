/**
 * HAProxy for one run: deploy/haproxy.cfg with its {{NAME}}s filled in, written
 * to the run's private folder, and haproxy started in the foreground (-db) as a
 * child process. The admin socket (a file in that folder, mode 600) tells which
 * servers haproxy counts as UP: the rolling restart waits on it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { HAPROXY } from "../system-peers.ts";
import { root } from "../workbook.ts";
import { bounded, Child, sleep } from "./child.ts";
import { freePort, untilAccepting } from "./ports.ts";

export const TEMPLATE = join(root, "deploy/haproxy.cfg");
const START_GUARD_MS = 30_000;
const STOP_GUARD_MS = 10_000;

/** The config for `servers` (their ports) behind `port`: the template with every {{NAME}} filled in. */
export function renderConfig(values: { port: number; adminSocket: string; servers: readonly number[] }): string {
  const lines = values.servers.map((p, i) => `    server chat${i + 1} 127.0.0.1:${p} check`);
  const filled: Record<string, string> = {
    PORT: String(values.port),
    ADMIN_SOCKET: values.adminSocket,
    SERVERS: lines.join("\n"),
  };
  const text = readFileSync(TEMPLATE, "utf8").replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) => {
    const value = filled[name];
    if (value === undefined) throw new Error(`deploy/haproxy.cfg: no value for ${whole}`);
    return value;
  });
  return text;
}

export interface ServerState {
  name: string;
  /** HAProxy's word: UP, DOWN, "UP 1/2" (coming up), NOLB, MAINT... */
  status: string;
  /** Connections it holds now. */
  current: number;
}

export class HAProxy {
  readonly #child: Child;

  private constructor(
    readonly port: number,
    readonly adminSocket: string,
    child: Child,
  ) {
    this.#child = child;
  }

  static async start(dir: string, servers: readonly number[], port?: number): Promise<HAProxy> {
    const chosen = port ?? (await freePort());
    const adminSocket = join(dir, "haproxy.sock");
    const config = join(dir, "haproxy.cfg");
    writeFileSync(config, renderConfig({ port: chosen, adminSocket, servers }));
    const child = new Child("haproxy", HAPROXY, ["-db", "-f", config]);
    const proxy = new HAProxy(chosen, adminSocket, child);
    await untilAccepting(chosen, START_GUARD_MS, `haproxy listening on 127.0.0.1:${chosen}`, () => child.alive).catch((error: Error) => {
      throw new Error(`${error.message}\n${child.output.trim()}`);
    });
    return proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The backend's servers as haproxy sees them (`show stat` on the admin socket). */
  async servers(): Promise<ServerState[]> {
    const csv = await bounded(
      new Promise<string>((resolve, reject) => {
        let text = "";
        const socket = connect(this.adminSocket, () => socket.write("show stat\n"));
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.once("end", () => resolve(text));
        socket.once("error", reject);
      }),
      5_000,
      "haproxy's admin socket answering show stat",
    );
    const [header = "", ...rows] = csv.trim().split("\n");
    const columns = header.replace(/^# /, "").split(",");
    const at = (name: string) => columns.indexOf(name);
    return rows
      .map((row) => row.split(","))
      .filter((cells) => cells[at("pxname")] === "chat_servers" && cells[at("svname")] !== "BACKEND")
      .map((cells) => ({ name: cells[at("svname")] ?? "", status: cells[at("status")] ?? "", current: Number(cells[at("scur")]) }));
  }

  /** Waits until haproxy counts server `name` as UP (its health checks passed `rise` times). */
  async untilUp(name: string, ms: number): Promise<void> {
    await bounded(
      (async () => {
        for (;;) {
          const state = (await this.servers()).find((s) => s.name === name);
          if (state?.status === "UP") return;
          await sleep(100);
        }
      })(),
      ms,
      `haproxy counting ${name} as UP`,
    );
  }

  async stop(): Promise<void> {
    // SIGTERM is haproxy's hard stop: every tunnel closes now (SIGUSR1 would wait for them, up to `timeout tunnel`).
    await this.#child.stop("SIGTERM", STOP_GUARD_MS);
  }
}
