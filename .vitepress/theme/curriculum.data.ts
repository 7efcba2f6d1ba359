/**
 * Build-time data for chapter 00's map (components/WorkbookMap.vue): the
 * curriculum grouped by part, with what the reader writes in each chapter read
 * from its reference file's exports. One source: a chapter added to
 * scripts/lib/curriculum.ts appears on the map by itself.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineLoader } from "vitepress";
import { chaptersByPart } from "../../scripts/lib/curriculum.ts";

export interface MapChapter {
  number: number;
  id: string;
  title: string;
  /** The RFC sections as the curriculum gives them ("§5.2, §5.5"; "" for none). */
  rfc: string;
  /** Whether the chapter has a page yet. */
  page: boolean;
  /** The functions and classes its reference exports: what the reader writes. */
  writes: string[];
}

export interface MapPart {
  title: string;
  chapters: MapChapter[];
}

const root = resolve(import.meta.dirname, "../..");

/**
 * Exported functions and classes of a solution file, in file order. Constants
 * (ALL_CAPS) and error classes are given or follow from the rest, so they are left out.
 */
export function writtenExports(source: string): string[] {
  const names = [...source.matchAll(/^export\s+(?:async\s+)?(?:abstract\s+)?(?:function\*?|class)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1] ?? "");
  return names.filter((name) => name !== "" && !/^[A-Z0-9_]+$/.test(name) && !/Error$/.test(name));
}

declare const data: MapPart[];
export { data };

export default defineLoader({
  watch: ["../../solutions/*.ts", "../../docs/chapters/*.md"],
  load: (): MapPart[] =>
    chaptersByPart().map((part) => ({
      title: part.title,
      chapters: part.chapters.map((c) => {
        const solution = resolve(root, `solutions/${c.id}.ts`);
        return {
          number: c.number,
          id: c.id,
          title: c.title,
          rfc: c.rfc,
          page: existsSync(resolve(root, `docs/chapters/${c.id}.md`)),
          writes: existsSync(solution) ? writtenExports(readFileSync(solution, "utf8")) : [],
        };
      }),
    })),
});
