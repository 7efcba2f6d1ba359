/**
 * Where things are in the workbook, and which chapters are present on disk.
 * Every script finds files through here.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { curriculum, type Chapter } from "./curriculum.ts";
import { makeStub } from "./stubs.ts";
import { chapterNumbers } from "./terminal.ts";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The folders a test run can take the code under test from (see vitest.config.ts). */
export const IMPLEMENTATIONS = ["chapters", "solutions", ".pristine"] as const;
export type Implementation = (typeof IMPLEMENTATIONS)[number];

export const paths = {
  stub: (c: Chapter) => join(root, "chapters", `${c.id}.ts`),
  solution: (c: Chapter) => join(root, "solutions", `${c.id}.ts`),
  test: (c: Chapter) => join(root, "tests", `${c.id}.test.ts`),
  page: (c: Chapter) => join(root, "docs", "chapters", `${c.id}.md`),
  pristine: (c: Chapter) => join(root, ".pristine", `${c.id}.ts`),
};

/** A path as the reader should see it: relative to the workbook. */
export const shown = (path: string) => relative(root, path);

/** Chapters with a page on the site (the rest say "coming soon"). */
export const withPage = () => curriculum.filter((c) => existsSync(paths.page(c)));

/** Chapters with an exercise: a reference solution and its tests. */
export const withExercise = () => curriculum.filter((c) => existsSync(paths.solution(c)) && existsSync(paths.test(c)));

/** The chapter with this number, or an error that lists the valid ones. */
export function chapterByNumber(n: number): Chapter {
  const chapter = withExercise().find((c) => c.number === n);
  if (chapter === undefined) {
    const valid = withExercise().map((c) => c.number).join(", ");
    throw new Error(`there is no chapter ${n} with an exercise (chapters with one: ${valid})`);
  }
  return chapter;
}

/** The stub of a chapter as shipped: made from its solution (scripts/lib/stubs.ts). */
export function pristineStub(c: Chapter): string {
  return makeStub(readFileSync(paths.solution(c), "utf8"), shown(paths.stub(c)));
}

/**
 * Writes every pristine stub into `.pristine/`, beside `chapters/`, so their
 * `../lib/` imports resolve, and tests can run on them whatever the reader
 * has done to `chapters/`.
 */
export function writePristineStubs(): void {
  rmSync(join(root, ".pristine"), { recursive: true, force: true });
  for (const c of withExercise()) {
    mkdirSync(dirname(paths.pristine(c)), { recursive: true });
    writeFileSync(paths.pristine(c), pristineStub(c));
  }
}

/** The stub of a chapter as committed in git (HEAD), or undefined if it is not committed. */
export function committedStub(c: Chapter): string | undefined {
  try {
    return execFileSync("git", ["show", `HEAD:${shown(paths.stub(c))}`], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch {
    return undefined;
  }
}

/**
 * The one chapter a command was asked about (`npm run reset -- 2`), or exit 2
 * with `usage` or with the list of chapters that have an exercise.
 */
export function theChapterArgument(args: readonly string[], usage: string): Chapter {
  const numbers = chapterNumbers(args);
  if (numbers.length !== 1) {
    console.error(usage);
    process.exit(2);
  }
  try {
    return chapterByNumber(numbers[0] ?? -1);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}
