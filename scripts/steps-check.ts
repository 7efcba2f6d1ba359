/**
 * npm run check:steps [-- 13]   (npm test runs it too)
 *
 * Are a chapter's graded steps really steps? For each chapter cut into steps
 * (scripts/lib/steps.ts) and each step k but the last, it makes the file of a
 * reader who has written steps 1..k and nothing after (the reference with the
 * regions of later steps stubbed), runs the chapter's tests on it and checks:
 * - every test of steps 1..k passes: a step is graded only by its own tests and
 *   the earlier steps', never by code a later step asks for;
 * - the grader's next step is k+1: some test of step k+1 fails.
 * It also checks that every test of such a chapter sits in a step, and that the
 * steps of the tests are the steps of the solution's regions.
 * Prints one line per check ("✔ …" / "✘ …"), then "N passed, M failed".
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runChapters } from "./lib/run-tests.ts";
import { stepCount, stubAfterStep } from "./lib/stubs.ts";
import { stepOf, stepsOf } from "./lib/steps.ts";
import { chapterNumbers, dim, green, red } from "./lib/terminal.ts";
import { chapterByNumber, paths, root, withExercise, type Implementation } from "./lib/workbook.ts";

const TREE = ".steps";
let passed = 0;
let failed = 0;
function check(ok: boolean, what: string, detail = ""): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? green("✔") : red("✘")} ${what}`);
  if (!ok && detail !== "") console.log(dim(detail.trimEnd().replace(/^/gm, "    ")));
}

const numbers = chapterNumbers(process.argv.slice(2));
const chapters = (numbers.length > 0 ? numbers.map(chapterByNumber) : withExercise()).filter(
  (c) => stepCount(readFileSync(paths.solution(c), "utf8")) > 0,
);

try {
  for (const chapter of chapters) {
    const source = readFileSync(paths.solution(chapter), "utf8");
    const count = stepCount(source);
    for (let k = 1; k < count; k++) {
      // A fresh tree beside lib/ (its imports resolve), named anew for each k: no module cache can serve an older one.
      const tree = `${TREE}-${chapter.number}-${k}`;
      rmSync(join(root, tree), { recursive: true, force: true });
      cpSync(join(root, "solutions"), join(root, tree), { recursive: true });
      writeFileSync(join(root, tree, `${chapter.id}.ts`), stubAfterStep(source, `${tree}/${chapter.id}.ts`, k));
      // Two runs: every test of steps 1..k, then step k+1's until its first failure (a later step's
      // tests, interop among them, would only wait out their bounds against stubs, and say nothing here).
      const steps = (n: number) => new RegExp(`^Step (?:${Array.from({ length: n }, (_, i) => i + 1).join("|")}) [—–-] `);
      const [outcome, next] = await (async () => {
        try {
          const [early] = await runChapters([chapter], tree as Implementation, { only: steps(k) });
          const [after] = await runChapters([chapter], tree as Implementation, { only: new RegExp(`^Step ${k + 1} [—–-] `), bail: 1 });
          return [early, after] as const;
        } finally {
          rmSync(join(root, tree), { recursive: true, force: true });
        }
      })();
      if (outcome === undefined || next === undefined) continue;
      if (k === count - 1) {
        // Every test is collected (run or not) in each run: the structure of the steps is checked once.
        const outside = outcome.tests.filter((t) => stepOf(t) === undefined);
        check(outside.length === 0, `${chapter.id}: every test sits in a step`, outside.map((t) => t.fullName).join("\n"));
        const testSteps = stepsOf(outcome).map((s) => s.number);
        const wanted = Array.from({ length: count }, (_, i) => i + 1);
        check(
          JSON.stringify(testSteps) === JSON.stringify(wanted),
          `${chapter.id}: the tests' steps are the solution's steps (${wanted.join(", ")})`,
          `the tests have steps ${testSteps.join(", ")}`,
        );
      }
      const upTo = k === 1 ? "step 1" : `steps 1–${k}`;
      const early = outcome.tests.filter((t) => (stepOf(t)?.number ?? Infinity) <= k && !t.passed && !t.skipped);
      check(
        outcome.loadError === undefined && early.length === 0 && outcome.tests.some((t) => t.passed),
        `${chapter.id}: with ${upTo} written, every test of ${upTo} passes`,
        outcome.loadError ?? early.map((t) => `${t.fullName}\n${t.failure}`).join("\n\n"),
      );
      const failing = next.tests.filter((t) => stepOf(t)?.number === k + 1 && !t.passed && !t.skipped);
      check(
        failing.length > 0,
        `${chapter.id}: with ${upTo} written, the grader's next step is ${k + 1} (a test of step ${k + 1} fails)`,
        next.loadError ?? `every test of step ${k + 1} passes without its code`,
      );
    }
  }
} finally {
  for (const chapter of chapters) for (let k = 1; k < 10; k++) rmSync(join(root, `${TREE}-${chapter.number}-${k}`), { recursive: true, force: true });
}
if (chapters.length === 0) console.log(dim("no chapter is cut into steps yet"));
console.log(`\n${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
