/** Free TCP ports on 127.0.0.1, chosen by the kernel. */
import { createServer, connect } from "node:net";
import { bounded, sleep } from "./child.ts";

/** A port nothing listens on right now (the kernel's choice for port 0, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Polls until 127.0.0.1:`port` accepts connections, for at most `ms`. */
export function untilAccepting(port: number, ms: number, what: string, alive: () => boolean = () => true): Promise<void> {
  return bounded(
    (async () => {
      while (!(await accepts(port))) {
        if (!alive()) throw new Error(`${what}: the process exited`);
        await sleep(50);
      }
    })(),
    ms,
    what,
  );
}
