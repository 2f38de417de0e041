/**
 * Per-decode-step attention time of one layer (32 heads of dimension 128), excluding the KV append
 * as the Loki paper measures it: full attention vs Loki (d = 0.25; k = 0.25 and 0.125) vs exact
 * top-k, contexts 2k–16k, batch 1 and 4, CPU, 2 threads, interleaved, with the CPU caches made
 * cold before every timed run (decode reads each layer's cache from memory).
 *
 *   npm run bench:loki -- [--contexts 2048,4096,8192,16384] [--batches 1,4] [--runs 30] [--threads 2]
 *
 * Two full-attention baselines, both plain MatMul formulations (they beat com.microsoft
 * MultiHeadAttention in an earlier probe): the shared module's softmax(q·Kᵀ)·V (ORT fuses the
 * transpose into a FusedMatMul) and softmax((K·q)ᵀ)·V, which reads K row by row as a GEMV and was
 * 5–15% faster here. Ratios are against the faster of the two in each row. Each variant gets the
 * cache in its own layout (Loki: d-major low-rank keys, the remaining dimensions, values). No mask
 * (every key visible), so Loki's decode path is the unsorted TopK with no budget correction.
 * Medians with the p10–p90 range. Never run while a training job holds the cores (`quiet-run`).
 */
import * as ort from 'onnxruntime-node';
import { type AttentionDims, headsFirst, scaledDotProductAttention } from '../src/nn/attention.js';
import { GraphBuilder, op, serializeModel, type Value } from '../src/onnx/index.js';
import { lokiAttendCached, lokiBasis, lokiRank, topKAttendCached } from '../src/sparse/index.js';
import { flagArgs, median, quantile } from './lib.js';

const args = flagArgs();
const contexts = (args.get('contexts') ?? '2048,4096,8192,16384').split(',').map(Number);
const batches = (args.get('batches') ?? '1,4').split(',').map(Number);
const runs = Number(args.get('runs') ?? 30);
const threads = Number(args.get('threads') ?? 2);
const H = 32;
const HD = 128;
const dims: AttentionDims = { heads: H, kvHeads: H, headDim: HD, scale: 1 / Math.sqrt(HD) };

interface Variant {
  name: string;
  kind: 'full' | 'full-kq' | 'loki' | 'exact-topk';
  d?: number;
  k?: number;
}
const variants: Variant[] = [
  { name: 'full q·Kᵀ', kind: 'full' },
  { name: 'full K·q', kind: 'full-kq' },
  { name: 'loki d=0.25 k=0.25', kind: 'loki', d: 0.25, k: 0.25 },
  { name: 'loki d=0.25 k=0.125', kind: 'loki', d: 0.25, k: 0.125 },
  { name: 'exact-topk k=0.25', kind: 'exact-topk', k: 0.25 },
  { name: 'exact-topk k=0.125', kind: 'exact-topk', k: 0.125 },
];

/** A random orthonormal basis per head would not change the cost; the identity keeps setup cheap. */
const identityBasis = (() => {
  const b = new Float32Array(H * HD * HD);
  for (let h = 0; h < H; h++) for (let i = 0; i < HD; i++) b[h * HD * HD + i * HD + i] = 1;
  return b;
})();

/** One decode step's attention over a cache given as graph inputs (no append). */
function attentionGraph(v: Variant): Uint8Array {
  const g = new GraphBuilder(`attend-${v.kind}`);
  const q = g.input('q', 'float32', ['batch', 1, H, HD]);
  let out: Value;
  if (v.kind === 'full') {
    const k = g.input('key', 'float32', ['batch', H, 'ctx', HD]);
    const val = g.input('value', 'float32', ['batch', H, 'ctx', HD]);
    out = scaledDotProductAttention(headsFirst(q), k, val, null, dims);
  } else if (v.kind === 'full-kq') {
    const k = g.input('key', 'float32', ['batch', H, 'ctx', HD]);
    const val = g.input('value', 'float32', ['batch', H, 'ctx', HD]);
    const qc = op.transpose(op.mul(q, dims.scale), [0, 2, 3, 1]); // [B,H,HD,1]
    const probs = op.softmax(op.transpose(op.matMul(k, qc), [0, 1, 3, 2]), -1); // [B,H,1,T]
    out = op.reshape(headsFirst(op.matMul(probs, val)), [0, 0, H * HD]);
  } else if (v.kind === 'exact-topk') {
    const k = g.input('key', 'float32', ['batch', H, 'ctx', HD]);
    const val = g.input('value', 'float32', ['batch', H, 'ctx', HD]);
    out = topKAttendCached(q, k, val, dims, null, null, { kFraction: v.k! });
  } else {
    const d = lokiRank(dims, v.d!);
    const o = { dFraction: v.d!, kFraction: v.k!, basis: identityBasis, basisName: 'basis' };
    const low = g.input('key_low', 'float32', ['batch', H, d, 'ctx']);
    const rest = g.input('key_rest', 'float32', ['batch', H, 'ctx', HD - d]);
    const val = g.input('value', 'float32', ['batch', H, 'ctx', HD]);
    out = lokiAttendCached(q, lokiBasis(g, o, dims), { low, rest, value: val }, dims, null, null, o);
  }
  g.output(out, 'out');
  return serializeModel(g);
}

function randomData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Feeds for one variant at (batch, context): the same keys and values laid out as it keeps them. */
function feedsFor(v: Variant, b: number, t: number, key: Float32Array, value: Float32Array, q: Float32Array, split: Map<number, Record<string, ort.Tensor>>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { q: new ort.Tensor('float32', q, [b, 1, H, HD]), value: new ort.Tensor('float32', value, [b, H, t, HD]) };
  if (v.kind !== 'loki') {
    feeds.key = new ort.Tensor('float32', key, [b, H, t, HD]);
    return feeds;
  }
  const d = lokiRank(dims, v.d!);
  const done = split.get(d);
  if (done) return { ...feeds, ...done };
  const low = new Float32Array(b * H * d * t);
  const rest = new Float32Array(b * H * t * (HD - d));
  for (let bh = 0; bh < b * H; bh++)
    for (let s = 0; s < t; s++) {
      const row = (bh * t + s) * HD;
      for (let j = 0; j < d; j++) low[(bh * d + j) * t + s] = key[row + j];
      rest.set(key.subarray(row + d, row + HD), (bh * t + s) * (HD - d));
    }
  feeds.key_low = new ort.Tensor('float32', low, [b, H, d, t]);
  feeds.key_rest = new ort.Tensor('float32', rest, [b, H, t, HD - d]);
  split.set(d, { key_low: feeds.key_low, key_rest: feeds.key_rest });
  return feeds;
}

// Larger than any L3 here: reading it evicts the caches between timed runs.
const flush = new Float64Array((64 * 1024 * 1024) / 8);
function coldCaches(): number {
  let s = 0;
  for (let i = 0; i < flush.length; i += 8) s += flush[i];
  return s;
}

async function main(): Promise<void> {
  const sessions = new Map<string, ort.InferenceSession>();
  for (const v of variants) {
    sessions.set(v.name, await ort.InferenceSession.create(attentionGraph(v), { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }));
  }
  console.log(`one decode step of attention, ${H} heads × ${HD}, CPU, ${threads} threads, ${runs} interleaved runs per variant, cold caches; ms (median, p10–p90), ratio = the faster full / variant`);
  console.log(`${'batch'.padStart(5)} ${'context'.padStart(7)}  ${variants.map((v) => v.name.padEnd(30)).join('')}`);
  let sink = 0;
  for (const b of batches)
    for (const t of contexts) {
      const key = randomData(b * H * t * HD, 1);
      const value = randomData(b * H * t * HD, 2);
      const q = randomData(b * H * HD, 3);
      const split = new Map<number, Record<string, ort.Tensor>>();
      const feeds = variants.map((v) => feedsFor(v, b, t, key, value, q, split));
      const times = variants.map(() => [] as number[]);
      for (let r = 0; r < runs + 2; r++)
        for (let i = 0; i < variants.length; i++) {
          sink += coldCaches();
          const t0 = performance.now();
          await sessions.get(variants[i].name)!.run(feeds[i]);
          if (r >= 2) times[i].push(performance.now() - t0); // the first two rounds warm up
        }
      const full = Math.min(median(times[0]), median(times[1]));
      const cells = times.map((xs) => {
        const m = median(xs);
        return `${m.toFixed(2)} (${quantile(xs, 0.1).toFixed(2)}–${quantile(xs, 0.9).toFixed(2)}) ×${(full / m).toFixed(2)}`.padEnd(30);
      });
      console.log(`${String(b).padStart(5)} ${String(t).padStart(7)}  ${cells.join('')}`);
    }
  if (sink === 42) console.log('');
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});
