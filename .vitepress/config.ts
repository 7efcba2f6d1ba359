import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig, type DefaultTheme } from "vitepress";
import type { Plugin } from "vite";
import { chaptersByPart, type Chapter } from "../scripts/lib/curriculum.ts";
import { writePristineStubs } from "../scripts/lib/workbook.ts";

// The pages show each stub as a reader first finds it, whatever is in their
// chapters/ by now: the pristine stubs are made afresh from solutions/.
writePristineStubs();

const docs = resolve(import.meta.dirname, "../docs");

/** Chapters of the curriculum; those without a page yet say so instead of linking. */
function chapterItems(chapters: readonly Chapter[]): DefaultTheme.SidebarItem[] {
  return chapters.map((c) => {
    const text = `${String(c.number).padStart(2, "0")} · ${c.title}`;
    return existsSync(resolve(docs, `chapters/${c.id}.md`))
      ? { text, link: `/chapters/${c.id}` }
      : { text: `${text} <span class="soon">coming soon</span>` };
  });
}

/**
 * A number written with a space between its thousands ("65 535") must not break
 * across lines ("65" above "535"): in the pages' prose, that space becomes a
 * no-break space. Code, raw HTML and SVG keep what they have.
 */
const THOUSANDS = /(?<![\d.,])(\d{1,3})((?: \d{3})+)(?!\d)/g;
const keepNumbersTogether = (text: string) => text.replace(THOUSANDS, (_, head: string, rest: string) => head + rest.replaceAll(" ", "\u00a0"));

/**
 * "Yours" on the widgets (theme/components/impl.ts), under the dev server only:
 * the reader's chapters/ (VITE_WORKBOOK_CHAPTERS, set by scripts/start.ts) may be
 * served to the page, and chapter 02, which needs node:crypto, runs here in Node
 * (POST /__workbook/02-handshake { name, args } → { value } | { notWritten } | { crashed }).
 */
function readerChapters(): Plugin {
  const dir = process.env.VITE_WORKBOOK_CHAPTERS ?? "";
  return {
    name: "workbook-reader-chapters",
    apply: "serve",
    config: () => (dir === "" ? {} : { server: { fs: { allow: [dir] } } }),
    configureServer(server) {
      if (dir === "") return;
      server.middlewares.use("/__workbook/02-handshake", (request, response) => {
        let body = "";
        request.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        request.on("end", async () => {
          let answer: Record<string, unknown>;
          try {
            const { name, args } = JSON.parse(body) as { name: string; args: unknown[] };
            const chapter = (await server.ssrLoadModule(resolve(dir, "02-handshake.ts"))) as Record<string, unknown>;
            const fn = chapter[name];
            if (typeof fn !== "function") throw new TypeError(`chapters/02-handshake.ts exports no function ${name}`);
            answer = { value: fn(...args) };
          } catch (error) {
            const e = error as Error;
            answer = e?.name === "NotImplementedError" ? { notWritten: e.message } : { crashed: `${e?.name ?? "Error"}: ${e?.message ?? String(error)}` };
          }
          response.setHeader("Content-Type", "application/json");
          response.end(JSON.stringify(answer));
        });
      });
    },
  };
}

export default defineConfig({
  srcDir: "docs",
  // Notes for maintainers (npm run mutation reads docs/maintainers/mutation.md): kept beside
  // the pages, not published on the readers' site.
  srcExclude: ["maintainers/**"],
  title: "The WebSocket Workbook",
  description: "Learn RFC 6455 by building it: read a chapter, write the code, grade yourself.",
  cleanUrls: true,
  vite: { plugins: [readerChapters()] },
  head: [["link", { rel: "icon", type: "image/svg+xml", href: "/favicon.svg" }]],
  lastUpdated: false,
  markdown: {
    lineNumbers: false,
    config(md) {
      md.core.ruler.push("wb-keep-numbers-together", (state) => {
        for (const token of state.tokens) {
          for (const child of token.type === "inline" ? (token.children ?? []) : []) {
            if (child.type === "text") child.content = keepNumbersTogether(child.content);
          }
        }
      });
    },
  },
  themeConfig: {
    nav: [
      { text: "Getting started", link: "/guide/getting-started" },
      { text: "Chapters", link: "/chapters/00-overview" },
      { text: "Tools", link: "/tools" },
      { text: "Errata", link: "/reference/errata" },
    ],
    // The reading order: VitePress's prev/next links follow the sidebar, so a reader
    // who only ever clicks "Next page" goes Getting started → 00 → … → the last
    // chapter, and only then to what is beyond the exercises.
    sidebar: [
      { text: "Start here", items: [{ text: "Getting started", link: "/guide/getting-started" }] },
      ...chaptersByPart().map((part) => ({ text: part.title, items: chapterItems(part.chapters) })),
      {
        text: "Going further",
        items: [
          { text: "Making it fast", link: "/guide/making-it-fast" },
          { text: "Tools: inspector, builder, calculator, playground", link: "/tools" },
          { text: "Opcodes", link: "/reference/opcodes" },
          { text: "Close codes", link: "/reference/close-codes" },
          { text: "Handshake headers", link: "/reference/handshake-headers" },
          { text: "Glossary", link: "/reference/glossary" },
          { text: "RFC coverage map", link: "/reference/coverage" },
          { text: "Errata of the source notes", link: "/reference/errata" },
        ],
      },
    ],
    search: { provider: "local" },
    outline: { level: [2, 3] },
    footer: { message: "Every rule is cited from RFC 6455; the prose is the workbook's own." },
  },
});
