/**
 * npm run reset -- 2 [--yes]
 * Puts the pristine stub of chapter 2 back in chapters/, after asking.
 * The file it replaces is kept in .cache/reset/, in case you want it back.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createInterface } from "node:readline/promises";
import { cyan } from "./lib/terminal.ts";
import { paths, pristineStub, root, shown, theChapterArgument } from "./lib/workbook.ts";

const chapter = theChapterArgument(
  process.argv.slice(2),
  "usage: npm run reset -- <chapter number> [--yes]    e.g. npm run reset -- 2",
);

const file = paths.stub(chapter);
const pristine = pristineStub(chapter);
if (existsSync(file) && readFileSync(file, "utf8") === pristine) {
  console.log(`${shown(file)} is already the pristine stub: nothing to do.`);
  process.exit(0);
}

if (!process.argv.includes("--yes")) {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`Replace ${shown(file)} with the pristine stub? Your version will be saved. [y/N] `);
  prompt.close();
  if (!/^y(es)?$/i.test(answer.trim())) {
    console.log("Nothing changed.");
    process.exit(1);
  }
}

if (existsSync(file)) {
  const backups = join(root, ".cache", "reset");
  mkdirSync(backups, { recursive: true });
  const backup = join(backups, `${basename(file, ".ts")}.${new Date().toISOString().replace(/[:.]/g, "-")}.ts`);
  copyFileSync(file, backup);
  console.log(`Your version is saved as ${shown(backup)}.`);
}
writeFileSync(file, pristine);
console.log(`${shown(file)} is the pristine stub again. Start over with ${cyan(`npm run grade -- ${chapter.number}`)}.`);
