/**
 * Evaluating a sparse attention variant on BALM: masked-token perplexity beside full attention,
 * top-k recall against exact top-k (Loki), and the relative error of each layer's attention output
 * against full attention computed on the same inputs inside the same graph.
 *
 * Masked-token protocol: for each chain, 15% of residues (at least one; fixed seed, mulberry32)
 * are replaced by `<mask>` all at once; perplexity = exp(mean negative log-likelihood of the true
 * residues at the masked positions).
 */
import type { Tensor } from 'onnxruntime-node';
import { Balm, type BalmLoadOptions, type NumberedChain, encodeChain, residueToken } from '../balm/index.js';
import { readSafetensors } from '../io/safetensors.js';
import { type AttendArgs, type AttendResult, type AttentionVariant, fullAttention } from '../nn/attention.js';
import { op } from '../onnx/index.js';
import { logProbability } from '../util/logits.js';
import { mulberry32 } from '../util/random.js';
import { exactTopK, loki } from './variants.js';

/** Each layer's attention output compared with another variant's on the same q, k, v. */
export function comparingAttention(candidate: AttentionVariant, reference: AttentionVariant, layer: number): AttentionVariant {
  return {
    name: candidate.name,
    cacheSlots: (dims, batch) => candidate.cacheSlots(dims, batch),
    attend(a: AttendArgs): AttendResult {
      const c = candidate.attend(a);
      const r = a.q.graph.scope('reference', () => reference.attend({ ...a, past: null }));
      const d = op.sub(c.out, r.out);
      a.q.graph.output(op.reduceSum(op.mul(d, d), [-1], false), `attn_diff2.${layer}`);
      a.q.graph.output(op.reduceSum(op.mul(r.out, r.out), [-1], false), `attn_ref2.${layer}`);
      return c;
    },
  };
}

/** The residue indices masked in chain `i` under the protocol (deterministic). */
export function maskedPositions(length: number, i: number, fraction = 0.15, seed = 0): number[] {
  const r = mulberry32(seed * 1_000_003 + i);
  const n = Math.min(length, 166);
  const want = Math.max(1, Math.round(fraction * n));
  const order = Array.from({ length: n }, (_, k) => k);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(r() * (k + 1));
    [order[k], order[j]] = [order[j], order[k]];
  }
  return order.slice(0, want).sort((a, b) => a - b);
}

export interface SparseEvalOptions extends Omit<BalmLoadOptions, 'attention'> {
  attention: 'loki' | 'exact-topk';
  dFraction: number;
  kFraction: number;
  /** Loki bases file (from `balmkit sparse calibrate`). */
  bases?: string;
  batchSize?: number;
}

export interface SparseEvalResult {
  chains: number;
  maskedTokens: number;
  perplexity: { full: number; variant: number };
  /** Mean over query tokens of |selected ∩ exact top-k| / k (Loki only). */
  recall: number | null;
  /** Per layer: sqrt(Σ‖o − o_full‖² / Σ‖o_full‖²) over real tokens, on the same inputs. */
  attentionError: number[];
}

async function maskedNll(
  balm: Balm,
  chains: readonly NumberedChain[],
  batchSize: number,
  onBatch?: (outputs: Record<string, Tensor>, lengths: number[]) => void,
): Promise<{ nll: number; count: number }> {
  const v = balm.config.vocab_size;
  let nll = 0;
  let count = 0;
  for (let start = 0; start < chains.length; start += batchSize) {
    const part = chains.slice(start, start + batchSize);
    const masks = part.map((c, k) => maskedPositions(c.sequence.length, start + k));
    const { batch, outputs } = await balm.run(part.map((c, k) => encodeChain(c.sequence, c.numbering, masks[k])));
    const logits = outputs.logits.data as Float32Array;
    part.forEach((c, b) => {
      for (const i of masks[b]) {
        nll -= logProbability(logits.subarray((b * batch.length + i + 1) * v, (b * batch.length + i + 2) * v), residueToken(c.sequence[i]));
        count++;
      }
    });
    onBatch?.(
      outputs,
      part.map((c) => Math.min(c.sequence.length, 166) + 2),
    );
  }
  return { nll, count };
}

/** Loki bases of every layer from a `balmkit sparse calibrate` file. */
export function basesFor(path: string, layers: number): Float32Array[] {
  const f = readSafetensors(path);
  return Array.from({ length: layers }, (_, i) => {
    const t = f.tensors.get(`layers.${i}.basis`);
    if (!t) throw new Error(`${path}: no 'layers.${i}.basis' (the model has ${layers} layers; calibrate this model with balmkit sparse calibrate)`);
    return t.data as Float32Array;
  });
}

/**
 * The per-layer attention for an evaluation run: the variant under test (its selection exposed as
 * `select.<layer>`), compared with full attention on the same inputs, plus exact top-k's selection
 * (`select_exact.<layer>`) when the variant is Loki.
 */
export function evaluationAttention(o: Pick<SparseEvalOptions, 'attention' | 'dFraction' | 'kFraction'>, bases: readonly Float32Array[]): (layer: number) => AttentionVariant {
  return (layer) => {
    const candidate =
      o.attention === 'exact-topk'
        ? exactTopK({ kFraction: o.kFraction })
        : loki({ dFraction: o.dFraction, kFraction: o.kFraction, basis: bases[layer], basisName: `layers.${layer}.loki_basis`, onSelect: (idx) => idx.graph.output(idx, `select.${layer}`) });
    const compared = comparingAttention(candidate, fullAttention({ fused: false }), layer);
    if (o.attention !== 'loki') return compared;
    const exact = exactTopK({ kFraction: o.kFraction, onSelect: (idx) => idx.graph.output(idx, `select_exact.${layer}`) });
    return {
      ...compared,
      attend(a) {
        // Exact top-k on the same inputs, only for its selection.
        a.q.graph.scope('exact', () => exact.attend({ ...a, past: null }));
        return compared.attend(a);
      },
    };
  };
}

/** Accumulates attention-output error and top-k recall from evaluation runs' outputs. */
export class SparseTally {
  private readonly diff2: Float64Array;
  private readonly ref2: Float64Array;
  private hits = 0;
  private queries = 0;

  constructor(readonly layers: number) {
    this.diff2 = new Float64Array(layers);
    this.ref2 = new Float64Array(layers);
  }

  /**
   * Add one run. `tokens[b]` real query positions of row b (the first ones); `budget(b, s)` the k
   * of query s in row b (how many of its selected keys count).
   */
  add(out: Record<string, Tensor>, tokens: readonly number[], budget: (b: number, s: number) => number): void {
    for (let l = 0; l < this.layers; l++) {
      const d = out[`attn_diff2.${l}`].data as Float32Array;
      const r = out[`attn_ref2.${l}`].data as Float32Array;
      const t = out[`attn_diff2.${l}`].dims[1];
      tokens.forEach((n, b) => {
        for (let s = 0; s < n; s++) {
          this.diff2[l] += d[b * t + s];
          this.ref2[l] += r[b * t + s];
        }
      });
      const sel = out[`select.${l}`];
      const exact = out[`select_exact.${l}`];
      if (!sel || !exact) continue;
      const [, kvh, g, S, K] = sel.dims;
      const a = sel.data as BigInt64Array;
      const e = exact.data as BigInt64Array;
      tokens.forEach((n, b) => {
        for (let h = 0; h < kvh * g; h++)
          for (let s = 0; s < n; s++) {
            const k = Math.min(budget(b, s), K);
            const base = ((b * kvh * g + h) * S + s) * K;
            const want = new Set<bigint>();
            for (let j = 0; j < k; j++) want.add(e[base + j]);
            let hit = 0;
            for (let j = 0; j < k; j++) if (want.has(a[base + j])) hit++;
            this.hits += hit / k;
            this.queries++;
          }
      });
    }
  }

  get recall(): number | null {
    return this.queries ? this.hits / this.queries : null;
  }

  get attentionError(): number[] {
    return Array.from(this.diff2, (x, l) => Math.sqrt(x / this.ref2[l]));
  }
}

/** Evaluate a sparse variant on BALM over numbered chains. */
export async function evaluateBalmAttention(modelDir: string, chains: readonly NumberedChain[], o: SparseEvalOptions): Promise<SparseEvalResult> {
  const batchSize = o.batchSize ?? 16;
  const full = await Balm.load(modelDir, { ...o, attention: fullAttention() });
  const base = await maskedNll(full, chains, batchSize);
  const layers = full.config.num_hidden_layers;
  await full.release();
  if (o.attention === 'loki' && !o.bases) throw new Error('Loki needs --bases (from balmkit sparse calibrate)');
  const bases = o.attention === 'loki' ? basesFor(o.bases!, layers) : [];
  const model = await Balm.load(modelDir, { ...o, attention: evaluationAttention(o, bases) });
  const tally = new SparseTally(layers);
  const sparse = await maskedNll(model, chains, batchSize, (out, lengths) => tally.add(out, lengths, (b) => Math.max(1, Math.ceil(o.kFraction * lengths[b]))));
  await model.release();
  return {
    chains: chains.length,
    maskedTokens: base.count,
    perplexity: { full: Math.exp(base.nll / base.count), variant: Math.exp(sparse.nll / sparse.count) },
    recall: tally.recall,
    attentionError: tally.attentionError,
  };
}
