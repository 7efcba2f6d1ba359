/**
 * The load generator of `npm run bench`, run in its own process (the
 * orchestrator pins it to its own CPU when it can). Commanded over IPC by
 * scripts/bench.ts; see `Command`.
 *
 * It is built to cost as little as possible per message, so that the server
 * is what gets measured:
 * - every frame is built once (wire.ts): sending N messages is one write of
 *   a slice of a buffer holding the frame N times;
 * - each connection keeps a window of messages in flight: every read that
 *   completes k echoes sends k new messages, in one write;
 * - the echoes are parsed just enough to count them and to check their
 *   headers; the payload is only compared in the probe, before the timing.
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { CLOSE_FRAME, upgradeRequest, wireFor, type MessageType, type Wire } from "./wire.ts";

export type Command =
  | { cmd: "probe"; url: string; type: MessageType; sizes: number[]; raw?: boolean }
  | {
      cmd: "run";
      url: string;
      /** The server is the raw TCP echo: its echoes are our own masked frames. */
      raw?: boolean;
      type: MessageType;
      size: number;
      connections: number;
      window: number;
      warmupMs: number;
      durationMs: number;
    }
  | { cmd: "idle-open"; url: string; count: number }
  | { cmd: "idle-close" };

export interface RunResult {
  messages: number;
  seconds: number;
  /** Round trip of each message, from the write that sent it to the read that completed its echo, in ms. */
  p50: number;
  p99: number;
  /** CPU time the generator used, as a fraction of one core, during the timed part. */
  cpu: number;
  /** CPU time the generator used for the whole command (connect, warm-up, timed part, goodbye), in µs. */
  cpuTotal: number;
}

/** Opens a TCP connection and completes the opening handshake; resolves with the socket and any bytes after the head. */
function open(url: string): Promise<{ socket: Socket; rest: Buffer }> {
  const { hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), noDelay: true });
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error("handshake timed out after 10 s")), 10_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", fail);
      const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
      if (!status.startsWith("HTTP/1.1 101")) return fail(new Error(`handshake refused: ${status}`));
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.once("error", fail);
    socket.once("connect", () => socket.write(upgradeRequest(host, Number(port))));
  });
}

/** One connection under load: a window of messages in flight, refilled as echoes complete. */
class Pipe {
  /** Messages in flight right now (sent, echo not complete). */
  inFlight = 0;
  /** Echoes completed since the counters were last reset. */
  completed = 0;
  sending = true;
  error: Error | undefined;
  /** Position in the echo being read: 0 at its first byte. */
  #at = 0;
  /** Send time of each message in flight, oldest at #head: a ring of `window` entries. */
  readonly #sentAt: Float64Array;
  #head = 0;
  #tail = 0;
  /** The frame repeated `window` times: sending k messages writes its first k frames. */
  readonly #batch: Uint8Array;
  #onIdle: (() => void) | undefined;
  /** Messages to send at the end of this turn of the event loop (see #read). */
  #owed = 0;

  constructor(
    readonly socket: Socket,
    readonly wire: Wire,
    readonly window: number,
    readonly samples: { on: boolean; rtt: number[] },
  ) {
    this.#sentAt = new Float64Array(window);
    this.#batch = new Uint8Array(wire.frame.length * window);
    for (let i = 0; i < window; i++) this.#batch.set(wire.frame, i * wire.frame.length);
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    socket.on("error", (error) => (this.error ??= error));
    socket.on("close", () => {
      if (this.sending) this.error ??= new Error("the server closed the connection during the run");
      this.#onIdle?.();
    });
  }

  start(): void {
    this.#send(this.window);
  }

  /** Resolves once every message in flight has come back (or the socket is gone). */
  drained(): Promise<void> {
    this.sending = false;
    if (this.inFlight === 0 || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => (this.#onIdle = resolve));
  }

  #send(count: number): void {
    const now = performance.now();
    for (let i = 0; i < count; i++) {
      this.#sentAt[this.#tail] = now;
      this.#tail = this.#tail + 1 === this.window ? 0 : this.#tail + 1;
    }
    this.inFlight += count;
    this.socket.write(this.#batch.subarray(0, count * this.wire.frame.length));
  }

  #read(chunk: Uint8Array): void {
    const { echoHeader, echoLength } = this.wire;
    const headerLength = echoHeader.length;
    let done = 0;
    let now = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#at < headerLength) {
        // The header must be exactly the one expected: FIN, the message's opcode, no mask, the same length.
        if (chunk[i] !== echoHeader[this.#at]) {
          this.error ??= new Error(`unexpected byte 0x${chunk[i]!.toString(16)} at byte ${this.#at} of an echo's header`);
          this.socket.destroy();
          return;
        }
        this.#at++;
        i++;
      } else {
        const take = Math.min(echoLength - this.#at, chunk.length - i);
        this.#at += take;
        i += take;
      }
      if (this.#at === echoLength) {
        this.#at = 0;
        done++;
        if (this.samples.on) {
          if (now === 0) now = performance.now();
          this.samples.rtt.push(now - this.#sentAt[this.#head]!);
        }
        this.#head = this.#head + 1 === this.window ? 0 : this.#head + 1;
      }
    }
    if (done === 0) return;
    this.inFlight -= done;
    this.completed += done;
    if (!this.sending) {
      if (this.inFlight === 0) this.#onIdle?.();
      return;
    }
    // One write per turn of the event loop, not one per read: a server that
    // writes each echo on its own makes many small reads, and a write for each
    // would make the generator, not the server, the bottleneck.
    if (this.#owed === 0) setImmediate(() => this.#refill());
    this.#owed += done;
  }

  #refill(): void {
    const owed = this.#owed;
    this.#owed = 0;
    if (this.sending && !this.socket.destroyed) this.#send(owed);
  }
}

/** Says goodbye: a close frame, then TCP end; destroyed if the server takes more than `ms`. */
function hangUp(socket: Socket, ms = 2_000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
    socket.end(CLOSE_FRAME);
  });
}

/** The p-quantile of sorted round trips (NaN if there are none). */
const percentile = (sorted: Float64Array, p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(command: Extract<Command, { cmd: "run" }>): Promise<RunResult> {
  const start = process.cpuUsage();
  const wire = wireFor(command.type, command.size, command.raw);
  const samples = { on: false, rtt: [] as number[] };
  const sockets = await Promise.all(Array.from({ length: command.connections }, () => open(command.url)));
  const pipes = sockets.map(({ socket }) => new Pipe(socket, wire, command.window, samples));
  try {
    for (const pipe of pipes) pipe.start();
    await sleep(command.warmupMs);

    for (const pipe of pipes) pipe.completed = 0;
    samples.on = true;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(command.durationMs);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    samples.on = false;
    const messages = pipes.reduce((n, p) => n + p.completed, 0);

    await Promise.race([Promise.all(pipes.map((p) => p.drained())), sleep(10_000)]);
    const error = pipes.find((p) => p.error !== undefined)?.error;
    if (error !== undefined) throw error;
    const sorted = Float64Array.from(samples.rtt).sort();
    await Promise.all(pipes.map((p) => hangUp(p.socket)));
    const total = process.cpuUsage(start);
    return {
      cpuTotal: total.user + total.system,
      messages,
      seconds,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      cpu: (cpu.user + cpu.system) / 1e6 / seconds,
    };
  } finally {
    await Promise.all(pipes.map((p) => hangUp(p.socket)));
  }
}

/** One message of each size, compared byte for byte: the server echoes, and the generator reads echoes right. */
async function probe(command: Extract<Command, { cmd: "probe" }>): Promise<void> {
  for (const size of command.sizes) {
    const wire = wireFor(command.type, size, command.raw);
    const { socket, rest } = await open(command.url);
    const echo = await new Promise<Buffer>((resolve, reject) => {
      let got = rest;
      const timer = setTimeout(() => reject(new Error(`no echo of a ${size}-byte ${command.type} message within 10 s`)), 10_000);
      const check = () => {
        if (got.length < wire.echoLength) return;
        clearTimeout(timer);
        resolve(got);
      };
      socket.on("data", (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        check();
      });
      socket.once("close", () => reject(new Error(`the server closed the connection instead of echoing a ${size}-byte ${command.type} message`)));
      socket.write(wire.frame);
      check();
    });
    const expected = Buffer.from(wire.echo);
    await hangUp(socket);
    if (echo.length !== expected.length || !echo.equals(expected)) {
      throw new Error(`the echo of a ${size}-byte ${command.type} message is not the message (${echo.length} bytes back)`);
    }
  }
}

const idle: Socket[] = [];

async function openIdle(url: string, count: number): Promise<number> {
  // In batches: the server's listen backlog must not overflow (a dropped SYN waits a second to retry).
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(100, count - opened);
    const sockets = await Promise.all(Array.from({ length: batch }, () => open(url)));
    for (const { socket } of sockets) idle.push(socket);
    opened += batch;
  }
  return idle.length;
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case "probe":
      await probe(command);
      return {};
    case "run":
      return run(command);
    case "idle-open":
      return { opened: await openIdle(command.url, command.count) };
    case "idle-close":
      await Promise.all(idle.splice(0).map((socket) => hangUp(socket)));
      return {};
  }
}

process.on("message", (command: Command) => {
  handle(command).then(
    (result) => process.send!({ ok: true, result }),
    (error: Error) => process.send!({ ok: false, error: error.message }),
  );
});
process.on("disconnect", () => process.exit(0));
process.send!({ ready: true });
