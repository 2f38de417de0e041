/**
 * The configs written by the PyTorch references (`blocks.py`: fixture and bench weight metadata,
 * snake_case JSON) as balmkit's encoder and decoder configs, for the parity tests and benchmarks.
 */
import type { DecoderConfig, EncoderConfig } from '../../src/nn/index.js';

type Rotary = 'half' | 'interleaved';

export function encoderConfig(c: Record<string, unknown>): EncoderConfig {
  return {
    vocab: c.vocab as number,
    hidden: c.hidden as number,
    layers: c.layers as number,
    heads: c.heads as number,
    ffn: c.ffn as number,
    norm: c.norm as 'pre' | 'post',
    eps: c.eps as number,
    rotary: c.rotary ? { convention: c.rotary as Rotary, theta: c.theta as number } : null,
  };
}

export function decoderConfig(c: Record<string, unknown>): DecoderConfig {
  return {
    vocab: c.vocab as number,
    hidden: c.hidden as number,
    layers: c.layers as number,
    heads: c.heads as number,
    kvHeads: c.kv_heads as number,
    ffn: c.ffn as number,
    eps: c.eps as number,
    rotary: { convention: c.rotary as Rotary, theta: c.theta as number },
  };
}
