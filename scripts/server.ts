/**
 * npm run server -- [--port N] [--host H] [--impl chapters] [--trace]
 *                   [--origin URL]... [--max-message-size BYTES] [--tls]
 *                   [--ping-interval 30s [--pong-timeout 10s]]
 *                   [--deflate] [--protocol NAME]...
 *
 * Starts the echo server (the reference, or with --impl chapters your own
 * chapter 08) and prints its ws:// URL on stdout. --trace prints the
 * handshake and every frame on stderr. Ctrl-C (SIGINT) or SIGTERM sends every
 * client a close frame with 1001, waits a bounded time, and exits 0; a second
 * Ctrl-C stops at once.
 *
 * --tls serves wss:// instead (chapter 11; default port 8443): a self-signed
 * certificate for localhost, 127.0.0.1 and ::1 (and --host) is made at
 * start-up, its PEM saved to .cache/tls/cert.pem for clients to trust, and
 * the URL printed is wss://. The private key never leaves memory.
 *
 * --ping-interval sends every client a ping that often (a heartbeat, RFC 6455
 * §5.5.2) and drops one from which nothing came within --pong-timeout of a
 * ping (default: the interval), reporting it as 1006.
 * --deflate accepts permessage-deflate when a client offers it (chapter 12,
 * RFC 7692; off by default); --trace then also shows, for each message, RSV1
 * and its size on the wire and inflated. --protocol NAME (repeatable) names a
 * subprotocol the server speaks; it picks the client's favourite among them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { makeTestCertificate } from "../lib/test-certificate.ts";
import type * as EchoServerChapter from "../solutions/08-echo-server.ts";
import type * as WssChapter from "../solutions/11-wss.ts";
import { parseDuration } from "./lib/duration.ts";
import { loadChapter, takeImplementation } from "./lib/impl.ts";
import { dim, red } from "./lib/terminal.ts";
import { root, shown, type Implementation } from "./lib/workbook.ts";
import { stopOnSignals } from "./lib/stop-on-signal.ts";

/** Where --tls leaves its certificate (git-ignored). */
const CERT_FILE = join(root, ".cache", "tls", "cert.pem");

try {
  const args = process.argv.slice(2);
  const impl = takeImplementation(args);
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      trace: { type: "boolean", default: false },
      origin: { type: "string", multiple: true, default: [] },
      "max-message-size": { type: "string" },
      tls: { type: "boolean", default: false },
      "ping-interval": { type: "string" },
      "pong-timeout": { type: "string" },
      deflate: { type: "boolean", default: false },
      protocol: { type: "string", multiple: true, default: [] },
    },
  });
  const portText = values.port ?? (values.tls ? "8443" : "8080");
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${portText} is not a TCP port`);
  const maxMessageSize = values["max-message-size"] === undefined ? undefined : Number(values["max-message-size"]);

  const pingInterval = values["ping-interval"] === undefined ? undefined : parseDuration(values["ping-interval"], "--ping-interval");
  if (values["pong-timeout"] !== undefined && pingInterval === undefined) throw new Error("--pong-timeout needs --ping-interval: without pings there is no pong to wait for");
  const pongTimeout = values["pong-timeout"] === undefined ? undefined : parseDuration(values["pong-timeout"], "--pong-timeout");

  const options: EchoServerChapter.EchoServerOptions = {
    origins: values.origin,
    ...(pingInterval === undefined ? {} : { pingInterval }),
    ...(pongTimeout === undefined ? {} : { pongTimeout }),
    ...(values.deflate ? { deflate: true } : {}),
    ...(values.protocol.length > 0 ? { protocols: values.protocol } : {}),
    ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
    ...(values.trace ? { trace: (line: string) => console.error(line) } : {}),
    onClose: ({ code, reason, clean }) => {
      if (!clean) console.error(dim(`a connection failed: ${code}${reason ? ` ${reason}` : ""}`));
    },
  };
  const server = values.tls
    ? await startSecure(values.host, options, impl)
    : (await loadChapter<typeof EchoServerChapter>("08-echo-server", impl)).createEchoServer(options);
  const url = await server.listen(port, values.host);
  console.log(url);
  const extras = [values.deflate ? "permessage-deflate" : "", values.protocol.length > 0 ? `subprotocols ${values.protocol.join(", ")}` : ""].filter(Boolean);
  console.error(dim(`echo server (${impl}) listening${extras.length > 0 ? ` with ${extras.join(" and ")}` : ""}; Ctrl-C stops it`));
  if (pingInterval !== undefined) {
    console.error(dim(`heartbeat: a ping every ${pingInterval} ms; a client silent for ${pongTimeout ?? pingInterval} ms after one is dropped (1006)`));
  }
  if (values.tls) {
    const ca = shown(CERT_FILE);
    console.error(dim(`self-signed certificate, made just now: ${ca}. A client must be told to trust it:`));
    console.error(dim(`  npm run client -- --ca ${ca} ${url} hello`));
    console.error(dim(`  NODE_EXTRA_CA_CERTS=${ca} node your-client.js   (any Node program, the ws package included)`));
  }

  stopOnSignals(server, "clients");
} catch (error) {
  console.error(red(`npm run server: ${(error as Error).message}`));
  process.exit(1);
}

/**
 * Chapter 11's server with a new self-signed certificate for the loopback
 * names and `host`. Only the certificate (public) is written to disk, for
 * clients to trust; a new one replaces it at every start.
 */
async function startSecure(host: string, options: EchoServerChapter.EchoServerOptions, impl: Implementation) {
  const wildcard = host === "0.0.0.0" || host === "::";
  const hosts = [...new Set(["localhost", "127.0.0.1", "::1", ...(wildcard ? [] : [host.toLowerCase()])])];
  const credentials = await makeTestCertificate(hosts, 30);
  mkdirSync(dirname(CERT_FILE), { recursive: true });
  writeFileSync(CERT_FILE, credentials.cert);
  const { createSecureEchoServer } = await loadChapter<typeof WssChapter>("11-wss", impl);
  return createSecureEchoServer(credentials, options);
}
