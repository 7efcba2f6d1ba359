/**
 * The load generator of `npm run bench -- --deflate`, in its own process:
 * `connections` ws clients with permessage-deflate (threshold 0: every message
 * compressed, as a browser does), each keeping `window` messages of
 * compressible text in flight for `seconds`, after a warm-up. The same client
 * for every server, so only the server differs. Prints one JSON line.
 *
 * `binary`: the same bytes sent as binary messages.
 *
 *   deflate-load.ts URL SIZE CONNECTIONS SECONDS [text|binary]
 */
import WebSocket from "ws";

const [url = "", sizeText = "1024", connectionsText = "1", secondsText = "2", kind = "text"] = process.argv.slice(2);
const size = Number(sizeText);
const connections = Number(connectionsText);
const seconds = Number(secondsText);
const window = Math.max(2, Math.min(16, Math.floor((1024 * 1024) / size)));

/** Text that compresses the way chat messages and JSON do: words with varying numbers. */
function words(n: number, seed: number): string {
  let text = "";
  for (let i = seed; text.length < n; i++) text += `{"user":"u${i % 97}","seq":${(i * 7919) % 100000},"text":"hello again"}`;
  return text.slice(0, n);
}

async function client(deadline: { warm: number; end: number }) {
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 64 * 1024 * 1024 });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const messages = Array.from({ length: 8 }, (_, i) => (kind === "binary" ? Buffer.from(words(size, i * 1000)) : words(size, i * 1000)));
  let sent = 0;
  let counted = 0;
  const latencies: number[] = [];
  const times: number[] = [];
  let echoed = 0;
  return new Promise<{ counted: number; latencies: number[]; echoed: number }>((resolve) => {
    const send = () => {
      times.push(performance.now());
      ws.send(messages[sent++ % messages.length]!);
    };
    ws.on("message", () => {
      echoed++;
      const now = performance.now();
      const started = times.shift() ?? now;
      if (now >= deadline.warm && now < deadline.end) {
        counted++;
        latencies.push(now - started);
      }
      if (now < deadline.end) send();
      else if (times.length === 0) {
        ws.close();
        resolve({ counted, latencies, echoed });
      }
    });
    for (let i = 0; i < window; i++) send();
  });
}

const now = performance.now();
const deadline = { warm: now + 500, end: now + 500 + seconds * 1000 };
const results = await Promise.all(Array.from({ length: connections }, () => client(deadline)));
const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const counted = results.reduce((n, r) => n + r.counted, 0);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
// Every message sent is echoed: `echoed` counts them all, warm-up included (the server CPU is measured over the whole run).
console.log(JSON.stringify({ messagesPerSecond: counted / seconds, mbPerSecond: (counted * size) / seconds / 1e6, p50: at(0.5), p99: at(0.99), echoed: results.reduce((n, r) => n + r.echoed, 0) }));
process.exit(0);
