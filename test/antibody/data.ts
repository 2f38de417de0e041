/** The shared data set for antibody tests: paths under ../shared/data and gates on them. */
import { SHARED_DATA, sharedData, type SharedData } from '../shared-data.js';

export const DATA = SHARED_DATA;

/** A gate on `../shared/data/<rel>` for `need(ctx, …)`: checked when the test runs. */
export function data(rel: string): SharedData {
  return sharedData('the antibody tests', rel);
}

// 12e8 (PDB), a mouse IgG1 Fab: heavy and kappa chains with their constant domains.
export const H12E8 =
  'EVQLQQSGAEVVRSGASVKLSCTASGFNIKDYYIHWVKQRPEKGLEWIGWIDPEIGDTEYVPKFQGKATMTADTSSNTAYLQLSSLTSEDTAVYYCNAGHDYDRGRFPYWGQGTLVTVSAAKTTPPSVYPLAPGSAAQTNSMVTLGCLVKGYFPEPVTVTWNSGSLSSGVHTFPAVLQSDLYTLSSSVTVPSSTWPSETVTCNVAHPASSTKVDKKIVPRD';
export const L12E8 =
  'DIVMTQSQKFMSTSVGDRVSITCKASQNVGTAVAWYQQKPGQSPKLMIYSASNRYTGVPDRFTGSGSGTDFTLTISNMQSEDLADYFCQQYSSYPLTFGAGTKLELKRADAAPTVSIFPPSSEQLTSGGASVVCFLNNFYPKDINVKWKIDGSERQNGVLNSATDQDSKDSTYSMSSTLTLTKDEYERHNSYTCEATHKTSTSPIVKSFNRNEC';
export const VH12E8 = H12E8.slice(0, 120);
export const VL12E8 = L12E8.slice(0, 108);
