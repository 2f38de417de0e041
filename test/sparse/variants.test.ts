/**
 * Sparse attention variants against plain TypeScript implementations of their definitions (not
 * of their graphs): small random tensors, k smaller than the context, prefill then decode through
 * the variant's own cache, causal and bidirectional (with padding), grouped-query heads.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { type AttentionDims, type AttentionVariant, DecoderCache, fullAttention, maskFromSlots } from '../../src/nn/index.js';
import { GraphBuilder, serializeModel } from '../../src/onnx/index.js';
import { exactTopK, h2o, loki, lokiRank, streaming } from '../../src/sparse/index.js';

const B = 2;
const H = 4;
const KVH = 2;
const HD = 8;
const dims: AttentionDims = { heads: H, kvHeads: KVH, headDim: HD, scale: 1 / Math.sqrt(HD) };

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function normal(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()));
}

/** Per KV head a random orthonormal [HD, HD] (Gram–Schmidt), row-major, columns the directions. */
function randomBasis(r: () => number): Float32Array {
  const out = new Float32Array(KVH * HD * HD);
  for (let h = 0; h < KVH; h++) {
    const cols: number[][] = [];
    for (let j = 0; j < HD; j++) {
      let c = Array.from(normal(HD, r));
      for (const p of cols) {
        const dot = c.reduce((a, x, i) => a + x * p[i], 0);
        c = c.map((x, i) => x - dot * p[i]);
      }
      const n = Math.hypot(...c);
      cols.push(c.map((x) => x / n));
    }
    for (let i = 0; i < HD; i++) for (let j = 0; j < HD; j++) out[h * HD * HD + i * HD + j] = cols[j][i];
  }
  return out;
}

/** Full sequence of q [B,T,H,HD], k, v [B,T,KVH,HD] for the reference and the graph feeds. */
interface Seq {
  T: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  valid: number[][]; // [B][T] 1 = token
}

function makeSeq(T: number, seed: number, padding: number[] = [0, 0]): Seq {
  const r = rng(seed);
  return {
    T,
    q: normal(B * T * H * HD, r),
    k: normal(B * T * KVH * HD, r),
    v: normal(B * T * KVH * HD, r),
    valid: padding.map((p) => Array.from({ length: T }, (_, t) => (t < T - p ? 1 : 0))),
  };
}

const qAt = (s: Seq, b: number, t: number, h: number) => s.q.subarray(((b * s.T + t) * H + h) * HD, ((b * s.T + t) * H + h + 1) * HD);
const kAt = (s: Seq, b: number, t: number, h: number) => s.k.subarray(((b * s.T + t) * KVH + h) * HD, ((b * s.T + t) * KVH + h + 1) * HD);
const vAt = (s: Seq, b: number, t: number, h: number) => s.v.subarray(((b * s.T + t) * KVH + h) * HD, ((b * s.T + t) * KVH + h + 1) * HD);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let x = 0;
  for (let i = 0; i < a.length; i++) x += a[i] * b[i];
  return x;
};

const MASK = -1e9;

/** softmax-weighted values over `chosen` keys with `scores` (masked scores already included). */
function mix(s: Seq, b: number, kvh: number, chosen: number[], scores: number[]): Float64Array {
  const m = Math.max(...scores);
  const w = scores.map((x) => Math.exp(x - m));
  const z = w.reduce((a, x) => a + x, 0);
  const out = new Float64Array(HD);
  chosen.forEach((t, i) => {
    const v = vAt(s, b, t, kvh);
    for (let d = 0; d < HD; d++) out[d] += (w[i] / z) * v[d];
  });
  return out;
}

/** Indices of the k largest (ties: lower index first). */
function topk(values: number[], k: number): number[] {
  return values
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

type Reference = (s: Seq, b: number, h: number, query: number, keys: number, allowed: (t: number) => boolean) => Float64Array;

const fullRef: Reference = (s, b, h, query, keys, allowed) => {
  const kvh = Math.floor(h / (H / KVH));
  const ts = Array.from({ length: keys }, (_, t) => t);
  return mix(
    s,
    b,
    kvh,
    ts,
    ts.map((t) => dot(qAt(s, b, query, h), kAt(s, b, t, kvh)) * dims.scale + (allowed(t) ? 0 : MASK)),
  );
};

/** k for one query: max(1, ceil(f · n)), n = the keys it may see. */
function budget(kFraction: number, keys: number, allowed: (t: number) => boolean): number {
  let n = 0;
  for (let t = 0; t < keys; t++) if (allowed(t)) n++;
  return Math.max(1, Math.ceil(kFraction * n));
}

function topkRef(kFraction: number): Reference {
  return (s, b, h, query, keys, allowed) => {
    const kvh = Math.floor(h / (H / KVH));
    const scores = Array.from({ length: keys }, (_, t) => dot(qAt(s, b, query, h), kAt(s, b, t, kvh)) * dims.scale + (allowed(t) ? 0 : MASK));
    const chosen = topk(scores, budget(kFraction, keys, allowed));
    return mix(
      s,
      b,
      kvh,
      chosen,
      chosen.map((t) => scores[t]),
    );
  };
}

function lokiRef({ dFraction, kFraction }: { dFraction: number; kFraction: number }, basis: Float32Array): Reference {
  const d = lokiRank(dims, dFraction);
  const rotate = (x: ArrayLike<number>, kvh: number) =>
    Array.from({ length: HD }, (_, j) => {
      let acc = 0;
      for (let i = 0; i < HD; i++) acc += x[i] * basis[kvh * HD * HD + i * HD + j];
      return acc;
    });
  return (s, b, h, query, keys, allowed) => {
    const kvh = Math.floor(h / (H / KVH));
    const qh = rotate(qAt(s, b, query, h), kvh);
    const approx = Array.from({ length: keys }, (_, t) => dot(qh.slice(0, d), rotate(kAt(s, b, t, kvh), kvh).slice(0, d)) * dims.scale + (allowed(t) ? 0 : MASK));
    const chosen = topk(approx, budget(kFraction, keys, allowed));
    // exact scores of the chosen keys, from the original (unrotated) q and k
    return mix(
      s,
      b,
      kvh,
      chosen,
      chosen.map((t) => dot(qAt(s, b, query, h), kAt(s, b, t, kvh)) * dims.scale + (allowed(t) ? 0 : MASK)),
    );
  };
}

function streamingRef(sinks: number, window: number): Reference {
  return (s, b, h, query, keys, allowed) => fullRef(s, b, h, query, keys, (t) => allowed(t) && (t < sinks || query - t < window));
}

/** Runs `variant` over `seq` in chunks (first chunk = prefill) through its cache; outputs [B,T,H,HD]. */
async function runGraph(variant: AttentionVariant, seq: Seq, chunks: number[], causal: boolean): Promise<Float32Array> {
  const g = new GraphBuilder('attend');
  const q = g.input('q', 'float32', ['batch', 'sequence', H, HD]);
  const k = g.input('k', 'float32', ['batch', 'sequence', KVH, HD]);
  const v = g.input('v', 'float32', ['batch', 'sequence', KVH, HD]);
  const am = g.input('attention_mask', 'int64', ['batch', 'total']);
  const slots = variant.cacheSlots(dims, 'batch');
  const useCache = causal;
  const past = useCache ? slots.map((sl) => g.input(`past.0.${sl.name}`, 'float32', sl.shape)) : null;
  const seqLen = g.node('Gather', [g.node('Shape', [q])[0], g.initializer('one', { dtype: 'int64', dims: [], data: new BigInt64Array([1n]) })], {})[0];
  const totLen = g.node('Gather', [g.node('Shape', [am])[0], g.get('one')], {})[0];
  const mask = maskFromSlots(seqLen, totLen, causal, am);
  const { out, present } = variant.attend({ q, k, kBeforeRotary: k, v, past, dims, mask });
  g.output(out, 'out');
  present.forEach((p, i) => g.output(p, `present.0.${slots[i].name}`));
  const session = await ort.InferenceSession.create(serializeModel(g), { logSeverityLevel: 3 });
  const cache = new DecoderCache([slots], B);
  const result = new Float32Array(B * seq.T * H * HD);
  let start = 0;
  for (const n of chunks) {
    const take = (src: Float32Array, heads: number) => {
      const d = new Float32Array(B * n * heads * HD);
      for (let b = 0; b < B; b++) d.set(src.subarray((b * seq.T + start) * heads * HD, (b * seq.T + start + n) * heads * HD), b * n * heads * HD);
      return new ort.Tensor('float32', d, [B, n, heads, HD]);
    };
    const total = start + n;
    const maskT = new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: B * total }, (_, i) => BigInt(seq.valid[Math.floor(i / total)][i % total])),
      [B, total],
    );
    const feeds: Record<string, ort.Tensor> = { q: take(seq.q, H), k: take(seq.k, KVH), v: take(seq.v, KVH), attention_mask: maskT };
    if (useCache) Object.assign(feeds, cache.feeds());
    const r = await session.run(feeds);
    if (useCache) cache.update(r, n);
    const o = r.out.data as Float32Array;
    for (let b = 0; b < B; b++) result.set(o.subarray(b * n * H * HD, (b + 1) * n * H * HD), (b * seq.T + start) * H * HD);
    start += n;
  }
  return result;
}

function reference(ref: Reference, seq: Seq, causal: boolean): Float32Array {
  const out = new Float32Array(B * seq.T * H * HD);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < seq.T; t++)
      for (let h = 0; h < H; h++) {
        const keys = causal ? t + 1 : seq.T;
        out.set(
          ref(seq, b, h, t, keys, (j) => seq.valid[b][j] === 1 && (!causal || j <= t)),
          ((b * seq.T + t) * H + h) * HD,
        );
      }
  return out;
}

function worst(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const basis = randomBasis(rng(99));

describe('decoders: prefill 6 then 6 decode steps through the cache (causal, GQA)', () => {
  const seq = makeSeq(12, 1);
  const chunks = [6, 1, 1, 1, 1, 1, 1];
  const cases: [string, AttentionVariant, Reference][] = [
    ['full', fullAttention(), fullRef],
    ['exact-topk k=0.25', exactTopK({ kFraction: 0.25 }), topkRef(0.25)],
    ['exact-topk k=0.5', exactTopK({ kFraction: 0.5 }), topkRef(0.5)],
    ['loki d=0.25 k=0.25', loki({ dFraction: 0.25, kFraction: 0.25, basis, basisName: 'basis' }), lokiRef({ dFraction: 0.25, kFraction: 0.25 }, basis)],
    ['loki d=0.5 k=0.5', loki({ dFraction: 0.5, kFraction: 0.5, basis, basisName: 'basis' }), lokiRef({ dFraction: 0.5, kFraction: 0.5 }, basis)],
    ['loki d=0.25 k=0.5', loki({ dFraction: 0.25, kFraction: 0.5, basis, basisName: 'basis' }), lokiRef({ dFraction: 0.25, kFraction: 0.5 }, basis)],
    ['streaming sinks=2 window=4', streaming({ sinks: 2, window: 4 }), streamingRef(2, 4)],
    ['streaming sinks=0 window=3', streaming({ sinks: 0, window: 3 }), streamingRef(0, 3)],
  ];
  test.each(cases)('%s', async (_name, variant, ref) => {
    const got = await runGraph(variant, seq, chunks, true);
    expect(worst(got, reference(ref, seq, true))).toBeLessThanOrEqual(1e-5);
  });
});

describe('decoders with rows of different lengths: decode steps where a query keeps fewer than K keys', () => {
  // Row 1's last 4 slots are padding: its decode queries see fewer keys than row 0's, so their own
  // k is below the TopK's K (the unsorted path masks the extra candidates; the sorted one ranks).
  const seq = makeSeq(12, 4, [0, 4]);
  const chunks = [5, 1, 1, 1, 1, 1, 1, 1];
  const select = { onSelect: () => {} };
  const cases: [string, AttentionVariant, Reference][] = [
    ['exact-topk k=0.3 (unsorted)', exactTopK({ kFraction: 0.3 }), topkRef(0.3)],
    ['exact-topk k=0.3 (sorted)', exactTopK({ kFraction: 0.3, ...select }), topkRef(0.3)],
    ['loki d=0.25 k=0.3 (unsorted)', loki({ dFraction: 0.25, kFraction: 0.3, basis, basisName: 'basis' }), lokiRef({ dFraction: 0.25, kFraction: 0.3 }, basis)],
    ['loki d=0.5 k=0.5 (sorted)', loki({ dFraction: 0.5, kFraction: 0.5, basis, basisName: 'basis', ...select }), lokiRef({ dFraction: 0.5, kFraction: 0.5 }, basis)],
  ];
  test.each(cases)('%s', async (_name, variant, ref) => {
    const got = await runGraph(variant, seq, chunks, true);
    expect(worst(got, reference(ref, seq, true))).toBeLessThanOrEqual(1e-5);
  });
});

describe('encoders: bidirectional with padding, no cache', () => {
  const seq = makeSeq(10, 2, [0, 3]);
  const cases: [string, AttentionVariant, Reference][] = [
    ['exact-topk k=0.3', exactTopK({ kFraction: 0.3 }), topkRef(0.3)],
    ['loki d=0.25 k=0.3', loki({ dFraction: 0.25, kFraction: 0.3, basis, basisName: 'basis' }), lokiRef({ dFraction: 0.25, kFraction: 0.3 }, basis)],
  ];
  test.each(cases)('%s', async (_name, variant, ref) => {
    const got = await runGraph(variant, seq, [10], false);
    expect(worst(got, reference(ref, seq, false))).toBeLessThanOrEqual(1e-5);
  });
});

test('loki with d = the full head dimension selects what exact-topk selects', async () => {
  const seq = makeSeq(12, 3);
  const chunks = [5, 1, 1, 1, 1, 1, 1, 1];
  const a = await runGraph(loki({ dFraction: 1, kFraction: 0.25, basis, basisName: 'basis' }), seq, chunks, true);
  const b = await runGraph(exactTopK({ kFraction: 0.25 }), seq, chunks, true);
  expect(worst(a, b)).toBeLessThanOrEqual(1e-5);
});

describe('h2o: heavy hitters + recent window, evicting after every run', () => {
  /** Step-by-step simulation of the H2O policy per (batch, KV head). */
  function h2oReference(seq: Seq, chunks: number[], heavy: number, recent: number): Float32Array {
    const out = new Float32Array(B * seq.T * H * HD);
    const G = H / KVH;
    for (let b = 0; b < B; b++)
      for (let kvh = 0; kvh < KVH; kvh++) {
        let alive: number[] = [];
        let acc: number[] = [];
        let start = 0;
        for (const n of chunks) {
          const total = start + n;
          alive = [...alive, ...new Array<number>(n).fill(1)];
          acc = [...acc, ...new Array<number>(n).fill(0)];
          for (let t = start; t < total; t++)
            for (let gq = 0; gq < G; gq++) {
              const h = kvh * G + gq;
              const ts = Array.from({ length: total }, (_, j) => j);
              const scores = ts.map((j) => dot(qAt(seq, b, t, h), kAt(seq, b, j, kvh)) * dims.scale + (alive[j] && j <= t && seq.valid[b][j] ? 0 : MASK));
              const m = Math.max(...scores);
              const w = scores.map((x) => Math.exp(x - m));
              const z = w.reduce((a, x) => a + x, 0);
              const o = new Float64Array(HD);
              ts.forEach((j) => {
                acc[j] += w[j] / z;
                const v = vAt(seq, b, j, kvh);
                for (let d = 0; d < HD; d++) o[d] += (w[j] / z) * v[d];
              });
              out.set(o, ((b * seq.T + t) * H + h) * HD);
            }
          const isRecent = (j: number) => j >= total - recent;
          const candidates = acc.map((a, j) => (alive[j] && !isRecent(j) ? a : -Infinity));
          const keep = new Set(topk(candidates, Math.min(heavy, total)).filter((j) => candidates[j] > -Infinity));
          alive = alive.map((a, j) => (a && (isRecent(j) || keep.has(j)) ? 1 : 0));
          start = total;
        }
      }
    return out;
  }

  test.each([
    [2, 2],
    [3, 1],
    [0, 4],
  ])('heavy %i, recent %i', async (heavy, recent) => {
    const seq = makeSeq(14, 4);
    const chunks = [6, 1, 1, 1, 1, 1, 1, 1, 1];
    const got = await runGraph(h2o({ heavy, recent }), seq, chunks, true);
    expect(worst(got, h2oReference(seq, chunks, heavy, recent))).toBeLessThanOrEqual(1e-5);
  });
});
