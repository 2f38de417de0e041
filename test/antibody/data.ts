/** The shared data set for antibody tests: present, or fail under CI=true, or skip with a message. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data');

/** Whether `../shared/data/<rel>` exists; under CI=true a missing file throws instead. */
export function haveData(rel: string): boolean {
  const ok = fs.existsSync(path.join(DATA, rel));
  if (!ok && process.env.CI === 'true') throw new Error(`CI=true and the shared data file ${path.join(DATA, rel)} is missing`);
  if (!ok) console.warn(`skipping: ${path.join(DATA, rel)} not found (the shared data set is not here)`);
  return ok;
}
