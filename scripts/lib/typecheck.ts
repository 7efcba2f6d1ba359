/**
 * The reader's chapter files through the compiler, strict, as the project is
 * (tsconfig.json). The tests run through tsx, which strips types without
 * checking them, so a file that `tsc` rejects could otherwise pass every test
 * and be graded done. Runs beside the tests (a child process), not after them.
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Chapter } from "./curriculum.ts";
import { root } from "./workbook.ts";

/** For each chapter, its file's type errors ("chapters/04-frames.ts(12,3): error TS2339: ..."), or none. */
export type TypeErrors = Map<Chapter, string[]>;

/** A hang guard, not a speed limit: the compiler takes about a second here. */
const TSC_GUARD_MS = 120_000;

/** Type-checks the files of `chapters` in `folder` ("chapters" for the reader) with everything they import. */
export function typeCheck(chapters: readonly Chapter[], folder = "chapters"): Promise<TypeErrors> {
  const files = chapters.map((c) => relative(root, join(root, folder, `${c.id}.ts`)));
  const dir = join(root, ".cache");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, `tsconfig.grade-${process.pid}.json`);
  // Only these files (and what they import), with the project's own strict options.
  writeFileSync(config, JSON.stringify({ extends: "../tsconfig.json", include: files.map((f) => `../${f}`) }));
  return new Promise((resolve) => {
    execFile(join(root, "node_modules/.bin/tsc"), ["-p", config], { cwd: root, timeout: TSC_GUARD_MS }, (error, stdout, stderr) => {
      rmSync(config, { force: true });
      const errors: TypeErrors = new Map();
      if (error !== null && (error as NodeJS.ErrnoException & { killed?: boolean }).killed) {
        for (const chapter of chapters) errors.set(chapter, [`the type check hung: tsc gave no answer within ${TSC_GUARD_MS / 1000} s`]);
        return resolve(errors);
      }
      // tsc prints one diagnostic per line, continuation lines indented below it.
      const lines = `${stdout}${stderr}`.split("\n");
      for (const chapter of chapters) {
        const file = relative(root, join(root, folder, `${chapter.id}.ts`));
        const own: string[] = [];
        for (const [i, line] of lines.entries()) {
          if (!line.startsWith(`${file}(`)) continue;
          own.push(line);
          for (let j = i + 1; j < lines.length && /^\s+\S/.test(lines[j] ?? ""); j++) own.push(lines[j] ?? "");
        }
        if (own.length > 0) errors.set(chapter, own);
      }
      resolve(errors);
    });
  });
}
