/**
 * npm run client -- [--trace] [--impl chapters] [--timeout MS] [--ca FILE] [--origin URL]
 *                   [--ping-interval 5s [--pong-timeout 2s]] [--deflate] [--protocol NAME]... URL MESSAGE...
 *
 * Connects to URL with the echo client (the reference, or with --impl
 * chapters your own chapter 09), sends each MESSAGE as a text message, prints
 * each echo on its own line on stdout, in order, closes with 1000 and exits 0.
 * On any failure (bad URL, refused connection, failed handshake, a close
 * before every echo came back, timeout) it prints one line on stderr and
 * exits 1. The whole run is bounded by --timeout (default 10 000 ms).
 * --trace prints the handshake and every frame both ways on stderr, so stdout
 * stays exactly the echoes. --ca FILE trusts the certificate(s) in FILE (PEM)
 * for a wss:// URL, instead of the public authorities: for the self-signed
 * certificate of `npm run server -- --tls` (chapter 11). --origin sends an
 * Origin header, for servers that want one (Go's websocket.Handler refuses
 * a request without it). --ping-interval pings the server that often while
 * the run lasts and drops it (1006) if nothing comes back within
 * --pong-timeout (default: the interval): a heartbeat (RFC 6455 §5.5.2).
 * --deflate offers permessage-deflate (chapter 12,
 * RFC 7692); --protocol NAME (repeatable) offers subprotocols, by preference;
 * what the server agreed to is printed on stderr.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type * as EchoClientChapter from "../solutions/09-echo-client.ts";
import type { Message } from "../lib/message.ts";
import { parseDuration } from "./lib/duration.ts";
import { loadChapter, takeImplementation } from "./lib/impl.ts";
import { dim, red } from "./lib/terminal.ts";

const USAGE = `usage: npm run client -- [--trace] [--impl chapters] [--timeout MS] [--ca FILE] [--origin URL]
                         [--ping-interval 5s [--pong-timeout 2s]]
                         [--deflate] [--protocol NAME]... URL MESSAGE...

  Sends each MESSAGE to the WebSocket at URL as text, prints each echo on its
  own line, then closes the connection (1000) and exits 0.

  e.g.  npm run client -- ws://127.0.0.1:8080/ hello "hello again"

  --trace         the handshake and every frame, both ways, on stderr
  --impl chapters run your own chapters/09-echo-client.ts, not the reference
  --timeout MS    give up after MS milliseconds in all (default 10000)
  --ca FILE       for wss://, trust the certificate in FILE (PEM) instead of the
                  public authorities, e.g. .cache/tls/cert.pem from
                  npm run server -- --tls
  --origin URL    send this Origin header (RFC 6455 §4.1, request requirement 8, §10.2)
  --ping-interval a heartbeat: ping the server this often (30s, 500ms, 2m), and
                  drop it (1006) if nothing answers within --pong-timeout
                  (default: the interval) (RFC 6455 §5.5.2)
  --deflate       offer permessage-deflate compression (RFC 7692, chapter 12)
  --protocol NAME offer this subprotocol (repeatable, by preference; RFC 6455 §1.9)`;

/** Node's codes for a certificate that didn't verify: these get a hint (RFC 6455 §10.6). */
const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

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
      ca: { type: "string" },
      origin: { type: "string" },
      "ping-interval": { type: "string" },
      "pong-timeout": { type: "string" },
      deflate: { type: "boolean", default: false },
      protocol: { type: "string", multiple: true, default: [] },
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
  // Only wss:// has a certificate to trust: --ca with ws:// is a mistake worth saying out loud.
  if (values.ca !== undefined && !/^wss:/i.test(url)) throw new Error(`--ca trusts a TLS certificate: it needs a wss:// URL, not ${url}`);
  const ca = values.ca === undefined ? undefined : readCertificate(values.ca);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) throw new Error(`--timeout ${values.timeout} is not a number of milliseconds`);

  // Even if a chapter under construction forgets a timer, this run ends.
  const watchdog = setTimeout(() => fail(new Error(`gave up after ${timeout} ms (--timeout)`)), timeout);

  const pingInterval = values["ping-interval"] === undefined ? undefined : parseDuration(values["ping-interval"], "--ping-interval");
  if (values["pong-timeout"] !== undefined && pingInterval === undefined) throw new Error("--pong-timeout needs --ping-interval");
  const pongTimeout = values["pong-timeout"] === undefined ? undefined : parseDuration(values["pong-timeout"], "--pong-timeout");

  const { connect } = await loadChapter<typeof EchoClientChapter>("09-echo-client", impl);
  const client = await connect(url, {
    handshakeTimeout: timeout,
    ...(values.origin === undefined ? {} : { origin: values.origin }),
    ...(pingInterval === undefined ? {} : { pingInterval }),
    ...(pongTimeout === undefined ? {} : { pongTimeout }),
    ...(values.deflate ? { deflate: true } : {}),
    ...(values.protocol.length > 0 ? { protocols: values.protocol } : {}),
    ...(ca === undefined ? {} : { tls: { ca } }),
    ...(values.trace ? { trace: (line: string) => console.error(line) } : {}),
  });
  if (values.deflate || values.protocol.length > 0) {
    console.error(dim(`agreed: subprotocol ${client.protocol || "(none)"}, extensions ${client.extensions || "(none)"}`));
  }
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

/** The PEM text of `file`, or an error that says what is wrong with it. */
function readCertificate(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`--ca ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`--ca ${file}: not a PEM certificate (no BEGIN CERTIFICATE line)`);
  return text;
}

/** One clear line on stderr, then exit 1. */
function fail(error: unknown): never {
  const e = error instanceof Error ? error : new Error(String(error));
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== undefined && CERTIFICATE_ERRORS.has(code)) {
    console.error(red(`npm run client: the server's certificate was refused: ${e.message} (${code})`));
    console.error(dim("  to trust a test certificate, name it: --ca FILE (for npm run server -- --tls: --ca .cache/tls/cert.pem)"));
    process.exit(1);
  }
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER") {
    // OpenSSL read something that isn't TLS: usually a plain ws:// server behind a wss:// URL.
    console.error(red(`npm run client: the server didn't answer in TLS (${code}): is it a ws:// server?`));
    console.error(dim("  npm run server speaks wss:// only with --tls"));
    process.exit(1);
  }
  const kind: Record<string, string> = {
    SyntaxError: "bad URL: ",
    HandshakeError: "handshake failed: ",
    TimeoutError: "timed out: ",
  };
  const prefix = kind[e.name] ?? (e.name === "Error" ? "" : `${e.name}: `);
  console.error(red(`npm run client: ${prefix}${e.message}`));
  process.exit(1);
}
