/** The shared data set for antibody tests: paths under ../shared/data and gates on them. */
import { SHARED_DATA, sharedData, type SharedData } from '../shared-data.js';

export const DATA = SHARED_DATA;

/** A gate on `../shared/data/<rel>` for `need(ctx, …)`: checked when the test runs. */
export function data(rel: string): SharedData {
  return sharedData('the antibody tests', rel);
}
