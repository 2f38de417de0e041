/**
 * Ideal bond lengths and bond angles of the 20 amino acids (Engh & Huber 1991, Acta Cryst A47,
 * 392–400; the values AlphaFold2 ships as `stereo_chemical_props.txt`), plus the peptide bond
 * between residues. These are independent of the rigid-group positions in
 * `residue-constants.ts`: tests rebuild residues from the groups and compare with these, and the
 * relaxation restrains towards them.
 */
import { RESNAMES } from './residue-constants.js';

/** An ideal bond: atoms, mean length and standard deviation (Å). */
export interface IdealBond {
  readonly a: string;
  readonly b: string;
  readonly length: number;
  readonly sd: number;
}

/** An ideal bond angle a–b–c: mean and standard deviation (degrees). */
export interface IdealAngle {
  readonly a: string;
  readonly b: string;
  readonly c: string;
  readonly degrees: number;
  readonly sd: number;
}

type BondRow = readonly [string, number, number];
type AngleRow = readonly [string, number, number];

// Backbone bonds and angles: most residues share one set; GLY and PRO have their own.
const BACKBONE_BONDS: BondRow[] = [
  ['N-CA', 1.459, 0.02],
  ['CA-C', 1.525, 0.026],
  ['C-O', 1.229, 0.019],
];
const BACKBONE_ANGLES: AngleRow[] = [
  ['N-CA-C', 111.0, 2.7],
  ['CA-C-O', 120.1, 2.1],
];
const GLY_BONDS: BondRow[] = [
  ['N-CA', 1.456, 0.015],
  ['CA-C', 1.514, 0.016],
  ['C-O', 1.232, 0.016],
];
const GLY_ANGLES: AngleRow[] = [
  ['N-CA-C', 113.1, 2.5],
  ['CA-C-O', 120.6, 1.8],
];
const PRO_BONDS: BondRow[] = [
  ['N-CA', 1.468, 0.017],
  ['CA-C', 1.524, 0.02],
  ['C-O', 1.228, 0.02],
];
const PRO_ANGLES: AngleRow[] = [
  ['N-CA-C', 112.1, 2.6],
  ['CA-C-O', 120.2, 2.4],
];

/** Side-chain bonds and angles per residue (the backbone ones are added below). */
const SIDE_CHAIN: Record<string, { bonds: BondRow[]; angles: AngleRow[] }> = {
  ALA: {
    bonds: [['CA-CB', 1.52, 0.021]],
    angles: [
      ['N-CA-CB', 110.1, 1.4],
      ['CB-CA-C', 110.1, 1.5],
    ],
  },
  ARG: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.521, 0.027],
      ['CG-CD', 1.515, 0.025],
      ['CD-NE', 1.46, 0.017],
      ['NE-CZ', 1.326, 0.013],
      ['CZ-NH1', 1.326, 0.013],
      ['CZ-NH2', 1.326, 0.013],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 2.2],
      ['CB-CG-CD', 111.6, 2.6],
      ['CG-CD-NE', 111.8, 2.1],
      ['CD-NE-CZ', 123.6, 1.4],
      ['NE-CZ-NH1', 120.3, 0.5],
      ['NE-CZ-NH2', 120.3, 0.5],
      ['NH1-CZ-NH2', 119.4, 1.1],
    ],
  },
  ASN: {
    bonds: [
      ['CA-CB', 1.527, 0.026],
      ['CB-CG', 1.506, 0.023],
      ['CG-OD1', 1.235, 0.022],
      ['CG-ND2', 1.324, 0.025],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 2.2],
      ['CB-CG-ND2', 116.7, 2.4],
      ['CB-CG-OD1', 121.6, 2.0],
      ['ND2-CG-OD1', 121.9, 2.3],
    ],
  },
  ASP: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.513, 0.021],
      ['CG-OD1', 1.249, 0.023],
      ['CG-OD2', 1.249, 0.023],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 2.2],
      ['CB-CG-OD1', 118.3, 0.9],
      ['CB-CG-OD2', 118.3, 0.9],
      ['OD1-CG-OD2', 123.3, 1.9],
    ],
  },
  CYS: {
    bonds: [
      ['CA-CB', 1.526, 0.013],
      ['CB-SG', 1.812, 0.016],
    ],
    angles: [
      ['N-CA-CB', 110.8, 1.5],
      ['CB-CA-C', 111.5, 1.2],
      ['CA-CB-SG', 114.2, 1.1],
    ],
  },
  GLN: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.521, 0.027],
      ['CG-CD', 1.506, 0.023],
      ['CD-OE1', 1.235, 0.022],
      ['CD-NE2', 1.324, 0.025],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 2.2],
      ['CB-CG-CD', 111.6, 2.6],
      ['CG-CD-OE1', 121.6, 2.0],
      ['CG-CD-NE2', 116.7, 2.4],
      ['OE1-CD-NE2', 121.9, 2.3],
    ],
  },
  GLU: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.517, 0.019],
      ['CG-CD', 1.515, 0.015],
      ['CD-OE1', 1.252, 0.011],
      ['CD-OE2', 1.252, 0.011],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 2.2],
      ['CB-CG-CD', 114.2, 2.7],
      ['CG-CD-OE1', 118.3, 2.0],
      ['CG-CD-OE2', 118.3, 2.0],
      ['OE1-CD-OE2', 123.3, 1.2],
    ],
  },
  GLY: { bonds: [], angles: [] },
  HIS: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.492, 0.016],
      ['CG-ND1', 1.369, 0.015],
      ['CG-CD2', 1.353, 0.017],
      ['ND1-CE1', 1.343, 0.025],
      ['CD2-NE2', 1.415, 0.021],
      ['CE1-NE2', 1.322, 0.023],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.6, 1.7],
      ['CB-CG-ND1', 123.2, 2.5],
      ['CB-CG-CD2', 130.8, 3.1],
      ['CG-ND1-CE1', 108.2, 1.4],
      ['ND1-CE1-NE2', 109.9, 2.2],
      ['CE1-NE2-CD2', 106.6, 2.5],
      ['NE2-CD2-CG', 109.2, 1.9],
      ['CD2-CG-ND1', 106.0, 1.4],
    ],
  },
  ILE: {
    bonds: [
      ['CA-CB', 1.544, 0.023],
      ['CB-CG1', 1.536, 0.028],
      ['CB-CG2', 1.524, 0.031],
      ['CG1-CD1', 1.5, 0.069],
    ],
    angles: [
      ['N-CA-CB', 110.8, 2.3],
      ['CB-CA-C', 111.6, 2.0],
      ['CA-CB-CG1', 111.0, 1.9],
      ['CB-CG1-CD1', 113.9, 2.8],
      ['CA-CB-CG2', 110.9, 2.0],
      ['CG1-CB-CG2', 111.4, 2.2],
    ],
  },
  LEU: {
    bonds: [
      ['CA-CB', 1.533, 0.023],
      ['CB-CG', 1.521, 0.029],
      ['CG-CD1', 1.514, 0.037],
      ['CG-CD2', 1.514, 0.037],
    ],
    angles: [
      ['N-CA-CB', 110.4, 2.0],
      ['CB-CA-C', 110.2, 1.9],
      ['CA-CB-CG', 115.3, 2.3],
      ['CB-CG-CD1', 111.0, 1.7],
      ['CB-CG-CD2', 111.0, 1.7],
      ['CD1-CG-CD2', 110.5, 3.0],
    ],
  },
  LYS: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.521, 0.027],
      ['CG-CD', 1.52, 0.034],
      ['CD-CE', 1.508, 0.025],
      ['CE-NZ', 1.486, 0.025],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 2.2],
      ['CB-CG-CD', 111.6, 2.6],
      ['CG-CD-CE', 111.9, 3.0],
      ['CD-CE-NZ', 111.7, 2.3],
    ],
  },
  MET: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.509, 0.032],
      ['CG-SD', 1.807, 0.026],
      ['SD-CE', 1.774, 0.056],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.3, 1.7],
      ['CB-CG-SD', 112.4, 3.0],
      ['CG-SD-CE', 100.2, 1.6],
    ],
  },
  PHE: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.509, 0.017],
      ['CG-CD1', 1.383, 0.015],
      ['CG-CD2', 1.383, 0.015],
      ['CD1-CE1', 1.388, 0.02],
      ['CD2-CE2', 1.388, 0.02],
      ['CE1-CZ', 1.369, 0.019],
      ['CE2-CZ', 1.369, 0.019],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.9, 2.4],
      ['CB-CG-CD1', 120.8, 0.7],
      ['CB-CG-CD2', 120.8, 0.7],
      ['CD1-CG-CD2', 118.3, 1.3],
      ['CG-CD1-CE1', 120.8, 1.1],
      ['CG-CD2-CE2', 120.8, 1.1],
      ['CD1-CE1-CZ', 120.1, 1.2],
      ['CD2-CE2-CZ', 120.1, 1.2],
      ['CE1-CZ-CE2', 120.0, 1.8],
    ],
  },
  PRO: {
    bonds: [
      ['CA-CB', 1.531, 0.02],
      ['CB-CG', 1.495, 0.05],
      ['CG-CD', 1.502, 0.033],
      ['CD-N', 1.474, 0.014],
    ],
    angles: [
      ['N-CA-CB', 103.3, 1.2],
      ['CB-CA-C', 111.7, 2.1],
      ['CA-CB-CG', 104.8, 1.9],
      ['CB-CG-CD', 106.5, 3.9],
      ['CG-CD-N', 103.2, 1.5],
      ['CA-N-CD', 111.7, 1.4],
    ],
  },
  SER: {
    bonds: [
      ['CA-CB', 1.525, 0.015],
      ['CB-OG', 1.418, 0.013],
    ],
    angles: [
      ['N-CA-CB', 110.5, 1.5],
      ['CB-CA-C', 110.1, 1.9],
      ['CA-CB-OG', 111.2, 2.7],
    ],
  },
  THR: {
    bonds: [
      ['CA-CB', 1.529, 0.026],
      ['CB-OG1', 1.428, 0.02],
      ['CB-CG2', 1.519, 0.033],
    ],
    angles: [
      ['N-CA-CB', 110.3, 1.9],
      ['CB-CA-C', 111.6, 2.7],
      ['CA-CB-OG1', 109.0, 2.1],
      ['CA-CB-CG2', 112.4, 1.4],
      ['OG1-CB-CG2', 110.0, 2.3],
    ],
  },
  TRP: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.498, 0.018],
      ['CG-CD1', 1.363, 0.014],
      ['CG-CD2', 1.432, 0.017],
      ['CD1-NE1', 1.375, 0.017],
      ['NE1-CE2', 1.371, 0.013],
      ['CD2-CE2', 1.409, 0.012],
      ['CD2-CE3', 1.399, 0.015],
      ['CE2-CZ2', 1.393, 0.017],
      ['CE3-CZ3', 1.38, 0.017],
      ['CZ2-CH2', 1.369, 0.019],
      ['CZ3-CH2', 1.396, 0.016],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.7, 1.9],
      ['CB-CG-CD1', 127.0, 1.3],
      ['CB-CG-CD2', 126.6, 1.3],
      ['CD1-CG-CD2', 106.3, 0.8],
      ['CG-CD1-NE1', 110.1, 1.0],
      ['CD1-NE1-CE2', 109.0, 0.9],
      ['NE1-CE2-CD2', 107.3, 1.0],
      ['CE2-CD2-CG', 107.3, 0.8],
      ['CG-CD2-CE3', 133.9, 0.9],
      ['NE1-CE2-CZ2', 130.4, 1.1],
      ['CE3-CD2-CE2', 118.7, 1.2],
      ['CD2-CE2-CZ2', 122.3, 1.2],
      ['CE2-CZ2-CH2', 117.4, 1.0],
      ['CZ2-CH2-CZ3', 121.6, 1.2],
      ['CH2-CZ3-CE3', 121.2, 1.1],
      ['CZ3-CE3-CD2', 118.8, 1.3],
    ],
  },
  TYR: {
    bonds: [
      ['CA-CB', 1.535, 0.022],
      ['CB-CG', 1.512, 0.015],
      ['CG-CD1', 1.387, 0.013],
      ['CG-CD2', 1.387, 0.013],
      ['CD1-CE1', 1.389, 0.015],
      ['CD2-CE2', 1.389, 0.015],
      ['CE1-CZ', 1.381, 0.013],
      ['CE2-CZ', 1.381, 0.013],
      ['CZ-OH', 1.374, 0.017],
    ],
    angles: [
      ['N-CA-CB', 110.6, 1.8],
      ['CB-CA-C', 110.4, 2.0],
      ['CA-CB-CG', 113.4, 1.9],
      ['CB-CG-CD1', 121.0, 0.6],
      ['CB-CG-CD2', 121.0, 0.6],
      ['CD1-CG-CD2', 117.9, 1.1],
      ['CG-CD1-CE1', 121.3, 0.8],
      ['CG-CD2-CE2', 121.3, 0.8],
      ['CD1-CE1-CZ', 119.8, 0.9],
      ['CD2-CE2-CZ', 119.8, 0.9],
      ['CE1-CZ-CE2', 119.8, 1.6],
      ['CE1-CZ-OH', 120.1, 2.7],
      ['CE2-CZ-OH', 120.1, 2.7],
    ],
  },
  VAL: {
    bonds: [
      ['CA-CB', 1.543, 0.021],
      ['CB-CG1', 1.524, 0.021],
      ['CB-CG2', 1.524, 0.021],
    ],
    angles: [
      ['N-CA-CB', 111.5, 2.2],
      ['CB-CA-C', 111.4, 1.9],
      ['CA-CB-CG1', 110.9, 1.5],
      ['CA-CB-CG2', 110.9, 1.5],
      ['CG1-CB-CG2', 110.9, 1.6],
    ],
  },
};

function bondsOf(resname: string): IdealBond[] {
  const backbone = resname === 'GLY' ? GLY_BONDS : resname === 'PRO' ? PRO_BONDS : BACKBONE_BONDS;
  return [...backbone, ...SIDE_CHAIN[resname].bonds].map(([key, length, sd]) => {
    const [a, b] = key.split('-') as [string, string];
    return { a, b, length, sd };
  });
}

function anglesOf(resname: string): IdealAngle[] {
  const backbone = resname === 'GLY' ? GLY_ANGLES : resname === 'PRO' ? PRO_ANGLES : BACKBONE_ANGLES;
  return [...backbone, ...SIDE_CHAIN[resname].angles].map(([key, degrees, sd]) => {
    const [a, b, c] = key.split('-') as [string, string, string];
    return { a, b, c, degrees, sd };
  });
}

/** Ideal intra-residue bonds per three-letter code (Engh & Huber). */
export const IDEAL_BONDS: Readonly<Record<string, readonly IdealBond[]>> = Object.fromEntries(RESNAMES.map((r) => [r, bondsOf(r)]));

/** Ideal intra-residue bond angles per three-letter code (Engh & Huber). */
export const IDEAL_ANGLES: Readonly<Record<string, readonly IdealAngle[]>> = Object.fromEntries(RESNAMES.map((r) => [r, anglesOf(r)]));

/**
 * The peptide bond C(i)–N(i+1) and the angles around it (Engh & Huber; the second value of each
 * pair is for a proline at i+1). balmkit builds chains with C–N = 1.33 Å.
 */
export const PEPTIDE = {
  /** C–N length (Å): general, before proline. */
  cnLength: [1.329, 1.341] as const,
  cnSd: [0.014, 0.016] as const,
  /** CA(i)–C(i)–N(i+1) angle (degrees). */
  caCN: 116.568,
  caCNSd: 1.995,
  /** C(i)–N(i+1)–CA(i+1) angle (degrees). */
  cNCA: 121.352,
  cNCASd: 2.315,
  /** O(i)–C(i)–N(i+1) angle (degrees). */
  oCN: 122.7,
  oCNSd: 1.6,
} as const;

/** The C–N bond length balmkit's chain builder uses (Å). */
export const PEPTIDE_BOND_LENGTH = 1.33;
