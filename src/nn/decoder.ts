/**
 * Causal decoder stacks (Llama family: RMSNorm pre-norm, grouped-query attention with rotary,
 * SwiGLU) as one dynamic graph serving both prefill and decode: the attention variant's cache
 * tensors are inputs (`past.<layer>.<slot>`, empty for prefill) and outputs (`present.…`).
 *
 * Why one graph: onnxruntime-node sessions do not share weight memory (each extra session of a
 * 117 MB decoder added 60–80 MB of RSS, `bench/session-sharing.ts`; the JS API has no
 * AddInitializer or prepacked-weights container), so separate prefill and decode graphs would
 * hold the weights twice. A past of length 0 makes the same graph a prefill graph.
 */
import type { NamedTensors } from '../io/tensor.js';
import { GraphBuilder, type GraphOptions, op, type Value } from '../onnx/index.js';
import { type AttentionSpec, type CacheSlot, attention, attentionDims } from './attention.js';
import { type LinearChoice, checkChoiceUsed, linear } from './linear.js';
import { embedding } from './embedding.js';
import { layerNorm, rmsNorm } from './norm.js';
import { type RotaryConfig, rotaryTables } from './rotary.js';
import type { FeedForwardSpec } from './feed-forward.js';
import { type StackOptions, dimOf, feedForwardFor, maskFromSlots, variantFor } from './stack.js';
import { Weights } from './weights.js';

export interface DecoderConfig {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  eps: number;
  /** Rotary positions, or null for none (GPT-2 uses {@link DecoderConfig.learnedPositions}). */
  rotary: (Omit<RotaryConfig, 'dim'> & { dim?: number }) | null;
  /** Learned absolute positions: a `pos_embed.weight` table of this many rows added to the embeddings (GPT-2). */
  learnedPositions?: number;
  /** `rmsnorm` (default, Llama) or `layernorm` with biases (GPT-2); `eps` applies to either. */
  norm?: 'rmsnorm' | 'layernorm';
  /** Feed-forward: SwiGLU (default), GPT-2's tanh-GELU MLP (`fc1`/`fc2`), or a mixture of experts (see `moe`). */
  feedForward?: { kind: 'swiglu' } | { kind: 'gelu_tanh' } | { kind: 'moe'; experts: number; topK: number };
  /** Biases on the MLP's linears (GPT-2). Default false. */
  mlpBias?: boolean;
  /** lm_head shares embed.weight. */
  tiedEmbeddings?: boolean;
  /** Biases on the q, k and v projections (Qwen2; Llama with attention_bias). Default false. */
  attentionBias?: boolean;
  /** A bias on the output projection too (Llama with attention_bias; not Qwen2). Default false. */
  outputBias?: boolean;
  /** Sliding-window attention (Mistral): a query sees the last `slidingWindow` positions, itself included. */
  slidingWindow?: number | null;
  /** Head size when it is not hidden / heads. */
  headDim?: number;
}

export interface DecoderGraphOptions {
  /** Cache inputs and outputs (default true). Without, the graph runs whole sequences only. */
  cache?: boolean;
  /**
   * Add an int64 scalar input `logits_to_keep`: only the last k positions get logits (0: all).
   * Generation needs one row after a prefill; skipping the others saves the S × vocab head matmul.
   */
  logitsToKeep?: boolean;
}

/** Per layer, the cache tensors the chosen variants keep (names are `past.<layer>.<slot>`). */
export function decoderCacheSlots(cfg: DecoderConfig, opts: StackOptions = {}): CacheSlot[][] {
  const dims = attentionDims(decoderAttentionSpec(cfg));
  return Array.from({ length: cfg.layers }, (_, i) => variantFor(opts, i).cacheSlots(dims, 'batch'));
}

function decoderAttentionSpec(cfg: DecoderConfig, linearVariant?: LinearChoice): AttentionSpec {
  const headDim = cfg.headDim ?? cfg.hidden / cfg.heads;
  return {
    hidden: cfg.hidden,
    heads: cfg.heads,
    kvHeads: cfg.kvHeads,
    headDim,
    bias: cfg.attentionBias ?? false,
    outBias: cfg.outputBias ?? false,
    rotary: cfg.rotary ? { ...cfg.rotary, dim: cfg.rotary.dim ?? headDim } : null,
    linear: linearVariant,
  };
}

/**
 * Inputs: `input_ids`, `position_ids` int64 [batch, sequence]; `attention_mask` int64
 * [batch, total_sequence] covering past and current tokens; with the cache, `past.<i>.<slot>`.
 * With `logitsToKeep`, `logits_to_keep` int64 scalar.
 * Outputs: `logits` [batch, sequence (or logits_to_keep), vocab], `hidden` [batch, same, hidden] (the last
 * hidden state, after the final norm) and `present.<i>.<slot>`.
 */
export function buildDecoderGraph(tensors: NamedTensors, cfg: DecoderConfig, opts: StackOptions = {}, dopts: DecoderGraphOptions = {}, graphOptions: GraphOptions = {}): GraphBuilder {
  const useCache = dopts.cache ?? true;
  const g = new GraphBuilder('decoder', graphOptions);
  const w = new Weights(g, tensors);
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const pos = g.input('position_ids', 'int64', ['batch', 'sequence']);
  const am = g.input('attention_mask', 'int64', ['batch', useCache ? 'total_sequence' : 'sequence']);
  const slots = decoderCacheSlots(cfg, opts);
  const past = useCache ? slots.map((layer, i) => layer.map((s) => g.input(`past.${i}.${s.name}`, 'float32', s.shape))) : null;

  const spec = decoderAttentionSpec(cfg, opts.linear);
  const mask = maskFromSlots(dimOf(ids, 1), dimOf(am, 1), true, am, cfg.slidingWindow ?? null);
  const rotary = spec.rotary ? rotaryTables(pos, spec.rotary) : null;
  const normalize = (x: Value, scope: Weights) => (cfg.norm === 'layernorm' ? layerNorm(x, scope, cfg.hidden, cfg.eps) : rmsNorm(x, scope, cfg.hidden, cfg.eps));
  let h = embedding(ids, w.scope('embed'), cfg.vocab, cfg.hidden);
  if (cfg.learnedPositions) h = op.add(h, embedding(pos, w.scope('pos_embed'), cfg.learnedPositions, cfg.hidden));
  const ff = cfg.feedForward ?? { kind: 'swiglu' };
  const ffSpec: FeedForwardSpec = {
    hidden: cfg.hidden,
    ffn: cfg.ffn,
    bias: cfg.mlpBias ?? false,
    ...(ff.kind === 'moe' ? { kind: 'moe', experts: ff.experts, topK: ff.topK } : { kind: ff.kind }),
    ...(opts.linear ? { linear: opts.linear } : {}),
  };
  /** Weights the feed-forward variants leave unread on purpose (dropped experts). */
  const unread: RegExp[] = [];
  const presents: Value[][] = [];
  for (let i = 0; i < cfg.layers; i++) {
    const lw = w.scope(`layers.${i}`);
    const a = attention(normalize(h, lw.scope('attn_norm')), lw.scope('attn'), spec, {
      variant: variantFor(opts, i),
      mask,
      rotary,
      past: past ? past[i] : null,
    });
    presents.push(a.present);
    h = op.add(h, a.out);
    const x = normalize(h, lw.scope('mlp_norm'));
    const variant = feedForwardFor(opts, i);
    h = op.add(h, variant.build(x, lw.scope('mlp'), ffSpec, i));
    unread.push(...(variant.unread?.(lw.scope('mlp'), ffSpec, i) ?? []));
  }
  if (dopts.logitsToKeep) {
    // Slice from −k; k = 0 gives start 0, i.e. every position.
    const keep = g.input('logits_to_keep', 'int64', []);
    h = op.slice(h, op.neg(op.unsqueeze(keep, [0])), op.constant(g, 'int64', [Number.MAX_SAFE_INTEGER], [1]), [1]);
  }
  h = normalize(h, w.scope('final_norm'));
  const head = cfg.tiedEmbeddings ? w.scope('embed') : w.scope('lm_head');
  g.output(linear(h, head, { inFeatures: cfg.hidden, outFeatures: cfg.vocab, bias: false }, opts.linear), 'logits');
  // The last hidden state (after the final norm, the positions kept), as transformers' last_hidden_state: embeddings.
  g.output(h, 'hidden');
  if (useCache) presents.forEach((layer, i) => layer.forEach((v, j) => g.output(v, `present.${i}.${slots[i][j].name}`)));
  checkChoiceUsed(opts.linear, 'decoder');
  // Every tensor given is read, except what a variant leaves unread on purpose (dropped experts).
  w.checkAllUsed('decoder', unread);
  return g;
}
