/**
 * Named weights as graph initializers. A block asks for `scope.value('q_proj.weight')`; the
 * scope resolves the full name (`layers.0.attn.q_proj.weight`), converts to float32 and adds the
 * initializer once, under that name, so a graph's initializers read like the checkpoint.
 *
 * Three ways in, one bookkeeping: `value` (float32, optionally transposed for MatMul), `raw` (the
 * stored dtype: fp16, bf16, int8, for a variant that computes on it), and `derived` (any tensor
 * made from a weight: a re-arranged matrix, a merged LoRA, a mask), each added once under
 * `<name>.<suffix>`. Every read is recorded, so a builder ends with {@link Weights.unused}: a
 * tensor no block read is an error, not a silent no-op.
 */
import { type HostTensor, type NamedTensors, sameShape, toFloat32, transposed } from '../io/tensor.js';
import { type GraphBuilder, GraphError, type TensorInit, type Value } from '../onnx/index.js';
import type { LinearChoice } from './linear.js';

export class Weights {
  constructor(
    readonly graph: GraphBuilder,
    readonly tensors: NamedTensors,
    readonly prefix = '',
    /**
     * The linear variants chosen for the layers under this scope (src/nn/linear.ts), carried by
     * every sub-scope: a model whose blocks take no stack options (BALMFold's trunk) still has
     * every projection as a site. A choice passed to `linear()` explicitly wins.
     */
    readonly linear?: LinearChoice,
    /** Full names read so far, shared by every scope of one model. */
    private readonly read: Set<string> = new Set(),
  ) {}

  /** A view whose names are relative to `prefix.` (`w.scope('layers.0').scope('attn')`). */
  scope(sub: string): Weights {
    return new Weights(this.graph, this.tensors, `${this.prefix}${sub}.`, this.linear, this.read);
  }

  /** Tensors no block has read, except those `skip` matches (documented by the caller: weights of dropped experts…). */
  unused(skip: readonly RegExp[] = []): string[] {
    return [...this.tensors.keys()].filter((k) => !this.read.has(k) && !skip.some((r) => r.test(k)));
  }

  /** Refuses the tensors no block read, naming them and `model`. */
  checkAllUsed(model: string, skip: readonly RegExp[] = []): void {
    const unused = this.unused(skip);
    if (unused.length === 0) return;
    const shown = unused
      .slice(0, 5)
      .map((k) => `'${k}'`)
      .join(', ');
    throw new GraphError(
      `tensor${unused.length > 1 ? 's' : ''} ${shown}${unused.length > 5 ? `, … (${unused.length} in all)` : ''} not used by the ${model} graph of this config: is config.json the one the weights were trained with?`,
    );
  }

  fullName(name: string): string {
    return `${this.prefix}${name}`;
  }

  has(name: string): boolean {
    return this.tensors.has(this.fullName(name));
  }

  tensor(name: string, shape?: number[]): HostTensor {
    const full = this.fullName(name);
    const t = this.tensors.get(full);
    if (!t) {
      const near = [...this.tensors.keys()].filter((k) => k.startsWith(this.prefix)).slice(0, 6);
      throw new GraphError(`weight '${full}' is missing${near.length ? ` (this scope has: ${near.join(', ')}${near.length === 6 ? ', …' : ''})` : ''}`);
    }
    if (shape && !sameShape(t.shape, shape)) {
      throw new GraphError(`weight '${full}' has shape [${t.shape.join(',')}], the config needs [${shape.join(',')}]`);
    }
    this.read.add(full);
    return t;
  }

  /** The weight in its stored dtype (no conversion), for a variant that computes on it (fp16, int8 …). */
  raw(name: string, options: { shape?: number[] } = {}): Value {
    const full = this.fullName(name);
    const t = this.tensor(name, options.shape);
    const initName = t.dtype === 'float32' ? full : `${full}.${t.dtype}`;
    if (this.graph.has(initName)) return this.graph.get(initName);
    return this.graph.initializer(initName, { dtype: t.dtype, dims: [...t.shape], data: t.data });
  }

  /**
   * A tensor made from weight `name` (`make` gets the stored tensor), added once as
   * `<name>.<suffix>`: a rearranged matrix, a merged adapter, a mask. Counts as a read of `name`.
   */
  derived(name: string, suffix: string, make: (t: HostTensor) => TensorInit, shape?: number[]): Value {
    const initName = `${this.fullName(name)}.${suffix}`;
    if (this.graph.has(initName)) {
      this.read.add(this.fullName(name));
      return this.graph.get(initName);
    }
    return this.graph.initializer(initName, make(this.tensor(name, shape)));
  }

  /** The weight as a float32 initializer; `transpose` turns a 2-D [out, in] matrix into [in, out] for MatMul. */
  value(name: string, options: { shape?: number[]; transpose?: boolean } = {}): Value {
    const full = this.fullName(name);
    if (options.transpose) {
      return this.derived(
        name,
        'T',
        (t) => {
          if (t.shape.length !== 2) throw new GraphError(`weight '${full}': cannot transpose a ${t.shape.length}-D tensor`);
          return { dtype: 'float32', dims: [t.shape[1], t.shape[0]], data: transposed(t) };
        },
        options.shape,
      );
    }
    if (this.graph.has(full)) return this.graph.get(full);
    const t = this.tensor(name, options.shape);
    return this.graph.initializer(full, { dtype: 'float32', dims: [...t.shape], data: toFloat32(t) });
  }
}
