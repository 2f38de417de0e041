/**
 * Optimal superposition of point sets (Kabsch 1976): the rotation R and translation t that
 * minimise Σ w_i |R·x_i + t − y_i|², from the SVD of the weighted 3×3 covariance (ml-matrix),
 * with the sign of the smallest singular direction flipped when needed so R is a proper rotation.
 * Point sets are flat arrays [x0, y0, z0, x1, …].
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

/** A proper rigid motion x ↦ R·x + t; `rotation` is row-major 3×3. */
export interface Superposition {
  rotation: Float64Array;
  translation: Float64Array;
  /** Root-mean-square deviation after the motion, over the points used to fit it (Å). */
  rmsd: number;
}

function centroid(p: ArrayLike<number>, n: number, w: ArrayLike<number> | undefined): [number, number, number, number] {
  let sx = 0,
    sy = 0,
    sz = 0,
    sw = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    sx += wi * p[i * 3];
    sy += wi * p[i * 3 + 1];
    sz += wi * p[i * 3 + 2];
    sw += wi;
  }
  return [sx / sw, sy / sw, sz / sw, sw];
}

function det3(m: Matrix): number {
  const g = (r: number, c: number) => m.get(r, c);
  return g(0, 0) * (g(1, 1) * g(2, 2) - g(1, 2) * g(2, 1)) - g(0, 1) * (g(1, 0) * g(2, 2) - g(1, 2) * g(2, 0)) + g(0, 2) * (g(1, 0) * g(2, 1) - g(1, 1) * g(2, 0));
}

/**
 * The motion that best superposes `mobile` onto `target` (same number of points, ≥ 3 not on a
 * line for a unique answer).
 *
 * @param weights - optional non-negative weight per point (default all 1).
 * @throws RangeError when the arrays differ in length or hold fewer than 3 points.
 */
export function kabsch(mobile: ArrayLike<number>, target: ArrayLike<number>, weights?: ArrayLike<number>): Superposition {
  if (mobile.length !== target.length || mobile.length % 3 !== 0) {
    throw new RangeError(`superposition: ${mobile.length / 3} mobile points for ${target.length / 3} target points`);
  }
  const n = mobile.length / 3;
  if (n < 3) throw new RangeError(`superposition: ${n} points; at least 3 are needed`);
  const [mx, my, mz, sw] = centroid(mobile, n, weights);
  const [tx, ty, tz] = centroid(target, n, weights);
  // H = Σ w (x − x̄)(y − ȳ)ᵀ
  const h = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const wi = weights ? weights[i] : 1;
    const a = [mobile[i * 3] - mx, mobile[i * 3 + 1] - my, mobile[i * 3 + 2] - mz];
    const b = [target[i * 3] - tx, target[i * 3 + 1] - ty, target[i * 3 + 2] - tz];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) h[r * 3 + c] += wi * a[r] * b[c];
  }
  const svd = new SingularValueDecomposition(new Matrix([h.slice(0, 3), h.slice(3, 6), h.slice(6, 9)]), { autoTranspose: false });
  const U = svd.leftSingularVectors;
  const V = svd.rightSingularVectors;
  // R = V·diag(1, 1, d)·Uᵀ with d = sign det(V·Uᵀ): a reflection is never the answer.
  const d = det3(V.mmul(U.transpose())) < 0 ? -1 : 1;
  const rotation = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      rotation[r * 3 + c] = V.get(r, 0) * U.get(c, 0) + V.get(r, 1) * U.get(c, 1) + d * V.get(r, 2) * U.get(c, 2);
    }
  }
  const translation = Float64Array.of(
    tx - (rotation[0] * mx + rotation[1] * my + rotation[2] * mz),
    ty - (rotation[3] * mx + rotation[4] * my + rotation[5] * mz),
    tz - (rotation[6] * mx + rotation[7] * my + rotation[8] * mz),
  );
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const wi = weights ? weights[i] : 1;
    const p = transformPoint({ rotation, translation }, mobile[i * 3], mobile[i * 3 + 1], mobile[i * 3 + 2]);
    sq += wi * ((p[0] - target[i * 3]) ** 2 + (p[1] - target[i * 3 + 1]) ** 2 + (p[2] - target[i * 3 + 2]) ** 2);
  }
  return { rotation, translation, rmsd: Math.sqrt(sq / sw) };
}

/** R·(x, y, z) + t. */
export function transformPoint(m: Pick<Superposition, 'rotation' | 'translation'>, x: number, y: number, z: number): [number, number, number] {
  const R = m.rotation;
  const t = m.translation;
  return [R[0] * x + R[1] * y + R[2] * z + t[0], R[3] * x + R[4] * y + R[5] * z + t[1], R[6] * x + R[7] * y + R[8] * z + t[2]];
}

/** A copy of the flat point array `points` moved by `m`. */
export function transformPoints(m: Pick<Superposition, 'rotation' | 'translation'>, points: ArrayLike<number>): Float64Array {
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 3) out.set(transformPoint(m, points[i], points[i + 1], points[i + 2]), i);
  return out;
}

/** Root-mean-square distance between corresponding points of two flat arrays (no fitting). */
export function rmsd(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`rmsd: ${a.length / 3} points against ${b.length / 3}`);
  let sq = 0;
  for (let i = 0; i < a.length; i++) sq += (a[i] - b[i]) ** 2;
  return Math.sqrt(sq / (a.length / 3));
}
