/**
 * npm run watch [-- --manual]
 *
 * Runs the tests of the first unfinished chapter, then again every time a
 * stub in chapters/ is saved; when the chapter turns green it says what to
 * notice and moves on to the next one. It finds that chapter quickly: the
 * chapters in order, skipping those that passed on the very files that are
 * there now (scripts/lib/green-cache.ts), and stopping at the first that fails. Enter re-runs by hand; with --manual
 * only Enter does (for editors and network folders whose saves send no file
 * events). q then Enter quits.
 */
import { watch } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { failures, greenNote, notRun, progressTable } from "./lib/report.ts";
import { rememberGreen, stillGreen } from "./lib/green-cache.ts";
import { gradeChapters, isGreen, type ChapterOutcome } from "./lib/run-tests.ts";
import { currentStep, stepsOf } from "./lib/steps.ts";
import { bold, cyan, dim, green } from "./lib/terminal.ts";
import { paths, root, shown, withExercise } from "./lib/workbook.ts";
import type { Chapter } from "./lib/curriculum.ts";

const manual = process.argv.includes("--manual");
const chapters = withExercise();

/** Only real stub files count: editors' swap, backup and lock files ("x.ts.swp", "x.ts~", ".#x.ts", "4913") do not. */
const isStub = (name: string) => /^\d\d-[a-z0-9-]+\.ts$/.test(name);

let current: Chapter | undefined;
let running = false;
let again = false;
let lastNote = "";

/** The step the reader was on ("06:2"), to say so when a save finishes it. */
let lastStep = "";

function screen(outcome: ChapterOutcome): void {
  const step = currentStep(outcome);
  const here = step === undefined ? "" : `${outcome.chapter.id}:${step.number}`;
  const [id, before] = lastStep.split(":");
  if (step !== undefined && id === outcome.chapter.id && Number(before) < step.number) {
    const done = stepsOf(outcome).filter((s) => s.number >= Number(before) && s.number < step.number);
    lastNote = done.map((s) => green(bold(`✔ Step ${s.number} — ${s.title}: done.`))).join("\n");
  }
  lastStep = here;
  if (process.stdout.isTTY) process.stdout.write("\x1bc"); // a fresh screen each run, like rustlings
  const chapter = outcome.chapter;
  console.log(bold(`npm run watch · chapter ${String(chapter.number).padStart(2, "0")} · ${chapter.title}`));
  console.log(`edit ${cyan(shown(paths.stub(chapter)))} · read ${cyan(shown(paths.page(chapter)))}\n`);
  if (lastNote !== "") console.log(`${lastNote}\n`);
  lastNote = ""; // shown once, above the chapter that comes next
  // The first few failures in full, the rest by name: one thing at a time.
  console.log(failures(outcome, 3));
  const score = step === undefined ? outcome.tests : step.tests;
  const where = step === undefined ? "" : ` in step ${step.number} of ${stepsOf(outcome).length}`;
  console.log(`\n${bold(`${score.filter((t) => t.passed).length}/${score.length} tests pass${where}`)}`);
  console.log(
    dim(
      manual
        ? "Manual mode: press Enter to re-run the tests, q then Enter to quit."
        : "Watching chapters/: every save re-runs the tests. Enter re-runs by hand, q then Enter quits.\n" +
            "Saving does nothing? Some editors and network folders send no file events: use npm run watch -- --manual",
    ),
  );
}

/** Runs the current chapter; while it is green, notes it and moves on to the next. */
async function runCurrent(): Promise<void> {
  if (running) {
    again = true; // a save during a run: run once more when this one ends
    return;
  }
  running = true;
  try {
    while (current !== undefined) {
      console.log(dim(`\nrunning the tests of ${shown(paths.test(current))}…`));
      const [outcome] = await gradeChapters([current], "chapters");
      if (outcome === undefined) return;
      rememberGreen([outcome], "chapters");
      if (!isGreen(outcome)) {
        screen(outcome);
        break;
      }
      lastNote = greenNote(outcome);
      current = chapters[chapters.indexOf(current) + 1];
      if (current === undefined) finish([outcome]);
    }
  } finally {
    running = false;
  }
  if (again) {
    again = false;
    await runCurrent();
  }
}

function finish(outcomes: ChapterOutcome[]): never {
  if (lastNote !== "") console.log(`\n${lastNote}`);
  // A chapter whose interop tests could not run is not called done: the table says which, and how to run them.
  const allRan = outcomes.every((o) => notRun(o) === "");
  console.log(`\n${bold(allRan ? "Every chapter with an exercise passes." : "Every test that ran passes; some could not run here (see the table).")} Well done.\n`);
  console.log(progressTable(outcomes, false));
  process.exit(0);
}

// Listen first, so that a save during the first scan is not lost: it only
// marks that a run is wanted, and the run after the scan reads the files anew.
if (!manual) {
  let timer: NodeJS.Timeout | undefined;
  watch(join(root, "chapters"), (_event, name) => {
    if (name === null || !isStub(name)) return;
    // Editors often write a file in several steps: wait for the burst to end.
    clearTimeout(timer);
    timer = setTimeout(() => void runCurrent(), 150);
  });
}
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim().toLowerCase() === "q") process.exit(0);
  void runCurrent();
});

// Start at the first chapter that is not green yet: the chapters in order,
// skipping those that passed on exactly these files, until one fails.
running = true;
const passedBefore: ChapterOutcome[] = [];
for (const chapter of chapters) {
  if (stillGreen(chapter)) {
    console.log(dim(`chapter ${String(chapter.number).padStart(2, "0")}: passed before, and nothing it depends on has changed`));
    continue;
  }
  console.log(dim(`running the tests of ${shown(paths.test(chapter))}…`));
  const [outcome] = await gradeChapters([chapter], "chapters");
  if (outcome === undefined) break;
  rememberGreen([outcome], "chapters");
  if (!isGreen(outcome)) {
    current = chapter;
    screen(outcome);
    break;
  }
  passedBefore.push(outcome);
}
running = false;
if (current === undefined) {
  if (passedBefore.length > 0) finish(passedBefore);
  console.log(`\n${bold("Every chapter with an exercise passed before, on these same files.")} (npm run grade shows the table, and any test that could not run on this machine.)`);
  process.exit(0);
}
if (again) {
  // A save came in while we looked for the chapter: run it once more on the file as it is now.
  again = false;
  await runCurrent();
}
