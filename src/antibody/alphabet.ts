/**
 * The amino-acid alphabet the numbering profiles score: the 20 standard residues in a fixed
 * order, their background frequencies, and a byte table from letters to indices.
 */

/** The 20 standard amino acids, in the order profile rows are stored. */
export const AMINO_ACIDS = 'ACDEFGHIKLMNPQRSTVWY';

/** Index of the unknown residue `X`: scored as background (0 bits) everywhere. */
export const UNKNOWN_INDEX = 20;

/** Not a residue letter. */
export const INVALID_INDEX = 255;

/**
 * Background amino-acid frequencies (Robinson & Robinson 1991, the null model BLAST and HMMER
 * use), in {@link AMINO_ACIDS} order.
 */
export const BACKGROUND: readonly number[] = [
  0.07805, 0.01925, 0.05364, 0.06295, 0.03856, 0.07377, 0.02199, 0.05142, 0.05744, 0.09019, 0.02243, 0.04487, 0.05203, 0.04264, 0.05129, 0.0712, 0.05841, 0.06441, 0.0133, 0.03216,
];

/** Letter code (upper case) → index 0–19, {@link UNKNOWN_INDEX} for `X`, else {@link INVALID_INDEX}. */
export const RESIDUE_INDEX: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(INVALID_INDEX);
  for (let i = 0; i < AMINO_ACIDS.length; i++) t[AMINO_ACIDS.charCodeAt(i)] = i;
  t['X'.charCodeAt(0)] = UNKNOWN_INDEX;
  return t;
})();

/** Encodes an upper-case, validated sequence as residue indices (see {@link RESIDUE_INDEX}). */
export function encodeResidues(seq: string): Uint8Array {
  const out = new Uint8Array(seq.length);
  for (let i = 0; i < seq.length; i++) out[i] = RESIDUE_INDEX[seq.charCodeAt(i) & 0xff]!;
  return out;
}

/** Whether `c` (one character) is an accepted residue letter: the 20 standard ones or `X`. */
export function isResidueLetter(c: string): boolean {
  return c.length === 1 && RESIDUE_INDEX[c.charCodeAt(0) & 0xff] !== INVALID_INDEX && c.charCodeAt(0) < 128;
}
