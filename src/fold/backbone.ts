/**
 * Backbone chains from (phi, psi, omega): N, CA, C placed one after another with the natural
 * extension reference frame (NeRF), each residue's own ideal N–CA and CA–C lengths and N–CA–C
 * angle (the rigid-group table, so frames built here reproduce those atoms exactly), and the
 * peptide bond C–N = 1.33 Å with Engh–Huber angles CA–C–N and C–N–CA. The frames and torsions
 * it returns feed `atomsFromFrames` for the full residues.
 */
import { RIGID_GROUP_ATOMS, RESNAMES, NUM_RESTYPES } from './residue-constants.js';
import { PEPTIDE, PEPTIDE_BOND_LENGTH } from './stereochemistry.js';
import { type Vec3, add, angleDegrees, cross, norm, normalize, rigidFromThreePoints, scale, sub } from './rigid.js';
import { NUM_TORSIONS, TORSION, atomsFromFrames, type AtomsFromFrames } from './atoms.js';

const DEG = Math.PI / 180;

/** Angles of a chain in degrees, one per residue. */
export interface BackboneTorsions {
  /** phi(i) = C(i−1)–N–CA–C; the first residue's is ignored. */
  phi: ArrayLike<number>;
  /** psi(i) = N–CA–C–N(i+1); the last residue's places its O only. */
  psi: ArrayLike<number>;
  /** omega(i) = CA(i−1)–C(i−1)–N(i)–CA(i), the peptide bond before residue i (AF2's pre-omega); default 180. */
  omega?: ArrayLike<number>;
}

/** A built backbone. */
export interface Backbone {
  /** N, CA, C coordinates [n × 3 × 3] (Å). */
  atoms: Float64Array;
  /** Backbone frames [n × 12] (origin CA, x towards C, N in the xy plane). */
  frames: Float64Array;
}

/**
 * Places d so that |cd| = length, angle b–c–d = angle and dihedral a–b–c–d = torsion (radians).
 */
export function placeAtom(a: Vec3, b: Vec3, c: Vec3, length: number, angle: number, torsion: number): Vec3 {
  const bc = normalize(sub(c, b));
  const n = normalize(cross(sub(b, a), bc));
  const m = cross(n, bc);
  const d0 = -length * Math.cos(angle);
  const d1 = length * Math.sin(angle) * Math.cos(torsion);
  const d2 = length * Math.sin(angle) * Math.sin(torsion);
  return add(c, add(scale(bc, d0), add(scale(m, d1), scale(n, d2))));
}

/** Ideal N, CA, C of a residue type in its backbone frame. */
function idealBackbone(restype: number): { N: Vec3; C: Vec3 } {
  const atoms = RIGID_GROUP_ATOMS[RESNAMES[restype]];
  const get = (name: string): Vec3 => {
    const a = atoms.find((x) => x[0] === name)!;
    return [a[2], a[3], a[4]];
  };
  return { N: get('N'), C: get('C') };
}

/**
 * Builds the N, CA, C chain of residue types `aatype` from backbone torsions (degrees). The first
 * residue sits in its ideal backbone frame at the origin.
 */
export function buildBackbone(aatype: ArrayLike<number>, torsions: BackboneTorsions): Backbone {
  const n = aatype.length;
  for (const [name, arr] of Object.entries(torsions)) {
    if (arr !== undefined && (arr as ArrayLike<number>).length !== n) throw new RangeError(`${name}: ${(arr as ArrayLike<number>).length} angles for ${n} residues`);
  }
  const atoms = new Float64Array(n * 9);
  const frames = new Float64Array(n * 12);
  let prevN: Vec3 = [0, 0, 0];
  let prevCA: Vec3 = [0, 0, 0];
  let prevC: Vec3 = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const r = aatype[i];
    if (!(r >= 0 && r < NUM_RESTYPES)) throw new RangeError(`residue ${i}: residue type ${r} is not one of the 20 amino acids`);
    const ideal = idealBackbone(r);
    const nCA = norm(ideal.N);
    const caC = norm(ideal.C);
    const nCAC = angleDegrees(ideal.N, [0, 0, 0], ideal.C) * DEG;
    let N: Vec3;
    let CA: Vec3;
    let C: Vec3;
    if (i === 0) {
      [N, CA, C] = [ideal.N, [0, 0, 0], ideal.C];
    } else {
      const psi = torsions.psi[i - 1] * DEG;
      const omega = (torsions.omega?.[i] ?? 180) * DEG;
      const phi = torsions.phi[i] * DEG;
      N = placeAtom(prevN, prevCA, prevC, PEPTIDE_BOND_LENGTH, PEPTIDE.caCN * DEG, psi);
      CA = placeAtom(prevCA, prevC, N, nCA, PEPTIDE.cNCA * DEG, omega);
      C = placeAtom(prevC, N, CA, caC, nCAC, phi);
    }
    atoms.set([...N, ...CA, ...C], i * 9);
    frames.set(rigidFromThreePoints(C, CA, N), i * 12);
    [prevN, prevCA, prevC] = [N, CA, C];
  }
  return { atoms, frames };
}

/** Torsion array [n × 7 × 2] (sin, cos) from angles in degrees; missing ones are 0. */
export function torsionArray(n: number, angles: { phi?: ArrayLike<number>; psi?: ArrayLike<number>; omega?: ArrayLike<number>; chi?: readonly (readonly number[])[] }): Float64Array {
  const out = new Float64Array(n * NUM_TORSIONS * 2);
  const set = (i: number, t: number, deg: number) => {
    out[(i * NUM_TORSIONS + t) * 2] = Math.sin(deg * DEG);
    out[(i * NUM_TORSIONS + t) * 2 + 1] = Math.cos(deg * DEG);
  };
  for (let i = 0; i < n; i++) {
    set(i, TORSION.preOmega, angles.omega?.[i] ?? 0);
    set(i, TORSION.phi, angles.phi?.[i] ?? 0);
    set(i, TORSION.psi, angles.psi?.[i] ?? 0);
    const chi = angles.chi?.[i] ?? [];
    for (let k = 0; k < 4; k++) set(i, TORSION.chi1 + k, chi[k] ?? 0);
  }
  return out;
}

/**
 * A full-atom chain from backbone torsions and chi angles (degrees): {@link buildBackbone} then
 * `atomsFromFrames`. `chi[i]` lists residue i's chi1.. (missing ones are 0).
 */
export function buildChain(aatype: ArrayLike<number>, torsions: BackboneTorsions & { chi?: readonly (readonly number[])[] }): AtomsFromFrames {
  const { frames } = buildBackbone(aatype, torsions);
  return atomsFromFrames({ aatype, frames, torsions: torsionArray(aatype.length, torsions) });
}
