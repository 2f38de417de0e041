/**
 * BALM as an ONNX graph built from the shared blocks: ESM-2 embeddings with token-dropout scaling,
 * the learned absolute position embedding indexed by IMGT position ids, a pre-LN encoder with
 * rotary attention (sequential positions), and the ESM LM head with its tied decoder.
 */
import { type HostTensor, type NamedTensors, sameShape } from '../io/tensor.js';
import { ModelError } from '../runtime/errors.js';
import { type EncoderConfig, type StackOptions, Weights, checkChoiceUsed, embedding, encoderContext, encoderLayers, gelu, layerNorm, linear } from '../nn/index.js';
import { GraphBuilder, op, type Value } from '../onnx/index.js';
import type { EsmConfig } from './config.js';

/** Official (Hugging Face ESM/BALM) parameter names → the names src/nn blocks read. */
const RENAMES: [RegExp, string][] = [
  [/^encoder\.layer\.(\d+)\.attention\.LayerNorm\./, 'layers.$1.attn_norm.'],
  [/^encoder\.layer\.(\d+)\.attention\.self\.query\./, 'layers.$1.attn.q_proj.'],
  [/^encoder\.layer\.(\d+)\.attention\.self\.key\./, 'layers.$1.attn.k_proj.'],
  [/^encoder\.layer\.(\d+)\.attention\.self\.value\./, 'layers.$1.attn.v_proj.'],
  [/^encoder\.layer\.(\d+)\.attention\.output\.dense\./, 'layers.$1.attn.o_proj.'],
  [/^encoder\.layer\.(\d+)\.LayerNorm\./, 'layers.$1.mlp_norm.'],
  [/^encoder\.layer\.(\d+)\.intermediate\.dense\./, 'layers.$1.mlp.fc1.'],
  [/^encoder\.layer\.(\d+)\.output\.dense\./, 'layers.$1.mlp.fc2.'],
  [/^encoder\.emb_layer_norm_after\./, 'final_norm.'],
  [/^embeddings\.word_embeddings\./, 'embed.'],
  [/^embeddings\.position_embeddings\./, 'position_embed.'],
  [/^embeddings\.layer_norm\./, 'embed_norm.'],
];

/** Buffers an official checkpoint carries that are recomputed here. */
const IGNORED = [/^embeddings\.position_ids$/, /rotary_embeddings\.inv_freq$/, /^pooler\./, /^contact_head\./];

/**
 * balmkit's name for an official BALM/ESM tensor name (`esm.encoder.layer.0.attention.self.query.weight`
 * → `layers.0.attn.q_proj.weight`), or null for a buffer recomputed here.
 * @throws ModelError for a name a BALM checkpoint does not have.
 */
export function balmWeightName(name: string): string | null {
  if (name.startsWith('lm_head.')) return name;
  const bare = name.replace(/^esm\./, '');
  if (IGNORED.some((r) => r.test(bare))) return null;
  const rule = RENAMES.find(([r]) => r.test(bare));
  if (!rule) throw new ModelError(`unexpected tensor '${name}' in a BALM checkpoint`);
  return bare.replace(rule[0], rule[1]);
}

/**
 * Rename an official BALM/ESM state dict (`esm.`-prefixed or bare `BALMModel` keys) to balmkit's
 * block names. The LM head (`lm_head.*`) keeps its names; a missing `lm_head.decoder.weight` means
 * it is tied to the word embeddings.
 */
export function balmWeights(tensors: NamedTensors): NamedTensors {
  const out: NamedTensors = new Map();
  for (const [name, t] of tensors) {
    const renamed = balmWeightName(name);
    if (renamed !== null) out.set(renamed, t);
  }
  if (!out.has('embed.weight')) throw new Error(`BALM checkpoint has no 'esm.embeddings.word_embeddings.weight'`);
  return out;
}

export function encoderConfigOf(c: EsmConfig): EncoderConfig {
  return {
    vocab: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    ffn: c.intermediate_size,
    norm: 'pre',
    eps: c.layer_norm_eps,
    rotary: c.position_embedding_type === 'rotary' ? { convention: 'half', theta: 10000 } : null,
  };
}

/** ESM's token dropout at inference: zero `<mask>` rows, scale by (1 − 0.15·0.8)/(1 − masked fraction). */
function tokenDropout(e: Value, ids: Value, mask: Value, maskToken: number): Value {
  const g = e.graph;
  return g.scope('token_dropout', () => {
    const isMask = op.equal(ids, op.constant(g, 'int64', [maskToken], []));
    const zeroed = op.where(op.unsqueeze(isMask, [2]), op.constant(g, 'float32', [0], []), e);
    const masked = op.reduceSum(op.cast(isMask, 'float32'), [1]); // [B,1]
    const lengths = op.reduceSum(op.cast(mask, 'float32'), [1]);
    const scale = op.div(1 - 0.15 * 0.8, op.sub(1, op.div(masked, lengths)));
    return op.mul(zeroed, op.unsqueeze(scale, [2]));
  });
}

export interface BalmGraphOptions extends StackOptions {
  /** Also output the final hidden states (`hidden_states`, [batch, sequence, hidden]). Default true. */
  hidden?: boolean;
  /** Output the LM logits (`logits`, [batch, sequence, 33]). Default true. */
  logits?: boolean;
}

/**
 * The BALM graph. Inputs (int64, [batch, sequence]): `input_ids`, `position_ids` (IMGT-derived),
 * `attention_mask`. Outputs: `logits`, `hidden_states`.
 */
export function buildBalmGraph(weights: NamedTensors, c: EsmConfig, opts: BalmGraphOptions = {}): GraphBuilder {
  const g = new GraphBuilder('balm');
  const w = new Weights(g, weights);
  const cfg = encoderConfigOf(c);
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const pos = g.input('position_ids', 'int64', ['batch', 'sequence']);
  const am = g.input('attention_mask', 'int64', ['batch', 'sequence']);

  let x = embedding(ids, w.scope('embed'), c.vocab_size, c.hidden_size);
  if (c.token_dropout) x = tokenDropout(x, ids, am, c.mask_token_id);
  x = op.add(x, embedding(pos, w.scope('position_embed'), c.max_position_embeddings, c.hidden_size));
  if (c.emb_layer_norm_before) x = layerNorm(x, w.scope('embed_norm'), c.hidden_size, c.layer_norm_eps);
  x = op.mul(x, op.unsqueeze(op.cast(am, 'float32'), [2]));

  const h = encoderLayers(x, w, cfg, encoderContext(x, am, cfg), opts);
  if (opts.hidden ?? true) g.output(h, 'hidden_states');
  if (opts.logits ?? true) {
    const head = w.scope('lm_head');
    const d = { inFeatures: c.hidden_size, outFeatures: c.hidden_size, bias: true };
    const y = layerNorm(gelu(linear(h, head.scope('dense'), d, opts.linear)), head.scope('layer_norm'), c.hidden_size, c.layer_norm_eps);
    const decoder = head.has('decoder.weight') && !c.tie_word_embeddings ? head.scope('decoder') : w.scope('embed');
    const logits = linear(y, decoder, { inFeatures: c.hidden_size, outFeatures: c.vocab_size, bias: false }, opts.linear);
    g.output(op.add(logits, head.value('bias', { shape: [c.vocab_size] })), 'logits');
  }
  checkChoiceUsed(opts.linear, 'BALM');
  // Not read, and harmless: the LM head when the graph outputs no logits; a tied checkpoint's stored
  // copy of the embedding as lm_head.decoder.weight (the head reads the embedding itself).
  const skip = (opts.logits ?? true) ? (c.tie_word_embeddings ? [/^lm_head\.decoder\.weight$/] : []) : [/^lm_head\./];
  w.checkAllUsed('BALM', skip);
  return g;
}

/** Tensors a BALM checkpoint must contain (after renaming), for a clear error before building. */
export function checkBalmWeights(weights: NamedTensors, c: EsmConfig): void {
  const need = (name: string, shape: number[]) => {
    const t: HostTensor | undefined = weights.get(name);
    if (!t) throw new ModelError(`BALM checkpoint is missing '${name}'`);
    if (!sameShape(t.shape, shape)) throw new ModelError(`BALM tensor '${name}' has shape [${t.shape}], config needs [${shape}]`);
  };
  need('embed.weight', [c.vocab_size, c.hidden_size]);
  need('position_embed.weight', [c.max_position_embeddings, c.hidden_size]);
  need('lm_head.bias', [c.vocab_size]);
}
