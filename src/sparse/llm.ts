/**
 * Loki calibration and sparse-attention evaluation on causal LMs (src/llm): keys over calibration
 * texts, and teacher-forced perplexity with a variant beside full attention, with top-k recall
 * and attention-output error as for BALM. Each text is one prefill from an empty cache (BOS
 * prepended, cut to the model's context), so query i attends among keys 0…i.
 */
import { readFileSync } from 'node:fs';
import { type CausalLM, type LoadModelOptions, loadModel } from '../llm/index.js';
import { type AttentionVariant, fullAttention } from '../nn/attention.js';
import { type KeyStage, KeyStatistics, capturingAttention, keyOutputName } from './calibrate.js';
import { SparseTally, type SparseEvalOptions, basesFor, evaluationAttention } from './evaluate.js';
import { h2o, streaming } from './variants.js';
import { logProbability } from '../util/logits.js';

/**
 * Texts from a file: a JSON array of strings or of instruction records ({instruction, input,
 * output}: the fields joined with blank lines), JSON lines of either, or plain text (one text per
 * paragraph, separated by blank lines).
 */
export function readTexts(path: string): string[] {
  const raw = readFileSync(path, 'utf8');
  const fromItem = (x: unknown): string => {
    if (typeof x === 'string') return x;
    if (x && typeof x === 'object') {
      const r = x as Record<string, unknown>;
      return ['instruction', 'input', 'output', 'text']
        .map((k) => r[k])
        .filter((v) => typeof v === 'string' && v.trim() !== '')
        .join('\n\n');
    }
    return '';
  };
  let texts: string[];
  if (/\.json$/i.test(path)) texts = (JSON.parse(raw) as unknown[]).map(fromItem);
  else if (/\.jsonl$/i.test(path))
    texts = raw
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => fromItem(JSON.parse(l)));
  else texts = raw.split(/\n\s*\n/);
  texts = texts.map((t) => t.trim()).filter((t) => t.length > 0);
  if (texts.length === 0) throw new Error(`${path}: no texts found`);
  return texts;
}

/** Token rows of the texts: BOS + tokens, cut to `max` (at least 2 tokens). */
function tokenRows(lm: CausalLM, texts: readonly string[], max: number): number[][] {
  const tok = lm.requireTokenizer();
  return texts.map((t) => tok.encode(t, { bos: true }).slice(0, max)).filter((r) => r.length >= 2);
}

function headDims(lm: CausalLM): { layers: number; kvHeads: number; headDim: number } {
  const d = lm.info.decoder;
  return { layers: d.layers, kvHeads: d.kvHeads, headDim: d.headDim ?? d.hidden / d.heads };
}

export interface LlmCalibrationOptions extends Omit<LoadModelOptions, 'stack'> {
  stage?: KeyStage;
  /** Tokens per text at most (default: the model's context). */
  maxTokens?: number;
}

/** Key second moments of every layer over the texts. */
export async function collectLlmKeys(model: string, texts: readonly string[], o: LlmCalibrationOptions = {}): Promise<KeyStatistics> {
  const stage = o.stage ?? 'post-rotary';
  const lm = await loadModel(model, { ...o, stack: { attention: (l) => capturingAttention(fullAttention(), l, [stage]) } });
  try {
    const { layers, kvHeads, headDim } = headDims(lm);
    const stats = new KeyStatistics(layers, kvHeads, headDim);
    for (const row of tokenRows(lm, texts, o.maxTokens ?? lm.info.maxPositions)) {
      const { outputs } = await lm.forward(lm.newState(1), [row]);
      for (let l = 0; l < layers; l++) stats.add(l, outputs[keyOutputName(l, stage)].data as Float32Array, new Array(row.length).fill(true));
    }
    return stats;
  } finally {
    await lm.release();
  }
}

export interface LlmEvalResult {
  texts: number;
  tokens: number;
  perplexity: { full: number; variant: number };
  recall: number | null;
  attentionError: number[];
}

async function nll(lm: CausalLM, rows: readonly number[][], onRun?: (outputs: Record<string, import('onnxruntime-node').Tensor>, n: number) => void): Promise<{ nll: number; count: number }> {
  let total = 0;
  let count = 0;
  for (const row of rows) {
    const l = await lm.forward(lm.newState(1), [row]);
    for (let s = 0; s + 1 < row.length; s++) {
      total -= logProbability(l.data.subarray(s * l.vocab, (s + 1) * l.vocab), row[s + 1]);
      count++;
    }
    onRun?.(l.outputs, row.length);
  }
  return { nll: total, count };
}

/** Cache policies evaluated by decoding token by token (their eviction happens per step). */
export type DecodePolicy = 'h2o' | 'streaming';

/**
 * The H2O or StreamingLLM variant holding `budget` keys: H2O half recent, half heavy hitters;
 * StreamingLLM 4 sinks (as in its paper; fewer for tiny budgets) and a window of the rest.
 */
export function budgetedPolicy(policy: DecodePolicy, budget: number): AttentionVariant {
  if (policy === 'h2o') {
    const recent = Math.max(1, Math.floor(budget / 2));
    return h2o({ heavy: Math.max(0, budget - recent), recent });
  }
  const sinks = Math.min(4, Math.floor(budget / 4));
  return streaming({ sinks, window: Math.max(1, budget - sinks) });
}

/** Negative log-likelihood decoding each text token by token through the cache. */
async function decodeNll(lm: CausalLM, rows: readonly number[][]): Promise<{ nll: number; count: number }> {
  let total = 0;
  let count = 0;
  for (const row of rows) {
    const state = lm.newState(1);
    for (let s = 0; s + 1 < row.length; s++) {
      const l = await lm.forward(state, [[row[s]]]);
      total -= logProbability(l.data.subarray(0, l.vocab), row[s + 1]);
      count++;
    }
  }
  return { nll: total, count };
}

export interface LlmEvalOptions extends Omit<SparseEvalOptions, 'batchSize' | 'attention'>, Pick<LoadModelOptions, 'tokenizer'> {
  attention: SparseEvalOptions['attention'] | DecodePolicy;
  maxTokens?: number;
}

/**
 * Perplexity of the texts with a sparse variant beside full attention. Loki and exact top-k run
 * each text as one prefill and also report recall and attention error; H2O and StreamingLLM
 * decode token by token with a budget of kFraction × the model's context keys (perplexity only).
 */
export async function evaluateLlmAttention(model: string, texts: readonly string[], o: LlmEvalOptions): Promise<LlmEvalResult> {
  const full = await loadModel(model, { ...o, stack: {} });
  const rows = tokenRows(full, texts, o.maxTokens ?? full.info.maxPositions);
  const base = await nll(full, rows);
  const { layers } = headDims(full);
  const context = full.info.maxPositions;
  await full.release();
  if (o.attention === 'h2o' || o.attention === 'streaming') {
    const policy = o.attention;
    const lm = await loadModel(model, { ...o, stack: { attention: budgetedPolicy(policy, Math.max(2, Math.round(o.kFraction * context))) } });
    const decoded = await decodeNll(lm, rows);
    await lm.release();
    return { texts: rows.length, tokens: base.count, perplexity: { full: Math.exp(base.nll / base.count), variant: Math.exp(decoded.nll / decoded.count) }, recall: null, attentionError: [] };
  }
  if (o.attention === 'loki' && !o.bases) throw new Error('Loki needs --bases (from balmkit sparse calibrate)');
  const bases = o.attention === 'loki' ? basesFor(o.bases!, layers) : [];
  const lm = await loadModel(model, { ...o, stack: { attention: evaluationAttention({ ...o, attention: o.attention }, bases) } });
  const tally = new SparseTally(layers);
  const sparse = await nll(lm, rows, (out, n) => tally.add(out, [n], (_b, s) => Math.max(1, Math.ceil(o.kFraction * (s + 1)))));
  await lm.release();
  return {
    texts: rows.length,
    tokens: base.count,
    perplexity: { full: Math.exp(base.nll / base.count), variant: Math.exp(sparse.nll / sparse.count) },
    recall: tally.recall,
    attentionError: tally.attentionError,
  };
}
