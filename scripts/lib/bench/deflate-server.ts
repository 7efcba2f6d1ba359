/**
 * One echo server with permessage-deflate for `npm run bench -- --deflate`, in
 * its own process: `reference` (solutions/08-echo-server.ts with `deflate: true`),
 * `per-message` (the same, with the reference's zlib streams switched off: chapter
 * 12's per-message code, a new zlib stream primed with the window for every
 * message, as the reference did before it kept one per direction), or `ws` (the
 * ws package with `perMessageDeflate: true`, its defaults otherwise: messages
 * under 1 KiB go uncompressed).
 *
 * IPC: sends { ready, url } or { failed }; answers "usage" with its CPU time in µs.
 */
import type * as EchoServerChapter from "../../../solutions/08-echo-server.ts";
import { zlibStreams } from "../../../lib/zlib-streams.ts";
import { loadChapter } from "../impl.ts";
import { startWsEcho } from "../ws-echo.ts";

async function start(kind: string): Promise<string> {
  if (kind === "reference" || kind === "per-message") {
    zlibStreams.enabled = kind === "reference";
    const { createEchoServer } = await loadChapter<typeof EchoServerChapter>("08-echo-server", "solutions");
    return createEchoServer({ deflate: true }).listen(0, "127.0.0.1");
  }
  return (await startWsEcho({ perMessageDeflate: true })).url;
}

try {
  const url = await start(process.argv[2] ?? "reference");
  process.on("message", () => {
    const cpu = process.cpuUsage();
    process.send!({ cpu: cpu.user + cpu.system });
  });
  process.send!({ ready: true, url });
} catch (error) {
  process.send!({ failed: `${(error as Error).name}: ${(error as Error).message}` });
}
process.on("disconnect", () => process.exit(0));
