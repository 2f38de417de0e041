/**
 * Runs the built CLI (`node dist/cli/main.js …`) the way a user does. {@link ensureBuilt} rebuilds
 * with `tsc -p tsconfig.build.json` only when a source is newer than `dist/cli/main.js`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

function newestMtime(p: string): number {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of fs.readdirSync(p)) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(path.join(p, e)));
  }
  return newest;
}

/** Builds `dist/` if `dist/cli/main.js` is missing or older than `src/`, `cli/`, package.json or the tsconfigs. */
export function ensureBuilt(): void {
  const built = fs.statSync(MAIN, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = Math.max(
    ...['src', 'cli', 'package.json', 'tsconfig.json', 'tsconfig.build.json'].map((p) => newestMtime(path.join(ROOT, p))),
  );
  if (built > sources) return;
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  const nowBuilt = fs.statSync(MAIN, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (nowBuilt <= built || nowBuilt === 0) {
    throw new Error(`npm run build did not produce ${MAIN}:\n${r.stdout}${r.stderr}`);
  }
  if (r.status !== 0) {
    // tsc still emits on type errors (possibly in files other than the CLI's); say so, go on.
    console.warn(`tsc -p tsconfig.build.json reported errors (dist was still written):\n${r.stdout}`);
  }
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
