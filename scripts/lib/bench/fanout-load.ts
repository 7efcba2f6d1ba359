/**
 * The load generator of `npm run bench -- --fanout`, in its own process:
 * SUBSCRIBERS `ws` clients join one room, then one more client, the
 * publisher, says messages of SIZE bytes of text into it, keeping WINDOW of
 * them in flight (a message is done when the last subscriber to join has it),
 * for SECONDS after a warm-up. Every subscriber takes the time of each
 * message it receives against the time the publisher sent it (one process,
 * one clock). Prints one JSON line: deliveries per second (one message to one
 * subscriber is one delivery), p50 and p99 delivery latency in ms; before
 * it, a line when the timed part starts and one when it ends.
 *
 *   fanout-load.ts URL SUBSCRIBERS SIZE SECONDS
 *
 * URL may be a comma-separated list (`--cluster`: one URL per server): the
 * subscribers are dealt to them in turn, and the publisher joins the first.
 */
import WebSocket from "ws";

const [urls = "", subscribersText = "10", sizeText = "64", secondsText = "2"] = process.argv.slice(2);
const subscribers = Number(subscribersText);
const size = Number(sizeText);
const seconds = Number(secondsText);
const WINDOW = 8;
const room = "bench";

const servers = urls.split(",");
function open(n = 0): Promise<WebSocket> {
  const ws = new WebSocket(servers[n % servers.length] ?? "", ["chat.v1"], { perMessageDeflate: false });
  return new Promise((resolve, reject) => ws.once("open", () => resolve(ws)).once("error", reject));
}
async function join(ws: WebSocket): Promise<void> {
  const joined = new Promise((resolve) => ws.once("message", resolve));
  ws.send(JSON.stringify({ type: "join", room }));
  await joined;
}

const members: WebSocket[] = [];
for (let i = 0; i < subscribers; i += 50) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, subscribers - i) }, (_, j) => open(i + j)));
  for (const ws of batch) await join(ws);
  members.push(...batch);
}
const publisher = await open();
await join(publisher); // chat.v1: only members say anything (it hears its own messages too, uncounted)

const sentAt = new Map<number, number>(); // the publisher's own count → when it was said
let said = 0;
let done = 0;
let counting = false;
let stopped = false;
let deliveries = 0;
const latencies: number[] = [];
const padding = "x".repeat(Math.max(0, size - 12));
const say = () => {
  said += 1;
  sentAt.set(said, performance.now());
  publisher.send(JSON.stringify({ type: "say", room, text: `${String(said).padStart(11, "0")} ${padding}` }));
};
const finished = new Promise<void>((resolve) => {
  for (const [i, ws] of members.entries()) {
    const last = i === members.length - 1;
    ws.on("message", (data: Buffer) => {
      const now = performance.now();
      const text = data.toString();
      const at = text.indexOf('"text":"');
      const n = Number(text.slice(at + 8, at + 19));
      if (counting) {
        deliveries += 1;
        latencies.push(now - (sentAt.get(n) ?? now));
      }
      if (!last) return;
      done = n;
      sentAt.delete(n - WINDOW * 4);
      if (stopped) {
        if (done === said) resolve();
      } else say();
    });
  }
});
for (let i = 0; i < WINDOW; i++) say();
await new Promise((r) => setTimeout(r, 500));
counting = true;
console.log(JSON.stringify({ counting: true })); // --cluster reads each process's CPU time here and below
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
console.log(JSON.stringify({ counting: false }));
stopped = true;
await Promise.race([finished, new Promise((r) => setTimeout(r, 10_000))]);
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
console.log(JSON.stringify({ deliveriesPerSecond: deliveries / seconds, messagesPerSecond: deliveries / seconds / subscribers, p50: at(0.5), p99: at(0.99), done }));
process.exit(0);
