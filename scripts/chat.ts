/**
 * npm run chat -- [--port N] [--host H] [--impl chapters]
 *                 [--max-queued-bytes BYTES] [--history N] [--rate BURST/PERSECOND | --rate off]
 *
 * Starts the chat server of chapter 13 (the reference, or with --impl
 * chapters your own) and prints its ws:// URL on stdout. It speaks chat.v1
 * (DESIGN.md): a client must offer that subprotocol. Ctrl-C (SIGINT) or
 * SIGTERM closes every member with 1001 and exits 0; a second Ctrl-C stops at once.
 *
 * Try it with two `ws` clients from a Node prompt, or the site's chat page.
 * Chapters 14 and 15 add --allow-origin and --redis.
 */
import { parseArgs } from "node:util";
import type * as RoomsChapter from "../solutions/13-rooms.ts";
import { loadChapter, takeImplementation } from "./lib/impl.ts";
import { dim, red } from "./lib/terminal.ts";
import { stopOnSignals } from "./lib/stop-on-signal.ts";

try {
  const args = process.argv.slice(2);
  const impl = takeImplementation(args);
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8090" },
      host: { type: "string", default: "127.0.0.1" },
      "max-queued-bytes": { type: "string" },
      history: { type: "string" },
      rate: { type: "string" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a TCP port`);
  const whole = (text: string | undefined, name: string) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} ${text} is not a whole number`);
    return n;
  };
  const maxQueuedBytes = whole(values["max-queued-bytes"], "--max-queued-bytes");
  const history = whole(values.history, "--history");
  let rate: RoomsChapter.HubOptions["rate"];
  if (values.rate === "off") rate = false;
  else if (values.rate !== undefined) {
    const found = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(values.rate);
    if (found === null) throw new Error(`--rate ${values.rate}: write BURST/PERSECOND (20/10), or off`);
    rate = { burst: Number(found[1]), perSecond: Number(found[2]) };
  }

  const { createChatServer } = await loadChapter<typeof RoomsChapter>("13-rooms", impl);
  const server = createChatServer({
    ...(maxQueuedBytes === undefined ? {} : { maxQueuedBytes }),
    ...(history === undefined ? {} : { history }),
    ...(rate === undefined ? {} : { rate }),
    onClose: ({ id, code, reason }) => {
      if (code !== 1000 && code !== 1001 && code !== 1005) console.error(dim(`${id} closed: ${code}${reason ? ` ${reason}` : ""}`));
    },
  });
  const url = await server.listen(port, values.host);
  console.log(url);
  console.error(dim(`chat server (${impl}) listening, subprotocol chat.v1; Ctrl-C stops it`));

  stopOnSignals(server, "members");
} catch (error) {
  console.error(red(`npm run chat: ${(error as Error).message}`));
  process.exit(1);
}
