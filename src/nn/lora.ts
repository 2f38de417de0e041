/**
 * LoRA as a linear variant (Hu et al. 2021, arXiv 2106.09685; PEFT's `LoraLayer`): a frozen base
 * projection plus low-rank updates, y = base(x) + Σ_i s_i · (x A_iᵀ) B_iᵀ with A_i [r, in],
 * B_i [out, r] and s_i = lora_alpha / r (or lora_alpha / √r with rsLoRA). Applied unmerged: the
 * low-rank path is in the graph and the base weight stays as stored. Several adapters at once add
 * their updates, each with its own scale (a user weight folds into it).
 *
 * `mergeLora` computes the merged weight W + Σ s_i B_i A_i in float32 (for a merged model file).
 */
import { type HostTensor, toFloat32, transposed } from '../io/tensor.js';
import { GraphError, op } from '../onnx/index.js';
import { type LinearVariant, denseLinear } from './linear.js';

/** One adapter's update of one projection. */
export interface LoraUpdate {
  /** lora_A: [r, in]. */
  a: HostTensor;
  /** lora_B: [out, r]. */
  b: HostTensor;
  /** s = lora_alpha / r (or / √r), times the adapter's weight when several are combined. */
  scale: number;
  /** Names the initializers (`<site>.lora.<name>.A`): the adapter's name. */
  name: string;
}

function checkShapes(u: LoraUpdate, inFeatures: number, outFeatures: number, where: string): number {
  const [r, i] = u.a.shape as [number, number];
  const [o, r2] = u.b.shape as [number, number];
  if (u.a.shape.length !== 2 || u.b.shape.length !== 2 || i !== inFeatures || o !== outFeatures || r !== r2) {
    throw new GraphError(`${where}: adapter '${u.name}' has lora_A [${u.a.shape.join(', ')}] and lora_B [${u.b.shape.join(', ')}]; this layer needs [r, ${inFeatures}] and [${outFeatures}, r]`);
  }
  return r;
}

/** The LoRA variant of a projection: `base` (dense by default) plus the updates. */
export function loraLinear(updates: readonly LoraUpdate[], base: LinearVariant = denseLinear()): LinearVariant {
  return {
    kind: 'lora',
    build(x, w, spec, site) {
      let y = base.build(x, w, spec, site);
      const g = x.graph;
      for (const u of updates) {
        if (checkShapes(u, spec.inFeatures, spec.outFeatures, site.path) === 0) continue;
        /** A LoRA matrix transposed for MatMul, added once as `<site>.lora.<adapter>.<suffix>`. */
        const init = (suffix: string, t: HostTensor) => {
          const name = `${site.path}.lora.${u.name}.${suffix}`;
          return g.has(name) ? g.get(name) : g.initializer(name, { dtype: 'float32', dims: [t.shape[1], t.shape[0]], data: transposed(t) });
        };
        // (x Aᵀ) Bᵀ · s: the rank-r bottleneck first, so the update costs r·(in + out) per token.
        const low = op.matMul(x, init('A.T', u.a)); // [.., r]
        y = op.add(y, op.matMul(op.mul(low, u.scale), init('B.T', u.b))); // [.., out]
      }
      return y;
    },
  };
}

/** W + Σ s_i B_i A_i for a weight W [out, in], in float32. */
export function mergeLora(weight: HostTensor, updates: readonly LoraUpdate[], where = 'weight'): Float32Array {
  const [out, inn] = weight.shape as [number, number];
  const merged = Float32Array.from(toFloat32(weight));
  for (const u of updates) {
    const r = checkShapes(u, inn, out, where);
    const A = toFloat32(u.a);
    const B = toFloat32(u.b);
    for (let o = 0; o < out; o++) {
      for (let k = 0; k < r; k++) {
        const bs = B[o * r + k] * u.scale;
        if (bs === 0) continue;
        for (let i = 0; i < inn; i++) merged[o * inn + i] += bs * A[k * inn + i];
      }
    }
  }
  return merged;
}
