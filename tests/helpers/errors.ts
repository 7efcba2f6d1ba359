/**
 * Assertions about errors that tell the reader what was expected in protocol
 * terms, and what their code did instead (returned, or threw something else,
 * such as the stub's NotImplementedError).
 */
import { assert, expect } from "vitest";
import { ProtocolError, type FailureCode } from "../../lib/errors.ts";

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** Runs `fn` and returns what it threw, or a note that it did not throw. */
function outcome(fn: () => unknown): { threw: true; error: unknown } | { threw: false; value: unknown } {
  try {
    return { threw: false, value: fn() };
  } catch (error) {
    return { threw: true, error };
  }
}

/** A returned value, short: bytes as hex (at most 16 of them), the rest as JSON. */
function show(value: unknown): string {
  if (value instanceof Uint8Array) {
    const head = Array.from(value.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(" ");
    return `${value.length} bytes [${head}${value.length > 16 ? " …" : ""}]`;
  }
  return JSON.stringify(value) ?? String(value);
}

function describe(result: ReturnType<typeof outcome>): string {
  if (!result.threw) return `it returned ${show(result.value)}`;
  const e = result.error;
  return e instanceof Error ? `it threw ${e.name}: ${e.message}` : `it threw ${String(e)}`;
}

/**
 * Expects `fn` to throw an instance of `errorClass` whose message matches
 * `mentions`. `rule` says why, in protocol terms: it is the first thing the
 * reader sees when this fails.
 *
 * `mentions` may ask only for what a right message cannot avoid naming: the
 * header, the number, the code, the scheme (an alternation that also takes the
 * thing's own name, such as /port|65536/, is fine). Never a word of our prose:
 * a reader's message in other words is as right as ours.
 */
export function expectThrows<E extends Error>(
  fn: () => unknown,
  errorClass: ErrorClass<E>,
  rule: string,
  mentions?: RegExp,
): E {
  const result = outcome(fn);
  if (!result.threw || !(result.error instanceof errorClass)) {
    assert.fail(`${rule}: expected a ${errorClass.name}, but ${describe(result)}`);
  }
  const error = result.error;
  if (mentions !== undefined) {
    expect(error.message, `${rule}: the ${errorClass.name}'s message should mention ${mentions}`).toMatch(mentions);
  }
  return error;
}

/** Expects `fn` to fail the connection with a ProtocolError carrying close code `code` (RFC 6455 §7.4.1). */
export function expectProtocolError(fn: () => unknown, code: FailureCode, rule: string): ProtocolError {
  const error = expectThrows(fn, ProtocolError, `${rule} (close code ${code})`);
  expect(error.code, `${rule}: the ProtocolError should carry close code ${code}, it carries ${error.code}`).toBe(code);
  return error;
}

/**
 * The async twin of `expectThrows`: expects `promise` to reject with an
 * instance of `errorClass` whose message matches `mentions`. A promise that
 * resolves, or rejects with something else (such as the stub's
 * NotImplementedError), fails with `rule` and what happened instead.
 */
export async function expectRejects<E extends Error>(
  promise: Promise<unknown>,
  errorClass: ErrorClass<E>,
  rule: string,
  mentions?: RegExp,
): Promise<E> {
  const result = await promise.then(
    (value) => ({ threw: false as const, value }),
    (error: unknown) => ({ threw: true as const, error }),
  );
  if (!result.threw || !(result.error instanceof errorClass)) {
    assert.fail(`${rule}: expected a ${errorClass.name}, but ${describeSettled(result)}`);
  }
  const error = result.error;
  if (mentions !== undefined) {
    expect(error.message, `${rule}: the ${errorClass.name}'s message should mention ${mentions}`).toMatch(mentions);
  }
  return error;
}

/** "it resolved with a WebSocketClient", "it rejected with NotImplementedError: ..." */
function describeSettled(result: { threw: true; error: unknown } | { threw: false; value: unknown }): string {
  if (result.threw) return describe(result).replace(/^it threw/, "it rejected with");
  const { value } = result;
  const shown = value instanceof Object && value.constructor !== Object ? `a ${value.constructor.name}` : JSON.stringify(value) ?? String(value);
  return `it resolved with ${shown}`;
}

/** `text` as a pattern that matches it literally (for a datum inside `mentions`). */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
