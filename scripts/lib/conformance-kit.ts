/**
 * The toolkit of the conformance runner (scripts/lib/conformance.ts): the
 * verdicts, how a case watches an echo server through a raw client
 * (conformance-client.ts) and judges what it did, the bytes a case sends,
 * and the kinds of case the list in conformance-cases.ts is made of.
 *
 * Verdicts:
 * - OK: exactly the strict behaviour RFC 6455 asks for;
 * - NON-STRICT: acceptable, not strict: the connection was failed but TCP
 *   closed without the close frame §7.1.7 says to send first, or another
 *   allowed close code, or a 4xx other than the usual one; the echo of a
 *   message sent before a violation (or before our close) missing; bad
 *   UTF-8 failed only once its frame or message ended, not at the bad byte;
 * - FAILED: wrong. The result names the chapter whose rule was broken.
 *
 * Every case is bounded (CASE_TIME): a server that never reacts fails the
 * case, it does not hang the run.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { CloseCode } from "../../lib/close-codes.ts";
import { Opcode } from "../../lib/frame.ts";
import type { Message } from "../../lib/message.ts";
import { createMaskKey } from "../../solutions/03-masking.ts";
import { encodeFrame } from "../../solutions/04-frames.ts";
import { Client, type HttpHead } from "./conformance-client.ts";

export type Verdict = "OK" | "NON-STRICT" | "FAILED";

export interface Outcome {
  verdict: Verdict;
  /** What the server did, when it was not the strict behaviour; "" for OK. */
  detail: string;
}

export interface Case {
  id: string;
  /** The chapter whose rule the case checks: where a reader looks when it fails. */
  chapter: number;
  /** The rule, with its RFC section: "a frame with RSV1 set fails with 1002 (§5.2)". */
  title: string;
  /** Cases are listed and printed by group: handshake, framing, ping, ... */
  group: string;
  /**
   * The most the case may take, in ms, if more than CASE_TIME: a large
   * message, or bytes written one at a time. Such cases run after the others,
   * a few at a time, so that they do not slow each other down.
   */
  time?: number;
  run(url: string): Promise<Outcome>;
}

export interface Result extends Outcome {
  id: string;
  chapter: number;
  title: string;
  group: string;
  /** How long the case took. */
  ms: number;
}

/**
 * The most a case may take, in ms. Every wait inside a case stops at its
 * deadline. A guard against a server that never reacts, not a speed limit:
 * a case ends as soon as the server has done what it judges (no case waits
 * out its deadline when the server is right), so a generous bound costs a
 * correct server nothing, and a busy machine does not turn OK into FAILED.
 */
export const CASE_TIME = 10_000;

export const ok = (): Outcome => ({ verdict: "OK", detail: "" });
export const nonStrict = (detail: string): Outcome => ({ verdict: "NON-STRICT", detail });
export const failed = (detail: string): Outcome => ({ verdict: "FAILED", detail });

export const utf8 = (text: string) => new TextEncoder().encode(text);
/** The time of the case running now (see `runWithTime`): each case runs in its own async context. */
const caseTime = new AsyncLocalStorage<number>();
/** Runs `run` with `time` as the deadline of every client it opens. */
export const runWithTime = <T>(time: number, run: () => T): T => caseTime.run(time, run);
export const deadline = (time = caseTime.getStore() ?? CASE_TIME) => Date.now() + time;
/** The time of a case whose bytes go one per TCP write, or whose message is large. */
export const SLOW_CASE_TIME = 60_000;

// ---------------------------------------------------------------------------
// Observing the server

/** What the server did instead of what the case wanted, in words. */
export function whatHappened(client: Client): string {
  if (client.violation !== undefined) return client.violation;
  if (client.closeStatus !== undefined) {
    const { code, reason } = client.closeStatus;
    return `the server closed with ${code === CloseCode.NoStatusReceived ? "an empty close frame" : code}${reason === "" ? "" : ` ("${reason}")`}`;
  }
  const message = client.messages[0];
  if (message !== undefined) return `the server echoed a ${describeMessage(message)}`;
  if (client.closed) return `the server closed TCP without a close frame${client.socketError ? ` (${client.socketError})` : ""}`;
  return `the server did nothing within ${(caseTime.getStore() ?? CASE_TIME) / 1000} s`;
}

export const describeMessage = (m: Message) => `${byteLength(m)}-byte ${m.type} message`;
export const bytesOf = (m: Message) => (m.type === "text" ? utf8(m.data) : m.data);
export const byteLength = (m: Message) => bytesOf(m).length;

/** Waits for the server to close TCP after a closing handshake; NON-STRICT if it does not (§7.1.1). */
export async function serverClosesTcp(client: Client): Promise<Outcome> {
  if (await client.until(() => client.closed)) return ok();
  return nonStrict("the close frames were exchanged, but the server did not close TCP (§7.1.1: the server closes it first)");
}

/** The first message echoed must be `sent`, with its type (§5.6) and every byte. */
export async function expectEcho(client: Client, sent: Message): Promise<Outcome> {
  await client.until(() => client.messages.length > 0 || client.over);
  const echo = client.messages[0];
  if (client.violation !== undefined) return failed(client.violation);
  if (echo === undefined) return failed(`no echo: ${whatHappened(client)}`);
  if (echo.type !== sent.type) {
    return failed(`the ${describeMessage(sent)} came back as ${echo.type}: an echo keeps its message's type (§5.6)`);
  }
  const [want, got] = [bytesOf(sent), bytesOf(echo)];
  if (got.length !== want.length) return failed(`the echo has ${got.length} bytes, the message had ${want.length}`);
  const at = want.findIndex((byte, i) => got[i] !== byte);
  if (at !== -1) return failed(`the echo differs from the message at byte ${at}: 0x${hex(got[at])} instead of 0x${hex(want[at])}`);
  return ok();
}

export const hex = (byte: number | undefined) => (byte ?? 0).toString(16).padStart(2, "0");

/**
 * The server must fail the connection (§7.1.7): a close frame with `code`,
 * then TCP closed. `alsoAllowed` codes are NON-STRICT, and so is closing
 * TCP without a close frame (the RFC's SHOULD); anything else is FAILED.
 */
export async function expectFailure(client: Client, code: number, alsoAllowed: number[] = []): Promise<Outcome> {
  await client.until(() => client.over || client.messages.length > 0);
  if (client.violation !== undefined) return failed(client.violation);
  const status = client.closeStatus;
  if (status !== undefined) {
    if (status.code !== code && !alsoAllowed.includes(status.code)) return failed(`${whatHappened(client)}, expected ${code}`);
    const tcp = await serverClosesTcp(client);
    if (status.code !== code) return nonStrict(`the server closed with ${status.code}; the strict code is ${code}`);
    return tcp;
  }
  if (client.messages.length > 0) return failed(`${whatHappened(client)} instead of failing the connection with ${code}`);
  if (client.closed) return nonStrict(`${whatHappened(client)}; §7.1.7: send one with ${code} first`);
  return failed(`${whatHappened(client)}: expected a close frame with ${code}`);
}

/** Opens a WebSocket, runs `body` on it, and always ends the client after. */
export async function withClient(url: string, body: (client: Client) => Promise<Outcome>): Promise<Outcome> {
  const client = await Client.open(url, deadline());
  try {
    return await body(client);
  } finally {
    await client.finish();
  }
}

// ---------------------------------------------------------------------------
// Kinds of case. Each returns a Case; the list at the end reads as a table.

export type CaseInfo = Omit<Case, "run">;

/** Sends `message` as one frame (or as the given frames) and expects it echoed. */
export function echoCase(info: CaseInfo, message: Message, frames?: () => Uint8Array[]): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        if (frames === undefined) client.send({ opcode: message.type === "text" ? Opcode.Text : Opcode.Binary, payload: bytesOf(message) });
        else for (const bytes of frames()) client.write(bytes);
        return expectEcho(client, message);
      }),
  };
}

/** Sends `bytes` (one or more frames, possibly broken) and expects the connection failed with `code`. */
export function failCase(info: CaseInfo, code: number, bytes: () => Uint8Array[], alsoAllowed: number[] = []): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        const chunks = bytes();
        for (const chunk of chunks) client.write(chunk);
        // A close frame of ours (even a broken one) must not be followed by another (§5.5.1).
        if (chunks.some((chunk) => ((chunk[0] ?? 0) & 0x0f) === Opcode.Close)) client.closeSent = true;
        return expectFailure(client, code, alsoAllowed);
      }),
  };
}

/** A masked client frame's bytes, built by the reference encoder (chapter 04). */
export function frame(opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean; masked?: boolean } = {}): Uint8Array {
  const { masked = true, ...bits } = options;
  const bytes = typeof payload === "string" ? utf8(payload) : payload;
  return encodeFrame({ ...bits, opcode, payload: bytes, maskKey: masked ? createMaskKey() : undefined });
}

/**
 * A frame the reference encoder rightly refuses to build (a control frame
 * over 125 bytes, or fragmented): built as a binary frame with FIN set, then
 * its first byte (FIN, RSV, opcode) replaced.
 */
export function forged(firstByte: number, payload: Uint8Array): Uint8Array {
  const bytes = frame(Opcode.Binary, payload);
  bytes[0] = firstByte;
  return bytes;
}

/** A close frame's payload with any code, even one no endpoint may send (chapter 06's encoder refuses those). */
export function closePayload(code: number, reason: Uint8Array = new Uint8Array(0)): Uint8Array {
  const payload = new Uint8Array(2 + reason.length);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(reason, 2);
  return payload;
}

/** Sends a raw HTTP request and expects a refusal: a 4xx, `strict` exactly, and `header` if given. */
export function refusalCase(info: CaseInfo, request: (url: string) => string, strict?: number, header?: { name: string; value: RegExp; rule: string }): Case {
  return {
    ...info,
    run: async (url) => {
      const client = await Client.connect(url, deadline());
      try {
        client.write(request(url));
        await client.until(() => client.response !== undefined || client.closed);
        return judgeRefusal(client.response, client.closed, strict, header);
      } finally {
        client.destroy();
      }
    },
  };
}

export function judgeRefusal(response: HttpHead | undefined, closed: boolean, strict?: number, header?: { name: string; value: RegExp; rule: string }): Outcome {
  if (response === undefined) {
    return failed(closed ? "the server closed the connection without an HTTP response (§4.2.1: it must answer with an error status)" : `no HTTP response within ${CASE_TIME / 1000} s`);
  }
  if (response.status === 101) return failed("the server accepted it: 101 Switching Protocols");
  if (response.status < 400 || response.status > 499) return failed(`the server answered "${response.statusLine}", not a 4xx client error`);
  const value = header && response.headers[header.name.toLowerCase()];
  if (header && (value === undefined || !header.value.test(value))) {
    return failed(`"${response.statusLine}" ${value === undefined ? `without ${header.name}` : `with ${header.name}: ${value}`}: ${header.rule}`);
  }
  if (strict !== undefined && response.status !== strict) return nonStrict(`the server answered "${response.statusLine}"; the usual answer is ${strict}`);
  return ok();
}

/** Sends a close frame with `payload` and expects the server's close frame to satisfy `judge`, then TCP closed. */
export function closeCase(info: CaseInfo, payload: Uint8Array, judge: (sent: Uint8Array, got: Uint8Array) => Outcome): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        client.send({ opcode: Opcode.Close, payload });
        await client.until(() => client.over);
        if (client.violation !== undefined) return failed(client.violation);
        if (client.closeFrame === undefined) {
          return failed(`${whatHappened(client)}: §5.5.1, an endpoint MUST answer a close frame with a close frame`);
        }
        const verdict = judge(payload, client.closeFrame.payload);
        const tcp = await serverClosesTcp(client);
        return verdict.verdict === "OK" ? tcp : verdict;
      }),
  };
}

/** The server's close frame echoes ours: the same code, the same reason. */
export function echoedClose(sent: Uint8Array, got: Uint8Array): Outcome {
  if (sameBytes(sent, got)) return ok();
  const [sentCode, gotCode] = [codeOf(sent), codeOf(got)];
  // §5.5.1: the answer "typically echoes the status code"; echoing is usual, not required.
  if (gotCode === sentCode) return nonStrict(`the code ${gotCode} came back, the reason did not`);
  return nonStrict(`answered ${sentCode} with ${gotCode === undefined ? "an empty close frame" : gotCode}; the usual answer echoes the code (§5.5.1)`);
}

export const codeOf = (payload: Uint8Array) => (payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : undefined);
export const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => b[i] === byte);

/** Writes `bytes` one byte per TCP write, with a pause between, so the server reads them one at a time. */
export async function trickle(client: Client, bytes: Uint8Array): Promise<void> {
  for (const byte of bytes) {
    client.write(new Uint8Array([byte]));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Text of `size` ASCII bytes, varied, so a truncation or a shift shows. */
export const sampleText = (size: number): string => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = 0x21 + ((i * 7) % 94);
  return new TextDecoder().decode(bytes);
};
/** Bytes of every value, so a byte lost or changed shows. */
export const sampleBytes = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
};


// ---------------------------------------------------------------------------
// Order: what shares a TCP read with a violation, or with a close, and what follows a close

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes each chunk as its own TCP write, `gap` ms apart (0: back to back, the server may read them at once). */
export async function writeAll(client: Client, chunks: Uint8Array[], gap = 0): Promise<void> {
  for (const [i, chunk] of chunks.entries()) {
    if (i > 0 && gap > 0) await pause(gap);
    client.write(chunk);
  }
}

/** Anything the server sent after its close frame: a data frame is FAILED (§5.5.1), a control frame NON-STRICT. */
export function afterClose(client: Client): Outcome | undefined {
  const at = client.closeFrame === undefined ? -1 : client.frames.indexOf(client.closeFrame);
  if (at === -1) return undefined;
  const later = client.frames.slice(at + 1);
  const data = later.find((f) => f.opcode < 0x8);
  if (data !== undefined) return failed("a data frame came after the server's close frame (§5.5.1: no data frames after a close frame)");
  if (later.length > 0) {
    const names = later.map((f) => (f.opcode === Opcode.Pong ? "a pong" : f.opcode === Opcode.Close ? "a second close frame" : `opcode 0x${f.opcode.toString(16)}`));
    return nonStrict(`${names.join(", ")} after the server's close frame: nothing should follow it (§5.5.1, §5.5.2)`);
  }
  return undefined;
}

/** The echoes received must be `echoes` or a prefix of them, each with its type and bytes; undefined if so. */
function wrongEchoes(client: Client, echoes: Message[]): Outcome | undefined {
  if (client.messages.length > echoes.length) return failed(`${client.messages.length} messages came back, ${echoes.length} were expected`);
  for (const [i, got] of client.messages.entries()) {
    const want = echoes[i]!;
    if (got.type !== want.type || !sameBytes(bytesOf(got), bytesOf(want))) {
      return failed(`echo ${i + 1} is a ${describeMessage(got)}, the message was a ${describeMessage(want)}`);
    }
  }
  return undefined;
}

export type Ending = { fail: number; alsoAllowed?: number[] } | { close: number };

/**
 * Writes `chunks` (each one TCP write, `gap` ms apart) and expects, strictly:
 * the echoes of `echoes` in order, then the ending — the connection failed
 * with a code, or our close answered with its code — and nothing after the
 * server's close frame. The echo of a message that came before the violation
 * (or before our close) missing is NON-STRICT: §5.4, frames are processed in
 * order, and §5.5.1 lets a close wait for the message before it.
 */
export function orderCase(info: CaseInfo, chunks: () => Uint8Array[], echoes: Message[], ending: Ending, gap = 0): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        const written = chunks();
        if (written.some((chunk) => ((chunk[0] ?? 0) & 0x0f) === Opcode.Close)) client.closeSent = true;
        await writeAll(client, written, gap);
        await client.until(() => client.over);
        if (client.violation !== undefined) return failed(client.violation);
        const wrong = wrongEchoes(client, echoes);
        if (wrong !== undefined) return wrong;
        const status = client.closeStatus;
        if (status === undefined) {
          if (client.closed) return nonStrict(`${whatHappened(client)}; §7.1.7: a close frame first`);
          return failed(`${whatHappened(client)}: expected ${"fail" in ending ? `a close frame with ${ending.fail}` : "the close answered"}`);
        }
        let outcome: Outcome = ok();
        if ("fail" in ending) {
          if (status.code !== ending.fail) {
            if (!(ending.alsoAllowed ?? []).includes(status.code)) return failed(`${whatHappened(client)}, expected ${ending.fail}`);
            outcome = nonStrict(`the server closed with ${status.code}; the strict code is ${ending.fail}`);
          }
        } else if (status.code !== ending.close) {
          // A failure code here means the server read on after our close frame (§5.5.1, §1.4: nothing after it is read).
          outcome = nonStrict(`our close (${ending.close}) was answered with ${status.code}: what came after our close frame should not have been read`);
        }
        const missing = echoes.length - client.messages.length;
        if (missing > 0 && outcome.verdict === "OK") {
          const where = "fail" in ending ? "before the violation" : "before our close frame";
          outcome = nonStrict(`${missing} of the ${echoes.length} message(s) sent ${where} were never echoed: the close came first (§5.4: frames are processed in order; §5.5.1)`);
        }
        const after = afterClose(client);
        if (after !== undefined && after.verdict !== "OK" && (after.verdict === "FAILED" || outcome.verdict === "OK")) return after;
        if (outcome.verdict !== "OK") return outcome;
        return serverClosesTcp(client);
      }),
  };
}

/**
 * UTF-8 that fails fast, per TCP read (Autobahn's 6.4): `chunks` are written
 * one read at a time, 40 ms apart; the bad byte is in chunk `bad`. Strict:
 * the 1007 comes before the chunks after it are written. Failing only once
 * the frame or message ended is NON-STRICT.
 */
export function failFastCase(info: CaseInfo, chunks: () => Uint8Array[], bad: number): Case {
  return {
    ...info,
    run: (url) =>
      withClient(url, async (client) => {
        const all = chunks();
        await writeAll(client, all.slice(0, bad + 1), 40);
        // Generous: only a server that does not fail fast waits this out.
        if (await client.until(() => client.over, 1_500)) return expectFailure(client, 1007);
        await writeAll(client, all.slice(bad + 1), 40);
        const late = await expectFailure(client, 1007);
        if (late.verdict === "FAILED") return late;
        return nonStrict("1007 came only once the text's frame or message ended: the bad byte alone is enough (§8.1, Autobahn 6.4)");
      }),
  };
}
