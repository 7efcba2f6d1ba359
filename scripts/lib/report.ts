/**
 * What the grader and the watcher print: the progress table, a chapter's
 * failures in full, and the next thing to do.
 */
import { requirements } from "../../lib/rfc-requirements.ts";
import { rulesMet } from "./coverage.ts";
import { curriculum, type Chapter } from "./curriculum.ts";
import { isGreen, passedCount, type ChapterOutcome } from "./run-tests.ts";
import { currentStep, stepDone, stepsOf } from "./steps.ts";
import { bold, cyan, dim, green, red, yellow } from "./terminal.ts";
import { paths, shown } from "./workbook.ts";

const two = (n: number) => String(n).padStart(2, "0");

function status(o: ChapterOutcome): string {
  if (o.loadError !== undefined) return red("✘ does not load");
  if (o.typeErrors !== undefined) return red("✘ type errors");
  if (isGreen(o)) {
    // Done only if every test ran: a chapter green on the tests this machine could run says how many did not.
    const skipped = notRun(o);
    return skipped === "" ? green("✔ done") : yellow(`✔ ${passedCount(o)}/${o.tests.length}, ${skipped}`);
  }
  const step = currentStep(o);
  const where = step === undefined ? "" : `, step ${step.number} of ${stepsOf(o).length}`;
  return passedCount(o) === 0 ? red(`✘ to do${where}`) : yellow(`… in progress${where}`);
}

/**
 * "8 interop tests not run: sudo apt-get install python3-websockets", or "" when
 * every test of the chapter ran. A test that needs a peer this machine lacks is
 * skipped, and its name carries the note "(skipped: what is missing; the command
 * that installs it)": the command is taken from there.
 */
export function notRun(o: ChapterOutcome): string {
  const skipped = o.tests.filter((t) => t.skipped);
  if (skipped.length === 0) return "";
  const hints = new Set<string>();
  for (const test of skipped) hints.add(enableHint(test.fullName));
  const tests = skipped.length === 1 ? "interop test" : "interop tests";
  return `${skipped.length} ${tests} not run: ${[...hints].join("; ")}`;
}

/** The command in a skipped test's "(skipped: … ; command)" note, else the note itself. */
function enableHint(fullName: string): string {
  const note = /\(skipped: ([^)]*)\)/.exec(fullName)?.[1];
  if (note === undefined) return "a peer this machine lacks (see npm run grade -- N)";
  const command = note.split(";").at(-1)?.trim().replace(/^to run these:\s*/, "") ?? "";
  return note.includes(";") && command !== "" ? command : note.trim();
}

/** One row per chapter present: number, title, tests passed / total, status. */
export function progressTable(outcomes: readonly ChapterOutcome[], showReadOnly: boolean): string {
  const width = Math.max(...curriculum.map((c) => c.title.length));
  const rows = [dim(`  #  ${"Chapter".padEnd(width)}   Tests  Status`)];
  for (const chapter of curriculum) {
    const outcome = outcomes.find((o) => o.chapter === chapter);
    if (outcome === undefined) {
      // Chapter 00 has a page but no exercise: listed so the table follows the site.
      if (showReadOnly && chapter.number === 0) rows.push(`  ${two(0)} ${chapter.title.padEnd(width)}       –  ${dim("read only")}`);
      continue;
    }
    const score = `${passedCount(outcome)}/${outcome.tests.length}`;
    rows.push(`  ${two(chapter.number)} ${chapter.title.padEnd(width)} ${score.padStart(7)}  ${status(outcome)}`);
  }
  const total = outcomes.reduce((n, o) => n + o.tests.length, 0);
  const passed = outcomes.reduce((n, o) => n + passedCount(o), 0);
  rows.push(dim(`     ${"".padEnd(width)} ${`${passed}/${total}`.padStart(7)}`));
  return rows.join("\n");
}

/**
 * One line under the table: how many rules of RFC 6455 §4–§7, and apart from them how
 * many of RFC 7692 (permessage-deflate, chapter 12), the code meets (lib/rfc-requirements.ts),
 * judged by this run's tests (scripts/lib/coverage.ts). A rule is met when every test
 * that checks it passed; with only some chapters graded, only the rules their tests
 * check are counted, and an RFC none of them checks is left out.
 */
export function rulesLine(outcomes: readonly ChapterOutcome[], allChapters: boolean): string {
  const results = outcomes.flatMap((o) => o.tests);
  const of6455 = rulesMet(results, requirements.filter((r) => r.rfc === undefined));
  const of7692 = rulesMet(results, requirements.filter((r) => r.rfc === "7692"));
  const where = dim("(see /reference/coverage on the site)");
  if (allChapters) {
    return `Rules your code meets: ${bold(String(of6455.met))} of ${of6455.total} requirements of RFC 6455 §4–§7, and ${bold(String(of7692.met))} of ${of7692.total} of RFC 7692 ${where}`;
  }
  // These tests check no rule of either (chapter 01 is about §3): nothing to say.
  const parts: string[] = [];
  if (of6455.checked > 0) parts.push(`${bold(String(of6455.met))} of the ${of6455.checked} ${of6455.checked === 1 ? "requirement" : "requirements"} of RFC 6455 §4–§7`);
  if (of7692.checked > 0) parts.push(`${bold(String(of7692.met))} of the ${of7692.checked} ${parts.length > 0 ? "" : of7692.checked === 1 ? "requirement " : "requirements "}of RFC 7692`);
  if (parts.length === 0) return "";
  return `Rules your code meets: ${parts.join(", and ")} that these tests check ${where}`;
}

/**
 * The failing tests of a chapter with their rule and message (the first `inFull` in full),
 * then the passing ones. In a chapter cut into steps (steps.ts), only the first unfinished
 * step's tests, under the progress of every step, unless `all`.
 */
export function failures(outcome: ChapterOutcome, inFull = Infinity, all = false): string {
  const out: string[] = [];
  if (outcome.loadError !== undefined) {
    out.push(red(bold(`${shown(paths.test(outcome.chapter))} could not run:`)), outcome.loadError, "");
  }
  if (outcome.typeErrors !== undefined) {
    // The tests run your code without checking its types; the chapter is done only when both pass.
    out.push(
      `${red("✘")} ${bold("types: the chapter file must type-check (strict, as tsconfig.json says)")}`,
      indent(outcome.typeErrors.join("\n")),
      "",
    );
  }
  const step = all ? undefined : currentStep(outcome);
  const shownTests = step?.tests ?? outcome.tests;
  if (step !== undefined) {
    const heading = `Chapter ${two(outcome.chapter.number)} · step ${step.number} of ${stepsOf(outcome).length} — ${step.title}`;
    out.push(bold(heading), stepProgress(outcome), "");
  }
  const failing = shownTests.filter((t) => !t.passed && !t.skipped);
  for (const [i, test] of failing.entries()) {
    out.push(`${red("✘")} ${bold(test.fullName)}`, ...(i < inFull ? [indent(test.failure), ""] : []));
  }
  if (failing.length > inFull) {
    const more = failing.length - inFull;
    out.push(
      "",
      dim(`The first ${inFull} failures are shown in full, the other ${more} by name only: one thing at a time.`),
      dim(`Every one in full: ${cyan(`npm run grade -- ${outcome.chapter.number}`)}`),
      "",
    );
  }
  for (const test of shownTests.filter((t) => t.passed)) out.push(`${green("✔")} ${dim(test.fullName)}`);
  // Tests that need a peer this machine lacks (Go, Python): their names say how to enable them.
  for (const test of shownTests.filter((t) => t.skipped)) out.push(`${yellow("–")} ${dim(test.fullName)}`);
  if (step !== undefined) {
    const later = outcome.tests.length - shownTests.length;
    out.push("", dim(`The other steps' ${later} tests are not shown: one step at a time. All of them: ${cyan(`npm run grade -- ${outcome.chapter.number} --all`)}`));
  }
  return out.join("\n");
}

/** One line per step: done, the one to work on (with its score), or still ahead. */
export function stepProgress(outcome: ChapterOutcome): string {
  const steps = stepsOf(outcome);
  const current = currentStep(outcome);
  return steps
    .map((step) => {
      const score = `${step.tests.filter((t) => t.passed).length}/${step.tests.length}`;
      const line = `Step ${step.number} of ${steps.length} — ${step.title}`;
      if (stepDone(step)) return `${green("✔")} ${dim(line)} ${dim(score)}`;
      if (step.number === current?.number) return `${yellow("→")} ${bold(line)} ${score}`;
      return `  ${dim(line)}`;
    })
    .join("\n");
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");

/**
 * Where to go next: the stub, the page and the command of the first unfinished
 * chapter. `allChapters` false: only some chapters were graded, so their
 * passing says nothing about the others.
 */
export function nextStep(outcomes: readonly ChapterOutcome[], allChapters = true): string {
  const next = outcomes.find((o) => !isGreen(o));
  if (next === undefined && !allChapters) {
    const numbers = outcomes.map((o) => o.chapter.number).join(", ");
    return `${green(bold(`Chapter ${numbers} ${outcomes.length === 1 ? "passes" : "pass"}.`))} Compare with the reference: ${cyan(
      `npm run solution -- ${outcomes[0]?.chapter.number ?? "<N>"}`,
    )}; see every chapter with ${cyan("npm run grade")}.`;
  }
  if (next === undefined) {
    const skipped = outcomes.filter((o) => notRun(o) !== "");
    const caveat =
      skipped.length === 0
        ? ""
        : `\n${yellow(`Some tests did not run on this machine, so not every chapter is done: ${skipped.map((o) => `chapter ${two(o.chapter.number)}, ${notRun(o)}`).join("; ")}.`)}`;
    return green(bold(skipped.length === 0 ? "Every chapter passes. " : "Every test that ran passes. ")) + "Compare your code with the reference: npm run solution -- <N>" + caveat;
  }
  return [
    bold(`Next: chapter ${two(next.chapter.number)} · ${next.chapter.title}`),
    `  read   ${cyan(shown(paths.page(next.chapter)))}  (on the site: npm start → /chapters/${next.chapter.id})`,
    `  edit   ${cyan(shown(paths.stub(next.chapter)))}`,
    `  check  ${cyan(`npm run grade -- ${next.chapter.number}`)}  (what is failing, in full; in a chapter with steps, the step you are on)`,
  ].join("\n");
}

/** What to take away from a chapter that just turned green (and which of its tests did not run). */
export function greenNote(outcome: ChapterOutcome): string {
  const { chapter } = outcome;
  const skipped = notRun(outcome);
  return [
    skipped === ""
      ? green(bold(`✔ Chapter ${two(chapter.number)} · ${chapter.title}: all tests pass.`))
      : green(bold(`✔ Chapter ${two(chapter.number)} · ${chapter.title}: every test that ran passes`)) + yellow(` (${skipped}).`),
    chapter.notice === "" ? "" : `  What to notice: ${chapter.notice}`,
    `  Compare with the reference: ${cyan(`npm run solution -- ${chapter.number}`)}`,
  ]
    .filter((line) => line !== "")
    .join("\n");
}
