/**
 * The shared data set (../shared/data) for tests: a path when it is there; under CI=true its
 * absence is a failure (thrown at collection); elsewhere null, with a message, and the suite skips.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHARED_DATA = join(fileURLToPath(new URL('../', import.meta.url)), '..', 'shared', 'data');

/** Absolute paths of `rels` under ../shared/data, or null (skip) when any is missing. */
export function sharedData(what: string, ...rels: string[]): string[] | null {
  const paths = rels.map((r) => join(SHARED_DATA, r));
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return paths;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${missing.join(', ')} is missing (${what} needs ../shared/data)`);
  console.warn(`skipping ${what}: ${missing.join(', ')} not found (the shared data set lives beside the repository, never in it)`);
  return null;
}
