/**
 * Hugging Face checkpoints (`model_type` llama, mistral, qwen2, mixtral, gpt2): config.json
 * validated with zod and turned into a {@link DecoderConfig}, and the checkpoint's tensor names
 * mapped onto the shared decoder's (`model.layers.0.self_attn.q_proj.weight` →
 * `layers.0.attn.q_proj.weight`), each checked for presence and shape first so a bad checkpoint
 * is refused naming the tensor as the checkpoint spells it.
 *
 * Behaviour follows transformers' modeling files: `modeling_llama.py` (RMSNorm pre-norm, rotary
 * "half", GQA, SwiGLU, `attention_bias` on q/k/v/o, `tie_word_embeddings`),
 * `modeling_rope_utils.py` (`_compute_linear_scaling_rope_parameters`,
 * `_compute_llama3_parameters`), `modeling_qwen2.py` (bias on q/k/v, none on o),
 * `masking_utils.py` `sliding_window_overlay` (Mistral: key > query − window),
 * `modeling_mixtral.py` (`MixtralSparseMoeBlock`: softmax router, top-k, renormalized;
 * experts w1 gate, w3 up, w2 down), `modeling_gpt2.py` (Conv1D [in, out] weights, fused c_attn,
 * learned positions, LayerNorm, gelu_new, head tied to wte).
 */
import { z } from 'zod';
import { type HostTensor, type NamedTensors, sameShape, toFloat32 } from '../io/tensor.js';
import type { DecoderConfig, RotaryScaling } from '../nn/index.js';
import { ModelError } from '../runtime/errors.js';
import { zodProblem } from '../util/zod.js';

const ropeScaling = z
  .looseObject({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().optional(),
    high_freq_factor: z.number().optional(),
    original_max_position_embeddings: z.number().int().positive().optional(),
  })
  .nullish();

const ids = z.union([z.number().int(), z.array(z.number().int())]).nullish();

/** The config.json fields balmkit reads (others are ignored). */
export const hfConfigSchema = z.looseObject({
  model_type: z.string(),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().nullish(),
  intermediate_size: z.number().int().positive(),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: ropeScaling,
  max_position_embeddings: z.number().int().positive().default(2048),
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.boolean().default(false),
  sliding_window: z.number().int().positive().nullish(),
  use_sliding_window: z.boolean().optional(),
  head_dim: z.number().int().positive().nullish(),
  num_local_experts: z.number().int().positive().optional(),
  num_experts_per_tok: z.number().int().positive().optional(),
  hidden_act: z.string().default('silu'),
  bos_token_id: ids,
  eos_token_id: ids,
});

export type HfConfig = z.output<typeof hfConfigSchema>;

export const HF_ARCHS = ['llama', 'mistral', 'qwen2', 'mixtral', 'gpt2'] as const;

/** GPT-2's config.json fields (its own names). */
export const gpt2ConfigSchema = z.looseObject({
  model_type: z.literal('gpt2'),
  vocab_size: z.number().int().positive(),
  n_embd: z.number().int().positive(),
  n_layer: z.number().int().positive(),
  n_head: z.number().int().positive(),
  n_positions: z.number().int().positive(),
  n_inner: z.number().int().positive().nullish(),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  activation_function: z.string().default('gelu_new'),
  scale_attn_weights: z.boolean().default(true),
  scale_attn_by_inverse_layer_idx: z.boolean().default(false),
  reorder_and_upcast_attn: z.boolean().default(false),
  bos_token_id: ids,
  eos_token_id: ids,
});

/** What a config.json describes, in balmkit's terms. */
export interface HfModelConfig {
  arch: (typeof HF_ARCHS)[number];
  decoder: DecoderConfig;
  maxPositions: number;
  eos: number[];
}

/** Reads any supported config.json object; errors name the field. */
export function hfModelConfig(raw: unknown, source: string): HfModelConfig {
  const type = (raw as { model_type?: unknown } | null)?.model_type;
  if (type !== 'gpt2') {
    const c = parseHfConfig(raw, source);
    return { arch: c.model_type as HfModelConfig['arch'], decoder: decoderConfigFrom(c, source), maxPositions: c.max_position_embeddings, eos: idList(c.eos_token_id) };
  }
  const r = gpt2ConfigSchema.safeParse(raw);
  if (!r.success) {
    const p = zodProblem(r.error);
    throw new ModelError(`${source}: config.json field '${p.path}': ${p.message}`);
  }
  const c = r.data;
  if (c.activation_function !== 'gelu_new') throw new ModelError(`${source}: GPT-2 activation_function '${c.activation_function}' is not supported (gelu_new)`);
  if (!c.scale_attn_weights || c.scale_attn_by_inverse_layer_idx || c.reorder_and_upcast_attn) {
    throw new ModelError(`${source}: GPT-2 attention options scale_attn_weights=false / scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported`);
  }
  return {
    arch: 'gpt2',
    decoder: {
      vocab: c.vocab_size,
      hidden: c.n_embd,
      layers: c.n_layer,
      heads: c.n_head,
      kvHeads: c.n_head,
      ffn: c.n_inner ?? 4 * c.n_embd,
      eps: c.layer_norm_epsilon,
      rotary: null,
      learnedPositions: c.n_positions,
      norm: 'layernorm',
      feedForward: { kind: 'gelu_tanh' },
      mlpBias: true,
      attentionBias: true,
      outputBias: true,
      tiedEmbeddings: true,
    },
    maxPositions: c.n_positions,
    eos: idList(c.eos_token_id),
  };
}

/** Parses config.json's object; errors name the field. */
export function parseHfConfig(raw: unknown, source: string): HfConfig {
  const r = hfConfigSchema.safeParse(raw);
  if (!r.success) {
    const p = zodProblem(r.error);
    throw new ModelError(`${source}: config.json field '${p.path}': ${p.message}`);
  }
  const c = r.data;
  if (!(HF_ARCHS as readonly string[]).includes(c.model_type)) {
    throw new ModelError(`${source}: model_type '${c.model_type}' is not supported (supported: ${HF_ARCHS.join(', ')})`);
  }
  if (c.hidden_act !== 'silu') throw new ModelError(`${source}: hidden_act '${c.hidden_act}' is not supported (the Llama family uses silu)`);
  return c;
}

/** Rotary scaling from config.json's rope_scaling (transformers' modeling_rope_utils.py). */
export function ropeScalingFrom(c: HfConfig, source: string): RotaryScaling | undefined {
  const rs = c.rope_scaling;
  if (!rs) return undefined;
  const type = rs.rope_type ?? rs.type ?? 'default';
  if (type === 'default') return undefined;
  const factor = rs.factor;
  if (factor === undefined) throw new ModelError(`${source}: rope_scaling of type '${type}' needs 'factor'`);
  if (type === 'linear') return (f) => f.map((x) => x / factor);
  if (type === 'llama3') {
    const { low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: old } = rs;
    if (low === undefined || high === undefined || old === undefined) {
      throw new ModelError(`${source}: rope_scaling 'llama3' needs low_freq_factor, high_freq_factor and original_max_position_embeddings`);
    }
    const lowWavelen = old / low;
    const highWavelen = old / high;
    return (f) =>
      f.map((inv) => {
        const wavelen = (2 * Math.PI) / inv;
        if (wavelen < highWavelen) return inv; // high frequency: kept
        if (wavelen > lowWavelen) return inv / factor; // low frequency: divided by factor
        const smooth = (old / wavelen - low) / (high - low); // in between: interpolated
        return (1 - smooth) * (inv / factor) + smooth * inv;
      });
  }
  throw new ModelError(`${source}: rope_scaling type '${type}' is not supported (supported: linear, llama3)`);
}

/** The shared decoder's config for a parsed HF config. */
export function decoderConfigFrom(c: HfConfig, source: string): DecoderConfig {
  const scaling = ropeScalingFrom(c, source);
  let window: number | null = null;
  if (c.model_type === 'mistral' || c.model_type === 'mixtral') window = c.sliding_window ?? null;
  let feedForward: DecoderConfig['feedForward'] = { kind: 'swiglu' };
  if (c.model_type === 'mixtral') {
    if (!c.num_local_experts || !c.num_experts_per_tok) throw new ModelError(`${source}: a Mixtral config.json needs num_local_experts and num_experts_per_tok`);
    feedForward = { kind: 'moe', experts: c.num_local_experts, topK: c.num_experts_per_tok };
  }
  if (c.model_type === 'qwen2' && c.use_sliding_window) {
    throw new ModelError(`${source}: Qwen2 with use_sliding_window is not supported (its per-layer window is later work)`);
  }
  return {
    vocab: c.vocab_size,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    ffn: c.intermediate_size,
    eps: c.rms_norm_eps,
    rotary: { convention: 'half', theta: c.rope_theta, ...(scaling ? { scaling } : {}) },
    tiedEmbeddings: c.tie_word_embeddings,
    attentionBias: c.model_type === 'qwen2' || c.attention_bias,
    outputBias: c.model_type !== 'qwen2' && c.attention_bias,
    slidingWindow: window,
    feedForward,
    ...(c.head_dim ? { headDim: c.head_dim } : {}),
  };
}

/** ids as a list (config.json allows a number or a list). */
export function idList(v: number | number[] | null | undefined): number[] {
  return v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/**
 * Every tensor the decoder needs, as the checkpoint names it, with its shape and the decoder's
 * name for it.
 */
export function expectedHfTensors(cfg: DecoderConfig): { hf: string; name: string; shape: number[] }[] {
  const hd = cfg.headDim ?? cfg.hidden / cfg.heads;
  const q = cfg.heads * hd;
  const kv = cfg.kvHeads * hd;
  const out: { hf: string; name: string; shape: number[] }[] = [{ hf: 'model.embed_tokens.weight', name: 'embed.weight', shape: [cfg.vocab, cfg.hidden] }];
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.`;
    const d = `layers.${i}.`;
    const add = (hf: string, name: string, shape: number[]) => out.push({ hf: p + hf, name: d + name, shape });
    add('input_layernorm.weight', 'attn_norm.weight', [cfg.hidden]);
    add('self_attn.q_proj.weight', 'attn.q_proj.weight', [q, cfg.hidden]);
    add('self_attn.k_proj.weight', 'attn.k_proj.weight', [kv, cfg.hidden]);
    add('self_attn.v_proj.weight', 'attn.v_proj.weight', [kv, cfg.hidden]);
    add('self_attn.o_proj.weight', 'attn.o_proj.weight', [cfg.hidden, q]);
    if (cfg.attentionBias) {
      add('self_attn.q_proj.bias', 'attn.q_proj.bias', [q]);
      add('self_attn.k_proj.bias', 'attn.k_proj.bias', [kv]);
      add('self_attn.v_proj.bias', 'attn.v_proj.bias', [kv]);
    }
    if (cfg.outputBias) add('self_attn.o_proj.bias', 'attn.o_proj.bias', [cfg.hidden]);
    add('post_attention_layernorm.weight', 'mlp_norm.weight', [cfg.hidden]);
    const ff = cfg.feedForward;
    if (ff?.kind === 'moe') {
      add('block_sparse_moe.gate.weight', 'mlp.router.weight', [ff.experts, cfg.hidden]);
      for (let e = 0; e < ff.experts; e++) {
        add(`block_sparse_moe.experts.${e}.w1.weight`, `mlp.experts.${e}.gate_proj.weight`, [cfg.ffn, cfg.hidden]);
        add(`block_sparse_moe.experts.${e}.w3.weight`, `mlp.experts.${e}.up_proj.weight`, [cfg.ffn, cfg.hidden]);
        add(`block_sparse_moe.experts.${e}.w2.weight`, `mlp.experts.${e}.down_proj.weight`, [cfg.hidden, cfg.ffn]);
      }
    } else {
      add('mlp.gate_proj.weight', 'mlp.gate_proj.weight', [cfg.ffn, cfg.hidden]);
      add('mlp.up_proj.weight', 'mlp.up_proj.weight', [cfg.ffn, cfg.hidden]);
      add('mlp.down_proj.weight', 'mlp.down_proj.weight', [cfg.hidden, cfg.ffn]);
    }
  }
  out.push({ hf: 'model.norm.weight', name: 'final_norm.weight', shape: [cfg.hidden] });
  if (!cfg.tiedEmbeddings) out.push({ hf: 'lm_head.weight', name: 'lm_head.weight', shape: [cfg.vocab, cfg.hidden] });
  return out;
}

function checked(tensors: NamedTensors, name: string, shape: number[], source: string, hint = ''): HostTensor {
  const t = tensors.get(name);
  if (!t) throw new ModelError(`${source}: tensor '${name}' is missing from the checkpoint${hint}`);
  if (!sameShape(t.shape, shape)) {
    throw new ModelError(`${source}: tensor '${name}' has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`);
  }
  return t;
}

/** Columns [from, from + n) of a row-major [rows, cols] matrix, transposed to [n, rows] (Conv1D [in, out] → Linear [out, in]). */
function conv1dToLinear(t: HostTensor, from: number, n: number): HostTensor {
  const [rows, cols] = t.shape as [number, number];
  const src = toFloat32(t);
  const out = new Float32Array(n * rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < n; c++) out[c * rows + r] = src[r * cols + from + c]!;
  return { dtype: 'float32', shape: [n, rows], data: out };
}

function sliceVector(t: HostTensor, from: number, n: number): HostTensor {
  return { dtype: 'float32', shape: [n], data: toFloat32(t).slice(from, from + n) };
}

/**
 * GPT-2's tensors (with or without the `transformer.` prefix) checked and converted: Conv1D
 * weights are [in, out] and c_attn holds q, k and v side by side, so they are split and transposed
 * into the decoder's [out, in] q/k/v/o and fc1/fc2 (one float32 copy of those matrices).
 */
function mapGpt2Tensors(tensors: NamedTensors, cfg: DecoderConfig, source: string): NamedTensors {
  const p = tensors.has('transformer.wte.weight') ? 'transformer.' : '';
  const D = cfg.hidden;
  const out: NamedTensors = new Map();
  out.set('embed.weight', checked(tensors, `${p}wte.weight`, [cfg.vocab, D], source));
  out.set('pos_embed.weight', checked(tensors, `${p}wpe.weight`, [cfg.learnedPositions!, D], source));
  for (let i = 0; i < cfg.layers; i++) {
    const h = `${p}h.${i}.`;
    const d = `layers.${i}.`;
    const get = (name: string, shape: number[]) => checked(tensors, h + name, shape, source);
    out.set(`${d}attn_norm.weight`, get('ln_1.weight', [D]));
    out.set(`${d}attn_norm.bias`, get('ln_1.bias', [D]));
    const qkv = get('attn.c_attn.weight', [D, 3 * D]);
    const qkvBias = get('attn.c_attn.bias', [3 * D]);
    ['q_proj', 'k_proj', 'v_proj'].forEach((name, j) => {
      out.set(`${d}attn.${name}.weight`, conv1dToLinear(qkv, j * D, D));
      out.set(`${d}attn.${name}.bias`, sliceVector(qkvBias, j * D, D));
    });
    out.set(`${d}attn.o_proj.weight`, conv1dToLinear(get('attn.c_proj.weight', [D, D]), 0, D));
    out.set(`${d}attn.o_proj.bias`, get('attn.c_proj.bias', [D]));
    out.set(`${d}mlp_norm.weight`, get('ln_2.weight', [D]));
    out.set(`${d}mlp_norm.bias`, get('ln_2.bias', [D]));
    out.set(`${d}mlp.fc1.weight`, conv1dToLinear(get('mlp.c_fc.weight', [D, cfg.ffn]), 0, cfg.ffn));
    out.set(`${d}mlp.fc1.bias`, get('mlp.c_fc.bias', [cfg.ffn]));
    out.set(`${d}mlp.fc2.weight`, conv1dToLinear(get('mlp.c_proj.weight', [cfg.ffn, D]), 0, D));
    out.set(`${d}mlp.fc2.bias`, get('mlp.c_proj.bias', [D]));
  }
  out.set('final_norm.weight', checked(tensors, `${p}ln_f.weight`, [D], source));
  out.set('final_norm.bias', checked(tensors, `${p}ln_f.bias`, [D], source));
  return out;
}

/**
 * Tensors a checkpoint may hold that the model does not use, and why they are harmless: nothing
 * else is skipped, so a LoRA tensor or a bias the config does not declare is an error instead of
 * vanishing.
 */
export const HARMLESS_HF_TENSORS: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /(^|\.)rotary_emb\.inv_freq$/, why: 'rotary frequencies older transformers saved as a buffer; balmkit computes them from config.json' },
  { pattern: /^(transformer\.)?h\.\d+\.attn\.(masked_)?bias$/, why: "GPT-2's causal-mask buffers" },
];

/** Refuses tensors neither used nor known to be harmless, naming the first few. */
function refuseUnused(tensors: NamedTensors, used: ReadonlySet<string>, source: string, tied: boolean): void {
  const unused = [...tensors.keys()].filter((k) => !used.has(k) && !(tied && k === 'lm_head.weight') && !HARMLESS_HF_TENSORS.some((h) => h.pattern.test(k)));
  if (unused.length === 0) return;
  const lora = unused.some((k) => /lora_|\.base_layer\./.test(k));
  throw new ModelError(
    `${source}: tensor${unused.length === 1 ? '' : 's'} ${unused
      .slice(0, 4)
      .map((k) => `'${k}'`)
      .join(', ')}${unused.length > 4 ? ` and ${unused.length - 4} more` : ''} ` +
      `${unused.length === 1 ? 'is' : 'are'} not part of the model config.json describes` +
      (lora ? ' (LoRA tensors: merge the adapter into the weights first, or load it as an adapter)' : ' (a bias or layer the config does not declare? check config.json)'),
  );
}

/**
 * Checks the checkpoint against the config and renames its tensors for the decoder (no copy,
 * except GPT-2's Conv1D matrices).
 * @throws naming the first missing tensor, a tensor whose shape differs (both shapes), or tensors
 *   the model does not use (except {@link HARMLESS_HF_TENSORS}; a tied checkpoint's copy of the head).
 */
export function mapHfTensors(tensors: NamedTensors, cfg: DecoderConfig, source: string, arch = 'llama'): NamedTensors {
  if (arch === 'gpt2') {
    const out = mapGpt2Tensors(tensors, cfg, source);
    const p = tensors.has('transformer.wte.weight') ? 'transformer.' : '';
    const layer = ['ln_1', 'ln_2', 'attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].flatMap((m) => [`${m}.weight`, `${m}.bias`]);
    const used = ['wte.weight', 'wpe.weight', 'ln_f.weight', 'ln_f.bias', ...Array.from({ length: cfg.layers }, (_, i) => layer.map((n) => `h.${i}.${n}`)).flat()];
    refuseUnused(tensors, new Set(used.map((n) => p + n)), source, true);
    return out;
  }
  const out: NamedTensors = new Map();
  for (const e of expectedHfTensors(cfg)) {
    const hint = e.hf === 'lm_head.weight' ? ' (or set tie_word_embeddings: true in config.json if the head shares the embedding)' : '';
    out.set(e.name, checked(tensors, e.hf, e.shape, source, hint));
  }
  refuseUnused(tensors, new Set(expectedHfTensors(cfg).map((e) => e.hf)), source, cfg.tiedEmbeddings ?? false);
  return out;
}
