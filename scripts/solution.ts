/**
 * npm run solution -- 2
 * Shows how your chapters/ file differs from the reference in solutions/
 * (lines starting with - are yours, + the reference's).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cyan, dim } from "./lib/terminal.ts";
import { paths, pristineStub, root, shown, theChapterArgument } from "./lib/workbook.ts";

const chapter = theChapterArgument(
  process.argv.slice(2),
  "usage: npm run solution -- <chapter number>    e.g. npm run solution -- 2",
);

const yours = shown(paths.stub(chapter));
const reference = shown(paths.solution(chapter));
if (readFileSync(paths.stub(chapter), "utf8") === pristineStub(chapter)) {
  console.log(dim(`(${yours} is still the untouched stub: this is the whole solution. Sure you want to peek?)\n`));
}
console.log(`${cyan(`--- ${yours}`)}  yours\n${cyan(`+++ ${reference}`)}  the reference\n`);
// git diff works on any two files (--no-index), with colour on a terminal.
const diff = spawnSync("git", ["diff", "--no-index", `--color=${process.stdout.isTTY ? "always" : "never"}`, yours, reference], {
  cwd: root,
  encoding: "utf8",
});
if (diff.error !== undefined) {
  console.log(readFileSync(paths.solution(chapter), "utf8")); // no git: show the reference whole
} else {
  // Drop git's own header lines: the two above say which file is which.
  console.log(diff.stdout.split("\n").filter((line) => !/^(\S*diff --git|\S*index |\S*--- |\S*\+\+\+ )/.test(line)).join("\n"));
  if (diff.stdout === "") console.log("No difference: your file is the reference, line for line.");
}
