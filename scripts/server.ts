/**
 * npm run server -- [--port N] [--host H] [--impl chapters] [--trace]
 *                   [--origin URL]... [--max-message-size BYTES]
 *
 * Starts the echo server (the reference, or with --impl chapters your own
 * chapter 08) and prints its ws:// URL on stdout. --trace prints the
 * handshake and every frame on stderr. Ctrl-C (SIGINT) or SIGTERM sends every
 * client a close frame with 1001, waits a bounded time, and exits 0; a second
 * Ctrl-C stops at once.
 */
import { parseArgs } from "node:util";
import type * as EchoServerChapter from "../solutions/08-echo-server.ts";
import { loadChapter, takeImplementation } from "./lib/impl.ts";
import { dim, red } from "./lib/terminal.ts";

try {
  const args = process.argv.slice(2);
  const impl = takeImplementation(args);
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      trace: { type: "boolean", default: false },
      origin: { type: "string", multiple: true, default: [] },
      "max-message-size": { type: "string" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a TCP port`);
  const maxMessageSize = values["max-message-size"] === undefined ? undefined : Number(values["max-message-size"]);

  const { createEchoServer } = await loadChapter<typeof EchoServerChapter>("08-echo-server", impl);
  const server = createEchoServer({
    origins: values.origin,
    ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
    ...(values.trace ? { trace: (line: string) => console.error(line) } : {}),
    onClose: ({ code, reason, clean }) => {
      if (!clean) console.error(dim(`a connection failed: ${code}${reason ? ` ${reason}` : ""}`));
    },
  });
  const url = await server.listen(port, values.host);
  console.log(url);
  console.error(dim(`echo server (${impl}) listening; Ctrl-C stops it`));

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) {
        console.error(red(`${signal} again: stopping at once, without waiting for the clients`));
        process.exit(1);
      }
      stopping = true;
      console.error(dim(`${signal}: saying goodbye (1001) to every client`));
      void server.close().then(() => process.exit(0));
    });
  }
} catch (error) {
  console.error(red(`npm run server: ${(error as Error).message}`));
  process.exit(1);
}
