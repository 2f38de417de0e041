/**
 * Finding and starting the system's Chromium for headless rendering. balmkit never downloads a
 * browser: it uses the one installed (Debian: `apt-get install -y chromium`) through
 * playwright-core.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Where Chromium is looked for when `BALMKIT_CHROMIUM` is not set, in order. */
export const CHROMIUM_CANDIDATES: readonly string[] = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

/**
 * Chromium's flags for headless rendering here: no sandbox (runs as root in containers), no
 * background connections (a closed network refuses them, many at a time), /tmp rather than a
 * small container /dev/shm. Without a GPU, WebGL runs on SwiftShader, Chromium's CPU renderer,
 * which Mol* draws with.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-swiftshader',
  '--disable-dev-shm-usage',
];

/** The Chromium executable: `BALMKIT_CHROMIUM`, else the first of {@link CHROMIUM_CANDIDATES}; undefined when none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.BALMKIT_CHROMIUM?.trim();
  if (fromEnv) return fromEnv;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

/**
 * Starts headless Chromium with {@link CHROMIUM_FLAGS}. playwright-core gives it a fresh, empty
 * temporary profile and removes it on `close()`.
 *
 * @throws Error saying how to install Chromium when none is found.
 */
export async function launchChromium(executablePath = findChromium()): Promise<Browser> {
  if (executablePath === undefined || !existsSync(executablePath)) {
    throw new Error(`no Chromium found${executablePath ? ` at ${executablePath}` : ''}: install it (Debian/Ubuntu: apt-get install -y chromium) ` + 'or set BALMKIT_CHROMIUM to its executable');
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_FLAGS] });
}
