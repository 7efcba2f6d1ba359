/**
 * The command-line tools (server, client) run either the reference or the
 * reader's own chapters: `--impl solutions` (the default) or `--impl chapters`.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { IMPLEMENTATIONS, root, type Implementation } from "./workbook.ts";

/** Reads `--impl X` from the arguments; removes it from them. */
export function takeImplementation(args: string[]): Implementation {
  const at = args.indexOf("--impl");
  if (at === -1) return "solutions";
  const impl = args[at + 1] as Implementation;
  if (!IMPLEMENTATIONS.includes(impl)) {
    throw new Error(`--impl must be one of ${IMPLEMENTATIONS.join(", ")}, not ${args[at + 1] ?? "nothing"}`);
  }
  args.splice(at, 2);
  return impl;
}

/** Imports chapter `id` ("08-echo-server") from the chosen tree. */
export async function loadChapter<T>(id: string, impl: Implementation): Promise<T> {
  return (await import(pathToFileURL(join(root, impl, `${id}.ts`)).href)) as T;
}
