/**
 * npm run client -- [--trace] [--impl chapters] [--timeout MS] URL MESSAGE...
 *
 * Connects to URL with the echo client (the reference, or with --impl
 * chapters your own chapter 09), sends each MESSAGE as a text message, prints
 * each echo on its own line on stdout, in order, closes with 1000 and exits 0.
 * On any failure (bad URL, refused connection, failed handshake, a close
 * before every echo came back, timeout) it prints one line on stderr and
 * exits 1. The whole run is bounded by --timeout (default 10 000 ms).
 * --trace prints the handshake and every frame both ways on stderr, so stdout
 * stays exactly the echoes.
 */
import { parseArgs } from "node:util";
import type * as EchoClientChapter from "../solutions/09-echo-client.ts";
import type { Message } from "../lib/message.ts";
import { loadChapter, takeImplementation } from "./lib/impl.ts";
import { dim, red } from "./lib/terminal.ts";

const USAGE = `usage: npm run client -- [--trace] [--impl chapters] [--timeout MS] URL MESSAGE...

  Sends each MESSAGE to the WebSocket at URL as text, prints each echo on its
  own line, then closes the connection (1000) and exits 0.

  e.g.  npm run client -- ws://127.0.0.1:8080/ hello "hello again"

  --trace         the handshake and every frame, both ways, on stderr
  --impl chapters run your own chapters/09-echo-client.ts, not the reference
  --timeout MS    give up after MS milliseconds in all (default 10000)`;

try {
  const args = process.argv.slice(2);
  const impl = takeImplementation(args);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      trace: { type: "boolean", default: false },
      timeout: { type: "string", default: "10000" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const [url, ...messages] = positionals;
  if (url === undefined) {
    console.error(USAGE);
    process.exit(2);
  }
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new Error(`--timeout ${values.timeout} is not a number of milliseconds`);

  // Even if a chapter under construction forgets a timer, this run ends.
  const watchdog = setTimeout(() => fail(new Error(`gave up after ${timeout} ms (--timeout)`)), timeout);

  const { connect } = await loadChapter<typeof EchoClientChapter>("09-echo-client", impl);
  const client = await connect(url, {
    handshakeTimeout: timeout,
    ...(values.trace ? { trace: (line: string) => console.error(line) } : {}),
  });
  // One at a time: each echo is printed before the next message goes out.
  for (const message of messages) {
    client.send(message);
    console.log(show(await client.receive(timeout)));
  }
  const { code, reason, clean } = await client.close(1000);
  if (!clean) throw new Error(`the closing handshake did not complete (${code}${reason === "" ? "" : ` ${reason}`})`);

  clearTimeout(watchdog);
  process.exitCode = 0;
  // A handle left open by a chapter under construction must not keep us alive.
  setTimeout(() => process.exit(), 1000).unref();
} catch (error) {
  fail(error);
}

/** An echo as one line: text as it is, binary as hex bytes. */
function show(message: Message): string {
  if (message.type === "text") return message.data;
  return dim(`<binary ${message.data.length} bytes: ${Buffer.from(message.data).toString("hex").replace(/(..)(?=.)/g, "$1 ")}>`);
}

/** One clear line on stderr, then exit 1. */
function fail(error: unknown): never {
  const e = error instanceof Error ? error : new Error(String(error));
  const kind: Record<string, string> = {
    SyntaxError: "bad URL: ",
    HandshakeError: "handshake failed: ",
    TimeoutError: "timed out: ",
  };
  const prefix = kind[e.name] ?? (e.name === "Error" ? "" : `${e.name}: `);
  console.error(red(`npm run client: ${prefix}${e.message}`));
  process.exit(1);
}
