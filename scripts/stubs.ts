/**
 * Maintainers: `npm run stubs` rewrites chapters/ from solutions/ after a
 * solution changed. `npm run stubs -- --check` only compares, for `npm test`:
 * it reads the stubs committed in git (HEAD), so a reader's work in chapters/
 * does not count as drift.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { paths, pristineStub, root, shown, withExercise } from "./lib/workbook.ts";

const check = process.argv.includes("--check");
let stale = 0;
for (const chapter of withExercise()) {
  const file = shown(paths.stub(chapter));
  const wanted = pristineStub(chapter);
  if (!check) {
    writeFileSync(paths.stub(chapter), wanted);
    console.log(`wrote ${file}`);
    continue;
  }
  let committed: string | undefined;
  try {
    committed = execFileSync("git", ["show", `HEAD:${file}`], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch {
    committed = undefined;
  }
  if (committed === wanted) {
    console.log(`ok   ${file} is the stub of ${shown(paths.solution(chapter))}`);
  } else {
    stale++;
    console.log(
      committed === undefined
        ? `FAIL ${file} is not committed: run npm run stubs, then commit it`
        : `FAIL ${file} in git HEAD is not the stub of ${shown(paths.solution(chapter))}: run npm run stubs and commit`,
    );
  }
}
process.exitCode = stale === 0 ? 0 : 1;
