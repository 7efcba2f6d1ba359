/**
 * npm run grade            progress table over every chapter, and what to do next
 * npm run grade -- 2       chapter 2 only, with every failing test in full
 * npm run grade -- 2 3     several chapters
 * --all                    in a chapter cut into steps, every step's failures (default: the first unfinished step's)
 * --impl solutions         grade the reference instead (maintainers); default: chapters
 *
 * A chapter passes when its tests pass and its file type-checks (strict).
 * Exit status 0 only when every selected chapter passes.
 */
import { parseArgs } from "node:util";
import { failures, nextStep, progressTable, rulesLine } from "./lib/report.ts";
import { rememberGreen } from "./lib/green-cache.ts";
import { gradeChapters, isGreen } from "./lib/run-tests.ts";
import { chapterNumbers, red } from "./lib/terminal.ts";
import { chapterByNumber, IMPLEMENTATIONS, withExercise, type Implementation } from "./lib/workbook.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { impl: { type: "string", default: "chapters" }, all: { type: "boolean", default: false } },
});
const impl = values.impl as Implementation;
if (!IMPLEMENTATIONS.includes(impl)) {
  console.error(red(`--impl must be one of ${IMPLEMENTATIONS.join(", ")}`));
  process.exit(2);
}

let selected;
try {
  const numbers = chapterNumbers(positionals);
  selected = numbers.length > 0 ? numbers.map(chapterByNumber) : withExercise();
} catch (error) {
  console.error(red((error as Error).message));
  process.exit(2);
}

const outcomes = await gradeChapters(selected, impl);
rememberGreen(outcomes, impl);
if (positionals.length > 0) {
  for (const outcome of outcomes) console.log(failures(outcome, Infinity, values.all), "\n");
}
console.log(progressTable(outcomes, positionals.length === 0));
const rules = rulesLine(outcomes, positionals.length === 0);
if (rules !== "") console.log(rules);
console.log();
console.log(nextStep(outcomes, positionals.length === 0));
process.exitCode = outcomes.every(isGreen) ? 0 : 1;
