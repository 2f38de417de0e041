/**
 * Three-letter residue names and their one-letter codes: the 20 standard amino acids, and common
 * modified residues read as their parent. One table for the whole SDK (readers, numbering
 * scripts, the viewer); no Node imports, so the viewer's browser build uses it too.
 */

/** The 20 standard amino acids. */
export const STANDARD_RESIDUES: Readonly<Record<string, string>> = {
  ALA: 'A',
  ARG: 'R',
  ASN: 'N',
  ASP: 'D',
  CYS: 'C',
  GLN: 'Q',
  GLU: 'E',
  GLY: 'G',
  HIS: 'H',
  ILE: 'I',
  LEU: 'L',
  LYS: 'K',
  MET: 'M',
  PHE: 'F',
  PRO: 'P',
  SER: 'S',
  THR: 'T',
  TRP: 'W',
  TYR: 'Y',
  VAL: 'V',
};

/** Common modified residues, read as their parent amino acid. */
export const MODIFIED_RESIDUES: Readonly<Record<string, string>> = {
  MSE: 'M',
  PCA: 'Q',
  SEP: 'S',
  TPO: 'T',
  PTR: 'Y',
  CSO: 'C',
  HYP: 'P',
};

/** The one-letter code of a residue name (a modified residue's parent), or undefined for anything else. */
export function residueLetter(name: string): string | undefined {
  const n = name.toUpperCase();
  return STANDARD_RESIDUES[n] ?? MODIFIED_RESIDUES[n];
}

/** One-letter code of a residue name (`X` for unknown). */
export function oneLetter(name: string): string {
  return residueLetter(name) ?? 'X';
}
