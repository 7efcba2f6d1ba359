/**
 * npm run mutation [-- 7 8 ...] [-- --force]   (maintainers; slow, not part of npm test)
 *
 * Mutation testing of the reference: Stryker changes one small thing at a
 * time in solutions/NN-*.ts (a condition flipped, a line removed, a constant
 * changed) and runs that chapter's tests. A mutant that no test notices
 * "survives": either the change makes no difference (an equivalent mutant),
 * or it is behaviour no test pins down, which a reader's code could get
 * wrong and still be graded done.
 *
 * Prints the score per chapter (killed / all mutants that ran) and every
 * survivor that docs/maintainers/mutation.md does not explain. Exits 1 if
 * some survivor is unexplained. Runs on 2 cores: concurrency 2, and each
 * chapter's mutants against its own test file, then its survivors against the
 * test files of the later chapters its source names ("Chapter 12: ..."): code a
 * later chapter asks the reader to add to this file is graded there, as
 * `npm run check:graded` knows.
 */
import { readFileSync, rmSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { Stryker } from "@stryker-mutator/core";
import type { LogLevel, MutantResult } from "@stryker-mutator/api/core";
import { explainedSurvivors, type Explanation } from "./lib/mutation-explained.ts";
import { bold, chapterNumbers, dim, green, red, yellow } from "./lib/terminal.ts";
import { chapterByNumber, paths, root, withExercise } from "./lib/workbook.ts";
import type { Chapter } from "./lib/curriculum.ts";

const EXPLAINED_PAGE = join(root, "docs", "maintainers", "mutation.md");

const wanted = chapterNumbers(process.argv.slice(2));
const chapters: Chapter[] = wanted.length === 0 ? withExercise().filter((c) => c.number > 0) : wanted.map(chapterByNumber);

// The tests import the code under test through @workbook/*: make that the reference.
process.env.WORKBOOK_IMPL = "solutions";

/** Counts a mutant as killed when a test failed or hung because of it (Stryker's own rule). */
const killed = (m: MutantResult) => m.status === "Killed" || m.status === "Timeout";
/** Mutants that were tested at all (not ignored, not failing to load). */
const tested = (m: MutantResult) => killed(m) || m.status === "Survived" || m.status === "NoCoverage";

const sourceLines = (m: MutantResult) => readFileSync(resolve(root, m.fileName), "utf8").split("\n");

/** The source text a mutant replaced. */
function originalText(m: MutantResult): string {
  const lines = sourceLines(m);
  const { start, end } = m.location;
  // The report's lines and columns are 1-based (mutation-testing-report-schema).
  const picked = lines.slice(start.line - 1, end.line);
  if (picked.length === 1) return picked[0]!.slice(start.column - 1, end.column - 1);
  picked[picked.length - 1] = picked[picked.length - 1]!.slice(0, end.column - 1);
  picked[0] = picked[0]!.slice(start.column - 1);
  return picked.join("\n");
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

/** This chapter's test file, and those of the later chapters its reference names in a "Chapter N:" note. */
function gradingTests(chapter: Chapter): string[] {
  const source = readFileSync(paths.solution(chapter), "utf8");
  const later = new Set(Array.from(source.matchAll(/Chapter (\d+):/g), (m) => Number(m[1])));
  later.delete(chapter.number);
  return [chapter, ...Array.from(later).sort((a, b) => a - b).map(chapterByNumber)].map((c) => relative(root, paths.test(c)));
}

/** Stryker on the chapter's reference (or only on `ranges` of it, "file:3-5"), against `tests`. */
async function mutate(chapter: Chapter, tests: string[], ranges?: string[]): Promise<MutantResult[]> {
  const solution = relative(root, paths.solution(chapter));
  process.env.MUTATION_TESTS = tests.join(",");
  const stryker = new Stryker({
    mutate: ranges ?? [solution],
    testRunner: "vitest",
    plugins: ["@stryker-mutator/vitest-runner"],
    vitest: { configFile: "scripts/mutation.vitest.config.ts", related: false },
    // Type errors in a mutant are not checked (no TypeScript checker: Stryker 9's needs
    // a tsc this project does not use); such a mutant runs like any other.
    checkers: [],
    // Stryker rewrites the tsconfig it is pointed at with TypeScript's JS API, which the
    // native TypeScript 7 does not have; the sandbox needs no rewrite (paths are relative).
    tsconfigFile: "tsconfig.stryker-does-not-rewrite.json",
    concurrency: 2,
    coverageAnalysis: "perTest",
    // The sockets of chapters 08-11 make some mutants hang until vitest's own bound.
    timeoutMS: 15_000,
    // The first, unmutated run of every test: chapter 12's file alone (Chromium,
    // Python, 16 MiB echoes, the conformance cases) outgrew Stryker's 5 minutes
    // on a busy 2-core machine.
    dryRunTimeoutMinutes: 20,
    // Progress while it runs (minutes per chapter); the verdict is printed below.
    reporters: ["progress"],
    // Stryker's incremental mode: a mutant whose code and covering tests did not
    // change since the last run keeps its result (reports/, not committed), so a
    // re-run after a new test or an explanation takes minutes. `--force`: all again.
    incremental: true,
    // One file per pass: the survivors' pass meets other tests, and must neither reuse
    // nor overwrite what the first pass found with the chapter's own.
    incrementalFile: `reports/stryker-incremental-${chapter.id}${ranges === undefined ? "" : "-later"}.json`,
    force: process.argv.includes("--force"),
    tempDirName: ".stryker-tmp",
    cleanTempDir: true,
    ignorePatterns: ["docs", ".vitepress", ".cache", ".pristine", "chapters", "reports"],
    logLevel: "warn" as LogLevel,
    fileLogLevel: "off" as LogLevel,
    allowConsoleColors: false,
  });
  return stryker.runMutationTest();
}

const sameMutant = (a: MutantResult, b: MutantResult) =>
  a.mutatorName === b.mutatorName &&
  a.replacement === b.replacement &&
  JSON.stringify(a.location) === JSON.stringify(b.location);

/**
 * Every mutant against the chapter's own tests; then only the survivors against
 * the later chapters' tests: running those for every
 * mutant would take an hour on 2 cores. A mutant either run kills is killed, as
 * if all the tests had run together.
 */
async function mutateChapter(chapter: Chapter): Promise<MutantResult[]> {
  const [own = "", ...later] = gradingTests(chapter);
  const results = await mutate(chapter, [own]);
  const open = results.filter((m) => tested(m) && !killed(m));
  if (later.length === 0 || open.length === 0) return results;
  const solution = relative(root, paths.solution(chapter));
  // A range per survivor, exactly its text: Stryker's ranges count columns from 0, its report from 1.
  const ranges = new Set(open.map(({ location: { start, end } }) => `${solution}:${start.line}:${start.column - 1}-${end.line}:${end.column}`));
  const again = (await mutate(chapter, later, [...ranges])).filter(killed);
  const merged = results.map((m) => (open.includes(m) ? (again.find((n) => sameMutant(m, n)) ?? m) : m));
  const byLater = merged.filter((m, i) => m !== results[i]);
  console.log(
    `  ${byLater.length} of the ${open.length} survivors of its own tests killed by ${later.join(", ")}` +
      dim(` (${byLater.filter((m) => m.status === "Timeout").length} of them by timing out)`),
  );
  for (const m of byLater) console.log(dim(`    ${m.status.toLowerCase()}: ${m.location.start.line}:${m.location.start.column} ${m.mutatorName}: ${JSON.stringify(oneLine(originalText(m)).slice(0, 80))} → ${JSON.stringify(oneLine(m.replacement).slice(0, 60))}`));
  return merged;
}

interface ChapterResult {
  chapter: Chapter;
  total: number;
  killed: number;
  unexplained: { mutant: MutantResult; original: string }[];
  explainedCount: number;
  /** Mutants a `// Stryker disable` comment in the reference switches off (each comment says why). */
  ignored: number;
}

function judge(chapter: Chapter, results: MutantResult[], explanations: readonly Explanation[]): ChapterResult {
  const ran = results.filter(tested);
  const survivors = ran.filter((m) => !killed(m));
  const unexplained: ChapterResult["unexplained"] = [];
  let explainedCount = 0;
  for (const mutant of survivors) {
    const original = oneLine(originalText(mutant));
    const replacement = oneLine(mutant.replacement);
    const file = basename(mutant.fileName);
    const line = oneLine(sourceLines(mutant)[mutant.location.start.line - 1] ?? "");
    const known = explanations.some(
      (e) =>
        e.file === file &&
        line.includes(e.line) &&
        (e.prefix ? original.startsWith(e.original) : original === e.original) &&
        e.replacement === replacement,
    );
    if (known) explainedCount++;
    else unexplained.push({ mutant, original });
  }
  const ignored = results.filter((m) => m.status === "Ignored").length;
  return { chapter, total: ran.length, killed: ran.filter(killed).length, unexplained, explainedCount, ignored };
}

const percent = (part: number, whole: number) => (whole === 0 ? "–" : `${((100 * part) / whole).toFixed(1)} %`);

const explanations = explainedSurvivors(readFileSync(EXPLAINED_PAGE, "utf8"));
const summary: ChapterResult[] = [];
for (const chapter of chapters) {
  console.log(bold(`\nchapter ${chapter.number} (${chapter.id}): mutating solutions/${chapter.id}.ts against ${gradingTests(chapter).join(", ")}`));
  const started = Date.now();
  const result = judge(chapter, await mutateChapter(chapter), explanations);
  summary.push(result);
  console.log(
    `  ${result.killed} of ${result.total} mutants killed: ${percent(result.killed, result.total)}` +
      dim(` (${Math.round((Date.now() - started) / 1000)} s; ${result.explainedCount} survivors explained in docs/maintainers/mutation.md)`),
  );
  for (const { mutant, original } of result.unexplained) {
    const where = `${relative(root, resolve(root, mutant.fileName))}:${mutant.location.start.line}:${mutant.location.start.column}`;
    console.log(`  ${red("survived")} ${where} ${mutant.mutatorName}: ${JSON.stringify(original.slice(0, 120))} → ${JSON.stringify(oneLine(mutant.replacement).slice(0, 120))}${mutant.status === "NoCoverage" ? dim(" (no test runs this code)") : ""}`);
  }
}
rmSync(join(root, ".stryker-tmp"), { recursive: true, force: true });

console.log(bold("\nchapter  killed / mutants    score  explained  unexplained survivors  ignored"));
for (const r of summary) {
  const score = percent(r.killed, r.total);
  const colour = r.unexplained.length === 0 ? green : yellow;
  console.log(
    `${String(r.chapter.number).padStart(7)}  ${`${r.killed} / ${r.total}`.padStart(15)}  ${score.padStart(7)}  ${String(r.explainedCount).padStart(9)}  ${colour(String(r.unexplained.length).padStart(21))}  ${String(r.ignored).padStart(7)}`,
  );
}
const open = summary.reduce((n, r) => n + r.unexplained.length, 0);
if (open > 0) {
  console.log(`\n${open} survivor${open === 1 ? "" : "s"} above: add a test that kills it, or explain it in docs/maintainers/mutation.md.`);
  process.exitCode = 1;
}
