import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Tests import the code under test as `@workbook/NN-topic`. WORKBOOK_IMPL says
 * which tree that is: `solutions` (the default, the reference), `chapters`
 * (the reader's work, used by `npm run grade`) or `.pristine` (the untouched
 * stubs, used by `npm test` to prove that every test can fail).
 */
const impl = process.env.WORKBOOK_IMPL ?? "solutions";
const root = import.meta.dirname;

export default defineConfig({
  resolve: {
    alias: [{ find: /^@workbook\/(.*)$/, replacement: `${resolve(root, impl)}/$1.ts` }],
  },
  test: {
    include: ["tests/**/*.test.ts"],
    setupFiles: ["tests/helpers/setup.ts"],
    // Every wait is bounded: a test that hangs fails with a timeout instead. These
    // are hang guards, generous so that a busy machine is never mistaken for a
    // broken implementation; the tests' own waits name what they waited for.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 5_000,
  },
});
