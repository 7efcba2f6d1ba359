/**
 * Runs chapters' test files through vitest's Node API, in this process
 * (no extra `npx`/`node` start-up: feedback for one chapter in about two
 * seconds), against one implementation tree, and returns plain results.
 */
import { relative } from "node:path";
import { createVitest } from "vitest/node";
import type { Chapter } from "./curriculum.ts";
import { plainUnlessTerminal } from "./terminal.ts";
import { typeCheck } from "./typecheck.ts";
import { paths, root, type Implementation } from "./workbook.ts";

export interface TestOutcome {
  /** The test's name: it starts with the rule it checks ("§4.2.2 MUST: ..."). */
  name: string;
  /** "describe > test", for a full listing. */
  fullName: string;
  passed: boolean;
  /** Not run on this machine (a peer such as Go or Python is missing): it does not count against a reader. */
  skipped: boolean;
  /** What went wrong, ready to print (message, diff, where), or why it was skipped. Empty if passed. */
  failure: string;
}

export interface ChapterOutcome {
  chapter: Chapter;
  tests: TestOutcome[];
  /** The test file could not even load (a syntax error in the reader's file, say). */
  loadError: string | undefined;
  /** What the compiler rejects in the reader's file (`npm run grade` and `watch` check it; see typecheck.ts). */
  typeErrors?: string[];
}

export const passedCount = (o: ChapterOutcome) => o.tests.filter((t) => t.passed).length;
export const isGreen = (o: ChapterOutcome) =>
  o.loadError === undefined && o.typeErrors === undefined && o.tests.some((t) => t.passed) && o.tests.every((t) => t.passed || t.skipped);

/**
 * The tests of `chapters` on the reader's files, and those files through the
 * compiler at the same time: what `npm run grade` and `npm run watch` judge.
 */
export async function gradeChapters(chapters: readonly Chapter[], impl: Implementation): Promise<ChapterOutcome[]> {
  const [outcomes, typeErrors] = await Promise.all([runChapters(chapters, impl), typeCheck(chapters, impl)]);
  return outcomes.map((o) => {
    const errors = typeErrors.get(o.chapter);
    return errors === undefined ? o : { ...o, typeErrors: errors };
  });
}

/** Runs the test files of `chapters` against `impl` (see vitest.config.ts). */
export async function runChapters(
  chapters: readonly Chapter[],
  impl: Implementation,
  /** `only`: just the tests whose full name matches (the others are reported as skipped); `bail`: stop after that many failures. */
  select: { only?: RegExp; bail?: number } = {},
): Promise<ChapterOutcome[]> {
  // vitest.config.ts reads this when the config is loaded, i.e. in createVitest below.
  process.env.WORKBOOK_IMPL = impl;
  // An empty reporter: the grader prints its own report.
  const vitest = await createVitest("test", {
    root,
    watch: false,
    reporters: [{}],
    silent: true,
    ...(select.only === undefined ? {} : { testNamePattern: select.only }),
    ...(select.bail === undefined ? {} : { bail: select.bail }),
  });
  try {
    const files = chapters.map((c) => paths.test(c));
    const run = await vitest.start(files);
    return chapters.map((chapter) => {
      const module = run.testModules.find((m) => m.moduleId === paths.test(chapter));
      if (module === undefined) return { chapter, tests: [], loadError: "the test file did not run" };
      const tests = Array.from(module.children.allTests(), (test): TestOutcome => {
        const result = test.result();
        return {
          name: test.name,
          fullName: test.fullName,
          passed: result.state === "passed",
          skipped: result.state === "skipped",
          failure:
            result.state === "failed"
              ? result.errors.map(formatError).join("\n")
              : result.state === "skipped"
                ? "skipped on this machine: its name says what it needs"
                : "",
        };
      });
      const moduleErrors = module.errors();
      const loadError = moduleErrors.length > 0 ? moduleErrors.map(formatError).join("\n") : undefined;
      return { chapter, tests, loadError };
    });
  } finally {
    await vitest.close();
  }
}

/** An error as the reader should see it: the message, the diff if any, and where in the tests. */
function formatError(error: { message: string; name?: string; diff?: string; stacks?: { file: string; line: number }[] }): string {
  const message = plainUnlessTerminal(withoutPropertyNoise(error.message));
  const lines = [error.name && !message.startsWith(error.name) && error.name !== "AssertionError" ? `${error.name}: ${message}` : message];
  if (error.diff) lines.push(plainUnlessTerminal(error.diff));
  const frames = (error.stacks ?? []).map((s) => `${relative(root, s.file)}:${s.line}`);
  // The outermost frame in a test file is the line of the test itself.
  const inTests = frames.filter((f) => f.startsWith("tests/") && !f.startsWith("tests/helpers/")).at(-1);
  const inReaderCode = frames.find((f) => f.startsWith("chapters/"));
  if (inReaderCode) lines.push(`  thrown at ${inReaderCode}`);
  if (inTests) lines.push(`  checked at ${inTests}`);
  return lines.join("\n");
}

/**
 * fast-check's report around a failing property: the counterexample and our
 * message stay; its replay seed, the stack frames it copies into its report
 * (the location is printed below, once) and its advice go, since a reader
 * cannot act on them.
 */
function withoutPropertyNoise(message: string): string {
  return message
    .split("\n")
    .filter((line) => !/node_modules[\\/]fast-check|^\s*Hint: |^\s*\{ seed: |Encountered failures were:|^\s+at /.test(line))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
}
