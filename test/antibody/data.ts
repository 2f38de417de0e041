/** The shared data set for antibody tests: present, or fail under CI=true, or skip with a message. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedData } from '../shared-data.js';

export const DATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data');

/** Whether `../shared/data/<rel>` exists; under CI=true a missing file throws instead. */
export function haveData(rel: string): boolean {
  return sharedData('the antibody tests', rel) !== null;
}
