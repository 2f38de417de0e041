/**
 * Where balmkit is installed and where it looks for models.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The balmkit package folder (the one holding its `package.json`), found by walking up from this
 * module; works from the sources (`src/runtime`) and from the build (`dist/src/runtime`).
 *
 * @throws Error if no balmkit `package.json` is found above this module.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      const name = (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: unknown }).name;
      if (name === 'balmkit') {
        root = dir;
        return dir;
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`balmkit's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** balmkit's version, from its `package.json`. */
export function packageVersion(): string {
  const pj = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pj.version === 'string' ? pj.version : '0.0.0';
}

/** One folder models are looked up in. */
export interface ModelSearchPath {
  /** `BALMKIT_MODELS` (user folders, searched first) or `package` (the weights shipped with balmkit). */
  source: 'BALMKIT_MODELS' | 'package';
  path: string;
  exists: boolean;
}

/**
 * The folders models are looked up in, in order: each entry of `$BALMKIT_MODELS` (a
 * `path.delimiter`-separated list, resolved against the working directory), then the package's
 * own `models/` folder.
 */
export function modelSearchPaths(env: NodeJS.ProcessEnv = process.env): ModelSearchPath[] {
  const out: ModelSearchPath[] = [];
  for (const p of (env.BALMKIT_MODELS ?? '').split(path.delimiter)) {
    if (p.trim() === '') continue;
    const abs = path.resolve(p.trim());
    out.push({ source: 'BALMKIT_MODELS', path: abs, exists: isDir(abs) });
  }
  const shipped = path.join(packageRoot(), 'models');
  out.push({ source: 'package', path: shipped, exists: isDir(shipped) });
  return out;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
