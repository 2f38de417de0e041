/** Shared by the LLM tests: fixture paths, the shared-data gate, comparisons. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { sharedData } from '../shared-data.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/llm/', import.meta.url));
export const fixture = (name: string): string => join(FIXTURES, name);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AIDREAMS = join(ROOT, '..', 'shared', 'data', 'lm', 'aidreams260K.bin');
export const TOK512 = join(ROOT, '..', 'shared', 'data', 'lm', 'tok512.bin');

/**
 * Whether ../shared/data/lm is here. Under CI=true its absence is a failure (thrown at collection);
 * elsewhere the suite is skipped with a message (a fresh clone has no ../shared).
 */
export function sharedLmAvailable(): boolean {
  return sharedData('the llama2.c parity tests', 'lm/aidreams260K.bin', 'lm/tok512.bin') !== null;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
