/**
 * Maintainers: `npm run stubs` rewrites chapters/ from solutions/ after a
 * solution changed (then commit both); `npm test` checks that the stubs
 * committed in git are the ones the solutions make.
 *
 * A committed stub that was edited is someone's work in progress: it is left
 * alone unless `--force` is given.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { committedStub, paths, pristineStub, shown, withExercise } from "./lib/workbook.ts";

const force = process.argv.includes("--force");
for (const chapter of withExercise()) {
  const file = paths.stub(chapter);
  const committed = committedStub(chapter);
  // A stub never committed belongs to a chapter being written: always regenerated.
  const untouched = !existsSync(file) || committed === undefined || readFileSync(file, "utf8") === committed;
  if (!untouched && !force) {
    console.log(`kept ${shown(file)}: it has uncommitted changes (--force overwrites them)`);
    continue;
  }
  writeFileSync(file, pristineStub(chapter));
  console.log(`wrote ${shown(file)}`);
}
