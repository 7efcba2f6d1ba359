/**
 * The deflate bomb of tests/12-extensions.test.ts, run in a process of its own
 * so that its peak memory (maxRSS) is the bomb's alone:
 *
 *   node --import tsx tests/helpers/deflate-bomb.ts solutions|chapters|.pristine
 *
 * About 1 MiB of DEFLATE that inflates to 1 GiB of zeros (DEFLATE cannot do
 * much better than 1032:1), sent as one compressed frame to a server-side
 * Connection with the echo server's 16 MiB limit. Prints one JSON line: the
 * close code, the sizes, and the peak RSS before and after, in MiB.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { constants as zlib, deflateRawSync } from "node:zlib";
import { wireFrame } from "./wire.ts";
import type * as ConnectionChapter from "../../solutions/07-connection.ts";
import type * as ExtensionsChapter from "../../solutions/12-extensions.ts";

const impl = process.argv[2] ?? "solutions";
const root = join(import.meta.dirname, "../..");
const load = async <T>(id: string) => (await import(pathToFileURL(join(root, impl, `${id}.ts`)).href)) as T;
const { Connection } = await load<typeof ConnectionChapter>("07-connection");
const { PerMessageDeflate } = await load<typeof ExtensionsChapter>("12-extensions");

const MiB = 1024 * 1024;
// 1 MiB of zeros, compressed and sync-flushed, ends on a byte boundary: the
// same bytes 1024 times over are one valid stream of 1 GiB of zeros.
const block = deflateRawSync(new Uint8Array(MiB), { finishFlush: zlib.Z_SYNC_FLUSH });
const copies = 1024;
const bomb = new Uint8Array(block.length * copies - 4); // the last 00 00 ff ff goes, as RFC 7692 §7.2.1 says
for (let i = 0; i < copies; i++) bomb.set(i === copies - 1 ? block.subarray(0, -4) : block, i * block.length);
const frame = wireFrame({ opcode: 0x2, rsv1: true, payload: bomb, maskKey: Uint8Array.of(1, 2, 3, 4) });

const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const limit = 16 * MiB;
const connection = new Connection("server", { maxMessageSize: limit, extension: new PerMessageDeflate("server", params, { maxMessageSize: limit }) });
connection.open();

const rss = () => Math.round(process.resourceUsage().maxRSS / 1024); // maxRSS is in KiB
const baselineRssMiB = rss();
const events = [...connection.receive(frame)];
const close = events.find((e) => e.type === "close");
console.log(
  JSON.stringify({
    closeCode: close?.type === "close" ? close.code : null,
    wireBytes: bomb.length,
    inflatesTo: copies * MiB,
    baselineRssMiB,
    peakRssMiB: rss(),
  }),
);
