/**
 * Rotary position embedding (RoFormer): pairs of dimensions rotated by position × frequency.
 * Two conventions: `half` (GPT-NeoX, Llama, ESM: dims i and i+d/2 pair up) and `interleaved`
 * (GPT-J: dims 2i and 2i+1). Positions are a graph input, so cos/sin are computed in the graph.
 */
import { op, type Value } from '../onnx/index.js';

/** Rewrites the inverse frequencies (Llama-3 / linear / NTK scaling plug in here). */
export type RotaryScaling = (invFreq: Float64Array) => Float64Array;

export interface RotaryConfig {
  /** Rotated dims per head (≤ head dim; the rest pass through). */
  dim: number;
  theta: number;
  convention: 'half' | 'interleaved';
  scaling?: RotaryScaling;
}

/** inv_freq[i] = θ^(−2i/d), i = 0 … d/2−1, after the scaling hook. */
export function inverseFrequencies(cfg: RotaryConfig): Float64Array {
  const half = cfg.dim / 2;
  const f = Float64Array.from({ length: half }, (_, i) => Math.pow(cfg.theta, -(2 * i) / cfg.dim));
  return cfg.scaling ? cfg.scaling(f) : f;
}

export interface RotaryTables {
  /** [B, S, 1, d/2]: broadcasts over the heads of a [B, S, H, d] tensor. */
  cos: Value;
  sin: Value;
}

/** cos and sin of position × inv_freq for int64 positions [B, S]. */
export function rotaryTables(positions: Value, cfg: RotaryConfig): RotaryTables {
  const g = positions.graph;
  if (cfg.dim % 2 !== 0) throw new Error(`rotary dim ${cfg.dim} must be even`);
  return g.scope('rotary', () => {
    const inv = op.constant(g, 'float32', inverseFrequencies(cfg), [cfg.dim / 2]);
    const pos = op.unsqueeze(op.cast(positions, 'float32'), [2, 3]); // [B,S,1,1]
    const angle = op.mul(pos, inv); // [B,S,1,d/2]
    return { cos: op.cos(angle), sin: op.sin(angle) };
  });
}

/** Rotate x [B, S, H, head_dim] by the tables. */
export function applyRotary(x: Value, t: RotaryTables, cfg: RotaryConfig): Value {
  const hd = x.shape?.[3];
  if (typeof hd !== 'number') throw new Error(`rotary needs a known head dim, got ${x}`);
  const d = cfg.dim;
  if (d > hd) throw new Error(`rotary dim ${d} exceeds head dim ${hd}`);
  const [rot, pass] = d === hd ? [x, null] : op.split(x, 3, [d, hd - d]);
  let out: Value;
  if (cfg.convention === 'half') {
    const [x1, x2] = op.split(rot, 3, { parts: 2 });
    const o1 = op.sub(op.mul(x1, t.cos), op.mul(x2, t.sin));
    const o2 = op.add(op.mul(x2, t.cos), op.mul(x1, t.sin));
    out = op.concat([o1, o2], 3);
  } else {
    const pairs = op.reshape(rot, [0, 0, 0, d / 2, 2]);
    const [xe, xo] = op.split(pairs, 4, { parts: 2 });
    const cos = op.unsqueeze(t.cos, [4]);
    const sin = op.unsqueeze(t.sin, [4]);
    const oe = op.sub(op.mul(xe, cos), op.mul(xo, sin));
    const oo = op.add(op.mul(xe, sin), op.mul(xo, cos));
    out = op.reshape(op.concat([oe, oo], 4), [0, 0, 0, d]);
  }
  return pass ? op.concat([out, pass], 3) : out;
}
