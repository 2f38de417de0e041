/** Activations and feed-forward blocks: GELU MLP (BERT/ESM) and SwiGLU (Llama). */
import { op, type Value } from '../onnx/index.js';
import { type LinearChoice, linear } from './linear.js';
import type { Weights } from './weights.js';

/** Exact GELU: 0.5·x·(1 + erf(x/√2)) (ORT fuses this pattern into its Gelu kernel). */
export function gelu(x: Value): Value {
  return op.mul(op.mul(x, 0.5), op.add(op.erf(op.mul(x, Math.SQRT1_2)), 1));
}

/** GELU, tanh approximation (GPT-2's `gelu_new`): ORT's FastGelu. */
export function geluTanh(x: Value): Value {
  return op.fastGelu(x);
}

export function silu(x: Value): Value {
  return op.mul(x, op.sigmoid(x));
}

export type MlpKind = 'gelu' | 'gelu_tanh' | 'swiglu';

export interface MlpSpec {
  kind: MlpKind;
  hidden: number;
  ffn: number;
  bias: boolean;
  linear?: LinearChoice;
}

/** gelu: fc2(gelu(fc1 x)); gelu_tanh: the same with GPT-2's tanh GELU; swiglu: down_proj(silu(gate_proj x) · up_proj x). */
export function mlp(x: Value, w: Weights, s: MlpSpec): Value {
  const up = { inFeatures: s.hidden, outFeatures: s.ffn, bias: s.bias };
  const down = { inFeatures: s.ffn, outFeatures: s.hidden, bias: s.bias };
  if (s.kind === 'gelu' || s.kind === 'gelu_tanh') {
    const act = s.kind === 'gelu' ? gelu : geluTanh;
    return linear(act(linear(x, w.scope('fc1'), up, s.linear)), w.scope('fc2'), down, s.linear);
  }
  const gate = silu(linear(x, w.scope('gate_proj'), up, s.linear));
  return linear(op.mul(gate, linear(x, w.scope('up_proj'), up, s.linear)), w.scope('down_proj'), down, s.linear);
}
