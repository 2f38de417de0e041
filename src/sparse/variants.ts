/**
 * Sparse attention variants of the shared attention module (src/nn/attention.ts): each decides
 * what its cache holds and how a query picks the keys it attends to.
 *
 * - `exactTopK`: the quality ceiling. Exact scores, keep the top k, softmax over those.
 * - `loki` (arXiv 2406.02542): keys are kept rotated into a PCA basis P (orthonormal, per KV
 *   head), the first d components as their own d-major tensor [B, kvH, d, T]. Approximate scores
 *   q̂_d·K̂_d pick the top k; the exact score of a selected key is that value plus q̂_r·K̂_r (P is
 *   orthonormal, so q̂·K̂ = q·K); softmax over the k; values of the k.
 * - `h2o` (arXiv 2306.14048): heavy hitters plus a recent window; the cache keeps accumulated
 *   attention and an alive mask, and after every run evicts down to `heavy + recent` alive keys.
 * - `streaming` (StreamingLLM, arXiv 2309.17453): attention sinks plus a window; the cache
 *   physically keeps only the first `sinks` keys and the last `window`.
 *
 * Each query keeps k = max(1, ceil(kFraction · n)) keys, n = the number of keys it may see
 * (past and current, not padding, causal): in a causal prefill, query i sees i + 1 keys. The
 * selection is an unsorted TopK unless the caller asks to see it (`onSelect`); the selected rows
 * are read with one flat Gather over [B·kvH·T, w] (see bench/loki.ts and BENCHMARKS.md for what
 * this costs against full attention).
 */
import { type AttendArgs, type AttendResult, type AttentionDims, type AttentionVariant, type CacheSlot, MASKED, appendKv, kvCacheSlots } from '../nn/attention.js';
import { dimOf } from '../nn/stack.js';
import { type GraphBuilder, GraphError, op, type Value } from '../onnx/index.js';

/** q [B, S, H, d] → [B, kvH, G, S, d] (query heads grouped under their KV head). */
function groupQueries(q: Value, dims: AttentionDims): Value {
  const g = dims.heads / dims.kvHeads;
  return op.transpose(op.reshape(op.mul(q, dims.scale), [0, 0, dims.kvHeads, g, dims.headDim]), [0, 2, 3, 1, 4]);
}

/** [B, kvH, G, S, d] → [B, S, H·d] */
function ungroup(o: Value, dims: AttentionDims): Value {
  return op.reshape(op.transpose(o, [0, 3, 1, 2, 4]), [0, 0, dims.heads * dims.headDim]);
}

/** The stack's additive mask as [B or 1, 1, 1, S or 1, T] (broadcast over KV heads and groups). */
function groupedBias(bias: Value | null): Value | null {
  return bias && op.unsqueeze(bias, [2]);
}

/** int64 [1]: max(1, min(T, ceil(fraction · T))) for a scalar int64 T. */
function topCount(t: Value, fraction: number): Value {
  const g = t.graph;
  const k = op.cast(op.ceil(op.mul(op.cast(t, 'float32'), fraction)), 'int64');
  return op.unsqueeze(op.max(op.min(k, t), op.constant(g, 'int64', [1], [])), [0]);
}

/**
 * Top k_i of the last axis of `scores` [B, kvH, G, S, T] with k_i per query from the mask. One
 * TopK takes K = ceil(f · T) candidates for every query; a query that may see fewer keys keeps only
 * its own k_i of them: the K − k_i lowest candidates get MASKED.
 *
 * Sorted (for callers that read the selection, e.g. recall): candidates in decreasing score, and
 * entries ranked at or beyond k_i are masked. Unsorted (the fast path, what attention needs):
 * `sorted = 0` (a selection, no sort: about half of the sorted TopK's time at 16k keys), then a
 * second, small TopK takes the m = max(1, K − min k_i) lowest candidates of every query, and a
 * ScatterElements masks the first K − k_i of them (none when every query keeps K, as in a decode
 * step without padding, where m = 1). Either way the kept set and the output are the same.
 */
function topPerQuery(scores: Value, t: Value, allowed: Value | null, fraction: number, sorted: boolean): [Value, Value] {
  const g = scores.graph;
  const count = topCount(t, fraction);
  const [top, idx] = op.topK(scores, count, -1, { sorted });
  if (!allowed) return [top, idx];
  const visible = op.unsqueeze(op.reduceSum(op.cast(allowed, 'float32'), [-1]), [2]); // [B,1,1,S,1]
  const limit = op.max(op.ceil(op.mul(visible, fraction)), 1);
  const zero = op.constant(g, 'float32', [0], []);
  if (sorted) {
    const ranks = op.cast(op.range(op.constant(g, 'int64', [0], []), op.gatherScalar(op.shape(top), -1), op.constant(g, 'int64', [1], [])), 'float32');
    return [op.add(top, op.where(op.less(ranks, limit), zero, MASKED)), idx];
  }
  const excess = op.sub(op.cast(count, 'float32'), limit); // [B,1,1,S,1]: candidates this query drops
  const most = op.cast(op.reduce('ReduceMax', excess, [0, 1, 2, 3, 4], false), 'int64');
  const m = op.unsqueeze(op.max(most, op.constant(g, 'int64', [1], [])), [0]);
  const [low, lowIdx] = op.topK(top, m, -1, { largest: false, sorted: true }); // [B,kvH,G,S,m], lowest first
  const ranks = op.cast(op.range(op.constant(g, 'int64', [0], []), op.gatherScalar(m, 0), op.constant(g, 'int64', [1], [])), 'float32');
  const dropped = op.add(low, op.where(op.less(ranks, excess), MASKED, zero));
  return [op.scatterElements(top, lowIdx, dropped, -1), idx];
}

function checkFraction(name: string, x: number): void {
  if (!(x > 0 && x <= 1)) throw new GraphError(`${name} must be in (0, 1], got ${x}`);
}

/**
 * Rows of `table` [B, kvH, T, w] picked by `indices` [B, kvH, G, S, k] (indices into T) →
 * [B, kvH, G, S, k, w]. A flat Gather over [B·kvH·T, w] with per-(b, h) offsets: measured here to
 * beat GatherND and GatherElements.
 */
function gatherRows(table: Value, indices: Value, kvHeads: number): Value {
  const g = table.graph;
  const b = dimOf(table, 0);
  const t = dimOf(table, 2);
  const w = table.shape![3] as number;
  const one = op.constant(g, 'int64', [1], []);
  const rows = op.mul(op.range(op.constant(g, 'int64', [0], []), op.mul(b, op.constant(g, 'int64', [kvHeads], [])), one), t); // [B·kvH]
  const offsets = op.reshape(rows, op.concat([op.unsqueeze(b, [0]), op.ints(g, [kvHeads, 1, 1, 1])], 0));
  return op.gather(op.reshape(table, [-1, w]), op.add(indices, offsets), 0);
}

/** Σ_k weights[..., k] · rows[..., k, :] for weights [..., k] and rows [..., k, w]. */
function weightedSum(weights: Value, rows: Value): Value {
  return op.squeeze(op.matMul(op.unsqueeze(weights, [-2]), rows), [-2]);
}

// ---------------------------------------------------------------------------------------------

export interface TopKOptions {
  /** Fraction of the cached keys each query attends to. */
  kFraction: number;
  /**
   * Called with the selected key indices [B, kvH, G, S, K] (sorted by score; entries ranked at or
   * beyond a query's own k are masked out), e.g. to expose them as a graph output for recall. With
   * it the TopK sorts; without it the selection is unsorted (faster, same output).
   */
  onSelect?: (indices: Value) => void;
}

/** Exact top-k attention: exact scores, the k best per query, softmax over them. */
export function exactTopK(o: TopKOptions): AttentionVariant {
  checkFraction('kFraction', o.kFraction);
  return {
    name: 'exact-topk',
    cacheSlots: kvCacheSlots,
    attend({ q, k, v, past, dims, mask }: AttendArgs): AttendResult {
      const [kAll, vAll] = appendKv(past, k, v);
      const out = topKAttendCached(q, kAll, vAll, dims, mask.bias(), mask.allowed(), o);
      return { out, present: past ? [kAll, vAll] : [] };
    },
  };
}

/**
 * Exact top-k attention over a built cache: q [B, S, H, d] (after rotary), kAll and vAll
 * [B, kvH, T, d]; `bias`/`allowed` as the stack's mask gives them. Returns [B, S, H·d].
 */
export function topKAttendCached(q: Value, kAll: Value, vAll: Value, dims: AttentionDims, bias: Value | null, allowed: Value | null, o: TopKOptions): Value {
  let scores = op.matMul(groupQueries(q, dims), op.unsqueeze(op.transpose(kAll, [0, 1, 3, 2]), [2])); // [B,kvH,G,S,T]
  const b = groupedBias(bias);
  if (b) scores = op.add(scores, b);
  const [top, idx] = topPerQuery(scores, dimOf(kAll, 2), allowed, o.kFraction, !!o.onSelect);
  o.onSelect?.(idx);
  const out = weightedSum(op.softmax(top, -1), gatherRows(vAll, idx, dims.kvHeads));
  return ungroup(out, dims);
}

// ---------------------------------------------------------------------------------------------

export interface LokiOptions {
  /** Fraction of the head dimension used for approximate scores (d = round(dFraction · headDim)). */
  dFraction: number;
  kFraction: number;
  /**
   * The PCA basis of post-rotary keys for this layer: [kvHeads, headDim, headDim] row-major,
   * column j of head h = the j-th principal direction (decreasing variance), orthonormal.
   */
  basis: Float32Array;
  /** Name of the initializer holding the basis (unique per layer), e.g. `layers.3.loki_basis`. */
  basisName: string;
  /** As {@link TopKOptions.onSelect}, with the keys Loki's approximate scores selected. */
  onSelect?: (indices: Value) => void;
}

export function lokiRank(dims: AttentionDims, dFraction: number): number {
  return Math.min(dims.headDim, Math.max(1, Math.round(dFraction * dims.headDim)));
}

export function loki(o: LokiOptions): AttentionVariant {
  checkFraction('dFraction', o.dFraction);
  checkFraction('kFraction', o.kFraction);
  return {
    name: 'loki',
    cacheSlots(dims, batch) {
      const d = lokiRank(dims, o.dFraction);
      const slots: CacheSlot[] = [{ name: 'key_low', shape: [batch, dims.kvHeads, d, 'past_sequence'], sequenceAxis: 3 }];
      if (d < dims.headDim) slots.push({ name: 'key_rest', shape: [batch, dims.kvHeads, 'past_sequence', dims.headDim - d], sequenceAxis: 2 });
      slots.push({ name: 'value', shape: [batch, dims.kvHeads, 'past_sequence', dims.headDim], sequenceAxis: 2 });
      return slots;
    },
    attend({ q, k, v, past, dims, mask }: AttendArgs): AttendResult {
      const g = q.graph;
      const hd = dims.headDim;
      const d = lokiRank(dims, o.dFraction);
      const basis = lokiBasis(g, o, dims);
      // Rotate keys into the basis, K̂ = K·P (per KV head), and split the low-rank part off.
      const kHat = op.matMul(op.transpose(k, [0, 2, 1, 3]), basis); // [B,kvH,S,hd]
      const [kLow, kRest] = d < hd ? op.split(kHat, 3, [d, hd - d]) : [kHat, null];
      const lowT = op.transpose(kLow, [0, 1, 3, 2]); // d-major [B,kvH,d,S]
      const vh = op.transpose(v, [0, 2, 1, 3]);
      const lowAll = past ? op.concat([past[0], lowT], 3) : lowT;
      const restAll = kRest && (past ? op.concat([past[1], kRest], 2) : kRest);
      const vAll = past ? op.concat([past[past.length - 1], vh], 2) : vh;
      const out = lokiAttendCached(q, basis, { low: lowAll, rest: restAll, value: vAll }, dims, mask.bias(), mask.allowed(), o);
      const present = past ? (restAll ? [lowAll, restAll, vAll] : [lowAll, vAll]) : [];
      return { out, present };
    },
  };
}

/** The basis initializer of a Loki layer (added once per graph). */
export function lokiBasis(g: GraphBuilder, o: LokiOptions, dims: AttentionDims): Value {
  const hd = dims.headDim;
  if (o.basis.length !== dims.kvHeads * hd * hd) {
    throw new GraphError(`loki basis '${o.basisName}' has ${o.basis.length} values; ${dims.kvHeads} KV heads × ${hd} × ${hd} expected`);
  }
  return g.has(o.basisName) ? g.get(o.basisName) : g.initializer(o.basisName, { dtype: 'float32', dims: [dims.kvHeads, hd, hd], data: o.basis });
}

/** Loki's cache: rotated keys' low-rank part d-major, the rest row-major, and the values. */
export interface LokiCache {
  /** [B, kvH, d, T] */
  low: Value;
  /** [B, kvH, T, headDim − d], or null when d = headDim. */
  rest: Value | null;
  /** [B, kvH, T, headDim] */
  value: Value;
}

/**
 * Loki over a built cache: q [B, S, H, d] (after rotary) is rotated into the basis, scored on the
 * low-rank part, the top k selected, and exact attention computed over those. Returns [B, S, H·d].
 */
export function lokiAttendCached(q: Value, basis: Value, cache: LokiCache, dims: AttentionDims, bias: Value | null, allowed: Value | null, o: LokiOptions): Value {
  const hd = dims.headDim;
  const d = lokiRank(dims, o.dFraction);
  const qHat = op.matMul(groupQueries(q, dims), op.unsqueeze(basis, [1])); // [B,kvH,G,S,hd]
  const [qLow, qRest] = d < hd ? op.split(qHat, 4, [d, hd - d]) : [qHat, null];
  let approx = op.matMul(qLow, op.unsqueeze(cache.low, [2])); // [B,kvH,G,S,T]
  const b = groupedBias(bias);
  if (b) approx = op.add(approx, b);
  const [top, idx] = topPerQuery(approx, dimOf(cache.value, 2), allowed, o.kFraction, !!o.onSelect);
  o.onSelect?.(idx);
  // Exact scores of the selected keys: the low part is the TopK value itself.
  const exact = cache.rest && qRest ? op.add(top, op.squeeze(op.matMul(gatherRows(cache.rest, idx, dims.kvHeads), op.unsqueeze(qRest, [-1])), [-1])) : top;
  const out = weightedSum(op.softmax(exact, -1), gatherRows(cache.value, idx, dims.kvHeads));
  return ungroup(out, dims);
}

// ---------------------------------------------------------------------------------------------

export interface H2OOptions {
  /** Heavy hitters kept (keys with the largest accumulated attention). */
  heavy: number;
  /** Most recent keys always kept. */
  recent: number;
}

/**
 * H2O for causal decoders. Each run attends over the alive keys (plus the new ones), adds each
 * key's attention (summed over the query heads of its KV head and the run's queries) to its
 * accumulated score, then keeps alive only the `recent` newest keys and the `heavy` alive older
 * keys with the largest accumulated score. A prefill attends causally to everything and then
 * evicts down to the budget; each decode step evicts at most one key. The cache keeps every key's
 * storage (evicted keys are masked, not freed): memory is not reduced by this implementation.
 */
export function h2o(o: H2OOptions): AttentionVariant {
  if (!(o.heavy >= 0 && o.recent >= 1)) throw new GraphError(`h2o needs heavy ≥ 0 and recent ≥ 1, got ${o.heavy}, ${o.recent}`);
  return {
    name: 'h2o',
    cacheSlots(dims, batch) {
      return [
        ...kvCacheSlots(dims, batch),
        { name: 'score', shape: [batch, dims.kvHeads, 'past_sequence'], sequenceAxis: 2 },
        { name: 'alive', shape: [batch, dims.kvHeads, 'past_sequence'], sequenceAxis: 2 },
      ];
    },
    attend({ q, k, v, past, dims, mask }: AttendArgs): AttendResult {
      if (!mask.causal) throw new GraphError('h2o applies to causal decoders only');
      const g = q.graph;
      const [kAll, vAll] = appendKv(past, k, v);
      const kh = op.transpose(k, [0, 2, 1, 3]);
      const fresh = op.constantOfShape(op.shape(kh, { end: 3 }), 1); // [B,kvH,S]
      const alive = past ? op.concat([past[3], fresh], 2) : fresh;
      const acc0 = past ? op.concat([past[2], op.mul(fresh, 0)], 2) : op.mul(fresh, 0);

      const qg = groupQueries(q, dims);
      let scores = op.matMul(qg, op.unsqueeze(op.transpose(kAll, [0, 1, 3, 2]), [2]));
      const deadBias = op.unsqueeze(op.mul(op.sub(1, alive), MASKED), [2, 3]); // [B,kvH,1,1,T]
      scores = op.add(scores, deadBias);
      const bias = groupedBias(mask.bias());
      if (bias) scores = op.add(scores, bias);
      const probs = op.softmax(scores, -1);
      const out = op.matMul(probs, op.unsqueeze(vAll, [2]));
      const acc = op.add(acc0, op.reduceSum(probs, [2, 3], false)); // [B,kvH,T]

      // Evict: keep the `recent` newest and the `heavy` alive older keys with the largest score.
      const t = dimOf(kAll, 2);
      const slots = op.range(op.constant(g, 'int64', [0], []), t, op.constant(g, 'int64', [1], []));
      const recentStart = op.sub(t, op.constant(g, 'int64', [o.recent], []));
      const isRecent = op.cast(op.greaterOrEqual(slots, recentStart), 'float32'); // [T]
      let keep = isRecent;
      if (o.heavy > 0) {
        const candidate = op.mul(alive, op.sub(1, isRecent)); // alive and older
        const ranked = op.add(acc, op.mul(op.sub(1, candidate), 2 * MASKED));
        const count = op.unsqueeze(op.min(t, op.constant(g, 'int64', [o.heavy], [])), [0]);
        const [, heavyIdx] = op.topK(ranked, count, -1, { sorted: false });
        const heavy = op.scatterElements(op.mul(acc, 0), heavyIdx, op.constantOfShape(op.shape(heavyIdx), 1), -1);
        keep = op.max(heavy, isRecent);
      }
      const aliveNext = op.mul(alive, keep);
      return { out: ungroup(out, dims), present: [kAll, vAll, acc, aliveNext] };
    },
  };
}

// ---------------------------------------------------------------------------------------------

export interface StreamingOptions {
  /** First keys always kept (attention sinks). */
  sinks: number;
  /** A query sees the keys of the last `window` slots, itself included. */
  window: number;
}

/**
 * StreamingLLM: a query attends to the sink keys and the keys within its window. The cache keeps
 * exactly those (the first `sinks` and the last `window`), with each key's slot and padding
 * validity. Keys keep the rotary positions they were computed with (as Mistral's sliding window
 * does), not positions re-assigned inside the cache as in the StreamingLLM paper; the difference
 * only shows past the model's trained context.
 */
export function streaming(o: StreamingOptions): AttentionVariant {
  if (!(o.sinks >= 0 && o.window >= 1)) throw new GraphError(`streaming needs sinks ≥ 0 and window ≥ 1, got ${o.sinks}, ${o.window}`);
  return {
    name: 'streaming',
    cacheSlots(dims, batch) {
      return [...kvCacheSlots(dims, batch), { name: 'slot', shape: ['past_sequence'], sequenceAxis: 0 }, { name: 'valid', shape: [batch, 'past_sequence'], sequenceAxis: 1 }];
    },
    attend({ q, k, v, past, dims, mask }: AttendArgs): AttendResult {
      if (!mask.causal) throw new GraphError('streaming applies to causal decoders only');
      const g = q.graph;
      const [kAll, vAll] = appendKv(past, k, v);
      const s = dimOf(q, 1);
      const qSlots = op.cast(mask.querySlots, 'float32'); // [S]
      const slotAll = past ? op.concat([past[2], qSlots], 0) : qSlots; // [T]
      const nowValid = mask.keyValid
        ? op.cast(op.slice(mask.keyValid, op.unsqueeze(op.sub(dimOf(mask.keyValid, 1), s), [0]), [Number.MAX_SAFE_INTEGER], [1]), 'float32')
        : op.constantOfShape(op.concat([op.shape(q, { end: 1 }), op.unsqueeze(s, [0])], 0), 1);
      const validAll = past ? op.concat([past[3], nowValid], 1) : nowValid; // [B,T]

      const key = op.unsqueeze(slotAll, [0]); // [1,T]
      const query = op.unsqueeze(qSlots, [1]); // [S,1]
      const causal = op.lessOrEqual(key, query);
      const sink = op.less(key, op.constant(g, 'float32', [o.sinks], []));
      const inWindow = op.less(op.sub(query, key), op.constant(g, 'float32', [o.window], []));
      const allowed = op.and(op.and(causal, op.or(sink, inWindow)), op.unsqueeze(op.cast(validAll, 'bool'), [1, 2])); // [B,1,S,T]
      const bias = op.unsqueeze(op.where(allowed, op.constant(g, 'float32', [0], []), MASKED), [2]);
      const qg = groupQueries(q, dims);
      const scores = op.add(op.matMul(qg, op.unsqueeze(op.transpose(kAll, [0, 1, 3, 2]), [2])), bias);
      const out = op.matMul(op.softmax(scores, -1), op.unsqueeze(vAll, [2]));

      // Keep the sink entries (slots < sinks: always the first ones) and the last `window`.
      const t = dimOf(kAll, 2);
      const ns = op.cast(op.reduceSum(op.cast(op.less(slotAll, op.constant(g, 'float32', [o.sinks], [])), 'float32'), [0], false), 'int64');
      const nw = op.min(op.constant(g, 'int64', [o.window], []), op.sub(t, ns));
      const head = (x: Value, axis: number) => op.slice(x, [0], op.unsqueeze(ns, [0]), [axis]);
      const tail = (x: Value, axis: number) => op.slice(x, op.unsqueeze(op.sub(t, nw), [0]), [Number.MAX_SAFE_INTEGER], [axis]);
      const keepEnds = (x: Value, axis: number) => op.concat([head(x, axis), tail(x, axis)], axis);
      return { out: ungroup(out, dims), present: [keepEnds(kAll, 2), keepEnds(vAll, 2), keepEnds(slotAll, 0), keepEnds(validAll, 1)] };
    },
  };
}
