/** LayerNorm (ONNX LayerNormalization) and RMSNorm (decomposed: opset 17 has no RMS op; ORT fuses the pattern). */
import { op, type Value } from '../onnx/index.js';
import type { Weights } from './weights.js';

export function layerNorm(x: Value, w: Weights, dim: number, eps = 1e-5, bias = true): Value {
  const gamma = w.value('weight', { shape: [dim] });
  const beta = bias ? w.value('bias', { shape: [dim] }) : null;
  return x.graph.scope(w.prefix.replace(/\.$/, ''), () => op.layerNorm(x, gamma, beta, eps));
}

/** RMSNorm: x · rsqrt(mean(x²) + eps) · w (Llama). */
export function rmsNorm(x: Value, w: Weights, dim: number, eps = 1e-6): Value {
  const gamma = w.value('weight', { shape: [dim] });
  return x.graph.scope(w.prefix.replace(/\.$/, ''), () => {
    const ms = op.reduceMean(op.mul(x, x), [-1]);
    const inv = op.reciprocal(op.sqrt(op.add(ms, eps)));
    return op.mul(op.mul(x, inv), gamma);
  });
}

export type NormKind = 'layernorm' | 'rmsnorm';

export function norm(kind: NormKind, x: Value, w: Weights, dim: number, eps: number): Value {
  return kind === 'layernorm' ? layerNorm(x, w, dim, eps) : rmsNorm(x, w, dim, eps);
}
