/**
 * Build-time data for coverage.md: the requirements of RFC 6455 §4–§7 and §10, and of RFC 7692
 * (lib/rfc-requirements.ts) and the tests whose names say they check them,
 * read from tests/*.test.ts without running anything (scripts/lib/coverage.ts).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { defineLoader } from "vitepress";
import { sections } from "../../lib/rfc-requirements.ts";
import { coverageReport, type CoverageReport } from "../../scripts/lib/coverage.ts";

const root = resolve(import.meta.dirname, "../..");

declare const data: CoverageReport;
export { data };

export default defineLoader({
  watch: ["../../tests/*.test.ts", "../../lib/rfc-requirements.ts"],
  load: (): CoverageReport =>
    coverageReport(root, sections, undefined, (id) => existsSync(resolve(root, `docs/chapters/${id}.md`))),
});
