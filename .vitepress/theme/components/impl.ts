/// <reference types="vite/client" />
/**
 * "reference | yours": where a widget's chapter code comes from.
 *
 * The reference is imported as always (solutions/, bundled into the site). The
 * reader's code exists only under `npm start`: scripts/start.ts hands the dev
 * server the path of chapters/ as VITE_WORKBOOK_CHAPTERS, and the widget imports
 * the reader's file from there through Vite (`/@fs/...`), as it is on disk now.
 * A built site has no reader files, so there the switch is disabled and says why.
 *
 * Chapter 02 imports node:crypto, which no page has: its functions run in the
 * dev server instead (the `/__workbook/02-handshake` route of .vitepress/config.ts).
 */
import { onMounted, ref, shallowRef, watch } from "vue";
import { NotImplementedError } from "../../../lib/not-implemented.ts";
import * as ref03 from "../../../solutions/03-masking.ts";
import * as ref04 from "../../../solutions/04-frames.ts";
import * as ref05 from "../../../solutions/05-messages.ts";
import * as ref06 from "../../../solutions/06-closing.ts";
import * as ref12 from "../../../solutions/12-extensions.ts";

const REFERENCE = { "03-masking": ref03, "04-frames": ref04, "05-messages": ref05, "06-closing": ref06, "12-extensions": ref12 };
export type Modules = typeof REFERENCE;
export type ChapterId = keyof Modules;
export type Source = "reference" | "yours";

/** The reader's chapters/ folder, only under the dev server (`npm start`); never baked into a build. */
const READER_DIR: string = import.meta.env.DEV ? (import.meta.env.VITE_WORKBOOK_CHAPTERS ?? "") : "";
export const yoursAvailable = READER_DIR !== "";

/** A stub's `throw new NotImplementedError(...)`: the reader has not written that function yet. */
export function isNotImplemented(error: unknown): error is Error {
  // By name as well: a module loaded twice (another URL) has a class of its own.
  return error instanceof NotImplementedError || (error instanceof Error && error.name === "NotImplementedError");
}

/** What a widget shows instead of a result when the code it ran threw something it did not expect. */
export function problemOf(error: unknown, source: Source): { notWritten?: string; crashed?: string } {
  if (isNotImplemented(error)) return { notWritten: error.message };
  if (source === "yours") return { crashed: `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? String(error)}` };
  throw error; // the reference failing is a bug of the site: let it show as one
}

async function loadYours(id: ChapterId): Promise<unknown> {
  // A fresh URL each time, so that a file saved since the last load is read again.
  const path = READER_DIR.replaceAll("\\", "/").replace(/^\/?/, "/");
  return import(/* @vite-ignore */ `/@fs${path}/${id}.ts?t=${Date.now()}`);
}

const storageKey = (widget: string) => `workbook-impl:${widget}`;

/**
 * The chapters a widget runs, from the source its switch names. `modules` is
 * undefined while the reader's files load, or when one could not be loaded
 * (`loadError` says why).
 */
export function useChapters<K extends ChapterId>(widget: string, ids: readonly K[]) {
  const source = ref<Source>("reference");
  const reference = Object.fromEntries(ids.map((id) => [id, REFERENCE[id]])) as Pick<Modules, K>;
  const modules = shallowRef<Pick<Modules, K> | undefined>(reference);
  const loadError = ref("");
  const files = ids.map((id) => `chapters/${id}.ts`);
  let generation = 0;

  watch(source, async (now) => {
    const mine = ++generation;
    loadError.value = "";
    if (yoursAvailable) sessionStorage.setItem(storageKey(widget), now);
    if (now === "reference") {
      modules.value = reference;
      return;
    }
    modules.value = undefined;
    try {
      const loaded = await Promise.all(ids.map(async (id) => [id, await loadYours(id)] as const));
      if (mine === generation) modules.value = Object.fromEntries(loaded) as Pick<Modules, K>;
    } catch (error) {
      if (mine === generation) loadError.value = `Your ${files.join(", ")} could not be loaded: ${(error as Error).message}`;
    }
  });
  // The choice survives the page reload Vite does when a chapter file is saved.
  onMounted(() => {
    if (yoursAvailable && sessionStorage.getItem(storageKey(widget)) === "yours") source.value = "yours";
  });
  return { source, modules, loadError, files };
}

/** Runs the reader's chapter 02 `name(...args)` in the dev server (node:crypto is not in a page). */
export async function runHandshakeInServer(name: string, args: unknown[]): Promise<{ value?: unknown; notWritten?: string; crashed?: string }> {
  const response = await fetch("/__workbook/02-handshake", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, args }),
  });
  return (await response.json()) as { value?: unknown; notWritten?: string; crashed?: string };
}
