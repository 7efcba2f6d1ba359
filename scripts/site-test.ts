/**
 * The site in a real browser (Debian's Chromium, driven by playwright-core).
 *
 *   npm run site:check                        test the site already built in .vitepress/dist
 *   npm run site:check -- --build             build it first (vitepress build)
 *   npm run site:check -- --screenshots       also save full-page screenshots of every page
 *                                             at 1280 and 375 px in .cache/screenshots/ (for a person to look at)
 *   npm run site:check -- --yours-only        only the "yours" checks, under npm start (no build needed)
 *
 * It serves .vitepress/dist itself (node:http on 127.0.0.1, any free port,
 * clean URLs), starts the reference echo server for the playground, and checks:
 *  - every built page loads with no console error, no failed request and no broken image;
 *  - every internal link leads to a page or file that exists, and every #anchor to an element;
 *  - no page scrolls sideways at 375 px (read from the DOM: the same tab, resized);
 *  - the widgets of /tools do their job, through their data-widget / data-test hooks;
 *  - the learner's path and layout: the order "Next page" follows, chapter 00's map, tables
 *    that scroll say so, numbers that don't wrap, diagrams legible at 375 px, the coverage page;
 *  - "yours" on the widgets: under npm start (scripts/start.ts) with a reader's chapters/
 *    half-way through, they run the reader's files and say what is not written yet.
 *
 * One line per check ("✔ …" or "✘ …", details indented under a failure), then
 * "N passed, M failed"; exit status 1 on any failure. Every wait is bounded, and
 * no check depends on how fast the machine is: a bound guards against a hang,
 * and when one trips it names what hung. scripts/test.ts runs this as its
 * section 8 and counts these lines.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createEchoServer } from "../solutions/08-echo-server.ts";
import { createChatServer } from "../solutions/13-rooms.ts";
import { chatRoomChecks } from "./lib/site-chat-check.ts";
import { dim, green, red } from "./lib/terminal.ts";
import { wasmOffChecks } from "./lib/site-wasm-off.ts";
import { CHROMIUM, CHROMIUM_ARGS, installCommand, peer } from "./lib/system-peers.ts";
import { chapterByNumber, paths, pristineStub, root } from "./lib/workbook.ts";

/** The built site; SITE_DIST points elsewhere (to test this script itself on a doctored copy). */
const DIST = process.env.SITE_DIST ?? join(root, ".vitepress/dist");
const SHOTS = join(root, ".cache/screenshots");
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 375, height: 812 };
/** Pages visited at the same time: enough to overlap one page's network waits with another's rendering on 2 cores. */
const TABS = 4;
/** The longest any single step may wait: a guard against a hang, not a speed limit (a busy machine is slow, not broken). */
const STEP_MS = 60_000;
/** The whole run: past this, something hung; it stops and names the steps still in progress. */
const HANG_MS = 15 * 60_000;
const SCREENSHOTS = process.argv.includes("--screenshots");

/** What is in progress now, so that a run stopped by the hang guard can say what hung. */
const inProgress = new Set<string>();
async function doing<T>(what: string, body: () => Promise<T>): Promise<T> {
  inProgress.add(what);
  try {
    return await body();
  } finally {
    inProgress.delete(what);
  }
}

export interface SiteTestResult {
  passed: number;
  failed: number;
}

// ---------------------------------------------------------------------------
// Output: one line per check.

let passed = 0;
let failed = 0;
function check(ok: boolean, what: string, detail = ""): boolean {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? green("✔") : red("✘")} ${what}`);
  if (!ok && detail.trim() !== "") console.log(dim(detail.trimEnd().replace(/^/gm, "    ")));
  return ok;
}

// ---------------------------------------------------------------------------
// A static server for the built site, with VitePress's clean URLs.

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".xml": "application/xml",
};

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

/** The file a URL path serves: the file itself, `path.html` (clean URLs) or `path/index.html`. */
export function resolveSitePath(urlPath: string, dist: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split(/[?#]/)[0] ?? "/");
  } catch {
    return undefined;
  }
  if (path.includes("\0")) return undefined;
  const absolute = join(dist, normalize(path));
  if (absolute !== dist && !absolute.startsWith(dist + sep)) return undefined;
  for (const candidate of [absolute, `${absolute}.html`, join(absolute, "index.html")]) {
    if (isFile(candidate)) return candidate;
  }
  return undefined;
}

function serveSite(site: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    const file = resolveSitePath(request.url ?? "/", site);
    const status = file === undefined ? 404 : 200;
    const body = file ?? join(site, "404.html");
    response.writeHead(status, { "Content-Type": MIME[extname(body)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    if (request.method === "HEAD" || !isFile(body)) return void response.end();
    createReadStream(body).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, origin: `http://127.0.0.1:${port}` });
    });
  });
}

/** Every page of the built site, as its clean URL path ("/", "/chapters/01-urls"). */
function builtPages(site: string): string[] {
  const pages: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".html") && path !== join(site, "404.html")) pages.push(path);
    }
  };
  walk(site);
  return pages
    .map((file) => `/${relative(site, file).split(sep).join("/")}`.replace(/\.html$/, "").replace(/(^|\/)index$/, "$1"))
    .sort();
}

/** A page's URL path as one key, whatever form a link uses ("/a.html", "/a", "/dir/", "/dir/index"). */
function pageKey(pathname: string): string {
  let key = pathname.replace(/\.html$/, "").replace(/\/index$/, "/");
  if (key.length > 1 && key.endsWith("/")) key = key.slice(0, -1);
  return key === "" ? "/" : key;
}

const shotName = (path: string) => (path === "/" ? "index" : path.slice(1).replaceAll("/", "-"));

// ---------------------------------------------------------------------------
// Visiting pages.

interface Visit {
  errors: string[];
  ids: string[];
  links: { href: string; raw: string }[];
  brokenImages: string[];
  scrollWidth: number;
  overflowing: string[];
  /** Where the page's "Next page" link leads (VitePress's pager), if it has one. */
  next: string | null;
  /** The chapter links of chapter 00's map (data-widget="workbook-map"), in order. */
  map: string[];
  /** Tables that scroll sideways with no scroll cue (read at 375 px). */
  cutTables: string[];
  /** Numbers in the prose with a plain space between their thousands ("65 535"), which may wrap mid-number. */
  splitNumbers: string[];
  /** Text of inline diagrams drawn below MIN_DIAGRAM_PX (read at 375 px). */
  tinyDiagramText: string[];
}

/**
 * The smallest text a diagram may shrink to on a phone. Chapter 07's state diagram once drew
 * 5-px text at 375 px, chapter 06's 6-px; chapter 02's 11-px monospace headers draw at 7.8 px,
 * small but legible, which is where this bound sits.
 */
const MIN_DIAGRAM_PX = 7.5;

/**
 * What `visit` reads in the page once it has loaded: plain JavaScript, kept as a
 * string, because a function compiled by tsx would call helpers the page lacks.
 */
const READ_PAGE = `(() => {
  const width = window.innerWidth;
  const describe = (e) =>
    e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (typeof e.className === "string" && e.className.trim() ? "." + e.className.trim().split(/\\s+/).join(".") : "");
  const overflowing = [];
  if ((document.scrollingElement ? document.scrollingElement.scrollWidth : 0) > width) {
    // Where the overflow starts: past the right edge while the parent is not,
    // and not inside a box that scrolls or clips on its own (wide tables and code blocks do).
    const past = (e) => e.getBoundingClientRect().right > width + 1;
    const contained = (e) => {
      for (let a = e.parentElement; a !== null && a !== document.body; a = a.parentElement) {
        if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(a).overflowX)) return true;
      }
      return false;
    };
    for (const e of document.querySelectorAll("body *")) {
      if (!past(e) || e.getBoundingClientRect().width === 0) continue;
      if (e.parentElement !== null && e.parentElement !== document.body && past(e.parentElement)) continue;
      if (contained(e)) continue;
      overflowing.push(describe(e) + " (right edge at " + Math.round(e.getBoundingClientRect().right) + " px)");
      if (overflowing.length >= 8) break;
    }
  }
  return {
    ids: Array.from(document.querySelectorAll("[id], a[name]"), (e) => e.id || e.getAttribute("name") || ""),
    links: Array.from(document.querySelectorAll("a[href]"), (a) => ({ href: a.href, raw: a.getAttribute("href") || "" })),
    brokenImages: Array.from(document.images).filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.currentSrc || i.src),
    scrollWidth: document.scrollingElement ? document.scrollingElement.scrollWidth : 0,
    overflowing,
    next: (() => { const a = document.querySelector("a.pager-link.next"); return a ? new URL(a.href).pathname : null; })(),
    map: Array.from(document.querySelectorAll('[data-widget="workbook-map"] [data-test="map-chapter"] a'), (a) => new URL(a.href).pathname),
    cutTables: Array.from(document.querySelectorAll(".vp-doc table"))
      .filter((t) => t.getClientRects().length > 0 && t.scrollWidth > t.clientWidth + 1)
      .filter((t) => !/scroll/i.test(getComputedStyle(t, "::before").content))
      .map((t) => "a table of " + t.rows.length + " rows, " + t.scrollWidth + " px wide in " + t.clientWidth + " px, starting '" + (t.textContent || "").trim().slice(0, 40) + "'"),
    splitNumbers: (() => {
      const found = [];
      const walker = document.createTreeWalker(document.querySelector(".vp-doc") || document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
        if (n.parentElement && n.parentElement.closest("pre, code, svg, textarea, script, style")) continue;
        for (const m of (n.textContent || "").matchAll(/(?<![\\d.,])\\d{1,3}(?: \\d{3})+(?!\\d)/g)) found.push("'" + m[0] + "'");
      }
      return found;
    })(),
    tinyDiagramText: (() => {
      const found = [];
      for (const svg of document.querySelectorAll(".vp-doc svg")) {
        const box = svg.getBoundingClientRect();
        const view = svg.viewBox && svg.viewBox.baseVal;
        if (box.width === 0 || !view || view.width === 0) continue;
        const scale = box.width / view.width;
        let smallest = Infinity, sample = "";
        for (const text of svg.querySelectorAll("text")) {
          const px = parseFloat(getComputedStyle(text).fontSize) * scale;
          if (px < smallest) { smallest = px; sample = (text.textContent || "").trim().slice(0, 30); }
        }
        if (smallest < ${MIN_DIAGRAM_PX}) {
          const title = svg.querySelector("title");
          found.push("'" + ((title && title.textContent) || "a diagram").slice(0, 60) + "': text at " + smallest.toFixed(1) + " px ('" + sample + "')");
        }
      }
      return found;
    })(),
  };
})()`;

/** Reads what the checks need from the page as it is laid out now. */
async function readPage(page: Page, errors: string[]): Promise<Omit<Visit, "errors">> {
  return page.evaluate<Omit<Visit, "errors">>(READ_PAGE).catch((error: Error) => {
    errors.push(`reading the page: ${error.message.split("\n")[0]}`);
    return { ids: [], links: [], brokenImages: [], scrollWidth: 0, overflowing: [], next: null, map: [], cutTables: [], splitNumbers: [], tinyDiagramText: [] };
  });
}

/** Waits until the page has laid itself out again (two animation frames after a resize). */
const relaidOut = (page: Page) =>
  page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))").catch(() => undefined);

/**
 * Opens `path` in a new tab of `context`, waits until it settles, and reads it
 * at 1280 px; then narrows the same tab to 375 px and reads the layout again.
 * One load per page: the narrow check needs the DOM's widths, not a second download.
 */
async function visit(context: BrowserContext, origin: string, path: string): Promise<{ page: Page; errors: string[]; wide: Omit<Visit, "errors">; narrow: Omit<Visit, "errors"> }> {
  const page = await context.newPage();
  await page.setViewportSize(WIDE);
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  page.on("requestfailed", (request) => errors.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? "?"})`));
  page.on("response", (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  try {
    await page.goto(origin + path, { waitUntil: "load", timeout: STEP_MS });
    // Hydration, lazy chunks and prefetches: wait for the network to go quiet, but not forever.
    await page.waitForLoadState("networkidle", { timeout: 10_000 }).catch(() => undefined);
  } catch (error) {
    errors.push(`navigation: ${(error as Error).message.split("\n")[0]}`);
  }
  const wide = await readPage(page, errors);
  if (SCREENSHOTS) await screenshot(page, path, WIDE);
  await page.setViewportSize(NARROW);
  await relaidOut(page);
  if (SCREENSHOTS) await screenshot(page, path, NARROW);
  // Folded parts are read unfolded at 375 px: what a reader who opens them sees must fit too.
  await page.evaluate(`document.querySelectorAll(".vp-doc details").forEach((d) => (d.open = true))`).catch(() => undefined);
  await relaidOut(page);
  const narrow = await readPage(page, errors);
  return { page, errors, wide, narrow };
}

/** Problems met while taking screenshots (with --screenshots only). */
const shotProblems: string[] = [];
/** Screenshots are taken one at a time: Chromium can tile one tab's full-page capture with another's when two run at once. */
let screenshotQueue: Promise<unknown> = Promise.resolve();
function screenshot(page: Page, path: string, viewport: typeof WIDE): Promise<unknown> {
  const file = join(SHOTS, `${shotName(path)}-${viewport.width}.png`);
  const taken = screenshotQueue.then(async () => {
    try {
      await page.bringToFront();
      await page.screenshot({ path: file, fullPage: true, timeout: STEP_MS });
    } catch (error) {
      shotProblems.push(`${path} at ${viewport.width}: ${(error as Error).message.split("\n")[0]}`);
    }
  });
  screenshotQueue = taken;
  return taken;
}

// ---------------------------------------------------------------------------
// The learner's path: the order "Next page" leads through, and chapter 00's map.

function readingOrderChecks(pages: string[], nextOf: Map<string, string | null>, mapOf: Map<string, string[]>) {
  const chapters = pages.filter((p) => /^\/chapters\/\d\d-/.test(p)).sort();
  const expected = ["/guide/getting-started", ...chapters, "/guide/making-it-fast", "/tools"];
  const walked: string[] = [];
  for (let at: string | null | undefined = expected[0]; at != null && walked.length < pages.length && !walked.includes(at); at = nextOf.get(at)) {
    walked.push(at);
  }
  check(
    expected.every((path, i) => walked[i] === path),
    `reading order: "Next page" leads Getting started → ${chapters.length} chapters in order → Making it fast → Tools`,
    `expected ${expected.join(" → ")}\nwalked   ${walked.join(" → ")}`,
  );
  const map = mapOf.get("/chapters/00-overview") ?? [];
  check(
    map.length === chapters.length && chapters.every((path, i) => map[i] === path),
    `chapter 00's map links every chapter page, in order (${chapters.length})`,
    `the map links: ${map.join(", ") || "nothing"}\nthe chapter pages: ${chapters.join(", ")}`,
  );
}

/** Opens `path` at `viewport` in a new tab, runs `read` in it (plain JavaScript, a string), closes the tab. */
async function readAt<T>(context: BrowserContext, origin: string, path: string, viewport: typeof WIDE, read: string): Promise<T> {
  const page = await context.newPage();
  try {
    await page.setViewportSize(viewport);
    await page.goto(origin + path, { waitUntil: "load", timeout: STEP_MS });
    await page.waitForLoadState("networkidle", { timeout: 10_000 }).catch(() => undefined);
    await relaidOut(page);
    return await page.evaluate<T>(read);
  } finally {
    await page.close();
  }
}

async function heroCheck(context: BrowserContext, origin: string) {
  try {
    // The rightmost thing the hero shows, once laid out at 1280 px.
    const right = await readAt<number>(context, origin, "/", WIDE, `(() => {
      let right = 0;
      for (const e of document.querySelectorAll(".VPHero *")) {
        const r = e.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden" && e.children.length === 0) right = Math.max(right, r.right);
      }
      return right;
    })()`);
    check(right > WIDE.width * 0.6, "the home page's hero fills its width at 1280 px (its right half is not empty)", `the hero's rightmost content ends at ${Math.round(right)} px of ${WIDE.width}`);
  } catch (error) {
    check(false, "the home page's hero fills its width at 1280 px", (error as Error).message.split("\n")[0]);
  }
}

async function coverageChecks(context: BrowserContext, origin: string) {
  try {
    const seen = await readAt<{ empty: string[]; totals: { rfc: string; text: string }[]; counted: Record<string, number> }>(context, origin, "/reference/coverage", WIDE, `(() => {
      const sections = Array.from(document.querySelectorAll(".rc-section"));
      const counted = {};
      for (const s of sections) {
        const h = (s.querySelector("h3") || {}).textContent || "";
        const rfc = /^\\s*RFC (\\d+)/.exec(h);
        const key = rfc ? rfc[1] : "6455";
        counted[key] = (counted[key] || 0) + s.querySelectorAll('[data-test="requirement"]').length;
      }
      return {
        empty: sections.filter((s) => s.querySelectorAll('[data-test="requirement"]').length === 0).map((s) => ((s.querySelector("h3") || {}).textContent || "?").replace(/\\s+/g, " ").trim()),
        totals: Array.from(document.querySelectorAll('[data-test="coverage-totals"] [data-rfc]'), (p) => ({ rfc: p.getAttribute("data-rfc"), text: p.textContent.replace(/\\s+/g, " ").trim() })),
        counted,
      };
    })()`);
    check(seen.empty.length === 0, "coverage page: every section heading has at least one rule under it", `empty: ${seen.empty.join(", ")}`);
    const problems: string[] = [];
    for (const rfc of Object.keys(seen.counted)) {
      const totals = seen.totals.find((t) => t.rfc === rfc);
      const stated = totals === undefined ? undefined : Number(/^(\d+) requirements of RFC (\d+)/.exec(totals.text)?.[1]);
      if (totals === undefined) problems.push(`no total for RFC ${rfc}`);
      else if (!totals.text.includes(`RFC ${rfc}`) || stated !== seen.counted[rfc]) problems.push(`RFC ${rfc}: the page lists ${seen.counted[rfc]} rules, its total says "${totals.text.slice(0, 80)}"`);
      // A count of nothing is left unsaid ("the remaining 0 are …").
      if (totals !== undefined && /(^|[^\d.,])0 (are|is)\b/.test(totals.text)) problems.push(`RFC ${rfc}: "${totals.text}" counts zero of something`);
    }
    check(problems.length === 0, "coverage page: RFC 6455 and RFC 7692 are totalled apart, each matching the rules listed, and no count of zero is spelled out", problems.join("\n"));
  } catch (error) {
    check(false, "coverage page: its sections and totals", (error as Error).message.split("\n")[0]);
  }
}

// ---------------------------------------------------------------------------
// The widgets of /tools.

const norm = (text: string | null | undefined) => (text ?? "").replace(/\s+/g, " ").trim();

async function widgetChecks(context: BrowserContext, origin: string, echoUrl: string, serverCloses: { code: number; reason: string; clean: boolean }[]) {
  const page = await context.newPage();
  await page.setViewportSize(WIDE);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.setDefaultTimeout(STEP_MS);
  const step = async (what: string, body: () => Promise<string | undefined>) => {
    try {
      const problem = await body();
      check(problem === undefined, what, problem);
    } catch (error) {
      check(false, what, (error as Error).message.split("\n").slice(0, 4).join("\n"));
    }
  };
  const text = (locator: ReturnType<Page["locator"]>) => locator.first().textContent({ timeout: STEP_MS }).then(norm);
  /** Waits until `read()` satisfies `ok`, at most `ms` (a hang guard: on success it returns at once); returns the last value read. */
  const until = async <T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 20_000): Promise<T> => {
    const deadline = Date.now() + ms;
    let value = await read();
    while (!ok(value) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      value = await read();
    }
    return value;
  };

  try {
    await page.goto(`${origin}/tools`, { waitUntil: "load", timeout: STEP_MS });
    await page.waitForLoadState("networkidle", { timeout: 10_000 }).catch(() => undefined);
  } catch (error) {
    check(false, "/tools loads for the widget checks", (error as Error).message);
    await page.close();
    return;
  }

  const hooks: Record<string, string[]> = {
    "frame-inspector": ["input", "frame", "field-fin", "field-opcode", "field-mask", "field-length", "field-key", "field-payload-text", "field-close-code", "field-error"],
    "frame-builder": ["payload", "opcode", "mask", "bytes", "to-inspector"],
    "accept-calculator": ["key", "accept", "sha1"],
    "close-code-lookup": ["code", "may-send", "meaning"],
    "deflate-negotiation": ["offer", "server-nct", "answer", "verdicts"],
    "echo-playground": ["url", "connect", "message", "send-text", "send-binary", "close-code", "close-reason", "close", "log", "status"],
  };
  const widget = (name: string) => page.locator(`[data-widget="${name}"]`).first();
  const hook = (name: string, test: string) => widget(name).locator(`[data-test="${test}"]`);
  // Hooks that exist only once there is something to show are checked in use, below.
  const shownLater = new Set(["frame", "field-fin", "field-opcode", "field-mask", "field-length", "field-key", "field-payload-text", "field-close-code", "field-error"]);

  for (const [name, tests] of Object.entries(hooks)) {
    await step(`/tools has the ${name} widget with its hooks`, async () => {
      if ((await page.locator(`[data-widget="${name}"]`).count()) === 0) return `no element with data-widget="${name}"`;
      const missing: string[] = [];
      for (const test of tests.filter((t) => !shownLater.has(t))) {
        if ((await hook(name, test).count()) === 0) missing.push(`data-test="${test}"`);
      }
      return missing.length === 0 ? undefined : `missing inside it: ${missing.join(", ")}`;
    });
  }

  // Checkbox labels: one run of text (no piece of it a column of its own), and no word broken
  // in two at 375 px (the inspector's "… (chapter 12)" link once broke as "cha / pter / 12").
  const LABELS = `(() => Array.from(document.querySelectorAll("[data-widget] .wb-checks > label, [data-widget] .wb-fieldset > label"), (label) => {
    const lineHeight = parseFloat(getComputedStyle(label).lineHeight) || 20;
    const words = [];
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
      for (const m of (n.textContent || "").matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(n, m.index);
        range.setEnd(n, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
        if (tops.size > 1) words.push(m[0]);
      }
    }
    return { text: (label.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 60), lines: Math.round(label.getBoundingClientRect().height / lineHeight), broken: words };
  }))()`;
  await step("widget checkbox labels read as one line at 1280 px, and break no word in two at 375 px", async () => {
    const wide = await page.evaluate<{ text: string; lines: number; broken: string[] }[]>(LABELS);
    await page.setViewportSize(NARROW);
    await relaidOut(page);
    const narrow = await page.evaluate<{ text: string; lines: number; broken: string[] }[]>(LABELS);
    await page.setViewportSize(WIDE);
    await relaidOut(page);
    if (wide.length === 0) return "no checkbox label found in the widgets";
    const problems = [
      ...wide.filter((l) => l.lines > 1).map((l) => `at 1280 px, "${l.text}" takes ${l.lines} lines`),
      ...narrow.filter((l) => l.broken.length > 0).map((l) => `at 375 px, "${l.text}" breaks ${l.broken.map((w) => `"${w}"`).join(", ")} in two`),
    ];
    return problems.length === 0 ? undefined : problems.join("\n");
  });

  await step('the built site has no reader files: each widget\'s "yours" is disabled and says it works under npm start', async () => {
    const problems: string[] = [];
    for (const name of ["frame-inspector", "frame-builder", "accept-calculator", "close-code-lookup", "deflate-negotiation"]) {
      if ((await hook(name, "impl-yours").count()) === 0) problems.push(`${name}: no "yours" switch (data-test="impl-yours")`);
      else if (!(await hook(name, "impl-yours").isDisabled())) problems.push(`${name}: "yours" can be chosen on a built site`);
      else if (!(await text(hook(name, "impl-note"))).includes("npm start")) problems.push(`${name}: the note says "${await text(hook(name, "impl-note"))}"`);
    }
    return problems.length === 0 ? undefined : problems.join("\n");
  });

  const inspector = (test: string) => hook("frame-inspector", test);
  await step('frame inspector: 81 85 37 fa 21 3d 7f 9f 4d 51 58 is a masked text frame saying "Hello" (RFC 6455 §5.7)', async () => {
    await inspector("input").fill("81 85 37 fa 21 3d 7f 9f 4d 51 58");
    const payload = await until(() => text(inspector("field-payload-text")), (t) => t.includes("Hello"));
    const fields = {
      frames: String(await inspector("frame").count()),
      fin: await text(inspector("field-fin")),
      opcode: await text(inspector("field-opcode")),
      mask: await text(inspector("field-mask")),
      length: await text(inspector("field-length")),
      key: await text(inspector("field-key")),
      payload,
    };
    const problems = [
      fields.frames === "1" ? "" : `expected 1 frame, saw ${fields.frames}`,
      /^1\b/.test(fields.fin) ? "" : `FIN should be 1: "${fields.fin}"`,
      /0x1\b/.test(fields.opcode) ? "" : `opcode should be 0x1: "${fields.opcode}"`,
      /^1\b/.test(fields.mask) ? "" : `MASK should be 1: "${fields.mask}"`,
      /\b5\b/.test(fields.length) ? "" : `length should be 5: "${fields.length}"`,
      /37 fa 21 3d/i.test(fields.key) ? "" : `key should be 37 fa 21 3d: "${fields.key}"`,
      /"?“?Hello”?"?/.test(payload) && payload.includes("Hello") ? "" : `text should be Hello: "${payload}"`,
    ].filter((p) => p !== "");
    return problems.length === 0 ? undefined : problems.join("\n");
  });
  await step("frame inspector, permessage-deflate ticked: RSV1 on a continuation is refused with 1002 (RFC 7692 §6.1)", async () => {
    await inspector("deflate").check();
    await inspector("input").fill("41 03 f2 48 cd c0 04 c9 c9 07 00");
    const error = await until(() => text(inspector("field-error")), (t) => t.includes("1002"));
    await inspector("deflate").uncheck();
    return /1002/.test(error) && /continuation/.test(error) ? undefined : `field-error says "${error}"`;
  });
  await step("frame inspector: 88 02 03 e8 is a close frame with code 1000", async () => {
    await inspector("input").fill("88 02 03 e8");
    const code = await until(() => text(inspector("field-close-code")), (t) => t.includes("1000"));
    return code.includes("1000") ? undefined : `field-close-code says "${code}"`;
  });
  await step("frame inspector: a reserved opcode (83 00) is a protocol error, close code 1002", async () => {
    await inspector("input").fill("83 00");
    const error = await until(() => text(inspector("field-error")), (t) => t.includes("1002"));
    return error.includes("1002") ? undefined : `field-error says "${error}"`;
  });

  const builder = (test: string) => hook("frame-builder", test);
  const builderHex = async () => norm((await builder("bytes").getAttribute("data-hex")) ?? (await text(builder("bytes"))));
  await step('frame builder: "Hi there" as an unmasked text frame is 81 08 48 69 20 74 68 65 72 65', async () => {
    await builder("opcode").selectOption({ value: "1" });
    if (await builder("mask").isChecked()) await builder("mask").uncheck();
    await builder("payload").fill("Hi there");
    const hex = await until(builderHex, (h) => h.toLowerCase().startsWith("81 08"));
    return hex.toLowerCase() === "81 08 48 69 20 74 68 65 72 65" ? undefined : `bytes: "${hex}"`;
  });
  await step("frame builder: its masked bytes decode back to the payload in the inspector (to-inspector)", async () => {
    await builder("mask").check();
    await builder("payload").fill("round trip ✓");
    const hex = await until(builderHex, (h) => /^81 8e\b/i.test(h));
    if (!/^81 8e\b/i.test(hex)) return `a masked 14-byte text frame should start 81 8e: "${hex}"`;
    await builder("to-inspector").click();
    const input = await until(
      () => inspector("input").inputValue().then(norm),
      (v) => v.toLowerCase() === hex.toLowerCase(),
    );
    if (input.toLowerCase() !== hex.toLowerCase()) return `the inspector's input is "${input}", the builder's bytes "${hex}"`;
    const payload = await until(() => text(inspector("field-payload-text")), (t) => t.includes("round trip ✓"));
    return payload.includes("round trip ✓") ? undefined : `the inspector reads "${payload}"`;
  });

  const accept = (test: string) => hook("accept-calculator", test);
  await step("accept calculator: dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo= (RFC 6455 §1.3)", async () => {
    await accept("key").fill("dGhlIHNhbXBsZSBub25jZQ==");
    const value = await until(() => text(accept("accept")), (t) => t === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const sha1 = await text(accept("sha1"));
    if (value !== "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") return `accept: "${value}"`;
    // The SHA-1 step, in hex or base64 form, of that same value.
    return /b3\s*7a\s*4f\s*2c|b37a4f2c/i.test(sha1) ? undefined : `the sha1 step shows "${sha1}", not b3 7a 4f 2c …`;
  });

  const lookup = (test: string) => hook("close-code-lookup", test);
  for (const [code, expected] of [
    ["1005", "no"],
    ["1000", "yes"],
    ["4000", "yes"],
    ["1004", "no"],
  ] as const) {
    await step(`close-code lookup: ${code} ${expected === "yes" ? "may" : "may not"} be sent`, async () => {
      await lookup("code").fill(code);
      const verdict = await until(() => text(lookup("may-send")), (t) => t.toLowerCase().startsWith(expected));
      const meaning = await text(lookup("meaning"));
      if (!verdict.toLowerCase().startsWith(expected)) return `may-send says "${verdict}"`;
      return meaning === "" ? "meaning is empty" : undefined;
    });
  }

  const negotiation = (test: string) => hook("deflate-negotiation", test);
  for (const [offer, answer] of [
    ["permessage-deflate; client_max_window_bits", /^Sec-WebSocket-Extensions: permessage-deflate$/],
    ["permessage-deflate; mystery, permessage-deflate; server_no_context_takeover", /^Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover$/],
    ["permessage-deflate; server_max_window_bits=16", /no Sec-WebSocket-Extensions/],
  ] as const) {
    await step(`permessage-deflate negotiation: "${offer}" is answered as chapter 12 says`, async () => {
      await negotiation("offer").fill(offer);
      const shown = await until(() => text(negotiation("answer")), (t) => answer.test(t));
      return answer.test(shown) ? undefined : `the answer shows "${shown}"`;
    });
  }

  await step('permessage-deflate negotiation: the "malformed" preset is a header that cannot be parsed, answered with 400', async () => {
    const preset = widget("deflate-negotiation").locator('[data-test="preset"][data-preset="malformed"]');
    if ((await preset.count()) === 0) return 'no preset button data-preset="malformed"';
    await preset.click();
    const error = await until(() => negotiation("error").count().then((n) => (n === 0 ? "" : text(negotiation("error")))), (t) => /400/.test(t));
    return /400/.test(error) ? undefined : `the widget shows ${error === "" ? "no error" : `"${error}"`} for ${await negotiation("offer").inputValue()}`;
  });

  const play = (test: string) => hook("echo-playground", test);
  const entries = (direction: string, type: string) =>
    play("log").locator(`[data-test="log-entry"][data-direction="${direction}"][data-type="${type}"]`);
  const status = () => text(play("status"));
  await step(`echo playground: connects to the reference echo server (${echoUrl})`, async () => {
    await play("url").fill(echoUrl);
    await play("connect").click();
    const s = await until(status, (t) => t.startsWith("open"));
    return s.startsWith("open") ? undefined : `status: "${s}"`;
  });
  await step("echo playground: a text message comes back as text", async () => {
    await play("message").fill("hello from the site test");
    await play("send-text").click();
    const echoed = await until(() => entries("in", "text").allTextContents().then((all) => all.map(norm)), (all) => all.some((t) => t.includes("hello from the site test")));
    return echoed.some((t) => t.includes("hello from the site test")) ? undefined : `received: ${JSON.stringify(echoed)}`;
  });
  await step("echo playground: a binary message (00 01 fe ff) comes back as binary", async () => {
    await play("message").fill("00 01 fe ff");
    await play("send-binary").click();
    const echoed = await until(() => entries("in", "binary").allTextContents().then((all) => all.map(norm)), (all) => all.some((t) => /00 01 fe ff/i.test(t)));
    return echoed.some((t) => /00 01 fe ff/i.test(t)) ? undefined : `received: ${JSON.stringify(echoed)}`;
  });
  await step('echo playground: close 1000 "bye" completes the closing handshake on both sides', async () => {
    await play("close-code").fill("1000");
    await play("close-reason").fill("bye");
    await play("close").click();
    const s = await until(status, (t) => t.startsWith("closed"));
    if (!s.startsWith("closed")) return `status: "${s}"`;
    if (!/1000/.test(s) || !/wasClean true/.test(s)) return `the browser's close event: "${s}"`;
    const seen = await until(async () => serverCloses.slice(), (all) => all.length > 0);
    const last = seen.at(-1);
    if (last === undefined) return "the echo server never saw the connection end";
    return last.code === 1000 && last.reason === "bye" && last.clean ? undefined : `the echo server saw ${JSON.stringify(last)}`;
  });
  await step("echo playground: the browser API sends no pings, and the widget says so instead of offering one", async () => {
    const pingButtons = await widget("echo-playground").locator('[data-test*="ping"]').count();
    const explained = /ping/i.test(await text(widget("echo-playground").locator("details")));
    return pingButtons === 0 && explained ? undefined : `ping controls: ${pingButtons}, explanation shown: ${explained}`;
  });

  check(errors.length === 0, "/tools: no console errors while the widgets were used", errors.join("\n"));
  await page.close();
}

// ---------------------------------------------------------------------------
// "Yours" on the widgets: npm start (the dev server) on a reader's
// chapters/ half-way through: 03 written, 02, 04, 05 and 12 still stubs, and 06
// half written: isValidCloseCode with a bug the reference doesn't have (so that
// "yours" can only pass by running the reader's file), encodeClosePayload a stub.

/** The reader's half-finished chapters/, in a folder of its own; returns its path. */
function halfFinishedChapters(): string {
  const tree = mkdtempSync(join(tmpdir(), "workbook-yours-"));
  mkdirSync(join(tree, "chapters"));
  // The chapters import ../lib/; "junction" is ignored outside Windows, where it needs no rights.
  symlinkSync(join(root, "lib"), join(tree, "lib"), "junction");
  const file = (n: number) => join(tree, "chapters", `${chapterByNumber(n).id}.ts`);
  writeFileSync(file(3), readFileSync(paths.solution(chapterByNumber(3)), "utf8"));
  for (const n of [2, 4, 5, 12]) writeFileSync(file(n), pristineStub(chapterByNumber(n)));
  const closing = readFileSync(paths.solution(chapterByNumber(6)), "utf8");
  const signature = "export function isValidCloseCode(code: number): boolean {";
  if (!closing.includes(signature)) throw new Error(`solutions/06-closing.ts no longer has "${signature}": update the site test`);
  const encode = "export function encodeClosePayload(code?: number, reason = \"\"): Uint8Array {";
  if (!closing.includes(encode)) throw new Error(`solutions/06-closing.ts no longer has "${encode}": update the site test`);
  writeFileSync(
    file(6),
    'import { NotImplementedError } from "../lib/not-implemented.ts";\n' +
      closing
        .replace(signature, `${signature}\n  if (code === 1005) return true; // the reader's bug\n`)
        .replace(encode, `${encode}\n  throw new NotImplementedError("encodeClosePayload in chapters/06-closing.ts");\n`),
  );
  return tree;
}

/** `npm start` on a reader's half-finished chapters/, and the widgets' "yours" in Chromium. */
async function yoursChecks(context: BrowserContext) {
  const tree = halfFinishedChapters();
  let start: ChildProcess | undefined;
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.setDefaultTimeout(STEP_MS);
  const step = async (what: string, body: () => Promise<string | undefined>) => {
    try {
      const problem = await body();
      check(problem === undefined, what, problem);
    } catch (error) {
      check(false, what, (error as Error).message.split("\n").slice(0, 4).join("\n"));
    }
  };
  const until = async <T>(read: () => Promise<T>, ok: (value: T) => boolean, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    let value = await read();
    while (!ok(value) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      value = await read();
    }
    return value;
  };
  try {
    // npm start itself (scripts/start.ts), any free ports, told where the reader's chapters/ are.
    start = spawn(join(root, "node_modules/.bin/tsx"), ["scripts/start.ts"], {
      cwd: root,
      env: { ...process.env, HOST: "127.0.0.1", PORT: "0", ECHO_PORT: "0", VITE_WORKBOOK_CHAPTERS: join(tree, "chapters") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = start;
    const url = await new Promise<string>((resolve, reject) => {
      let said = "";
      const timer = setTimeout(() => reject(new Error(`npm start printed no address within 120 s; it said:\n${said}`)), 120_000);
      const hear = (chunk: Buffer) => {
        said += chunk.toString("utf8");
        const found = /is at \S*?(http:\/\/[^\s\u001b]+)/.exec(said);
        if (found?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(found[1]);
        }
      };
      child.stdout?.on("data", hear);
      child.stderr?.on("data", hear);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before printing its address:\n${said}`));
      });
    });
    // The dev server compiles on first request: a generous bound, for a busy machine.
    await page.goto(new URL("tools", url).href, { waitUntil: "load", timeout: 180_000 });
    await page.waitForLoadState("networkidle", { timeout: 30_000 }).catch(() => undefined);
    const widget = (name: string) => page.locator(`[data-widget="${name}"]`).first();
    const hook = (name: string, test: string) => widget(name).locator(`[data-test="${test}"]`);
    const text = async (name: string, test: string) => ((await hook(name, test).count()) === 0 ? "" : norm(await hook(name, test).first().textContent()));

    await step('"yours" under npm start: the close-code lookup runs the reader\'s chapters/06-closing.ts, bug and all (1005: yes), and the reference again when switched back (no)', async () => {
      await hook("close-code-lookup", "impl-yours").check();
      await hook("close-code-lookup", "code").fill("1005");
      const yours = await until(() => text("close-code-lookup", "may-send"), (t) => t === "yes");
      await hook("close-code-lookup", "impl-reference").check();
      const reference = await until(() => text("close-code-lookup", "may-send"), (t) => t === "no");
      return yours === "yes" && reference === "no" ? undefined : `may-send for 1005: "${yours}" with yours, "${reference}" with the reference`;
    });
    await step('"yours": the close-code lookup says what the reader has not written yet (1000 needs encodeClosePayload, still a stub)', async () => {
      await hook("close-code-lookup", "impl-yours").check();
      await hook("close-code-lookup", "code").fill("1000");
      const said = await until(() => text("close-code-lookup", "not-written"), (t) => t.includes("encodeClosePayload"));
      await hook("close-code-lookup", "impl-reference").check();
      return said.includes("encodeClosePayload") ? undefined : `not-written says "${said}"`;
    });
    await step('"yours": a widget whose chapter is still a stub says it is not written yet, naming the file (frame inspector: chapters/04-frames.ts)', async () => {
      await hook("frame-inspector", "impl-yours").check();
      const said = await until(() => text("frame-inspector", "not-written"), (t) => t.includes("04-frames"));
      return said.includes("04-frames") ? undefined : `not-written says "${said}"`;
    });
    for (const [name, file] of [
      ["frame-builder", "04-frames"],
      ["accept-calculator", "02-handshake"],
      ["deflate-negotiation", "12-extensions"],
    ] as const) {
      await step(`"yours": the ${name} says chapters/${file}.ts is not written yet`, async () => {
        await hook(name, "impl-yours").check();
        const said = await until(() => text(name, "not-written"), (t) => t.includes(file));
        return said.includes(file) ? undefined : `not-written says "${said}"`;
      });
    }
    check(errors.length === 0, '"yours": no uncaught error in the page while the widgets ran the reader\'s stubs', errors.join("\n"));
  } catch (error) {
    check(false, '"yours" under npm start: the checks ran', (error as Error).message.split("\n").slice(0, 4).join("\n"));
  } finally {
    await page.close().catch(() => undefined);
    if (start !== undefined && start.exitCode === null) {
      const child = start;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM"); // npm start's own Ctrl-C path: both servers close
      const gone = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 15_000))]);
      if (!gone) child.kill("SIGKILL");
    }
    rmSync(tree, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------

/** `--yours-only`: Chromium and npm start, nothing else. */
async function yoursOnly(): Promise<SiteTestResult> {
  if (!check(existsSync(CHROMIUM), `Chromium is at ${CHROMIUM}`, "apt-get install chromium (never playwright install)")) return { passed, failed };
  const profile = mkdtempSync(join(tmpdir(), "workbook-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: WIDE, timeout: STEP_MS });
  try {
    await yoursChecks(context);
  } finally {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
  return { passed, failed };
}

export async function runSiteTest(options: { build?: boolean; yoursOnly?: boolean } = {}): Promise<SiteTestResult> {
  passed = 0;
  failed = 0;
  if (options.build) {
    const build = spawnSync(join(root, "node_modules/.bin/vitepress"), ["build"], { cwd: root, encoding: "utf8", timeout: 300_000 });
    if (!check(build.status === 0, "vitepress build", `${build.stdout}${build.stderr}`)) return { passed, failed };
  }
  if (options.yoursOnly) return yoursOnly();
  if (!check(existsSync(join(DIST, "index.html")), "the built site is in .vitepress/dist", "run vitepress build first, or pass --build")) {
    return { passed, failed };
  }
  if (!check(existsSync(CHROMIUM), `Chromium is at ${CHROMIUM}`, `${installCommand([peer("chromium")])} (never playwright install)`)) {
    return { passed, failed };
  }

  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const guard = setTimeout(() => {
    const hung = [...inProgress];
    check(false, `the site test hung: after ${HANG_MS / 60_000} min, still waiting on ${hung.length === 0 ? "nothing it knows of" : hung.join("; ")}`);
    console.log(`\n${passed} passed, ${failed} failed`);
    process.exit(1);
  }, HANG_MS);
  guard.unref();

  try {
    // A copy of the build, so that a build started meanwhile (npm test, another terminal) can't pull pages away.
    const site = mkdtempSync(join(tmpdir(), "workbook-site-"));
    cleanups.push(() => rmSync(site, { recursive: true, force: true }));
    cpSync(DIST, site, { recursive: true });
    const { server, origin } = await serveSite(site);
    cleanups.push(() => new Promise((r) => server.close(r)), () => server.closeAllConnections());

    const serverCloses: { code: number; reason: string; clean: boolean }[] = [];
    const echo = createEchoServer({ closeTimeout: 5_000, handshakeTimeout: 30_000, onClose: (info) => serverCloses.push(info) });
    const echoUrl = await echo.listen(0, "127.0.0.1");
    cleanups.push(() => echo.close());
    // Chapter 13's chat room widget talks to a reference chat server.
    let chat = createChatServer({ handshakeTimeout: 30_000 });
    const chatUrl = await chat.listen(0, "127.0.0.1");
    cleanups.push(() => chat.close());
    /** A restart of that server on the same port: every member gets 1001, and the widget must come back by itself. */
    const restartChat = async () => {
      await chat.close();
      chat = createChatServer({ handshakeTimeout: 30_000 });
      await chat.listen(Number(new URL(chatUrl).port), "127.0.0.1");
    };

    const profile = mkdtempSync(join(tmpdir(), "workbook-chromium-"));
    cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: WIDE,
      timeout: STEP_MS,
    });
    cleanups.push(() => context.close());
    for (const page of context.pages()) await page.close();

    const pages = builtPages(site);
    if (SCREENSHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      for (const file of readdirSync(SHOTS)) if (file.endsWith(".png")) rmSync(join(SHOTS, file));
    }

    const idsOf = new Map<string, Set<string>>();
    const linksOf = new Map<string, { href: string; raw: string }[]>();
    const nextOf = new Map<string, string | null>();
    const mapOf = new Map<string, string[]>();
    const layout = { cutTables: [] as string[], splitNumbers: [] as string[], tinyDiagramText: [] as string[] };

    // Every page, a few tabs at a time: read at 1280 px, then at 375 px in the same tab.
    const queue = [...pages];
    const worker = async () => {
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        const current = path;
        const v = await doing(`visiting ${current}`, () => visit(context, origin, current));
        idsOf.set(pageKey(path), new Set(v.wide.ids));
        linksOf.set(path, v.wide.links);
        nextOf.set(path, v.wide.next === null ? null : pageKey(v.wide.next));
        mapOf.set(path, v.wide.map.map(pageKey));
        for (const key of ["cutTables", "tinyDiagramText"] as const) layout[key].push(...v.narrow[key].map((what) => `${path}: ${what}`));
        layout.splitNumbers.push(...[...new Set(v.wide.splitNumbers)].map((what) => `${path}: ${what}`));
        const images = v.wide.brokenImages.map((src) => `broken image: ${src}`);
        check(
          v.errors.length === 0 && images.length === 0,
          `${path} loads: no console error, no failed request, no broken image`,
          [...v.errors, ...images].join("\n"),
        );
        check(
          v.narrow.scrollWidth > 0 && v.narrow.scrollWidth <= NARROW.width,
          `${path} fits 375 px: no sideways scrolling (scrollWidth ${v.narrow.scrollWidth})`,
          v.narrow.overflowing.join("\n"),
        );
        await v.page.close();
      }
    };
    const pagesStarted = Date.now();
    await Promise.all(Array.from({ length: TABS }, worker));
    // A figure for a person reading the log, never a verdict.
    console.log(dim(`(${pages.length} pages visited in ${((Date.now() - pagesStarted) / 1000).toFixed(1)} s)`));

    // Links and anchors, now that every page's ids are known.
    const broken: string[] = [];
    let internal = 0;
    let anchors = 0;
    for (const [from, links] of linksOf) {
      for (const { href, raw } of links) {
        let url: URL;
        try {
          url = new URL(href);
        } catch {
          broken.push(`${from}: unparseable href "${raw}"`);
          continue;
        }
        if (url.origin !== origin) continue;
        internal++;
        const file = resolveSitePath(url.pathname, site);
        if (file === undefined) {
          broken.push(`${from}: "${raw}" leads nowhere (${url.pathname})`);
          continue;
        }
        if (url.hash.length > 1) {
          anchors++;
          const ids = idsOf.get(pageKey(url.pathname));
          const id = decodeURIComponent(url.hash.slice(1));
          if (ids === undefined) broken.push(`${from}: "${raw}" has an anchor, but ${url.pathname} is not a page`);
          else if (!ids.has(id)) broken.push(`${from}: "${raw}": no element with id "${id}" on ${pageKey(url.pathname)}`);
        }
      }
    }
    check(
      broken.length === 0,
      `internal links: ${internal} links (${anchors} with an #anchor) on ${pages.length} pages lead to existing pages and elements`,
      [...new Set(broken)].join("\n"),
    );
    readingOrderChecks(pages, nextOf, mapOf);
    check(layout.cutTables.length === 0, `at 375 px, every table wider than the page says it scrolls sideways (a scroll cue)`, layout.cutTables.join("\n"));
    check(layout.splitNumbers.length === 0, `numbers keep their digits together: no plain space between thousands ("65 535" would wrap mid-number)`, layout.splitNumbers.join("\n"));
    check(layout.tinyDiagramText.length === 0, `at 375 px, no diagram draws its text below ${MIN_DIAGRAM_PX} px (a narrow version replaces a wide one)`, layout.tinyDiagramText.join("\n"));
    if (pages.includes("/")) await doing("the home page's hero", () => heroCheck(context, origin));
    if (pages.includes("/reference/coverage")) await doing("the coverage page", () => coverageChecks(context, origin));
    if (SCREENSHOTS) {
      check(
        shotProblems.length === 0,
        `screenshots of ${pages.length} pages at 1280 and 375 px in ${relative(root, SHOTS)}/`,
        shotProblems.join("\n"),
      );
    }

    if (pages.includes("/tools")) await doing("the widget checks on /tools", () => widgetChecks(context, origin, echoUrl, serverCloses));
    else check(false, "the widgets page /tools exists (docs/tools.md)");
    if (pages.includes("/chapters/13-rooms")) await doing("the chat room checks on /chapters/13-rooms", () => chatRoomChecks(context, origin, chatUrl, restartChat, check));
    if (pages.includes("/tools")) await doing("the widgets with WebAssembly on and off", () => wasmOffChecks(origin, check));
    await doing('the "yours" checks on the dev server', () => yoursChecks(context));
  } catch (error) {
    check(false, "the site test ran to the end", (error as Error).stack ?? String(error));
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await Promise.race([Promise.resolve().then(cleanup), new Promise((r) => setTimeout(r, 5_000))]).catch(() => undefined);
    }
    clearTimeout(guard);
  }
  return { passed, failed };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const started = Date.now();
  const { passed: ok, failed: bad } = await runSiteTest({ build: process.argv.includes("--build"), yoursOnly: process.argv.includes("--yours-only") });
  console.log(`\n${ok} passed, ${bad} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exit(bad === 0 ? 0 : 1);
}
