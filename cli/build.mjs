#!/usr/bin/env node
/**
 * Builds `dist/` from a source checkout when it is missing or older than its sources, so that
 * `npx balmkit` and `npm test` work straight after `npm install` (the repository's .npmrc sets
 * `ignore-scripts`, which keeps onnxruntime-node's CUDA download from running and with it this
 * package's own `prepare`). Two parts, each rebuilt only when stale: the library and CLI
 * (`tsc -p tsconfig.build.json`) and the viewer page (`vite build`).
 *
 * Safe when several processes start at once: one builds under a lock folder, the others wait for
 * it and then find `dist/` fresh. Plain JavaScript because it runs before anything is compiled.
 *
 * `node cli/build.mjs` builds what is stale and prints nothing when nothing is; `--force` rebuilds.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LOCK = join(ROOT, 'dist', '.build-lock');
const STALE_LOCK_MS = 5 * 60_000;

const PARTS = [
  {
    name: 'library and CLI',
    output: join(ROOT, 'dist', 'cli', 'main.js'),
    sources: ['src', 'cli', 'package.json', 'tsconfig.json', 'tsconfig.build.json'],
    command: [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  },
  {
    name: 'viewer',
    output: join(ROOT, 'dist', 'viewer', 'index.html'),
    sources: ['viewer', 'package.json'],
    command: [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '-c', 'viewer/vite.config.ts'],
  },
];

function mtime(p) {
  return statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;
}

function newest(p) {
  const st = statSync(p, { throwIfNoEntry: false });
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let n = st.mtimeMs;
  for (const e of readdirSync(p)) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    n = Math.max(n, newest(join(p, e)));
  }
  return n;
}

/** Whether this is a source checkout (an installed npm package has `dist/` and no `src/`). */
export function isSourceCheckout() {
  return statSync(join(ROOT, 'src'), { throwIfNoEntry: false })?.isDirectory() === true;
}

function staleParts() {
  return PARTS.filter((p) => {
    const built = mtime(p.output);
    return built === 0 || Math.max(...p.sources.map((s) => newest(join(ROOT, s)))) >= built;
  });
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the build lock, waiting for another process's build; false when it timed out. */
function lock() {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      return true;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (Date.now() - mtime(LOCK) > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) return false;
      else sleep(200);
    }
  }
}

/**
 * Builds the stale parts of `dist/`. Says what it does on stderr (a build takes ~10 s); silent
 * when everything is fresh. Throws with the compiler's output when a build fails.
 */
export function ensureBuilt({ force = false, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (!isSourceCheckout()) return;
  if (!force && staleParts().length === 0) return;
  if (!lock()) throw new Error(`balmkit: another build holds ${LOCK} for over 10 minutes; remove it and try again`);
  try {
    // Another process may have built while this one waited for the lock.
    const parts = force ? PARTS : staleParts();
    for (const part of parts) {
      const t0 = Date.now();
      log(`balmkit: building the ${part.name} from the sources (${part.output === PARTS[0].output ? 'tsc' : 'vite'}) …`);
      const r = spawnSync(process.execPath, part.command, { cwd: ROOT, encoding: 'utf8' });
      if (r.status !== 0 || mtime(part.output) < t0 - 1000) {
        throw new Error(`balmkit: building the ${part.name} failed (${part.command.slice(1).join(' ')}):\n${r.stdout}${r.stderr}`);
      }
      log(`balmkit: built the ${part.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureBuilt({ force: process.argv.includes('--force') });
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
