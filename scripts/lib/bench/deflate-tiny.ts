/**
 * CPU per tiny compressed message, in one process (`npm run bench -- --deflate`
 * prints it first): what an echo server's permessage-deflate does for each
 * 16-byte message with context takeover, inflate the client's message and
 * compress the echo, measured in CPU time (process.cpuUsage, every thread of
 * the process: zlib's thread pool too), so that a busy machine slows it down
 * without changing the figure much. Medians over several samples.
 *
 * - reference: chapter 12's PerMessageDeflate with its zlib streams (lib/zlib-streams.ts);
 * - per-message: the same with them switched off (a new stream and dictionary per message);
 * - ws: ws's own PerMessageDeflate (its zlib streams, asynchronous), compressing
 *   every echo (threshold 0), and with a ws server's default threshold of 1 KiB,
 *   which sends these echoes uncompressed (so it only inflates).
 * The client's messages are what a ws client sends (every one compressed).
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { PerMessageDeflate } from "../../../solutions/12-extensions.ts";
import { zlibStreams } from "../../../lib/zlib-streams.ts";
import type { DeflateParams } from "../../../lib/extensions.ts";
import type { Frame } from "../../../lib/frame.ts";

interface WsDeflate {
  params: Record<string, boolean | number>;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, data?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, data?: Buffer) => void): void;
  cleanup(): void;
}
const require = createRequire(import.meta.url);
const WsPerMessageDeflate = require(resolve(require.resolve("ws"), "../lib/permessage-deflate.js")) as new (options: object) => WsDeflate;

const AGREED: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const WS_PARAMS = { server_no_context_takeover: false, client_no_context_takeover: false, server_max_window_bits: 15, client_max_window_bits: 15 };

/** Eight 16-byte messages of the kind the bench sends (JSON-like). */
function messages(size: number): Buffer[] {
  return Array.from({ length: 8 }, (_, seed) => {
    let text = "";
    for (let i = seed * 1000; text.length < size; i++) text += `{"user":"u${i % 97}","seq":${(i * 7919) % 100000},"text":"hello again"}`;
    return Buffer.from(text.slice(0, size));
  });
}

const frame = ({ payload, rsv1 }: Sent): Frame => ({ fin: true, rsv1, rsv2: false, rsv3: false, opcode: 0x1, payload });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** µs of CPU per message echoed by `echo`, the median of `samples` runs of `count` messages. */
async function measure(echo: (i: number) => Promise<void> | void, count: number, samples: number): Promise<number> {
  for (let i = 0; i < 500; i++) await echo(i); // warm-up
  const results: number[] = [];
  for (let s = 0; s < samples; s++) {
    const before = cpuNow();
    for (let i = 0; i < count; i++) await echo(i);
    results.push((cpuNow() - before) / count);
  }
  return median(results);
}

type Sent = { payload: Uint8Array; rsv1: boolean };

/** What a ws client (threshold 0, as the bench's load generator) sends, in order: every message compressed, with context takeover. */
async function clientMessages(plain: Buffer[], count: number): Promise<Sent[]> {
  const client = new WsPerMessageDeflate({ isServer: false, threshold: 0 });
  client.params = WS_PARAMS;
  const out: Sent[] = [];
  for (let i = 0; i < count; i++) {
    const payload = await new Promise<Buffer>((done, fail) => client.compress(plain[i % plain.length]!, true, (error, data) => (error ? fail(error) : done(data!))));
    out.push({ payload, rsv1: true });
  }
  client.cleanup();
  return out;
}

export async function tinyDeflateCpu(size = 16, count = 4000, samples = 7): Promise<Record<string, number>> {
  const plain = messages(size);
  const total = 500 + count * samples;
  const wire = await clientMessages(plain, total);
  const results: Record<string, number> = {};
  for (const kind of ["reference", "per-message"] as const) {
    zlibStreams.enabled = kind === "reference";
    const server = new PerMessageDeflate("server", AGREED);
    let at = 0;
    results[kind] = await measure(() => {
      const message = server.receive(frame(wire[at++]!))!;
      server.send(0x1, message.payload);
    }, count, samples);
    server.close();
  }
  zlibStreams.enabled = true;
  // ws compressing its echoes too (threshold 0), and as a ws server is by default (threshold 1 KiB: these go back uncompressed).
  for (const [kind, threshold] of [["ws", 0], ["ws, default threshold", 1024]] as const) {
    const ws = new WsPerMessageDeflate({ isServer: true, threshold });
    ws.params = WS_PARAMS;
    let at = 0;
    results[kind] = await measure(
      () => {
        const { payload } = wire[at++]!;
        return new Promise<void>((done, fail) =>
          ws.decompress(Buffer.from(payload), true, (error, data) => {
            if (error) return fail(error);
            if (data!.length < threshold) return done();
            ws.compress(data!, true, (error2) => (error2 ? fail(error2) : done()));
          }),
        );
      },
      count,
      samples,
    );
    ws.cleanup();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await tinyDeflateCpu(Number(process.argv[2] ?? 16))));
