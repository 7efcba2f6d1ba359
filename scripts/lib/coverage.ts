/**
 * The RFC coverage map: which rules of RFC 6455 §4–§7 and §10, and of RFC 7692 (lib/rfc-requirements.ts)
 * the workbook's tests check, read from the tests' names alone.
 *
 * The rule, in full. A test's name may start with the rule it checks:
 * one or more sections, then a keyword (DESIGN.md):
 *
 *     §5.1 MUST: a client masks every frame, ...
 *     §4.2.2, §4.4 MUST: another version is refused ...
 *     §4.2.1 MUST refuse a method other than GET ...
 *
 * A test covers a requirement when
 *   1. the requirement's section is one of the sections the name lists (exactly: §5.5 is not §5.5.1),
 *   2. the keyword has the requirement's strength: MUST and MUST NOT are one strength
 *      (a test of "MUST NOT send X" is usually worded "MUST refuse X"), SHOULD and
 *      SHOULD NOT another, and
 *   3. if the requirement has a `match` pattern, the test's name matches it (for sections
 *      with several rules of the same strength, so each test counts for the rule it checks).
 * A name with no keyword ("§5.2: ...") or no leading section covers nothing; nor does
 * "RFC 3629 §4: ...", which is another RFC.
 *
 * A requirement is covered when at least one test covers it, and met by an
 * implementation when every test that covers it passes.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { requirements, type Level, type Requirement } from "../../lib/rfc-requirements.ts";

/** What a test's name claims to check. */
export interface Claim {
  /** "6455" unless the name starts with another RFC: "RFC 7692 §6.1 MUST: ...". */
  rfc: string;
  sections: string[];
  keyword: Level | "MAY";
}

/** One section, optionally with the item or step it means: "§4.2.2", "§4.2.2 item 4". */
const SECTION = String.raw`§\d+(?:\.\d+)*(?:\s+(?:item|step)\s+\d+(?:\.\d+)*)?`;
const CLAIM = new RegExp(String.raw`^\s*(?:RFC (\d+) )?(${SECTION}(?:\s*,\s*${SECTION})*)\s+(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\b`);

/** The sections and keyword a test's name starts with, or undefined if it claims no rule. */
export function claimOf(testName: string): Claim | undefined {
  const m = CLAIM.exec(testName);
  if (m === null) return undefined;
  const sections = (m[2] ?? "").split(",").map((s) => s.trim().replace(/^§(\S+).*$/, "$1"));
  return { rfc: m[1] ?? "6455", sections, keyword: m[3] as Claim["keyword"] };
}

const strength = (keyword: string) => keyword.replace(/ NOT$/, "");

/** Does the test with this name check this requirement? (The rule above.) */
export function covers(testName: string, requirement: Requirement): boolean {
  const claim = claimOf(testName);
  if (claim === undefined) return false;
  return (
    claim.rfc === (requirement.rfc ?? "6455") &&
    claim.sections.includes(requirement.section) &&
    strength(claim.keyword) === strength(requirement.level) &&
    (requirement.match === undefined || requirement.match.test(testName))
  );
}

/** A test as the coverage map sees it: its name and the chapter whose test file holds it. */
export interface NamedTest {
  /** "04-frames" */
  chapterId: string;
  name: string;
}

/** Does the claim name a section the map lists: RFC 6455 §4–§7 and §10, or any of RFC 7692? */
export const claimsMappedSection = (claim: Claim) =>
  claim.rfc === "7692" || (claim.rfc === "6455" && claim.sections.some((s) => /^([4-7]|10)(\.|$)/.test(s)));

// ---------------------------------------------------------------------------
// Test names, read statically from tests/*.test.ts (no vitest run).

const STRING = String.raw`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`(?:[^`\\\\]|\\\\.)*`";
const TEST_CALL = new RegExp(String.raw`(?<![\w.$])(?:test|it)(?:\.(?:only|skip|concurrent|fails))?\(\s*(${STRING})`, "g");

/** A string literal's value: escapes resolved; in a template, each `${…}` becomes "…". */
function literalValue(literal: string): string {
  const quote = literal[0];
  let body = literal.slice(1, -1);
  if (quote === "`") body = body.replace(/\$\{[^}]*\}/g, "…");
  return body.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    if (e.startsWith("u{")) return String.fromCodePoint(parseInt(e.slice(2, -1), 16));
    if (e.startsWith("u") && e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e.startsWith("x") && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return { n: "\n", t: "\t", r: "\r", "0": "\0" }[e] ?? e;
  });
}

/** The names of the tests in one test file's source. */
export function testNamesIn(source: string): string[] {
  return Array.from(source.matchAll(TEST_CALL), (m) => literalValue(m[1] ?? ""));
}

/** Every test of `tests/*.test.ts` under `root`, by chapter, in file order. */
export function readTestNames(root: string): NamedTest[] {
  const dir = join(root, "tests");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .flatMap((file) => {
      const chapterId = file.replace(/\.test\.ts$/, "");
      return testNamesIn(readFileSync(join(dir, file), "utf8")).map((name) => ({ chapterId, name }));
    });
}

// ---------------------------------------------------------------------------
// Requirements × tests.

export interface RequirementCoverage {
  requirement: Requirement;
  tests: NamedTest[];
}

/** Each requirement with the tests that cover it (none: not covered yet). */
export function coverage(tests: readonly NamedTest[], list: readonly Requirement[] = requirements): RequirementCoverage[] {
  return list.map((requirement) => ({ requirement, tests: tests.filter((t) => covers(t.name, requirement)) }));
}

/**
 * Tests that claim a keyword rule of §4–§7 or §10 but cover no listed requirement:
 * either the map lacks a rule or a `match` pattern is too narrow. The
 * coverage page shows them, so a gap in the map cannot hide.
 */
export function unmappedTests(tests: readonly NamedTest[], list: readonly Requirement[] = requirements): NamedTest[] {
  return tests.filter((t) => {
    const claim = claimOf(t.name);
    if (claim === undefined || claim.keyword === "MAY" || !claimsMappedSection(claim)) return false;
    return !list.some((r) => covers(t.name, r));
  });
}

/** The outcome of one test of a run, as far as the map needs it. */
export interface TestResult {
  name: string;
  passed: boolean;
}

export interface RulesMet {
  /** Requirements in the map. */
  total: number;
  /** Requirements some test of this run covers. */
  checked: number;
  /** Of those, the ones whose every covering test passed. */
  met: number;
}

/** Which requirements an implementation meets, judged by the results of one run. */
export function rulesMet(results: readonly TestResult[], list: readonly Requirement[] = requirements): RulesMet {
  let checked = 0;
  let met = 0;
  for (const requirement of list) {
    const relevant = results.filter((t) => covers(t.name, requirement));
    if (relevant.length === 0) continue;
    checked++;
    if (relevant.every((t) => t.passed)) met++;
  }
  return { total: list.length, checked, met };
}

// ---------------------------------------------------------------------------
// The site's coverage page (docs/reference/coverage.data.ts): plain data only.

export interface CoverageReport {
  totals: {
    requirements: number;
    covered: number;
    /** Not covered, and marked with why no test can check them (`whyNoTest`). */
    untestable: number;
    /** Per level: how many rules, how many of them checked. */
    byLevel: { level: Level; total: number; covered: number }[];
    /** Tests whose names claim a keyword rule of §4–§7 or §10. */
    claimingTests: number;
    /** Tests in all. */
    tests: number;
  };
  sections: {
    section: string;
    title: string;
    /** "6455" or "7692". */
    rfc: string;
    requirements: {
      id: string;
      level: Level;
      role: Requirement["role"];
      statement: string;
      note?: string;
      whyNoTest?: string;
      chapters: { id: string; number: string; link?: string }[];
      tests: { chapter: string; name: string }[];
    }[];
  }[];
  unmapped: { chapter: string; name: string }[];
}

/** Everything the coverage page shows, from the test files under `root` and the requirement list. */
export function coverageReport(
  root: string,
  sectionList: readonly { section: string; title: string; rfc?: string }[],
  list: readonly Requirement[] = requirements,
  hasPage: (chapterId: string) => boolean = () => true,
): CoverageReport {
  const rfcOf = (x: { rfc?: string }) => x.rfc ?? "6455";
  const orphan = list.find((r) => !sectionList.some((s) => s.section === r.section && rfcOf(s) === rfcOf(r)));
  if (orphan !== undefined) throw new Error(`requirement ${orphan.id}: section ${orphan.section} is not in the list of sections`);
  const tests = readTestNames(root);
  const covered = coverage(tests, list);
  // A rule said to be beyond any test, yet checked by one: one of the two is wrong.
  const contradicted = covered.find((c) => c.tests.length > 0 && c.requirement.whyNoTest !== undefined);
  if (contradicted !== undefined) {
    throw new Error(`requirement ${contradicted.requirement.id} says no test can check it, but "${contradicted.tests[0]?.name}" does`);
  }
  const levels: Level[] = ["MUST", "MUST NOT", "SHOULD", "SHOULD NOT"];
  const number = (id: string) => id.slice(0, 2);
  return {
    totals: {
      requirements: list.length,
      covered: covered.filter((c) => c.tests.length > 0).length,
      untestable: covered.filter((c) => c.requirement.whyNoTest !== undefined).length,
      byLevel: levels.map((level) => {
        const of = covered.filter((c) => c.requirement.level === level);
        return { level, total: of.length, covered: of.filter((c) => c.tests.length > 0).length };
      }),
      claimingTests: tests.filter((t) => {
        const claim = claimOf(t.name);
        return claim !== undefined && claim.keyword !== "MAY" && claimsMappedSection(claim);
      }).length,
      tests: tests.length,
    },
    sections: sectionList.map((s) => ({
      section: s.section,
      title: s.title,
      rfc: rfcOf(s),
      requirements: covered
        .filter((c) => c.requirement.section === s.section && rfcOf(c.requirement) === rfcOf(s))
        .map(({ requirement: r, tests: by }) => {
          const chapterIds = [...new Set(by.map((t) => t.chapterId))];
          return {
            id: r.id,
            level: r.level,
            role: r.role,
            statement: r.statement,
            ...(r.note === undefined ? {} : { note: r.note }),
            ...(r.whyNoTest === undefined ? {} : { whyNoTest: r.whyNoTest }),
            chapters: chapterIds.map((id) => ({
              id,
              number: number(id),
              ...(hasPage(id) ? { link: `/chapters/${id}` } : {}),
            })),
            tests: by.map((t) => ({ chapter: number(t.chapterId), name: t.name })),
          };
        }),
    })),
    unmapped: unmappedTests(tests, list).map((t) => ({ chapter: number(t.chapterId), name: t.name })),
  };
}
