/**
 * `balmkit view --screenshot`: the viewer page rendered headlessly in the system's Chromium and
 * saved as a PNG.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import type { ViewFile } from './files.js';
import { startViewServer } from './server.js';

/** Colourings of the viewer. */
export type ViewColorMode = 'chain' | 'region' | 'error';

/** Page settings shared by the server's URL and the screenshot. */
export interface ViewPageOptions {
  /** Index of the file to show first (default 0). */
  file?: number;
  color?: ViewColorMode;
  /** Index of an experimental structure to superpose the shown prediction on. */
  reference?: number;
  ballAndStick?: boolean;
  /** Numbering scheme of files without balmkit metadata (`imgt` enables region colouring). */
  scheme?: string;
  /** Show the side panel (default true). */
  panel?: boolean;
}

/** The page's URL under the server's base URL, with its query parameters. */
export function viewPageUrl(base: string, o: ViewPageOptions = {}): string {
  const q = new URLSearchParams();
  if (o.file !== undefined) q.set('file', String(o.file));
  if (o.color !== undefined) q.set('color', o.color);
  if (o.reference !== undefined) q.set('ref', String(o.reference));
  if (o.ballAndStick) q.set('bs', '1');
  if (o.scheme !== undefined) q.set('scheme', o.scheme);
  if (o.panel === false) q.set('panel', '0');
  const s = q.toString();
  return s === '' ? base : `${base}?${s}`;
}

/** What the page reported once ready. */
export interface ViewPageSummary {
  atomCount: number;
  chains: string[];
  colorMode: string;
  superposition: { reference: number; rmsd: number; pairs: number; method: 'numbering' | 'alignment'; description: string } | null;
}

/**
 * Waits until the page's `window.balmkitViewer` is ready (or failed) and returns its summary.
 *
 * @throws Error with the page's own message when it failed, or after `timeoutMs`.
 */
export async function waitForViewer(page: Page, timeoutMs = 60_000): Promise<ViewPageSummary> {
  // These functions run in the page, where the viewer defines `balmkitViewer` (viewer/src/state.ts).
  type PageGlobal = { balmkitViewer?: ViewPageSummary & { ready: boolean; error: string | null } };
  const handle = await page.waitForFunction(
    () => {
      const v = (globalThis as PageGlobal).balmkitViewer;
      return v !== undefined && (v.ready || v.error !== null) ? true : null;
    },
    undefined,
    { timeout: timeoutMs, polling: 100 },
  );
  await handle.dispose();
  const s = await page.evaluate(() => {
    const v = (globalThis as PageGlobal).balmkitViewer!;
    return { error: v.error, atomCount: v.atomCount, chains: v.chains, colorMode: v.colorMode, superposition: v.superposition };
  });
  if (s.error !== null) throw new Error(`the viewer page failed: ${s.error}`);
  return { atomCount: s.atomCount, chains: s.chains, colorMode: s.colorMode, superposition: s.superposition };
}

/** Options of {@link renderScreenshot}. */
export interface ScreenshotOptions extends ViewPageOptions {
  files: readonly ViewFile[];
  /** PNG to write (through a temporary name and a rename). */
  out: string;
  width?: number;
  height?: number;
  /** Chromium executable (default: found by {@link findChromium}). */
  chromium?: string;
}

/** Renders the page for `files` headlessly and writes a PNG; returns what the page showed. */
export async function renderScreenshot(o: ScreenshotOptions): Promise<ViewPageSummary> {
  const server = await startViewServer({ files: o.files });
  try {
    const browser = await launchChromium(o.chromium);
    try {
      const page = await browser.newPage({ viewport: { width: o.width ?? 1200, height: o.height ?? 800 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(viewPageUrl(server.url, o));
      let summary: ViewPageSummary;
      try {
        summary = await waitForViewer(page);
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}${errors.length > 0 ? `\npage errors: ${errors.join('; ')}` : ''}`, { cause: e });
      }
      const png = await page.screenshot({ type: 'png' });
      const tmp = `${o.out}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, png);
        await rename(tmp, o.out);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      return summary;
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}
