/**
 * The stubs in `chapters/` are made from the reference in `solutions/`, so the
 * two can never drift apart: same exports, same signatures, same doc comments.
 *
 * In a solution file,
 * - `// #region solution` … `// #endregion` marks the body of something the
 *   reader writes; the stub gets `throw new NotImplementedError(...)` instead.
 *   It opens the body: the function or method it belongs to is found on the
 *   lines above it, and names the error;
 * - `// #region reference-only` … `// #endregion` marks helpers, constants and
 *   private state of the reference; the stub leaves them out.
 * - `// #region solution step 2` is a solution region written in step 2 of a
 *   chapter cut into graded steps (steps.ts); `stubAfterStep` keeps steps 1–2.
 * (Editors fold `#region` blocks, so a learner can read a solution's outline first.)
 */
const REGION = /^\s*\/\/ #region (solution|reference-only)(?: step \d+)?\s*$/;
const STEP_REGION = /^(\s*\/\/ #region )solution step (\d+)\s*$/;
const END = /^\s*\/\/ #endregion\b/;
const FUNCTION = /^\s*(?:export\s+)?(?:async\s+)?function\*?\s+([A-Za-z_$][\w$]*)/;
const METHOD = /^\s*(?:(?:public|static|async|get|set|override)\s+)*(?!(?:if|for|while|switch|catch|return)\b)([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\(/;
const CLASS = /^\s*(?:export\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/;
const STUB_IMPORT = 'import { NotImplementedError } from "../lib/not-implemented.ts";';

/** The stub for a solution file's text; `file` names it in the error message ("chapters/01-urls.ts"). */
export function makeStub(source: string, file: string): string {
  const lines = source.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const region = REGION.exec(line);
    if (region === null) {
      out.push(line);
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && END.test(l));
    if (end === -1) throw new Error(`${file}:${i + 1}: #region ${region[1]} is never closed`);
    if (region[1] === "solution") {
      const indent = /^\s*/.exec(line)?.[0] ?? "";
      out.push(`${indent}throw new NotImplementedError(${JSON.stringify(`${enclosingName(lines, i, file)} in ${file}`)});`);
    }
    i = end; // a reference-only block simply disappears
  }
  // Removed blocks leave blank lines on both sides: keep one,
  // and a class whose private state was removed neither opens nor closes on an empty line.
  return insertImport(out)
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/\{\n\n/g, "{\n")
    .replace(/\n\n(\s*)\}/g, "\n$1}");
}

/**
 * A solution as a reader who finished step `step` has it: the regions of later steps
 * stubbed, everything else (earlier steps, helpers, private state) as in the reference.
 */
export function stubAfterStep(source: string, file: string, step: number): string {
  const lines = source.split("\n").map((line) => {
    const region = STEP_REGION.exec(line);
    if (region !== null && Number(region[2]) > step) return line; // stays a solution region: stubbed
    return line.replace(/#region (solution|reference-only)(?: step \d+)?\s*$/, "#region kept");
  });
  return makeStub(lines.join("\n"), file);
}

/** The highest step a solution's regions name (0: a chapter without steps). */
export function stepCount(source: string): number {
  return Math.max(0, ...source.split("\n").map((line) => Number(STEP_REGION.exec(line)?.[2] ?? 0)));
}

/** "computeAccept", "FrameParser.push" or "new FrameParser": what the region is the body of. */
function enclosingName(lines: string[], at: number, file: string): string {
  for (let i = at - 1; i >= 0; i--) {
    const line = lines[i] ?? "";
    const fn = FUNCTION.exec(line);
    if (fn) return fn[1] ?? "";
    const method = METHOD.exec(line);
    if (method) {
      const owner = lines.slice(0, i).reverse().map((l) => CLASS.exec(l)?.[1]).find(Boolean) ?? "";
      return method[1] === "constructor" ? `new ${owner}` : `${owner}.${method[1]}`;
    }
  }
  throw new Error(`${file}:${at + 1}: a #region solution must sit inside a function or method`);
}

/** Puts the stub's import first among the imports, or after the header comment. */
function insertImport(lines: string[]): string[] {
  let at = lines.findIndex((l) => l.startsWith("import "));
  if (at === -1) at = lines.findIndex((l) => l.startsWith(" */")) + 1;
  return [...lines.slice(0, at), STUB_IMPORT, ...(lines[at]?.startsWith("import ") ? [] : [""]), ...lines.slice(at)];
}
