/**
 * Multi-head / grouped-query attention whose *variant* decides how attention is computed and what
 * its KV cache holds. The block (projections, heads, rotary, output projection) is shared; the
 * variant receives q, k, v after rotary and returns the attended values plus its cache tensors.
 *
 * `full` keeps k and v as [B, kvHeads, T, headDim]. Later variants keep other things (Loki: rotated
 * keys with the low-rank part as its own d-major tensor; H2O: accumulated scores; streaming: sinks
 * plus a window) by declaring other cache slots, without any caller changing.
 */
import { GraphError, type Shape, op, type Value } from '../onnx/index.js';
import { type LinearChoice, linear } from './linear.js';
import { type RotaryConfig, type RotaryTables, applyRotary } from './rotary.js';
import type { Weights } from './weights.js';

export interface AttentionDims {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Multiplies q·k (1/√headDim by default). */
  scale: number;
}

/** Additive value for keys a query may not see. Finite, so a row with no visible key gives no NaN. */
export const MASKED = -1e9;

/**
 * Which key slot each query slot may see, built once per stack and shared by its layers.
 * Slots are indices in the key sequence (past + current); queries are the last S slots.
 */
export class MaskContext {
  private allowedCache?: Value;
  private biasCache?: Value;

  constructor(
    /** int64 [S]: slot of each query. */
    readonly querySlots: Value,
    /** int64 [T]: slot of each key. */
    readonly keySlots: Value,
    readonly causal: boolean,
    /** bool [B, T]: key is a real token (not padding); null when there is no padding. */
    readonly keyValid: Value | null,
    /**
     * Sliding window (Mistral): a query sees only keys with query slot − key slot < window.
     * Slots equal positions for real tokens when padding is on the left only.
     */
    readonly window: number | null = null,
  ) {}

  /** bool [B or 1, 1, S, T]: not padding, (causal) key slot ≤ query slot, and (window) within the window. */
  allowed(): Value | null {
    if (this.allowedCache) return this.allowedCache;
    const g = this.querySlots.graph;
    return g.scope('mask', () => {
      let a: Value | null = null;
      if (this.causal) a = op.lessOrEqual(op.unsqueeze(this.keySlots, [0]), op.unsqueeze(this.querySlots, [1])); // [S,T]
      if (this.window !== null) {
        // key > query − window, i.e. query − key < window
        const lowest = op.sub(op.unsqueeze(this.querySlots, [1]), op.constant(g, 'int64', [this.window], []));
        const inWindow = op.greater(op.unsqueeze(this.keySlots, [0]), lowest);
        a = a ? op.and(a, inWindow) : inWindow;
      }
      if (this.keyValid) {
        const pad = op.unsqueeze(this.keyValid, [1, 2]); // [B,1,1,T]
        a = a ? op.and(pad, a) : pad;
      } else if (a) a = op.unsqueeze(a, [0, 1]);
      if (a && a.rank === 2) a = op.unsqueeze(a, [0, 1]);
      this.allowedCache = a ?? undefined;
      return a;
    });
  }

  /** float32 additive bias [B or 1, 1, S or 1, T]: 0 where allowed, {@link MASKED} elsewhere; null if everything is visible. */
  bias(): Value | null {
    if (this.biasCache) return this.biasCache;
    const a = this.allowed();
    if (!a) return null;
    this.biasCache = a.graph.scope('mask', () => op.where(a, op.constant(a.graph, 'float32', [0], []), MASKED));
    return this.biasCache;
  }
}

export interface CacheSlot {
  /** Suffix of the cache tensors' names (`past.<layer>.<name>`, `present.<layer>.<name>`). */
  name: string;
  /** Shape per layer; the growing axis is symbolic (`past_sequence`). */
  shape: Shape;
  /** Which axis grows with the sequence (for building an empty cache). */
  sequenceAxis: number;
}

export interface AttendArgs {
  /** [B, S, heads, headDim], after rotary. */
  q: Value;
  /** [B, S, kvHeads, headDim], after rotary. */
  k: Value;
  /** The keys before rotary (the same value as `k` without rotary); for calibration and analysis. */
  kBeforeRotary: Value;
  /** [B, S, kvHeads, headDim]. */
  v: Value;
  /** This layer's cache inputs in `cacheSlots` order; null for a graph without a cache. */
  past: Value[] | null;
  dims: AttentionDims;
  mask: MaskContext;
}

export interface AttendResult {
  /** [B, S, heads·headDim] */
  out: Value;
  /** New cache values, in `cacheSlots` order (empty when `past` was null and nothing is kept). */
  present: Value[];
}

export interface AttentionVariant {
  readonly name: string;
  cacheSlots(dims: AttentionDims, batch: string | number): CacheSlot[];
  attend(a: AttendArgs): AttendResult;
}

/** [B, S, H, d] → [B, H, S, d] */
export function headsFirst(x: Value): Value {
  return op.transpose(x, [0, 2, 1, 3]);
}

/**
 * softmax(q·kᵀ·scale + bias)·v with grouped-query broadcasting, from explicit ops.
 * q [B, H, S, d]; k, v [B, KVH, T, d]; bias broadcastable to [B, 1, S, T]. Returns [B, S, H·d].
 */
export function scaledDotProductAttention(q: Value, k: Value, v: Value, bias: Value | null, dims: AttentionDims): Value {
  const group = dims.heads / dims.kvHeads;
  let qq = op.mul(q, dims.scale);
  let kk = k;
  let vv = v;
  let bb = bias;
  if (group > 1) {
    // KV head j serves query heads j·G … j·G+G−1 (Llama's repeat_kv): split H into [KVH, G].
    qq = op.reshape(qq, [0, dims.kvHeads, group, -1, dims.headDim]);
    kk = op.unsqueeze(k, [2]);
    vv = op.unsqueeze(v, [2]);
    bb = bias && op.unsqueeze(bias, [2]);
  }
  const r = kk.rank!;
  const perm = [...Array(r).keys()];
  [perm[r - 1], perm[r - 2]] = [perm[r - 2], perm[r - 1]];
  let scores = op.matMul(qq, op.transpose(kk, perm));
  if (bb) scores = op.add(scores, bb);
  let out = op.matMul(op.softmax(scores, -1), vv);
  if (group > 1) out = op.reshape(out, [0, dims.heads, -1, dims.headDim]);
  return op.reshape(headsFirst(out), [0, 0, dims.heads * dims.headDim]);
}

/** The cache of plain keys and values, [B, kvHeads, T, headDim] each: full attention's, and any variant that keeps them too. */
export function kvCacheSlots(dims: AttentionDims, batch: string | number): CacheSlot[] {
  const shape: Shape = [batch, dims.kvHeads, 'past_sequence', dims.headDim];
  return [
    { name: 'key', shape, sequenceAxis: 2 },
    { name: 'value', shape: [...shape], sequenceAxis: 2 },
  ];
}

/** Append this step's k, v ([B, S, KVH, d]) to a [B, KVH, T, d] cache. */
export function appendKv(past: Value[] | null, k: Value, v: Value): [Value, Value] {
  const kh = headsFirst(k);
  const vh = headsFirst(v);
  if (!past) return [kh, vh];
  return [op.concat([past[0], kh], 2), op.concat([past[1], vh], 2)];
}

export interface FullAttentionOptions {
  /**
   * Use onnxruntime's fused com.microsoft MultiHeadAttention kernel where it applies (no cache,
   * no causal mask, no grouped heads: encoders); explicit ops otherwise. Default true.
   */
  fused?: boolean;
}

/** Exact softmax attention over every visible key; cache = all keys and values. */
export function fullAttention(options: FullAttentionOptions = {}): AttentionVariant {
  const fused = options.fused ?? true;
  return {
    name: 'full',
    cacheSlots: kvCacheSlots,
    attend({ q, k, v, past, dims, mask }) {
      if (fused && !past && !mask.causal && dims.heads === dims.kvHeads) {
        const hidden = dims.heads * dims.headDim;
        const flat = (x: Value) => op.reshape(x, [0, 0, hidden]);
        const keyPaddingMask = mask.keyValid ? op.cast(mask.keyValid, 'int32') : undefined;
        const [out] = op.multiHeadAttention(flat(q), { numHeads: dims.heads, key: flat(k), value: flat(v), keyPaddingMask, scale: dims.scale, maskFilterValue: MASKED });
        return { out, present: [] };
      }
      const [kAll, vAll] = appendKv(past, k, v);
      const out = scaledDotProductAttention(headsFirst(q), kAll, vAll, mask.bias(), dims);
      return { out, present: past ? [kAll, vAll] : [] };
    },
  };
}

export interface AttentionSpec {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim?: number;
  bias: boolean;
  /** Bias on the output projection (defaults to `bias`). */
  outBias?: boolean;
  rotary?: RotaryConfig | null;
  scale?: number;
  linear?: LinearChoice;
}

export function attentionDims(s: AttentionSpec): AttentionDims {
  const headDim = s.headDim ?? s.hidden / s.heads;
  if (!Number.isInteger(headDim)) throw new GraphError(`hidden size ${s.hidden} is not divisible by ${s.heads} heads`);
  if (s.heads % s.kvHeads !== 0) throw new GraphError(`${s.heads} heads are not a multiple of ${s.kvHeads} KV heads`);
  return { heads: s.heads, kvHeads: s.kvHeads, headDim, scale: s.scale ?? 1 / Math.sqrt(headDim) };
}

export interface AttentionCall {
  variant: AttentionVariant;
  mask: MaskContext;
  /** Rotary cos/sin for the current positions (shared by all layers). */
  rotary?: RotaryTables | null;
  past: Value[] | null;
}

/**
 * The attention block: q/k/v projections (`q_proj`, `k_proj`, `v_proj` under `w`), heads,
 * rotary, the variant, `o_proj`. x [B, S, hidden] → [B, S, hidden] and the variant's cache.
 */
export function attention(x: Value, w: Weights, s: AttentionSpec, call: AttentionCall): AttendResult {
  const dims = attentionDims(s);
  const qOut = dims.heads * dims.headDim;
  const kvOut = dims.kvHeads * dims.headDim;
  const proj = (name: string, out: number, heads: number) => op.reshape(linear(x, w.scope(name), { inFeatures: s.hidden, outFeatures: out, bias: s.bias }, s.linear), [0, 0, heads, dims.headDim]);
  let q = proj('q_proj', qOut, dims.heads);
  let k = proj('k_proj', kvOut, dims.kvHeads);
  const kBeforeRotary = k;
  const v = proj('v_proj', kvOut, dims.kvHeads);
  if (s.rotary) {
    if (!call.rotary) throw new GraphError(`attention '${w.prefix}' uses rotary but the stack gave no rotary tables`);
    q = applyRotary(q, call.rotary, s.rotary);
    k = applyRotary(k, call.rotary, s.rotary);
  }
  const { out, present } = x.graph.scope(`${w.prefix}${call.variant.name}`, () => call.variant.attend({ q, k, kBeforeRotary, v, past: call.past, dims, mask: call.mask }));
  const y = linear(out, w.scope('o_proj'), { inFeatures: qOut, outFeatures: s.hidden, bias: s.outBias ?? s.bias }, s.linear);
  return { out: y, present };
}
