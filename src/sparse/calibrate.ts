/**
 * Loki calibration: collect attention keys per layer and KV head (after rotary, or before as the
 * paper also compares), fit PCA by a symmetric eigendecomposition of their second-moment matrix
 * (ml-matrix), and store the orthonormal bases with what they were calibrated on.
 *
 * The second moment E[k kᵀ] (not the centred covariance) is decomposed: the bases serve dot
 * products q·k, and its leading eigenvectors are the rank-d subspace that keeps most of ‖k‖²; the
 * centred variant is offered for comparison.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { NamedTensors } from '../io/tensor.js';
import { writeSafetensors } from '../io/safetensors.js';
import type { AttendArgs, AttendResult, AttentionVariant } from '../nn/attention.js';

export type KeyStage = 'post-rotary' | 'pre-rotary';

/** Name of the graph output carrying a layer's keys ([B, S, kvHeads, headDim]). */
export function keyOutputName(layer: number, stage: KeyStage): string {
  return `${stage === 'post-rotary' ? 'keys' : 'keys_pre_rotary'}.${layer}`;
}

/** Wraps a variant so the graph also outputs this layer's keys at the given stages. */
export function capturingAttention(inner: AttentionVariant, layer: number, stages: readonly KeyStage[] = ['post-rotary']): AttentionVariant {
  return {
    name: inner.name,
    cacheSlots: (dims, batch) => inner.cacheSlots(dims, batch),
    attend(a: AttendArgs): AttendResult {
      for (const stage of stages) a.q.graph.output(stage === 'post-rotary' ? a.k : a.kBeforeRotary, keyOutputName(layer, stage));
      return inner.attend(a);
    },
  };
}

/** Running second moments of keys, per layer and KV head, in float64. */
export class KeyStatistics {
  readonly moment: Float64Array[];
  readonly sum: Float64Array[];
  count = 0;

  constructor(
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
  ) {
    const n = kvHeads * headDim * headDim;
    this.moment = Array.from({ length: layers }, () => new Float64Array(n));
    this.sum = Array.from({ length: layers }, () => new Float64Array(kvHeads * headDim));
  }

  /**
   * Add one layer's keys [B, S, kvHeads, headDim] for the positions where `valid` [B·S] is true.
   * Call once per layer per batch; `count` counts tokens of layer 0.
   */
  add(layer: number, keys: Float32Array, valid: ArrayLike<boolean | number>): void {
    const hd = this.headDim;
    const kvh = this.kvHeads;
    const m = this.moment[layer];
    const s = this.sum[layer];
    const tokens = valid.length;
    if (keys.length !== tokens * kvh * hd) throw new Error(`layer ${layer}: ${keys.length} key values for ${tokens} tokens × ${kvh} heads × ${hd}`);
    for (let t = 0; t < tokens; t++) {
      if (!valid[t]) continue;
      if (layer === 0) this.count++;
      for (let h = 0; h < kvh; h++) {
        const base = (t * kvh + h) * hd;
        const mb = h * hd * hd;
        for (let i = 0; i < hd; i++) {
          const x = keys[base + i];
          s[h * hd + i] += x;
          for (let j = i; j < hd; j++) m[mb + i * hd + j] += x * keys[base + j];
        }
      }
    }
  }
}

export interface LayerBasis {
  /** [kvHeads, headDim, headDim] row-major; column j = j-th principal direction. */
  basis: Float32Array;
  /** [kvHeads, headDim], decreasing. */
  eigenvalues: Float64Array;
}

/** PCA per KV head: eigenvectors of the (optionally centred) second-moment matrix, by decreasing eigenvalue. */
export function fitBases(stats: KeyStatistics, options: { centred?: boolean } = {}): LayerBasis[] {
  const { kvHeads: kvh, headDim: hd, count } = stats;
  if (count === 0) throw new Error('no keys were collected: calibration data is empty');
  return stats.moment.map((m, layer) => {
    const basis = new Float32Array(kvh * hd * hd);
    const eigenvalues = new Float64Array(kvh * hd);
    for (let h = 0; h < kvh; h++) {
      const c = new Matrix(hd, hd);
      for (let i = 0; i < hd; i++)
        for (let j = i; j < hd; j++) {
          let v = m[h * hd * hd + i * hd + j] / count;
          if (options.centred) v -= (stats.sum[layer][h * hd + i] / count) * (stats.sum[layer][h * hd + j] / count);
          c.set(i, j, v);
          c.set(j, i, v);
        }
      const e = new EigenvalueDecomposition(c, { assumeSymmetric: true });
      const vals = e.realEigenvalues;
      const vecs = e.eigenvectorMatrix;
      const order = vals.map((_, i) => i).sort((a, b) => vals[b] - vals[a]);
      order.forEach((src, j) => {
        eigenvalues[h * hd + j] = Math.max(0, vals[src]);
        for (let i = 0; i < hd; i++) basis[h * hd * hd + i * hd + j] = vecs.get(i, src);
      });
    }
    return { basis, eigenvalues };
  });
}

/** Components needed to explain `fraction` of the variance (eigenvalue mass) of one head. */
export function rankFor(eigenvalues: ArrayLike<number>, fraction = 0.9): number {
  const total = Array.from(eigenvalues).reduce((a, b) => a + b, 0);
  if (total <= 0) return 0;
  let acc = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    acc += eigenvalues[i];
    if (acc >= fraction * total - 1e-12) return i + 1;
  }
  return eigenvalues.length;
}

export interface CalibrationInfo {
  /** Model name or path. */
  model: string;
  stage: KeyStage;
  /** What the keys came from (file, record count, tokens). */
  data: string;
  centred?: boolean;
}

/** Write bases as safetensors: `layers.{i}.basis` [kvH, hd, hd], `layers.{i}.eigenvalues` [kvH, hd], with metadata. */
export function saveBases(path: string, bases: readonly LayerBasis[], info: CalibrationInfo, tokens: number): void {
  const tensors: NamedTensors = new Map();
  bases.forEach((b, i) => {
    const hd = b.basis.length / b.eigenvalues.length;
    const kvh = b.eigenvalues.length / hd;
    tensors.set(`layers.${i}.basis`, { dtype: 'float32', shape: [kvh, hd, hd], data: b.basis });
    tensors.set(`layers.${i}.eigenvalues`, { dtype: 'float32', shape: [kvh, hd], data: Float32Array.from(b.eigenvalues) });
  });
  writeSafetensors(path, tensors, {
    model: info.model,
    stage: info.stage,
    data: info.data,
    centred: String(info.centred ?? false),
    tokens: String(tokens),
    method: 'eigendecomposition of the per-head key second-moment matrix (ml-matrix); columns by decreasing eigenvalue',
  });
}
