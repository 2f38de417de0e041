/** Embedding tables: token embeddings, and learned absolute position embeddings indexed by id tensors. */
import { op, type Value } from '../onnx/index.js';
import type { Weights } from './weights.js';

/** Rows of the [count, dim] table under `w.weight` picked by int64 ids of any shape → [..., dim]. */
export function embedding(ids: Value, w: Weights, count: number, dim: number): Value {
  return op.gather(w.value('weight', { shape: [count, dim] }), ids, 0);
}
