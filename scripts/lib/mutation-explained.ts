/**
 * The survivors of `npm run mutation` that a maintainer has explained, read
 * from the tables of docs/maintainers/mutation.md. A row reads
 *
 *     | 01-urls.ts | `const [, rawScheme = ""` | `""` | `"Stryker was here!"` | equivalent | why no test can tell |
 *
 * The second cell is a piece of the source line the mutant starts on (so that
 * a short `original` such as `""` names one place, not every one in the file).
 * `original` is the mutated source text on one line (whitespace collapsed); it
 * may end in "…" to stand for a longer text that starts with it (a whole block
 * removed). A "|" inside a cell is written "\|", as markdown tables need.
 */
export interface Explanation {
  /** "01-urls.ts" */
  file: string;
  /** A piece of the line the mutant starts on. */
  line: string;
  /** The source text, or its beginning (the row ended it with "…"). */
  original: string;
  /** true if `original` is only the beginning of the mutated text. */
  prefix: boolean;
  replacement: string;
  kind: string;
  why: string;
}

/** A table cell's text: escaped pipes restored, code backticks taken off. */
function cellText(cell: string): string {
  const text = cell.trim().replaceAll("\\|", "|");
  const code = /^(`+)\s?([\s\S]*?)\s?\1$/.exec(text);
  return code === null ? text : (code[2] ?? "");
}

export function explainedSurvivors(markdown: string): Explanation[] {
  const rows: Explanation[] = [];
  for (const row of markdown.split("\n")) {
    // Split on pipes that are not escaped; a row of a table starts and ends with one.
    if (!/^\s*\|.*\|\s*$/.test(row)) continue;
    const cells = row.trim().slice(1, -1).split(/(?<!\\)\|/).map(cellText);
    const [file = "", line = "", original = "", replacement = "", kind = "", why = ""] = cells;
    if (!/^\d\d-[\w-]+\.ts$/.test(file)) continue; // the header row and its --- line
    rows.push({
      file,
      line,
      original: original.endsWith("…") ? original.slice(0, -1).trim() : original,
      prefix: original.endsWith("…"),
      replacement,
      kind,
      why,
    });
  }
  return rows;
}
