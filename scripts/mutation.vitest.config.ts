/**
 * The vitest configuration `npm run mutation` hands to Stryker: the project's
 * own (vitest.config.ts), with only the test files that grade the chapter being
 * mutated (MUTATION_TESTS, a comma-separated list set by scripts/mutation.ts:
 * its own, and those of a later chapter that adds to its file). A chapter's
 * score is what the tests that grade it kill; on 2 cores, running every other
 * chapter's tests for each mutant would take hours.
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
