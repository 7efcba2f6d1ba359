/**
 * CPU per echoed message without sockets: the server's own work on one
 * message (parse, unmask, check UTF-8, frame the echo), the system calls left
 * out. On a busy shared machine this is the figure that stays put: it is this
 * process's CPU time, not the clock, and no other process is in the loop.
 *
 *   npx tsx scripts/lib/bench/in-process.ts reference|ws [text|binary] [size] [messages]
 *
 * `reference`: a server-side Connection (chapter 07, `decodeText: false`, and
 * Node's isUtf8 supplied to lib/simd, as the echo server does; NO_NATIVE_UTF8=1:
 * without it); `ws`: its Receiver and Sender (with bufferutil
 * unless WS_NO_BUFFER_UTIL=1). The message's masked frame is fed in 64 KiB
 * pieces, each a fresh Buffer, as a socket delivers it. Prints one JSON line:
 * { server, type, size, messages, cpuUsPerMessage }. Under `node --cpu-prof`,
 * it is also what the maintainers profile (making-it-fast.md, section 8).
 */
import { isUtf8 } from "node:buffer";
import { createRequire } from "node:module";
import { useNativeUtf8 } from "../../../lib/simd/index.ts";
import type { Connection as ConnectionClass } from "../../../solutions/07-connection.ts";
import { wireFor, type MessageType } from "./wire.ts";

const [server = "reference", type = "text", sizeArg = "1048576", countArg] = process.argv.slice(2);
const size = Number(sizeArg);
const messages = Number(countArg ?? Math.max(50, Math.min(20000, Math.floor(2e9 / 8 / size / 4))));
/** What one socket read delivers at most (libuv reads 64 KiB at a time). */
const READ = 64 * 1024;

const wire = wireFor(type as MessageType, size);
/** The frame cut as reads cut it; copied into a fresh Buffer per read below, as the socket's are. */
const pieces: Uint8Array[] = [];
for (let at = 0; at < wire.frame.length; at += READ) pieces.push(wire.frame.subarray(at, at + READ));

type Echo = () => number; // feeds one message, returns the bytes of the echo framed
let echo: Echo;
if (server === "reference") {
  const { Connection } = (await import("../../../solutions/07-connection.ts")) as { Connection: typeof ConnectionClass };
  // As the echo server (chapter 08) does: Node's isUtf8 for the UTF-8 check where it pays.
  if (process.env.NO_NATIVE_UTF8 === undefined) useNativeUtf8(isUtf8);
  const connection = new Connection("server", { decodeText: false, maxMessageSize: 64 * 1024 * 1024 });
  connection.open();
  echo = () => {
    let echoed = 0;
    for (const piece of pieces) {
      for (const event of connection.receive(Buffer.from(piece))) {
        if (event.type === "message-bytes") connection.send(event.message);
      }
    }
    for (const chunk of connection.bytesToSend()) echoed += chunk.length;
    return echoed;
  };
} else {
  const require = createRequire(import.meta.url);
  const { Receiver, Sender } = require("ws");
  let echoed = 0;
  const socket = { cork() {}, uncork() {}, write: (chunk: Uint8Array) => ((echoed += chunk.length), true) };
  const sender = new Sender(socket);
  const receiver = new Receiver({ isServer: true, maxPayload: 64 * 1024 * 1024 });
  receiver.on("message", (data: Buffer, isBinary: boolean) => sender.send(data, { binary: isBinary, fin: true, mask: false, compress: false }));
  echo = () => {
    echoed = 0;
    for (const piece of pieces) receiver.write(Buffer.from(piece));
    return echoed;
  };
}

// Warm up (the JIT), then measure.
for (let i = 0; i < Math.min(messages, 200); i++) echo();
const expected = wire.echoLength;
const cpu0 = process.cpuUsage();
for (let i = 0; i < messages; i++) {
  const got = echo();
  if (got !== expected) throw new Error(`${server}: the echo of message ${i} was ${got} bytes, not ${expected}`);
}
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ server, type, size, messages, cpuUsPerMessage: +((cpu.user + cpu.system) / messages).toFixed(2) }));
