/** Tiny graphs for runtime tests, built with balmkit's own graph builder. */
import { GraphBuilder, op, serializeModel } from '../../src/onnx/index.js';

/** W (3×2) and b (2) of {@link affineGraph}. */
export const W = [1, 2, 3, 4, 5, 6];
export const B = [0.5, -1];

/**
 * `y = x @ W + b` with x: float32 [n, 3]; `ids2 = ids * 2` with ids: int64 [n];
 * `h = cast(x, float16)`.
 */
export function affineGraph(name = 'affine'): Uint8Array {
  const g = new GraphBuilder(name);
  const x = g.input('x', 'float32', ['n', 3]);
  const ids = g.input('ids', 'int64', ['n']);
  const w = g.initializer('W', { dtype: 'float32', dims: [3, 2], data: Float32Array.from(W) });
  const b = g.initializer('b', { dtype: 'float32', dims: [2], data: Float32Array.from(B) });
  g.output(op.add(op.matMul(x, w), b), 'y');
  g.output(op.mul(ids, op.constant(g, 'int64', [2n], [])), 'ids2');
  g.output(op.cast(x, 'float16'), 'h');
  return serializeModel(g);
}

/** Reference for `y`: x (n×3, row-major) @ W + b. */
export function affineRef(x: number[]): number[] {
  const n = x.length / 3;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 2; j++) {
      let s = B[j];
      for (let k = 0; k < 3; k++) s += x[i * 3 + k] * W[k * 2 + j];
      out.push(s);
    }
  }
  return out;
}

/** `y = x + 1` on float32 [1]; `tag` changes the bytes (graph name) without changing the math. */
export function plusOneGraph(tag = 'plus_one'): Uint8Array {
  const g = new GraphBuilder(tag);
  const x = g.input('x', 'float32', [1]);
  g.output(op.add(x, 1), 'y');
  return serializeModel(g);
}
