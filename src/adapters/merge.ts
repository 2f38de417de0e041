/**
 * Merging LoRA adapters into a model's weights: W + Σ wᵢ sᵢ Bᵢ Aᵢ computed in float32 and rounded
 * once to the weight's stored dtype (float32, float16 or bfloat16), or kept in float32 (`dtype:
 * 'float32'`: what the unmerged graph computes, to 1e-5; a float16 weight rounded back differs by
 * its rounding); every other tensor is kept as stored, byte for byte.
 */
import { type HostTensor, type NamedTensors, f32ToBf16, f32ToF16 } from '../io/tensor.js';
import { mergeLora } from '../nn/lora.js';
import { ModelError } from '../runtime/errors.js';
import { type WeightedAdapter, nearest } from './apply.js';

/** The float32 values rounded once to `dtype`. */
function toDtype(values: Float32Array, dtype: HostTensor['dtype'], name: string): HostTensor['data'] {
  if (dtype === 'float32') return values;
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const out = new Uint16Array(values.length);
    const round = dtype === 'float16' ? f32ToF16 : f32ToBf16;
    for (let i = 0; i < values.length; i++) out[i] = round(values[i]);
    return out;
  }
  throw new ModelError(`weight '${name}' is ${dtype}; LoRA merges into float32, float16 or bfloat16 weights`);
}

/**
 * The checkpoint with the adapters merged into the weights they target (the checkpoint's own
 * names: `<module>.weight`), in the checkpoint's order; which weights changed.
 */
export function mergeAdapters(
  tensors: NamedTensors,
  adapters: readonly WeightedAdapter[],
  source: string,
  options: { dtype?: 'stored' | 'float32' } = {},
): { tensors: NamedTensors; merged: string[] } {
  const updates = new Map<string, Parameters<typeof mergeLora>[1][number][]>();
  for (const { adapter, weight = 1 } of adapters) {
    for (const [module, m] of adapter.modules) {
      const name = `${module}.weight`;
      if (!tensors.has(name)) {
        throw new ModelError(`adapter '${adapter.name}': ${source} has no weight '${name}' (nearest: ${nearest(name, [...tensors.keys()]).join(', ')})`);
      }
      updates.set(name, [...(updates.get(name) ?? []), { a: m.a, b: m.b, scale: m.scale * weight, name: adapter.name }]);
    }
  }
  const out: NamedTensors = new Map();
  for (const [name, t] of tensors) {
    const u = updates.get(name);
    if (!u) out.set(name, t);
    else if (options.dtype === 'float32') out.set(name, { dtype: 'float32', shape: [...t.shape], data: mergeLora(t, u, name) });
    else out.set(name, { dtype: t.dtype, shape: [...t.shape], data: toDtype(mergeLora(t, u, name), t.dtype, name) });
  }
  return { tensors: out, merged: [...updates.keys()] };
}
