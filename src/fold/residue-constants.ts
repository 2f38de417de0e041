/**
 * Ideal residue geometry of the 20 amino acids, as data: the rigid groups of AlphaFold2
 * (supplement §1.8, Table 2), the atoms each group carries with their ideal positions, and the
 * chi angles. Values are the published ones (AF2 supplement; openfold `residue_constants.py`),
 * which derive from Engh & Huber (1991) ideal geometry.
 *
 * Rigid groups (index: name — the torsion that moves it):
 *   0 backbone (N, CA, C, CB) · 1 pre-omega (no heavy atom) · 2 phi (no heavy atom) ·
 *   3 psi (O) · 4–7 chi1–chi4.
 * Atom positions are in their group's frame: the x axis runs along the rotation axis and ends at
 * the origin (the axis-end atom), and the atom that defines the torsion lies in the xy plane with
 * y > 0. Backbone-group positions are in the backbone frame (CA at the origin, C on +x, N in the
 * xy plane).
 */

/** The 20 amino acids in AlphaFold2's order (three-letter codes sorted alphabetically). */
export const RESTYPES = ['A', 'R', 'N', 'D', 'C', 'Q', 'E', 'G', 'H', 'I', 'L', 'K', 'M', 'F', 'P', 'S', 'T', 'W', 'Y', 'V'] as const;

/** A one-letter amino-acid code of the 20 standard residues. */
export type AminoAcid = (typeof RESTYPES)[number];

/** Three-letter codes in {@link RESTYPES} order. */
export const RESNAMES = ['ALA', 'ARG', 'ASN', 'ASP', 'CYS', 'GLN', 'GLU', 'GLY', 'HIS', 'ILE', 'LEU', 'LYS', 'MET', 'PHE', 'PRO', 'SER', 'THR', 'TRP', 'TYR', 'VAL'] as const;

/** Number of residue types (20). */
export const NUM_RESTYPES = RESTYPES.length;

/** Index of a one-letter code in {@link RESTYPES}, or -1. */
export function restypeIndex(letter: string): number {
  return (RESTYPES as readonly string[]).indexOf(letter);
}

/** Index of a three-letter code in {@link RESNAMES}, or -1. */
export function resnameIndex(name: string): number {
  return (RESNAMES as readonly string[]).indexOf(name);
}

/** Rigid group indices. */
export const GROUP = { backbone: 0, preOmega: 1, phi: 2, psi: 3, chi1: 4, chi2: 5, chi3: 6, chi4: 7 } as const;
/** Number of rigid groups per residue. */
export const NUM_GROUPS = 8;
/** Atom slots per residue in the compact "atom14" layout. */
export const ATOMS_PER_RESIDUE = 14;

/** An atom of a rigid group: name, group index, ideal position in the group frame (Å). */
export type GroupAtom = readonly [name: string, group: number, x: number, y: number, z: number];

/**
 * Heavy atoms of each residue in their rigid groups (AF2 supplement Table 2 /
 * `rigid_group_atom_positions`). Keyed by three-letter code.
 */
export const RIGID_GROUP_ATOMS: Readonly<Record<string, readonly GroupAtom[]>> = {
  ALA: [
    ['N', 0, -0.525, 1.363, 0.0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.526, 0, 0],
    ['CB', 0, -0.529, -0.774, -1.205],
    ['O', 3, 0.627, 1.062, 0.0],
  ],
  ARG: [
    ['N', 0, -0.524, 1.362, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.525, 0, 0],
    ['CB', 0, -0.524, -0.778, -1.209],
    ['O', 3, 0.626, 1.062, 0],
    ['CG', 4, 0.616, 1.39, 0],
    ['CD', 5, 0.564, 1.414, 0],
    ['NE', 6, 0.539, 1.357, 0],
    ['NH1', 7, 0.206, 2.301, 0],
    ['NH2', 7, 2.078, 0.978, 0],
    ['CZ', 7, 0.758, 1.093, 0],
  ],
  ASN: [
    ['N', 0, -0.536, 1.357, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.526, 0, 0],
    ['CB', 0, -0.531, -0.787, -1.2],
    ['O', 3, 0.625, 1.062, 0],
    ['CG', 4, 0.584, 1.399, 0],
    ['ND2', 5, 0.593, -1.188, 0.001],
    ['OD1', 5, 0.633, 1.059, 0],
  ],
  ASP: [
    ['N', 0, -0.525, 1.362, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.527, 0, 0],
    ['CB', 0, -0.526, -0.778, -1.208],
    ['O', 3, 0.626, 1.062, 0],
    ['CG', 4, 0.593, 1.398, 0],
    ['OD1', 5, 0.61, 1.091, 0],
    ['OD2', 5, 0.592, -1.101, -0.003],
  ],
  CYS: [
    ['N', 0, -0.522, 1.362, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.524, 0, 0],
    ['CB', 0, -0.519, -0.773, -1.212],
    ['O', 3, 0.625, 1.062, 0],
    ['SG', 4, 0.728, 1.653, 0],
  ],
  GLN: [
    ['N', 0, -0.526, 1.361, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.526, 0, 0],
    ['CB', 0, -0.525, -0.779, -1.207],
    ['O', 3, 0.626, 1.062, 0],
    ['CG', 4, 0.615, 1.393, 0],
    ['CD', 5, 0.587, 1.399, 0],
    ['NE2', 6, 0.593, -1.189, -0.001],
    ['OE1', 6, 0.634, 1.06, 0],
  ],
  GLU: [
    ['N', 0, -0.528, 1.361, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.526, 0, 0],
    ['CB', 0, -0.526, -0.781, -1.207],
    ['O', 3, 0.626, 1.062, 0],
    ['CG', 4, 0.615, 1.392, 0],
    ['CD', 5, 0.6, 1.397, 0],
    ['OE1', 6, 0.607, 1.095, 0],
    ['OE2', 6, 0.589, -1.104, -0.001],
  ],
  GLY: [
    ['N', 0, -0.572, 1.337, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.517, 0, 0],
    ['O', 3, 0.626, 1.062, 0],
  ],
  HIS: [
    ['N', 0, -0.527, 1.36, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.525, 0, 0],
    ['CB', 0, -0.525, -0.778, -1.208],
    ['O', 3, 0.625, 1.063, 0],
    ['CG', 4, 0.6, 1.37, 0],
    ['CD2', 5, 0.889, -1.021, 0.003],
    ['ND1', 5, 0.744, 1.16, 0],
    ['CE1', 5, 2.03, 0.851, 0.002],
    ['NE2', 5, 2.145, -0.466, 0.004],
  ],
  ILE: [
    ['N', 0, -0.493, 1.373, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.527, 0, 0],
    ['CB', 0, -0.536, -0.793, -1.213],
    ['O', 3, 0.627, 1.062, 0],
    ['CG1', 4, 0.534, 1.437, 0],
    ['CG2', 4, 0.54, -0.785, -1.199],
    ['CD1', 5, 0.619, 1.391, 0],
  ],
  LEU: [
    ['N', 0, -0.52, 1.363, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.525, 0, 0],
    ['CB', 0, -0.522, -0.773, -1.214],
    ['O', 3, 0.625, 1.063, 0],
    ['CG', 4, 0.678, 1.371, 0],
    ['CD1', 5, 0.53, 1.43, 0],
    ['CD2', 5, 0.535, -0.774, 1.2],
  ],
  LYS: [
    ['N', 0, -0.526, 1.362, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.526, 0, 0],
    ['CB', 0, -0.524, -0.778, -1.208],
    ['O', 3, 0.626, 1.062, 0],
    ['CG', 4, 0.619, 1.39, 0],
    ['CD', 5, 0.559, 1.417, 0],
    ['CE', 6, 0.56, 1.416, 0],
    ['NZ', 7, 0.554, 1.387, 0],
  ],
  MET: [
    ['N', 0, -0.521, 1.364, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.525, 0, 0],
    ['CB', 0, -0.523, -0.776, -1.21],
    ['O', 3, 0.625, 1.062, 0],
    ['CG', 4, 0.613, 1.391, 0],
    ['SD', 5, 0.703, 1.695, 0],
    ['CE', 6, 0.32, 1.786, 0],
  ],
  PHE: [
    ['N', 0, -0.518, 1.363, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.524, 0, 0],
    ['CB', 0, -0.525, -0.776, -1.212],
    ['O', 3, 0.626, 1.062, 0],
    ['CG', 4, 0.607, 1.377, 0],
    ['CD1', 5, 0.709, 1.195, 0],
    ['CD2', 5, 0.706, -1.196, 0],
    ['CE1', 5, 2.102, 1.198, 0],
    ['CE2', 5, 2.098, -1.201, 0],
    ['CZ', 5, 2.794, -0.003, -0.001],
  ],
  // PRO CD: AF2 widens the CB-CG-CD angle by 2° over the literature position (0.427, 1.440, 0).
  PRO: [
    ['N', 0, -0.566, 1.351, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.527, 0, 0],
    ['CB', 0, -0.546, -0.611, -1.293],
    ['O', 3, 0.621, 1.066, 0],
    ['CG', 4, 0.382, 1.445, 0],
    ['CD', 5, 0.477, 1.424, 0],
  ],
  SER: [
    ['N', 0, -0.529, 1.36, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.525, 0, 0],
    ['CB', 0, -0.518, -0.777, -1.211],
    ['O', 3, 0.626, 1.062, 0],
    ['OG', 4, 0.503, 1.325, 0],
  ],
  THR: [
    ['N', 0, -0.517, 1.364, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.526, 0, 0],
    ['CB', 0, -0.516, -0.793, -1.215],
    ['O', 3, 0.626, 1.062, 0],
    ['CG2', 4, 0.55, -0.718, -1.228],
    ['OG1', 4, 0.472, 1.353, 0],
  ],
  TRP: [
    ['N', 0, -0.521, 1.363, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.525, 0, 0],
    ['CB', 0, -0.523, -0.776, -1.212],
    ['O', 3, 0.627, 1.062, 0],
    ['CG', 4, 0.609, 1.37, 0],
    ['CD1', 5, 0.824, 1.091, 0],
    ['CD2', 5, 0.854, -1.148, -0.005],
    ['CE2', 5, 2.186, -0.678, -0.007],
    ['CE3', 5, 0.622, -2.53, -0.007],
    ['NE1', 5, 2.14, 0.69, -0.004],
    ['CH2', 5, 3.028, -2.89, -0.013],
    ['CZ2', 5, 3.283, -1.543, -0.011],
    ['CZ3', 5, 1.715, -3.389, -0.011],
  ],
  TYR: [
    ['N', 0, -0.522, 1.362, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.524, 0, 0],
    ['CB', 0, -0.522, -0.776, -1.213],
    ['O', 3, 0.627, 1.062, 0],
    ['CG', 4, 0.607, 1.382, 0],
    ['CD1', 5, 0.716, 1.195, 0],
    ['CD2', 5, 0.713, -1.194, -0.001],
    ['CE1', 5, 2.107, 1.2, -0.002],
    ['CE2', 5, 2.104, -1.201, -0.003],
    ['OH', 5, 4.168, -0.002, -0.005],
    ['CZ', 5, 2.791, -0.001, -0.003],
  ],
  VAL: [
    ['N', 0, -0.494, 1.373, 0],
    ['CA', 0, 0, 0, 0],
    ['C', 0, 1.527, 0, 0],
    ['CB', 0, -0.533, -0.795, -1.213],
    ['O', 3, 0.627, 1.062, 0],
    ['CG1', 4, 0.54, 1.429, 0],
    ['CG2', 4, 0.533, -0.776, 1.203],
  ],
};

/**
 * Chi angles: the four atoms of each dihedral, chi1 first (AF2 `chi_angles_atoms`). Arginine's
 * chi5 is always 0 ± 5° and is left out.
 */
export const CHI_ANGLE_ATOMS: Readonly<Record<string, readonly (readonly [string, string, string, string])[]>> = {
  ALA: [],
  ARG: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD'],
    ['CB', 'CG', 'CD', 'NE'],
    ['CG', 'CD', 'NE', 'CZ'],
  ],
  ASN: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'OD1'],
  ],
  ASP: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'OD1'],
  ],
  CYS: [['N', 'CA', 'CB', 'SG']],
  GLN: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD'],
    ['CB', 'CG', 'CD', 'OE1'],
  ],
  GLU: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD'],
    ['CB', 'CG', 'CD', 'OE1'],
  ],
  GLY: [],
  HIS: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'ND1'],
  ],
  ILE: [
    ['N', 'CA', 'CB', 'CG1'],
    ['CA', 'CB', 'CG1', 'CD1'],
  ],
  LEU: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD1'],
  ],
  LYS: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD'],
    ['CB', 'CG', 'CD', 'CE'],
    ['CG', 'CD', 'CE', 'NZ'],
  ],
  MET: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'SD'],
    ['CB', 'CG', 'SD', 'CE'],
  ],
  PHE: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD1'],
  ],
  PRO: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD'],
  ],
  SER: [['N', 'CA', 'CB', 'OG']],
  THR: [['N', 'CA', 'CB', 'OG1']],
  TRP: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD1'],
  ],
  TYR: [
    ['N', 'CA', 'CB', 'CG'],
    ['CA', 'CB', 'CG', 'CD1'],
  ],
  VAL: [['N', 'CA', 'CB', 'CG1']],
};

/**
 * Chi angles that are π-periodic (a symmetric end group: ASP chi2, GLU chi3, PHE/TYR chi2):
 * rotating by 180° gives the same structure up to renaming.
 */
export const CHI_PI_PERIODIC: Readonly<Record<string, readonly number[]>> = { ASP: [1], GLU: [2], PHE: [1], TYR: [1] };

/**
 * Atom names in the compact atom14 layout: N, CA, C, O, then side-chain atoms; '' is an empty slot.
 * Same order as AF2's `restype_name_to_atom14_names`.
 */
export const ATOM14_NAMES: Readonly<Record<string, readonly string[]>> = {
  ALA: ['N', 'CA', 'C', 'O', 'CB'],
  ARG: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD', 'NE', 'CZ', 'NH1', 'NH2'],
  ASN: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'OD1', 'ND2'],
  ASP: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'OD1', 'OD2'],
  CYS: ['N', 'CA', 'C', 'O', 'CB', 'SG'],
  GLN: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD', 'OE1', 'NE2'],
  GLU: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD', 'OE1', 'OE2'],
  GLY: ['N', 'CA', 'C', 'O'],
  HIS: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'ND1', 'CD2', 'CE1', 'NE2'],
  ILE: ['N', 'CA', 'C', 'O', 'CB', 'CG1', 'CG2', 'CD1'],
  LEU: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD1', 'CD2'],
  LYS: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD', 'CE', 'NZ'],
  MET: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'SD', 'CE'],
  PHE: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD1', 'CD2', 'CE1', 'CE2', 'CZ'],
  PRO: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD'],
  SER: ['N', 'CA', 'C', 'O', 'CB', 'OG'],
  THR: ['N', 'CA', 'C', 'O', 'CB', 'OG1', 'CG2'],
  TRP: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD1', 'CD2', 'NE1', 'CE2', 'CE3', 'CZ2', 'CZ3', 'CH2'],
  TYR: ['N', 'CA', 'C', 'O', 'CB', 'CG', 'CD1', 'CD2', 'CE1', 'CE2', 'CZ', 'OH'],
  VAL: ['N', 'CA', 'C', 'O', 'CB', 'CG1', 'CG2'],
};

/** Element of a standard heavy-atom name (first letter: C, N, O or S). */
export function elementOfAtomName(name: string): string {
  return name[0] ?? '';
}

/** Van der Waals radii (Å) of the heavy elements (Bondi, as AF2 uses). */
export const VAN_DER_WAALS_RADIUS: Readonly<Record<string, number>> = { C: 1.7, N: 1.55, O: 1.52, S: 1.8 };
