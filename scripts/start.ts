/**
 * npm start — serves the workbook's site on this machine and prints its address.
 */
import { createServer } from "vitepress";
import { bold, cyan } from "./lib/terminal.ts";
import { root } from "./lib/workbook.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 5173);
const site = await createServer(root, { host, port });
await site.listen();
const url = site.resolvedUrls?.local[0] ?? `http://${host}:${port}/`;
console.log(`\n${bold("The WebSocket Workbook")} is at ${cyan(url)}`);
console.log("Start with Getting started, then chapter 00. Ctrl-C stops the site.\n");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void site.close().finally(() => process.exit(0));
  });
}
