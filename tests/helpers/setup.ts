/** Runs before every test file (vitest.config.ts, setupFiles). */
import fc from "fast-check";

// A failing property shows the assertion's message (which speaks protocol),
// not only the counterexample.
fc.configureGlobal({ includeErrorInReport: true });
