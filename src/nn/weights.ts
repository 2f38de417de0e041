/**
 * Named weights as graph initializers. A block asks for `scope.value('q_proj.weight')`; the
 * scope resolves the full name (`layers.0.attn.q_proj.weight`), converts to float32 and adds the
 * initializer once, under that name, so a graph's initializers read like the checkpoint.
 */
import { type HostTensor, type NamedTensors, toFloat32 } from '../io/tensor.js';
import { type GraphBuilder, GraphError, type Value } from '../onnx/index.js';
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
  ) {}

  /** A view whose names are relative to `prefix.` (`w.scope('layers.0').scope('attn')`). */
  scope(sub: string): Weights {
    return new Weights(this.graph, this.tensors, `${this.prefix}${sub}.`, this.linear);
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
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new GraphError(`weight '${full}' has shape [${t.shape.join(',')}], the config needs [${shape.join(',')}]`);
    }
    return t;
  }

  /** The weight as a float32 initializer; `transpose` turns a 2-D [out, in] matrix into [in, out] for MatMul. */
  value(name: string, options: { shape?: number[]; transpose?: boolean } = {}): Value {
    const full = this.fullName(name);
    const initName = options.transpose ? `${full}.T` : full;
    if (this.graph.has(initName)) return this.graph.get(initName);
    const t = this.tensor(name, options.shape);
    let data = toFloat32(t);
    let dims = [...t.shape];
    if (options.transpose) {
      if (dims.length !== 2) throw new GraphError(`weight '${full}': cannot transpose a ${dims.length}-D tensor`);
      const [r, c] = dims;
      const out = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = data[i * c + j];
      data = out;
      dims = [c, r];
    }
    return this.graph.initializer(initName, { dtype: 'float32', dims, data });
  }
}
