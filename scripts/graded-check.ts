/**
 * npm run check:graded [-- 7 12]   (maintainers; outside npm test: a few minutes)
 *
 * Is every part of a stub graded? For each `// #region solution` block of each
 * solution (the body of one export, or of one method of an exported class),
 * it makes a copy of the reference with that block alone replaced by the
 * stub's `throw`, runs the chapter's tests on the copy, and checks that at
 * least one of them fails. A block whose removal no test notices is something
 * a reader could leave unwritten and still be graded done: it is listed, and
 * the command exits 1.
 *
 * Each copy is a whole solutions tree in .graded-N/ (removed after its run);
 * each run stops at its first failing test (vitest's bail).
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createVitest } from "vitest/node";
import { makeStub } from "./lib/stubs.ts";
import { bold, chapterNumbers, dim, green, red } from "./lib/terminal.ts";
import { chapterByNumber, paths, root, withExercise, type Implementation } from "./lib/workbook.ts";

const TREE = ".graded";
const REGION = /^\s*\/\/ #region solution(?: step \d+)?\s*$/;

/**
 * The chapter whose tests grade a region, when it is not the file's own: a
 * member written later in the course says so in its doc comment ("Chapter 12:
 * the subprotocol the server chose"), and that chapter's tests grade it.
 */
function gradedIn(lines: string[], at: number): number | undefined {
  let i = at - 1;
  // The signature (one line or several), up to its doc comment; a member without one ends the search.
  while (i >= 0 && !/^\s*(\*|\/\*\*)/.test(lines[i] ?? "")) {
    if (/^\s*$|[};]\s*$/.test(lines[i] ?? "")) return undefined;
    i--;
  }
  const comment: string[] = [];
  for (; i >= 0 && /^\s*(\*|\/\*\*)/.test(lines[i] ?? ""); i--) comment.push(lines[i] ?? "");
  const hint = /Chapter (\d+):/.exec(comment.reverse().join(" "));
  return hint === null ? undefined : Number(hint[1]);
}

/** The solution's text with only its `k`-th solution region stubbed (the rest of the reference intact). */
function withOneRegionStubbed(source: string, k: number, file: string): { text: string; name: string; chapter: number | undefined } {
  const lines = source.split("\n");
  const starts = lines.flatMap((line, i) => (REGION.test(line) ? [i] : []));
  const at = starts[k]!;
  // Every other region becomes a plain block (reference-only helpers included: the
  // stubbed body is the only difference from the reference), so makeStub stubs this one only.
  const marked = lines.map((line, i) => (i !== at ? line.replace(/#region (solution|reference-only)(?: step \d+)?\s*$/, "#region kept") : line));
  const stubbed = makeStub(marked.join("\n"), file);
  const name = /NotImplementedError\("([^"]*?) in /.exec(stubbed.split("\n").find((l) => l.includes("throw new NotImplementedError(")) ?? "")?.[1] ?? `region ${k + 1}`;
  return { text: stubbed, name, chapter: gradedIn(lines, at) };
}

const selected = (() => {
  const numbers = chapterNumbers(process.argv.slice(2));
  return numbers.length > 0 ? numbers.map(chapterByNumber) : withExercise();
})();


/** The failing tests of `chapter`'s test file on the tree as it is now (a fresh vitest each time: nothing carried over). */
async function failingTests(testFile: string, tree: string): Promise<string[]> {
  process.env.WORKBOOK_IMPL = tree as Implementation; // read by vitest.config.ts as the config loads
  const vitest = await createVitest("test", { root, watch: false, reporters: [{}], silent: true, bail: 1 });
  try {
    const run = await vitest.start([testFile]);
    const module = run.testModules.find((m) => m.moduleId === testFile);
    if (module === undefined) return ["(the test file did not run)"];
    if (module.errors().length > 0) return ["(the test file did not load)"];
    return Array.from(module.children.allTests()).filter((t) => t.result().state === "failed").map((t) => t.name);
  } finally {
    await vitest.close();
  }
}

const unnoticed: string[] = [];
let checked = 0;
try {
  for (const chapter of selected) {
    const source = readFileSync(paths.solution(chapter), "utf8");
    const count = source.split("\n").filter((line) => REGION.test(line)).length;
    for (let k = 0; k < count; k++) {
      // A fresh tree for every variant (beside lib/, so its imports resolve): no module cache can serve an older one.
      const tree = `${TREE}-${checked}`;
      rmSync(join(root, tree), { recursive: true, force: true });
      cpSync(join(root, "solutions"), join(root, tree), { recursive: true });
      const { text, name, chapter: later } = withOneRegionStubbed(source, k, `${tree}/${chapter.id}.ts`);
      writeFileSync(join(root, tree, `${chapter.id}.ts`), text);
      const grader = later === undefined ? chapter : chapterByNumber(later);
      const failing = await failingTests(paths.test(grader), tree).finally(() => rmSync(join(root, tree), { recursive: true, force: true }));
      checked++;
      if (failing.length > 0) {
        const where = grader === chapter ? "" : ` (graded in ${grader.id})`;
        console.log(`${green("✔")} ${chapter.id} ${name}${where}: ${dim(`caught by "${failing[0]}"`)}`);
      } else {
        unnoticed.push(`${chapter.id} ${name}`);
        console.log(`${red("✘")} ${chapter.id} ${name}: left unwritten, every test still passes`);
      }
    }
  }
} finally {
  for (let n = 0; n <= checked; n++) rmSync(join(root, `${TREE}-${n}`), { recursive: true, force: true });
}
console.log(
  unnoticed.length === 0
    ? bold(`\nEvery one of the ${checked} parts a reader writes is graded: leaving any of them unwritten fails a test.`)
    : red(bold(`\n${unnoticed.length} of ${checked} parts can be left unwritten without a failing test:\n  ${unnoticed.join("\n  ")}`)),
);
process.exitCode = unnoticed.length === 0 ? 0 : 1;
