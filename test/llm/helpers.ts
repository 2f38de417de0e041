/** Shared by the LLM tests: fixture paths, the shared-data gate, comparisons. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { sharedData } from '../shared-data.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/llm/', import.meta.url));
export const fixture = (name: string): string => join(FIXTURES, name);

/** ../shared/data/lm: the aidreams260K llama2.c model and its tokenizer (paths; a gate for tests). */
export const SHARED_LM = sharedData('the llama2.c tests', 'lm/aidreams260K.bin', 'lm/tok512.bin');
export const [AIDREAMS, TOK512] = SHARED_LM.paths as [string, string];

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
