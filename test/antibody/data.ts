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

/**
 * A protein back-translated with one codon per residue, the codons chosen so the other two frames
 * hit stops (GTA|GA… reads TAG, …T|GA… reads TGA): the test DNA of the translation tests.
 */
export function backTranslate(protein: string): string {
  const codon: Record<string, string> = { A: 'GCT', C: 'TGT', D: 'GAT', E: 'GAA', F: 'TTT', G: 'GGT', H: 'CAT', I: 'ATT', K: 'AAA', L: 'CTT' };
  Object.assign(codon, { M: 'ATG', N: 'AAT', P: 'CCT', Q: 'CAA', R: 'CGT', S: 'TCT', T: 'ACT', V: 'GTA', W: 'TGG', Y: 'TAT' });
  return [...protein].map((c) => codon[c]).join('');
}
