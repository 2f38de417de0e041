/**
 * Runs the built CLI (`node dist/cli/main.js …`) the way a user does. {@link ensureBuilt} rebuilds
 * what is stale, as `npx balmkit` does in a source checkout.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

/** Builds the stale parts of `dist/` (cli/build.mjs, the same step `npx balmkit` takes in a checkout). */
export function ensureBuilt(): void {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'cli', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cli/build.mjs failed:\n${r.stdout}${r.stderr}`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli/main.js ...args` with `env` added to a clean copy of the environment. */
export function balmkit(args: string[], env: Record<string, string | undefined> = {}): CliResult {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['BALMKIT_EP', 'BALMKIT_THREADS', 'BALMKIT_MODELS', 'BALMKIT_DEBUG', 'NODE_OPTIONS']) delete base[k];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, env: base, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Lines that look like a JavaScript stack frame. */
export function stackLines(s: string): string[] {
  return s.split('\n').filter((l) => /^\s+at /.test(l));
}
