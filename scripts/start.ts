/**
 * npm start — serves the workbook's site on this machine, and beside it the
 * reference echo server that the site's echo playground talks to. Prints both
 * addresses. Ctrl-C stops both: the echo server first says goodbye (1001) to
 * every connection still open.
 *
 * The echo server listens on 127.0.0.1, port ECHO_PORT (default 8080), or on
 * any free port if that one is taken; the site learns its URL through
 * VITE_ECHO_URL (see .vitepress/theme/components/shared.ts). The chat server
 * of chapter 13 (the chat room widget) likewise, on CHAT_PORT (default 8090),
 * through VITE_CHAT_URL.
 *
 * The widgets' "reference | yours" switch can run the reader's own chapters/
 * files: the dev server learns where they are through VITE_WORKBOOK_CHAPTERS
 * (see .vitepress/theme/components/impl.ts); a built site has none.
 */
import { resolve } from "node:path";
import { createServer } from "vitepress";
import { createEchoServer, type EchoServer } from "../solutions/08-echo-server.ts";
import { createChatServer } from "../solutions/13-rooms.ts";
import { bold, cyan, dim, red } from "./lib/terminal.ts";
import { root } from "./lib/workbook.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 5173);

/** The echo server on the port asked for, or, if it is taken, on any free one. */
async function startEchoServer(): Promise<{ server: EchoServer; url: string; note: string }> {
  const wanted = Number(process.env.ECHO_PORT ?? 8080);
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) {
    throw new Error(`ECHO_PORT=${process.env.ECHO_PORT} is not a TCP port`);
  }
  const server = createEchoServer();
  try {
    return { server, url: await server.listen(wanted, "127.0.0.1"), note: "" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EADDRINUSE" && code !== "EACCES") throw error;
  }
  const fallback = createEchoServer();
  const url = await fallback.listen(0, "127.0.0.1");
  return { server: fallback, url, note: ` (port ${wanted} was taken)` };
}

/** Chapter 13: the chat server for the chat room widget, on CHAT_PORT (default 8090) or any free port. */
async function startChatServer() {
  const wanted = Number(process.env.CHAT_PORT ?? 8090);
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) throw new Error(`CHAT_PORT=${process.env.CHAT_PORT} is not a TCP port`);
  const server = createChatServer();
  try {
    return { server, url: await server.listen(wanted, "127.0.0.1"), note: "" };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EADDRINUSE" && code !== "EACCES") throw error;
  }
  const fallback = createChatServer();
  return { server: fallback, url: await fallback.listen(0, "127.0.0.1"), note: ` (port ${wanted} was taken)` };
}

try {
  const echo = await startEchoServer();
  const chat = await startChatServer();
  // Vite hands VITE_* variables of the environment to the page as import.meta.env.
  process.env.VITE_ECHO_URL = echo.url;
  process.env.VITE_CHAT_URL = chat.url;
  // The widgets' "yours" (reference | yours) imports the reader's files from here.
  process.env.VITE_WORKBOOK_CHAPTERS ??= resolve(root, "chapters");

  const site = await createServer(root, { host, port });
  await site.listen();
  const url = site.resolvedUrls?.local[0] ?? `http://${host}:${port}/`;
  console.log(`\n${bold("The WebSocket Workbook")} is at ${cyan(url)}`);
  console.log(`The echo server for its playground is at ${cyan(echo.url)}${echo.note}`);
  console.log(`The chat server for chapter 13's chat room is at ${cyan(chat.url)}${chat.note}`);
  console.log("Start with Getting started, then chapter 00. Ctrl-C stops all three.\n");

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1); // a second Ctrl-C: do not wait
      stopping = true;
      console.log(dim("\nstopping: the echo and chat servers say goodbye (1001) to their clients"));
      void Promise.allSettled([echo.server.close(), chat.server.close(), site.close()]).then(() => process.exit(0));
    });
  }
} catch (error) {
  console.error(red(`npm start: ${(error as Error).message}`));
  process.exit(1);
}
