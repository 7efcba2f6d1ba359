/**
 * Ctrl-C (SIGINT) or SIGTERM stops a server the way RFC 6455 §7.4.1 asks: a
 * goodbye (1001, going away) to everyone connected, then exit 0 once it closed.
 * A second signal stops at once, without waiting (exit 1).
 */
import { dim, red } from "./terminal.ts";

export function stopOnSignals(server: { close(): Promise<unknown> }, who: string): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) {
        console.error(red(`${signal} again: stopping at once, without waiting for the ${who}`));
        process.exit(1);
      }
      stopping = true;
      console.error(dim(`${signal}: saying goodbye (1001) to every ${who.replace(/s$/, "")}`));
      void server.close().then(() => process.exit(0));
    });
  }
}
