/**
 * Which chapters last passed, and on exactly which files: so that `npm run
 * watch` starts on the first unfinished chapter at once instead of running
 * every chapter's tests first. A chapter counts as still passing only if
 * nothing its result depends on has changed since: its test file and the
 * test helpers, lib/, the reader's files of this chapter and every earlier
 * one (later chapters import earlier ones), and the installed packages.
 * Anything else, and it runs again.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { curriculum, type Chapter } from "./curriculum.ts";
import { isGreen, type ChapterOutcome } from "./run-tests.ts";
import { paths, root, type Implementation } from "./workbook.ts";

const CACHE = join(root, ".cache/green.json");

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .sort();
}

/** A hash of every file the chapter's verdict depends on, names and contents. */
export function fingerprint(chapter: Chapter): string {
  const files = [
    paths.test(chapter),
    ...filesUnder(join(root, "tests/helpers")),
    ...filesUnder(join(root, "tests/peers")),
    ...filesUnder(join(root, "lib")),
    ...curriculum.filter((c) => c.number <= chapter.number).map(paths.stub),
    join(root, "package-lock.json"),
    join(root, "tsconfig.json"),
    join(root, "vitest.config.ts"),
  ];
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(`${file}\0`);
    if (existsSync(file)) hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

function read(): Record<string, string> {
  try {
    return JSON.parse(readFileSync(CACHE, "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

/** Records the verdicts of a run on the reader's files (other trees are not the reader's progress). */
export function rememberGreen(outcomes: readonly ChapterOutcome[], impl: Implementation): void {
  if (impl !== "chapters") return;
  const cache = read();
  for (const outcome of outcomes) {
    if (isGreen(outcome)) cache[outcome.chapter.id] = fingerprint(outcome.chapter);
    else delete cache[outcome.chapter.id];
  }
  mkdirSync(dirname(CACHE), { recursive: true });
  writeFileSync(CACHE, `${JSON.stringify(cache, null, 2)}\n`);
}

/** Whether the chapter passed on exactly the files that are there now. */
export function stillGreen(chapter: Chapter): boolean {
  return read()[chapter.id] === fingerprint(chapter);
}
