/**
 * Graded steps: a chapter's exercise cut into a few steps, each a heading on its
 * page ("Step 2 — refuse what is not an upgrade"), a group of tests and the parts
 * of the stub it asks for.
 *
 * - In a test file, a step is a top-level `describe("Step 2 — refuse what is not an upgrade", …)`;
 *   a chapter with steps has every test inside one.
 * - In a solution, `// #region solution step 2` marks a part written in step 2
 *   (a plain `// #region solution` belongs to no step: chapters without steps).
 *
 * The grader shows the progress step by step and the failures of the first
 * unfinished step only; `npm run check:steps` proves that a step's tests need
 * nothing from a later step (scripts/steps-check.ts).
 */
import type { ChapterOutcome, TestOutcome } from "./run-tests.ts";

export interface Step {
  number: number;
  title: string;
  tests: TestOutcome[];
}

/** "Step 2 — refuse what is not an upgrade": the top-level group a step's tests sit in. */
const STEP = /^Step (\d+) [—–-] (.+)$/;

/** The step a test belongs to, from the first part of its full name ("Step 2 — … > its test"). */
export function stepOf(test: TestOutcome): { number: number; title: string } | undefined {
  const top = test.fullName.split(" > ")[0] ?? "";
  const match = STEP.exec(top);
  return match === null ? undefined : { number: Number(match[1]), title: match[2] ?? "" };
}

/** The chapter's steps in order, or [] for a chapter that has none. */
export function stepsOf(outcome: ChapterOutcome): Step[] {
  const steps = new Map<number, Step>();
  for (const test of outcome.tests) {
    const step = stepOf(test);
    if (step === undefined) continue;
    const entry = steps.get(step.number) ?? { ...step, tests: [] };
    entry.tests.push(test);
    steps.set(step.number, entry);
  }
  return [...steps.values()].sort((a, b) => a.number - b.number);
}

/** A step is done when every test of it that ran passed (and at least one ran). */
export const stepDone = (step: Step) => step.tests.some((t) => t.passed) && step.tests.every((t) => t.passed || t.skipped);

/** The first step not done yet, or undefined (no steps, or every step done). */
export function currentStep(outcome: ChapterOutcome): Step | undefined {
  return stepsOf(outcome).find((step) => !stepDone(step));
}
