/**
 * The vitest configuration `npm run mutation` hands to Stryker: the project's
 * own (vitest.config.ts), with only the test files of the chapter being
 * mutated (MUTATION_TESTS, a comma-separated list set by scripts/mutation.ts).
 * A chapter's score is what its own tests kill, as `npm run grade -- N`
 * would judge a reader's file; and on 2 cores, running every other chapter's
 * tests for each mutant would take hours.
 */
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";
import base from "../vitest.config.ts";

const only = (process.env.MUTATION_TESTS ?? "").split(",").filter((f) => f !== "");

// Not mergeConfig: it would add these files to the project's include list, not replace it.
export default defineConfig({
  ...base,
  root: resolve(import.meta.dirname, ".."),
  test: { ...base.test, ...(only.length === 0 ? {} : { include: only }) },
});
