/**
 * Bidirectional encoder stacks (BERT post-LN, ESM/BALM pre-LN), with optional rotary, a padding
 * mask and any attention/linear variant.
 */
import type { NamedTensors } from '../io/tensor.js';
import { GraphBuilder, type GraphOptions, op, type Value } from '../onnx/index.js';
import { type AttentionSpec, type MaskContext, attention } from './attention.js';
import { embedding } from './embedding.js';
import { checkChoiceUsed } from './linear.js';
import { mlp } from './mlp.js';
import { layerNorm } from './norm.js';
import { type RotaryConfig, type RotaryTables, rotaryTables } from './rotary.js';
import { type StackOptions, arange, dimOf, maskFromSlots, variantFor } from './stack.js';
import { Weights } from './weights.js';

export interface EncoderConfig {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  ffn: number;
  /** 'pre': x + f(LN x) (ESM, BALM); 'post': LN(x + f(x)) (BERT). */
  norm: 'pre' | 'post';
  eps: number;
  rotary?: { convention: 'half' | 'interleaved'; theta: number } | null;
}

export interface EncoderContext {
  mask: MaskContext;
  rotary: RotaryTables | null;
}

function attentionSpec(cfg: EncoderConfig, opts: StackOptions): AttentionSpec {
  return { hidden: cfg.hidden, heads: cfg.heads, kvHeads: cfg.heads, bias: true, rotary: rotaryConfig(cfg), linear: opts.linear };
}

export function rotaryConfig(cfg: EncoderConfig): RotaryConfig | null {
  return cfg.rotary ? { dim: cfg.hidden / cfg.heads, theta: cfg.rotary.theta, convention: cfg.rotary.convention } : null;
}

/** One encoder layer; weights under `w` (`attn_norm`, `attn.*`, `mlp_norm`, `mlp.fc1`, `mlp.fc2`). */
export function encoderLayer(x: Value, w: Weights, cfg: EncoderConfig, ctx: EncoderContext, layer: number, opts: StackOptions = {}): Value {
  const call = { variant: variantFor(opts, layer), mask: ctx.mask, rotary: ctx.rotary, past: null };
  const spec = attentionSpec(cfg, opts);
  const ff = { kind: 'gelu' as const, hidden: cfg.hidden, ffn: cfg.ffn, bias: true, linear: opts.linear };
  if (cfg.norm === 'pre') {
    const h = op.add(x, attention(layerNorm(x, w.scope('attn_norm'), cfg.hidden, cfg.eps), w.scope('attn'), spec, call).out);
    return op.add(h, mlp(layerNorm(h, w.scope('mlp_norm'), cfg.hidden, cfg.eps), w.scope('mlp'), ff));
  }
  const h = layerNorm(op.add(x, attention(x, w.scope('attn'), spec, call).out), w.scope('attn_norm'), cfg.hidden, cfg.eps);
  return layerNorm(op.add(h, mlp(h, w.scope('mlp'), ff)), w.scope('mlp_norm'), cfg.hidden, cfg.eps);
}

/** Masks and rotary tables for hidden states x [B, S, D] and an int64 [B, S] attention mask. */
export function encoderContext(x: Value, attentionMask: Value | null, cfg: EncoderConfig, positions?: Value): EncoderContext {
  const seq = dimOf(x, 1);
  const mask = maskFromSlots(seq, seq, false, attentionMask);
  const rot = rotaryConfig(cfg);
  let rotary: RotaryTables | null = null;
  if (rot) {
    const pos = positions ?? op.unsqueeze(arange(seq), [0]);
    rotary = rotaryTables(pos, rot);
  }
  return { mask, rotary };
}

/** All layers (and the final LayerNorm of a pre-LN stack) on hidden states x [B, S, D]. */
export function encoderLayers(x: Value, w: Weights, cfg: EncoderConfig, ctx: EncoderContext, opts: StackOptions = {}): Value {
  let h = x;
  for (let i = 0; i < cfg.layers; i++) h = encoderLayer(h, w.scope(`layers.${i}`), cfg, ctx, i, opts);
  return cfg.norm === 'pre' ? layerNorm(h, w.scope('final_norm'), cfg.hidden, cfg.eps) : h;
}

/**
 * A whole encoder graph: `input_ids` int64 [batch, sequence] and `attention_mask` int64
 * [batch, sequence] → `hidden_states` float32 [batch, sequence, hidden]. Weights: `embed.weight`,
 * `layers.{i}.*`, `final_norm.*` (pre-LN).
 */
export function buildEncoderGraph(tensors: NamedTensors, cfg: EncoderConfig, opts: StackOptions = {}, graphOptions: GraphOptions = {}): GraphBuilder {
  const g = new GraphBuilder('encoder', graphOptions);
  const w = new Weights(g, tensors);
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const am = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const x = embedding(ids, w.scope('embed'), cfg.vocab, cfg.hidden);
  const ctx = encoderContext(x, am, cfg);
  g.output(encoderLayers(x, w, cfg, ctx, opts), 'hidden_states');
  checkChoiceUsed(opts.linear, 'encoder');
  w.checkAllUsed('encoder');
  return g;
}
