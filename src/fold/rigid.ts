/**
 * Rigid transforms T = (R, t) acting as x ↦ R·x + t, stored as 12 numbers: the 3×4 matrix [R | t]
 * row-major. Arrays of frames are flat typed arrays of 12·n numbers. Small vector helpers sit here
 * too, since every geometry module needs them.
 */

/** Three numbers: a point or vector. */
export type Vec3 = [number, number, number];

/** A 3×4 affine matrix [R | t], row-major: R = (m0 m1 m2; m4 m5 m6; m8 m9 m10), t = (m3, m7, m11). */
export type Rigid = Float64Array;

/** The identity transform. */
export function identityRigid(): Rigid {
  return Float64Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);
}

/** A transform from a rotation (row-major 3×3) and a translation. */
export function rigidFrom(rotation: ArrayLike<number>, translation: ArrayLike<number>): Rigid {
  const r = rotation;
  const t = translation;
  return Float64Array.of(r[0], r[1], r[2], t[0], r[3], r[4], r[5], t[1], r[6], r[7], r[8], t[2]);
}

/** Composition a ∘ b (apply b first): R = Ra·Rb, t = Ra·tb + ta. */
export function composeRigid(a: ArrayLike<number>, b: ArrayLike<number>, out: Rigid = new Float64Array(12)): Rigid {
  const o = new Float64Array(12);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      let s = a[i * 4 + 0] * b[0 * 4 + j] + a[i * 4 + 1] * b[1 * 4 + j] + a[i * 4 + 2] * b[2 * 4 + j];
      if (j === 3) s += a[i * 4 + 3];
      o[i * 4 + j] = s;
    }
  }
  out.set(o);
  return out;
}

/** T·x. */
export function applyRigid(t: ArrayLike<number>, x: number, y: number, z: number): Vec3 {
  return [t[0] * x + t[1] * y + t[2] * z + t[3], t[4] * x + t[5] * y + t[6] * z + t[7], t[8] * x + t[9] * y + t[10] * z + t[11]];
}

/** T⁻¹ = (Rᵀ, −Rᵀt). */
export function invertRigid(t: ArrayLike<number>): Rigid {
  const o = new Float64Array(12);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) o[i * 4 + j] = t[j * 4 + i]!;
  for (let i = 0; i < 3; i++) o[i * 4 + 3] = -(o[i * 4] * t[3] + o[i * 4 + 1] * t[7] + o[i * 4 + 2] * t[11]);
  return o;
}

/**
 * Rotation about the x axis by the angle whose (sin, cos) is given (AF2 Alg. 25 makeRotX):
 * R = (1 0 0; 0 c −s; 0 s c). The pair is normalised first, so unnormalised network outputs work.
 */
export function rotX(sin: number, cos: number): Rigid {
  const n = Math.hypot(sin, cos) || 1;
  const s = sin / n;
  const c = cos / n;
  return Float64Array.of(1, 0, 0, 0, 0, c, -s, 0, 0, s, c, 0);
}

/**
 * The frame of three points (AF2 Alg. 21 rigidFrom3Points): origin at `origin`, x axis towards
 * `onX`, y axis in the plane of the three points on the side of `inXY` (Gram–Schmidt), z = x × y.
 * For residues: `rigidFromThreePoints(C, CA, N)` is the backbone frame.
 */
export function rigidFromThreePoints(onX: ArrayLike<number>, origin: ArrayLike<number>, inXY: ArrayLike<number>): Rigid {
  const e1 = normalize(sub(onX, origin));
  const v2 = sub(inXY, origin);
  const e2 = normalize(sub(v2, scale(e1, dot(e1, v2))));
  const e3 = cross(e1, e2);
  // Columns of R are the axes.
  return Float64Array.of(e1[0], e2[0], e3[0], origin[0], e1[1], e2[1], e3[1], origin[1], e1[2], e2[2], e3[2], origin[2]);
}

/** Largest |RᵀR − I| entry and det R of a transform: 0 and 1 for a proper rotation. */
export function rotationError(t: ArrayLike<number>): { orthogonality: number; determinant: number } {
  let worst = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += t[k * 4 + i] * t[k * 4 + j];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  const det = t[0] * (t[5] * t[10] - t[6] * t[9]) - t[1] * (t[4] * t[10] - t[6] * t[8]) + t[2] * (t[4] * t[9] - t[5] * t[8]);
  return { orthogonality: worst, determinant: det };
}

export function sub(a: ArrayLike<number>, b: ArrayLike<number>): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

export function add(a: ArrayLike<number>, b: ArrayLike<number>): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

export function scale(a: ArrayLike<number>, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function cross(a: ArrayLike<number>, b: ArrayLike<number>): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function norm(a: ArrayLike<number>): number {
  return Math.hypot(a[0], a[1], a[2]);
}

export function normalize(a: ArrayLike<number>): Vec3 {
  const n = norm(a);
  if (!(n > 0)) throw new RangeError('cannot normalise a zero-length vector (coincident atoms)');
  return scale(a, 1 / n);
}

export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** Bond angle a–b–c in degrees. */
export function angleDegrees(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>): number {
  const u = sub(a, b);
  const v = sub(c, b);
  const cos = dot(u, v) / (norm(u) * norm(v));
  return (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
}

/** IUPAC dihedral a–b–c–d in radians, in (−π, π]. */
export function dihedral(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, d: ArrayLike<number>): number {
  const b1 = sub(b, a);
  const b2 = sub(c, b);
  const b3 = sub(d, c);
  const n1 = cross(b1, b2);
  const n2 = cross(b2, b3);
  const m = cross(n1, n2);
  return Math.atan2(dot(m, b2) / norm(b2), dot(n1, n2));
}
