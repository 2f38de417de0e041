/**
 * Frames + torsions → all heavy atoms (AF2 supplement Alg. 24, computeAllAtomCoordinates), the
 * TypeScript reference. The ONNX version in `atoms-graph.ts` computes the same thing inside a
 * model's graph; tests hold the two equal.
 *
 * For residue i with backbone frame T_i and torsions α (each a (sin, cos) pair):
 *   T_i^f     = T_i ∘ T_lit^f ∘ rotX(α^f)        f ∈ {pre-omega, phi, psi, chi1}
 *   T_i^chiK  = T_i^chi(K−1) ∘ T_lit^chiK ∘ rotX(α^chiK)   K = 2..4
 *   x_atom    = T_i^group(atom) ∘ x_lit(atom)
 */
import { ATOMS_PER_RESIDUE, CHI_ANGLE_ATOMS, NUM_GROUPS, NUM_RESTYPES, RESNAMES, ATOM14_NAMES } from './residue-constants.js';
import { ATOM14_GROUP, ATOM14_MASK, ATOM14_POSITION, DEFAULT_FRAMES } from './rigid-groups.js';
import { applyRigid, composeRigid, dihedral, rigidFromThreePoints, rotX } from './rigid.js';

/** Torsion slots, in AF2 order; each torsion is stored as (sin, cos). */
export const TORSION = { preOmega: 0, phi: 1, psi: 2, chi1: 3, chi2: 4, chi3: 5, chi4: 6 } as const;
/** Number of torsions per residue (7). */
export const NUM_TORSIONS = 7;

/** Input of {@link atomsFromFrames}: n residues. */
export interface FramesAndTorsions {
  /** Residue type per residue (index into `RESTYPES`), length n. */
  aatype: ArrayLike<number>;
  /** Backbone frames, 12 numbers each ([R | t] row-major, see `rigid.ts`), length 12·n. */
  frames: ArrayLike<number>;
  /** Torsions as (sin, cos) pairs in {@link TORSION} order, length 14·n; pairs are normalised. */
  torsions: ArrayLike<number>;
}

/** Heavy atoms of n residues in the atom14 layout. */
export interface Atom14 {
  /** Residue type per residue. */
  aatype: Int32Array;
  /** Coordinates [n × 14 × 3] (Å); empty slots are 0. */
  positions: Float64Array;
  /** 1 where the slot holds an atom [n × 14]. */
  mask: Uint8Array;
}

/** {@link Atom14} plus the global frame of every rigid group [n × 8 × 12]. */
export interface AtomsFromFrames extends Atom14 {
  groupFrames: Float64Array;
}

function checkAatype(aatype: ArrayLike<number>): Int32Array {
  const out = Int32Array.from(aatype);
  out.forEach((a, i) => {
    if (!(a >= 0 && a < NUM_RESTYPES)) throw new RangeError(`residue ${i}: residue type ${a} is not one of the 20 amino acids (0..19)`);
  });
  return out;
}

/** All rigid-group frames and heavy atoms of n residues from backbone frames and torsions. */
export function atomsFromFrames(input: FramesAndTorsions): AtomsFromFrames {
  const aatype = checkAatype(input.aatype);
  const n = aatype.length;
  if (input.frames.length !== n * 12) throw new RangeError(`frames: ${input.frames.length} numbers for ${n} residues (${n * 12} expected)`);
  if (input.torsions.length !== n * NUM_TORSIONS * 2) {
    throw new RangeError(`torsions: ${input.torsions.length} numbers for ${n} residues (${n * NUM_TORSIONS * 2} expected)`);
  }
  const groupFrames = new Float64Array(n * NUM_GROUPS * 12);
  const positions = new Float64Array(n * ATOMS_PER_RESIDUE * 3);
  const mask = new Uint8Array(n * ATOMS_PER_RESIDUE);
  const backbone = new Float64Array(12);
  const local = new Float64Array(12);
  for (let i = 0; i < n; i++) {
    const r = aatype[i];
    for (let k = 0; k < 12; k++) backbone[k] = input.frames[i * 12 + k]!;
    const base = i * NUM_GROUPS * 12;
    groupFrames.set(backbone, base);
    for (let g = 1; g < NUM_GROUPS; g++) {
      const lit = DEFAULT_FRAMES.subarray((r * NUM_GROUPS + g) * 12, (r * NUM_GROUPS + g + 1) * 12);
      const t = (i * NUM_TORSIONS + g - 1) * 2;
      composeRigid(lit, rotX(input.torsions[t], input.torsions[t + 1]), local);
      // chi2..chi4 hang off the previous chi group; the others off the backbone.
      const parent = g >= 5 ? groupFrames.subarray(base + (g - 1) * 12, base + g * 12) : backbone;
      groupFrames.set(composeRigid(parent, local), base + g * 12);
    }
    for (let s = 0; s < ATOMS_PER_RESIDUE; s++) {
      const k = r * ATOMS_PER_RESIDUE + s;
      if (!ATOM14_MASK[k]) continue;
      const g = ATOM14_GROUP[k];
      const frame = groupFrames.subarray(base + g * 12, base + (g + 1) * 12);
      const p = applyRigid(frame, ATOM14_POSITION[k * 3], ATOM14_POSITION[k * 3 + 1], ATOM14_POSITION[k * 3 + 2]);
      positions.set(p, (i * ATOMS_PER_RESIDUE + s) * 3);
      mask[i * ATOMS_PER_RESIDUE + s] = 1;
    }
  }
  return { aatype, positions, mask, groupFrames };
}

/** Position of a named atom of residue i in an {@link Atom14}, or undefined when absent. */
export function atomPosition(atoms: Atom14, i: number, name: string): [number, number, number] | undefined {
  const slot = ATOM14_NAMES[RESNAMES[atoms.aatype[i]]].indexOf(name);
  if (slot < 0 || !atoms.mask[i * ATOMS_PER_RESIDUE + slot]) return undefined;
  const o = (i * ATOMS_PER_RESIDUE + slot) * 3;
  return [atoms.positions[o], atoms.positions[o + 1], atoms.positions[o + 2]];
}

/** Backbone frames [n × 12] of an {@link Atom14} from N, CA, C (AF2 Alg. 21). */
export function backboneFrames(atoms: Atom14): Float64Array {
  const n = atoms.aatype.length;
  const out = new Float64Array(n * 12);
  for (let i = 0; i < n; i++) {
    const N = atomPosition(atoms, i, 'N');
    const CA = atomPosition(atoms, i, 'CA');
    const C = atomPosition(atoms, i, 'C');
    if (!N || !CA || !C) throw new RangeError(`residue ${i}: N, CA and C are needed for a backbone frame`);
    out.set(rigidFromThreePoints(C, CA, N), i * 12);
  }
  return out;
}

/**
 * Torsions (sin, cos) [n × 7 × 2] measured from atoms — the inverse of {@link atomsFromFrames}.
 * pre-omega = CA(i−1)–C(i−1)–N–CA, phi = C(i−1)–N–CA–C, psi = N–CA–C–O + π (O sits opposite
 * N(i+1)), chi as in `CHI_ANGLE_ATOMS`. Torsions that do not exist (first residue's pre-omega
 * and phi, missing chis) are (0, 1), i.e. zero. Residues are assumed consecutive.
 */
export function torsionsFromAtoms(atoms: Atom14): Float64Array {
  const n = atoms.aatype.length;
  const out = new Float64Array(n * NUM_TORSIONS * 2);
  for (let i = 0; i < out.length; i += 2) out[i + 1] = 1;
  const set = (i: number, t: number, angle: number) => {
    out[(i * NUM_TORSIONS + t) * 2] = Math.sin(angle);
    out[(i * NUM_TORSIONS + t) * 2 + 1] = Math.cos(angle);
  };
  for (let i = 0; i < n; i++) {
    const at = (name: string, j = i) => atomPosition(atoms, j, name);
    const N = at('N');
    const CA = at('CA');
    const C = at('C');
    const O = at('O');
    if (i > 0) {
      const CAp = at('CA', i - 1);
      const Cp = at('C', i - 1);
      if (CAp && Cp && N && CA) set(i, TORSION.preOmega, dihedral(CAp, Cp, N, CA));
      if (Cp && N && CA && C) set(i, TORSION.phi, dihedral(Cp, N, CA, C));
    }
    if (N && CA && C && O) set(i, TORSION.psi, dihedral(N, CA, C, O) + Math.PI);
    const chis = CHI_ANGLE_ATOMS[RESNAMES[atoms.aatype[i]]];
    chis.forEach((names, k) => {
      const p = names.map((nm) => at(nm));
      if (p.every((x) => x !== undefined)) set(i, TORSION.chi1 + k, dihedral(p[0], p[1], p[2], p[3]));
    });
  }
  return out;
}
