/**
 * Linear layers with a variant parameter. `dense` is here; LoRA, SparseLoRA, pruned and quantized
 * variants register themselves with {@link registerLinearVariant} and every block that calls
 * {@link linear} gets them without change.
 */
import { GraphError, op, type Value } from '../onnx/index.js';
import type { Weights } from './weights.js';

export interface LinearSpec {
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}

/** How a linear layer is computed. `kind` selects the implementation; the rest are its options. */
export type LinearVariant = { kind: 'dense' } | { kind: string; [option: string]: unknown };

export type LinearImpl = (x: Value, w: Weights, spec: LinearSpec, variant: LinearVariant) => Value;

const LINEAR_VARIANTS = new Map<string, LinearImpl>();

export function registerLinearVariant(kind: string, impl: LinearImpl): void {
  LINEAR_VARIANTS.set(kind, impl);
}

/** y = x Wᵀ + b with PyTorch's weight layout ([out, in] under `weight`, `bias` [out]). */
function dense(x: Value, w: Weights, spec: LinearSpec): Value {
  const weight = w.value('weight', { shape: [spec.outFeatures, spec.inFeatures], transpose: true });
  const y = op.matMul(x, weight);
  return spec.bias ? op.add(y, w.value('bias', { shape: [spec.outFeatures] })) : y;
}

registerLinearVariant('dense', dense);

/** A linear layer whose weights live under scope `w` (`w.weight`, `w.bias`). */
export function linear(x: Value, w: Weights, spec: LinearSpec, variant: LinearVariant = { kind: 'dense' }): Value {
  const impl = LINEAR_VARIANTS.get(variant.kind);
  if (!impl) throw new GraphError(`linear variant '${variant.kind}' is not registered (known: ${[...LINEAR_VARIANTS.keys()].join(', ')})`);
  return x.graph.scope(w.prefix.replace(/\.$/, ''), () => impl(x, w, spec, variant));
}
