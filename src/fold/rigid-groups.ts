/**
 * Per-residue-type tables derived from the rigid-group data (`residue-constants.ts`), laid out
 * for computation: the default frame of each group relative to its parent, and for each atom14
 * slot the group it belongs to and its ideal position in that group (AF2 supplement §1.8.4;
 * openfold's `_make_rigid_group_constants`). Built once at import.
 */
import { ATOM14_NAMES, ATOMS_PER_RESIDUE, CHI_ANGLE_ATOMS, NUM_GROUPS, NUM_RESTYPES, RESNAMES, RIGID_GROUP_ATOMS } from './residue-constants.js';
import { type Rigid, type Vec3, cross, dot, identityRigid, normalize, scale, sub } from './rigid.js';

/**
 * The frame with x along `ex`, y along the part of `ey` orthogonal to `ex`, origin `translation`
 * (AF2 `_make_rigid_transformation_4x4`).
 */
function frameFromAxes(ex: Vec3, ey: Vec3, translation: Vec3): Rigid {
  const x = normalize(ex);
  const y = normalize(sub(ey, scale(x, dot(ey, x))));
  const z = cross(x, y);
  return Float64Array.of(x[0], y[0], z[0], translation[0], x[1], y[1], z[1], translation[1], x[2], y[2], z[2], translation[2]);
}

/** Ideal positions of one residue type's atoms, by name. */
function positionsByName(resname: string): Map<string, Vec3> {
  return new Map(RIGID_GROUP_ATOMS[resname].map(([name, , x, y, z]) => [name, [x, y, z] as Vec3]));
}

/**
 * Default frames [20 × 8 × 12]: group g's frame relative to the backbone frame (g = 1..4) or to
 * the previous chi group (g = 5..7), before its torsion rotation. Absent chi groups are identity.
 */
export const DEFAULT_FRAMES: Float64Array = (() => {
  const out = new Float64Array(NUM_RESTYPES * NUM_GROUPS * 12);
  RESNAMES.forEach((resname, r) => {
    const p = positionsByName(resname);
    const frames: Rigid[] = Array.from({ length: NUM_GROUPS }, identityRigid);
    const N = p.get('N')!;
    const CA = p.get('CA')!;
    const C = p.get('C')!;
    // phi group: rotation axis CA→N, origin N.
    frames[2] = frameFromAxes(sub(N, CA), [1, 0, 0], N);
    // psi group: rotation axis CA→C, origin C; y away from N.
    frames[3] = frameFromAxes(sub(C, CA), sub(CA, N), C);
    const chis = CHI_ANGLE_ATOMS[resname];
    if (chis.length > 0) {
      const [a0, a1, a2] = chis[0].map((n) => p.get(n)!) as [Vec3, Vec3, Vec3];
      frames[4] = frameFromAxes(sub(a2, a1), sub(a0, a1), a2);
    }
    // chi2..4: each axis starts at the previous group's origin and ends at its axis-end atom.
    for (let k = 1; k < chis.length; k++) {
      const end = p.get(chis[k][2])!;
      frames[4 + k] = frameFromAxes(end, [-1, 0, 0], end);
    }
    frames.forEach((f, g) => out.set(f, (r * NUM_GROUPS + g) * 12));
  });
  return out;
})();

/** For each residue type and atom14 slot, the rigid group index (0 for empty slots) [20 × 14]. */
export const ATOM14_GROUP: Int32Array = new Int32Array(NUM_RESTYPES * ATOMS_PER_RESIDUE);
/** Ideal position of each atom14 slot in its group frame [20 × 14 × 3] (0 for empty slots). */
export const ATOM14_POSITION: Float64Array = new Float64Array(NUM_RESTYPES * ATOMS_PER_RESIDUE * 3);
/** 1 where the atom14 slot holds an atom of that residue type [20 × 14]. */
export const ATOM14_MASK: Uint8Array = new Uint8Array(NUM_RESTYPES * ATOMS_PER_RESIDUE);

RESNAMES.forEach((resname, r) => {
  const names = ATOM14_NAMES[resname];
  for (const [name, group, x, y, z] of RIGID_GROUP_ATOMS[resname]) {
    const slot = names.indexOf(name);
    if (slot < 0) throw new Error(`residue tables: ${resname} atom ${name} has no atom14 slot`);
    const i = r * ATOMS_PER_RESIDUE + slot;
    ATOM14_GROUP[i] = group;
    ATOM14_MASK[i] = 1;
    ATOM14_POSITION.set([x, y, z], i * 3);
  }
});

/** Number of chi angles per residue type [20]. */
export const CHI_COUNT: Int32Array = Int32Array.from(RESNAMES, (r) => CHI_ANGLE_ATOMS[r].length);
