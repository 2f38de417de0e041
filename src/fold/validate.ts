/**
 * Geometry checks of a full-atom model, the numbers the structure acceptance criteria name:
 * bonds within 0.05 Å of ideal (Engh–Huber, including the C–N peptide bond between residues),
 * heavy-atom clashes between residues two or more apart (< 2.5 Å, < 2.2 Å for N/O pairs; a
 * disulfide SG–SG is a bond, not a clash), and Cα chirality (all L).
 */
import type { Atom14 } from './atoms.js';
import { ATOM14_NAMES, ATOMS_PER_RESIDUE, RESNAMES, RIGID_GROUP_ATOMS, elementOfAtomName } from './residue-constants.js';
import { IDEAL_BONDS, PEPTIDE } from './stereochemistry.js';

/** Clash thresholds (Å) of the acceptance criteria. */
export const CLASH_DISTANCE = 2.5;
export const CLASH_DISTANCE_POLAR = 2.2;
/** A bond is "ideal" within this many Å of its Engh–Huber length. */
export const BOND_TOLERANCE = 0.05;
/** SG–SG closer than this is read as a disulfide bond. */
export const DISULFIDE_MAX = 2.5;

/** Residue index of each chain's first residue; residues i and i+1 are bonded unless i+1 starts a chain. */
export type ChainStarts = readonly number[];

/** A bond restraint between two atom slots (flat atom14 indices: residue·14 + slot). */
export interface BondTerm {
  a: number;
  b: number;
  ideal: number;
  /** Intra-residue, or the peptide C(i)–N(i+1). */
  peptide: boolean;
}

/** Slot of atom `name` in residue type `restype`, or -1. */
export function slotOf(restype: number, name: string): number {
  return ATOM14_NAMES[RESNAMES[restype]].indexOf(name);
}

/** Whether residue i+1 follows residue i in the same chain. */
export function bondedToNext(i: number, n: number, chainStarts: ChainStarts): boolean {
  return i + 1 < n && !chainStarts.includes(i + 1);
}

/** All bonds of a model with Engh–Huber ideal lengths, both atoms present. */
export function bondTerms(atoms: Atom14, chainStarts: ChainStarts = [0]): BondTerm[] {
  const n = atoms.aatype.length;
  const out: BondTerm[] = [];
  const present = (i: number, slot: number) => slot >= 0 && atoms.mask[i * ATOMS_PER_RESIDUE + slot] === 1;
  for (let i = 0; i < n; i++) {
    const r = atoms.aatype[i];
    for (const b of IDEAL_BONDS[RESNAMES[r]]) {
      const sa = slotOf(r, b.a);
      const sb = slotOf(r, b.b);
      if (present(i, sa) && present(i, sb)) out.push({ a: i * ATOMS_PER_RESIDUE + sa, b: i * ATOMS_PER_RESIDUE + sb, ideal: b.length, peptide: false });
    }
    if (bondedToNext(i, n, chainStarts) && present(i, 2) && present(i + 1, 0)) {
      const beforePro = RESNAMES[atoms.aatype[i + 1]] === 'PRO' ? 1 : 0;
      out.push({ a: i * ATOMS_PER_RESIDUE + 2, b: (i + 1) * ATOMS_PER_RESIDUE, ideal: PEPTIDE.cnLength[beforePro], peptide: true });
    }
  }
  return out;
}

/** Signed volume (N − CA)·((C − CA) × (CB − CA)) at a Cα: positive for L amino acids. */
export function chiralVolume(p: ArrayLike<number>, ca: number, nn: number, c: number, cb: number): number {
  const ax = p[nn * 3] - p[ca * 3],
    ay = p[nn * 3 + 1] - p[ca * 3 + 1],
    az = p[nn * 3 + 2] - p[ca * 3 + 2];
  const bx = p[c * 3] - p[ca * 3],
    by = p[c * 3 + 1] - p[ca * 3 + 1],
    bz = p[c * 3 + 2] - p[ca * 3 + 2];
  const cx = p[cb * 3] - p[ca * 3],
    cy = p[cb * 3 + 1] - p[ca * 3 + 1],
    cz = p[cb * 3 + 2] - p[ca * 3 + 2];
  return ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx);
}

/** Ideal Cα signed volume of each residue type (0 for glycine), from the rigid-group table. */
export const IDEAL_CHIRAL_VOLUME: Float64Array = Float64Array.from(RESNAMES, (name) => {
  const pos = new Map(RIGID_GROUP_ATOMS[name].map(([a, , x, y, z]) => [a, [x, y, z]]));
  if (!pos.has('CB')) return 0;
  const flat = [...pos.get('CA')!, ...pos.get('N')!, ...pos.get('C')!, ...pos.get('CB')!];
  return chiralVolume(flat, 0, 1, 2, 3);
});

/** Whether two elements make an N/O pair (a hydrogen-bond distance, so a lower clash threshold). */
export function isPolarPair(ea: string, eb: string): boolean {
  return (ea === 'N' || ea === 'O') && (eb === 'N' || eb === 'O');
}

/** A clash between two atoms. */
export interface Clash {
  a: number;
  b: number;
  distance: number;
  threshold: number;
}

/**
 * Pairs [a, b] (a < b) of present atoms closer than `cutoff`, found with a uniform grid of
 * `cutoff`-sized cells over the bounding box (linked lists per cell), so the cost grows with the
 * number of atoms, not its square.
 */
export function neighborPairs(positions: ArrayLike<number>, present: ArrayLike<number>, cutoff: number): [number, number][] {
  let [minX, minY, minZ] = [Infinity, Infinity, Infinity];
  let [maxX, maxY, maxZ] = [-Infinity, -Infinity, -Infinity];
  for (let a = 0; a < present.length; a++) {
    if (!present[a]) continue;
    minX = Math.min(minX, positions[a * 3]);
    maxX = Math.max(maxX, positions[a * 3]);
    minY = Math.min(minY, positions[a * 3 + 1]);
    maxY = Math.max(maxY, positions[a * 3 + 1]);
    minZ = Math.min(minZ, positions[a * 3 + 2]);
    maxZ = Math.max(maxZ, positions[a * 3 + 2]);
  }
  const out: [number, number][] = [];
  if (minX === Infinity) return out;
  const nx = Math.floor((maxX - minX) / cutoff) + 1;
  const ny = Math.floor((maxY - minY) / cutoff) + 1;
  const nz = Math.floor((maxZ - minZ) / cutoff) + 1;
  const head = new Int32Array(nx * ny * nz).fill(-1);
  const next = new Int32Array(present.length).fill(-1);
  const cellOf = new Int32Array(present.length);
  for (let a = 0; a < present.length; a++) {
    if (!present[a]) continue;
    const ix = Math.floor((positions[a * 3] - minX) / cutoff);
    const iy = Math.floor((positions[a * 3 + 1] - minY) / cutoff);
    const iz = Math.floor((positions[a * 3 + 2] - minZ) / cutoff);
    const c = ix + nx * (iy + ny * iz);
    cellOf[a] = c;
    next[a] = head[c]!;
    head[c] = a;
  }
  const c2 = cutoff * cutoff;
  for (let a = 0; a < present.length; a++) {
    if (!present[a]) continue;
    const c = cellOf[a];
    const ix = c % nx,
      iy = Math.floor(c / nx) % ny,
      iz = Math.floor(c / (nx * ny));
    for (let dz = -1; dz <= 1; dz++) {
      const z = iz + dz;
      if (z < 0 || z >= nz) continue;
      for (let dy = -1; dy <= 1; dy++) {
        const y = iy + dy;
        if (y < 0 || y >= ny) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const x = ix + dx;
          if (x < 0 || x >= nx) continue;
          for (let b = head[x + nx * (y + ny * z)]; b >= 0; b = next[b]!) {
            if (b <= a) continue;
            const ex = positions[a * 3] - positions[b * 3],
              ey = positions[a * 3 + 1] - positions[b * 3 + 1],
              ez = positions[a * 3 + 2] - positions[b * 3 + 2];
            if (ex * ex + ey * ey + ez * ez < c2) out.push([a, b]);
          }
        }
      }
    }
  }
  return out;
}

/** Element of every atom14 slot of a model. */
export function slotElements(atoms: Atom14): string[] {
  const out: string[] = [];
  for (let i = 0; i < atoms.aatype.length; i++) {
    const names = ATOM14_NAMES[RESNAMES[atoms.aatype[i]]];
    for (let s = 0; s < ATOMS_PER_RESIDUE; s++) out.push(names[s] ? elementOfAtomName(names[s]) : '');
  }
  return out;
}

/**
 * Whether atoms a and b count for clashes: residues two or more apart in one chain, or in
 * different chains; SG–SG disulfides excluded.
 */
export function clashCandidate(a: number, b: number, chainOf: Int32Array, names: readonly string[], elements: readonly string[]): boolean {
  const ra = Math.floor(a / ATOMS_PER_RESIDUE);
  const rb = Math.floor(b / ATOMS_PER_RESIDUE);
  if (chainOf[ra] === chainOf[rb] && Math.abs(ra - rb) < 2) return false;
  if (elements[a] === 'S' && elements[b] === 'S' && names[a] === 'SG' && names[b] === 'SG') return false;
  return true;
}

/** Chain index of each residue. */
export function chainIndex(n: number, chainStarts: ChainStarts): Int32Array {
  const out = new Int32Array(n);
  let c = -1;
  for (let i = 0; i < n; i++) {
    if (i === 0 || chainStarts.includes(i)) c++;
    out[i] = c;
  }
  return out;
}

/** Atom name of every atom14 slot of a model. */
export function slotNames(atoms: Atom14): string[] {
  const out: string[] = [];
  for (let i = 0; i < atoms.aatype.length; i++) {
    const names = ATOM14_NAMES[RESNAMES[atoms.aatype[i]]];
    for (let s = 0; s < ATOMS_PER_RESIDUE; s++) out.push(names[s] ?? '');
  }
  return out;
}

/** All clashes of a model under the acceptance thresholds. */
export function findClashes(atoms: Atom14, chainStarts: ChainStarts = [0]): Clash[] {
  const elements = slotElements(atoms);
  const names = slotNames(atoms);
  const chainOf = chainIndex(atoms.aatype.length, chainStarts);
  const out: Clash[] = [];
  for (const [a, b] of neighborPairs(atoms.positions, atoms.mask, CLASH_DISTANCE)) {
    if (!clashCandidate(a, b, chainOf, names, elements)) continue;
    const threshold = isPolarPair(elements[a], elements[b]) ? CLASH_DISTANCE_POLAR : CLASH_DISTANCE;
    const p = atoms.positions;
    const d = Math.hypot(p[a * 3] - p[b * 3], p[a * 3 + 1] - p[b * 3 + 1], p[a * 3 + 2] - p[b * 3 + 2]);
    if (d < threshold) out.push({ a, b, distance: d, threshold });
  }
  return out;
}

/** The acceptance numbers of a model. */
export interface GeometryReport {
  /** Bonds checked (intra-residue and peptide). */
  bonds: number;
  /** Fraction of bonds within {@link BOND_TOLERANCE} of ideal. */
  bondsIdealFraction: number;
  /** Peptide C–N bonds checked, and how many are within tolerance. */
  peptideBonds: number;
  peptideBondsIdeal: number;
  /** Largest |length − ideal| (Å), and where. */
  worstBond: { a: number; b: number; length: number; ideal: number } | null;
  /** Clashes under the acceptance thresholds. */
  clashes: Clash[];
  /** Residues whose Cα is not L (signed volume ≤ 0). */
  dAminoAcids: number[];
}

function dist(p: ArrayLike<number>, a: number, b: number): number {
  return Math.hypot(p[a * 3] - p[b * 3], p[a * 3 + 1] - p[b * 3 + 1], p[a * 3 + 2] - p[b * 3 + 2]);
}

/** Checks bonds, clashes and chirality of a model (see the module comment). */
export function checkGeometry(atoms: Atom14, chainStarts: ChainStarts = [0]): GeometryReport {
  const bonds = bondTerms(atoms, chainStarts);
  let ideal = 0;
  let peptide = 0;
  let peptideIdeal = 0;
  let worst: GeometryReport['worstBond'] = null;
  for (const b of bonds) {
    const d = dist(atoms.positions, b.a, b.b);
    const ok = Math.abs(d - b.ideal) <= BOND_TOLERANCE;
    if (ok) ideal++;
    if (b.peptide) {
      peptide++;
      if (ok) peptideIdeal++;
    }
    if (!worst || Math.abs(d - b.ideal) > Math.abs(worst.length - worst.ideal)) worst = { a: b.a, b: b.b, length: d, ideal: b.ideal };
  }
  const dAminoAcids: number[] = [];
  for (let i = 0; i < atoms.aatype.length; i++) {
    const r = atoms.aatype[i];
    const cb = slotOf(r, 'CB');
    const base = i * ATOMS_PER_RESIDUE;
    if (cb < 0 || ![0, 1, 2, cb].every((s) => atoms.mask[base + s])) continue;
    if (chiralVolume(atoms.positions, base + 1, base, base + 2, base + cb) <= 0) dAminoAcids.push(i);
  }
  return {
    bonds: bonds.length,
    bondsIdealFraction: bonds.length ? ideal / bonds.length : 1,
    peptideBonds: peptide,
    peptideBondsIdeal: peptideIdeal,
    worstBond: worst,
    clashes: findClashes(atoms, chainStarts),
    dAminoAcids,
  };
}
