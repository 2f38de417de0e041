/**
 * Every op helper, run by onnxruntime: the shape balmkit inferred at build time must equal the
 * shape ORT produces, and a few ops are checked numerically against plain TypeScript.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { GraphBuilder, op, serializeModel, describeModel, type Value, type DType } from '../../src/onnx/index.js';

type Feed = { name: string; dtype: DType; dims: number[]; data: Float32Array | BigInt64Array | Int32Array | Uint8Array };

function seq(n: number, scale = 0.1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * scale * 10);
}

const numel = (d: number[]) => d.reduce((a, b) => a * b, 1);

function fIn(g: GraphBuilder, feeds: Feed[], name: string, dims: number[]): Value {
  feeds.push({ name, dtype: 'float32', dims, data: seq(numel(dims)) });
  return g.input(name, 'float32', dims);
}

function iIn(g: GraphBuilder, feeds: Feed[], name: string, dims: number[], values: number[]): Value {
  feeds.push({ name, dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) });
  return g.input(name, 'int64', dims);
}

function fW(g: GraphBuilder, name: string, dims: number[]): Value {
  return g.initializer(name, { dtype: 'float32', dims, data: seq(numel(dims), 0.05) });
}

async function run(g: GraphBuilder, feeds: Feed[]): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(serializeModel(g, { valueInfo: true }), { logSeverityLevel: 3 });
  const f: Record<string, ort.Tensor> = {};
  for (const x of feeds) f[x.name] = new ort.Tensor(x.dtype === 'float32' ? 'float32' : x.dtype === 'int64' ? 'int64' : x.dtype === 'int32' ? 'int32' : 'bool', x.data, x.dims);
  return session.run(f);
}

type Build = (g: GraphBuilder, feeds: Feed[]) => Value[];

const cases: [string, Build][] = [
  ['MatMul (batched, broadcast)', (g, f) => [op.matMul(fIn(g, f, 'x', [2, 3, 4, 5]), fW(g, 'w', [5, 6]))]],
  ['MatMul (1-D operands)', (g, f) => [op.matMul(fIn(g, f, 'x', [5]), fW(g, 'w', [2, 5, 3]))]],
  ['Gemm (transB, bias)', (g, f) => [op.gemm(fIn(g, f, 'x', [3, 4]), fW(g, 'w', [6, 4]), fW(g, 'b', [6]), { transB: true })]],
  [
    'elementwise arithmetic',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 1, 4]);
      const y = fIn(g, f, 'y', [3, 1]);
      return [op.add(x, y), op.sub(x, 1), op.mul(2, y), op.div(x, y), op.pow(op.abs(x), 2), op.max(x, y), op.min(x, y), op.neg(x)];
    },
  ],
  [
    'unary float ops',
    (g, f) => {
      const x = op.add(op.abs(fIn(g, f, 'x', [3, 4])), 0.5);
      return [op.exp(x), op.log(x), op.sqrt(x), op.erf(x), op.tanh(x), op.sigmoid(x), op.sin(x), op.cos(x), op.reciprocal(x), op.relu(x)];
    },
  ],
  [
    'comparisons and Where',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 3]);
      const y = fIn(g, f, 'y', [3]);
      const c = op.less(x, y);
      return [op.cast(c, 'float32'), op.where(op.and(c, op.not(op.equal(x, y))), x, y), op.cast(op.greater(x, y), 'int64')];
    },
  ],
  [
    'Reshape with 0 and -1, Transpose, Flatten via Shape',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 3, 4]);
      return [op.reshape(x, [0, -1]), op.transpose(x, [2, 0, 1]), op.reshape(x, op.concat([op.shape(x, { end: 1 }), op.ints(g, [12])], 0))];
    },
  ],
  [
    'Concat, Split (sizes and parts), Slice',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 6, 4]);
      const [a, b] = op.split(x, 1, [2, 4]);
      const parts = op.split(x, 2, { parts: 2 });
      return [op.concat([a, b, a], 1), ...parts, op.slice(x, [1, -3], [op.END, -1], [1, 2]), op.slice(x, [5], [0], [1], [-2])];
    },
  ],
  [
    'Gather, GatherElements, GatherND, ScatterND',
    (g, f) => {
      const x = fIn(g, f, 'x', [4, 5]);
      const idx = iIn(g, f, 'idx', [2, 3], [0, 3, 1, 2, 2, 0]);
      const e = iIn(g, f, 'e', [4, 2], [0, 4, 1, 3, 2, 2, 4, 0]);
      const nd = iIn(g, f, 'nd', [3, 2], [0, 1, 3, 4, 2, 2]);
      const rows = iIn(g, f, 'rows', [2, 1], [1, 3]);
      return [op.gather(x, idx, 0), op.gather(x, idx, 1), op.gatherElements(x, e, 1), op.gatherND(x, nd), op.scatterND(x, rows, fIn(g, f, 'u', [2, 5]))];
    },
  ],
  [
    'Unsqueeze, Squeeze, Expand',
    (g, f) => {
      const x = fIn(g, f, 'x', [3, 1, 4]);
      return [op.unsqueeze(x, [0, -1]), op.squeeze(x, [1]), op.expand(x, [2, 3, 5, 4])];
    },
  ],
  [
    'Softmax, LogSoftmax, LayerNormalization',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 3, 8]);
      return [op.softmax(x, 1), op.logSoftmax(x), op.layerNorm(x, fW(g, 'gamma', [8]), fW(g, 'beta', [8]), 1e-5)];
    },
  ],
  [
    'reductions, ArgMax, TopK, CumSum',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 3, 8]);
      const [v, i] = op.topK(x, 3, -1);
      return [op.reduceSum(x, [1]), op.reduceMean(x, [0, 2], false), op.reduceMax(x, [-1]), op.reduce('ReduceL2', x, [2]), op.argMax(x, 2), v, i, op.cumSum(x, 1)];
    },
  ],
  [
    'Range, ConstantOfShape, Trilu',
    (g) => {
      const r = op.range(op.constant(g, 'int64', [0], []), op.constant(g, 'int64', [5], []), op.constant(g, 'int64', [1], []));
      const z = op.constantOfShape(op.ints(g, [3, 3]), 1);
      return [r, z, op.trilu(z, false)];
    },
  ],
  [
    'Einsum (explicit, implicit, ellipsis)',
    (g, f) => {
      const q = fIn(g, f, 'q', [2, 4, 3, 8]);
      const k = fIn(g, f, 'k', [2, 4, 5, 8]);
      return [op.einsum('bhqd,bhkd->bhqk', [q, k]), op.einsum('ij,jk', [fIn(g, f, 'a', [3, 4]), fIn(g, f, 'b', [4, 2])]), op.einsum('...d,...d->...', [q, q])];
    },
  ],
  [
    'DequantizeLinear',
    (g) => {
      const q = g.initializer('q', { dtype: 'int8', dims: [4, 3], data: Int8Array.from([1, -2, 3, 4, -5, 6, 7, 8, -9, 10, 11, 12]) });
      const s = g.initializer('s', { dtype: 'float32', dims: [3], data: Float32Array.from([0.5, 0.25, 2]) });
      return [op.dequantizeLinear(q, s, null, 1)];
    },
  ],
  [
    'com.microsoft: FastGelu, SkipLayerNormalization',
    (g, f) => {
      const x = fIn(g, f, 'x', [2, 3, 8]);
      const [y, sum] = op.skipLayerNorm(x, fIn(g, f, 's', [2, 3, 8]), fW(g, 'gamma', [8]), fW(g, 'beta', [8]), { withSum: true });
      return [op.fastGelu(x, fW(g, 'bias', [8])), y, sum];
    },
  ],
  [
    'com.microsoft: MultiHeadAttention with past, RotaryEmbedding',
    (g, f) => {
      const q = fIn(g, f, 'q', [2, 3, 16]);
      const pk = fIn(g, f, 'pk', [2, 4, 5, 4]);
      const [o, presentK, presentV] = op.multiHeadAttention(q, { numHeads: 4, key: q, value: q, pastKey: pk, pastValue: pk, present: true });
      const pos = iIn(g, f, 'pos', [2, 3], [0, 1, 2, 5, 6, 7]);
      const cos = fW(g, 'cos', [16, 2]);
      const rot = op.rotaryEmbedding(q, pos, cos, cos, { numHeads: 4 });
      return [o, presentK, presentV, rot];
    },
  ],
  [
    'com.microsoft: MatMulNBits',
    (g, f) => {
      const b = g.initializer('b', { dtype: 'uint8', dims: [8, 2, 16], data: Uint8Array.from({ length: 256 }, (_, i) => (i * 37) % 256) });
      const s = g.initializer('s', { dtype: 'float32', dims: [16], data: new Float32Array(16).fill(0.01) });
      return [op.matMulNBits(fIn(g, f, 'a', [3, 64]), b, s, { K: 64, N: 8, blockSize: 32 })];
    },
  ],
];

describe('inferred shapes equal what onnxruntime produces', () => {
  test.each(cases)('%s', async (_name, build) => {
    const g = new GraphBuilder('ops');
    const feeds: Feed[] = [];
    const outs = build(g, feeds);
    outs.forEach((v, i) => g.output(v, `out${i}`));
    const res = await run(g, feeds);
    outs.forEach((v, i) => {
      expect(v.shape, `output ${i} (${v.name})`).toEqual(res[`out${i}`].dims);
      expect(
        v.shape!.every((d) => typeof d === 'number'),
        `output ${i} fully inferred`,
      ).toBe(true);
    });
  });
});

describe('numerics', () => {
  test('Einsum attention scores equal a hand loop; Gather picks rows', async () => {
    const g = new GraphBuilder('num');
    const feeds: Feed[] = [];
    const q = fIn(g, feeds, 'q', [1, 2, 3, 4]);
    const k = fIn(g, feeds, 'k', [1, 2, 5, 4]);
    g.output(op.einsum('bhqd,bhkd->bhqk', [q, k]), 's');
    const res = await run(g, feeds);
    const qd = feeds[0].data as Float32Array;
    const kd = feeds[1].data as Float32Array;
    const s = res.s.data as Float32Array;
    for (let h = 0; h < 2; h++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 5; j++) {
          let acc = 0;
          for (let d = 0; d < 4; d++) acc += qd[(h * 3 + i) * 4 + d] * kd[(h * 5 + j) * 4 + d];
          expect(s[(h * 3 + i) * 5 + j]).toBeCloseTo(acc, 5);
        }
  });

  test('symbolic dims flow through Shape → Concat → Reshape and survive serialization', () => {
    const g = new GraphBuilder('sym');
    const x = g.input('x', 'float32', ['batch', 'seq', 32]);
    const heads = op.reshape(x, op.concat([op.shape(x, { end: 2 }), op.ints(g, [4, 8])], 0));
    expect(heads.shape).toEqual(['batch', 'seq', 4, 8]);
    const t = op.transpose(heads, [0, 2, 1, 3]);
    expect(t.shape).toEqual(['batch', 4, 'seq', 8]);
    const back = op.reshape(op.transpose(t, [0, 2, 1, 3]), [0, 0, -1]);
    expect(back.shape).toEqual(['batch', 'seq', 32]);
    g.output(back, 'y');
    const m = describeModel(serializeModel(g));
    expect(m.inputs[0]).toEqual({ name: 'x', dtype: 'float32', shape: ['batch', 'seq', 32] });
    expect(m.outputs[0].shape).toEqual(['batch', 'seq', 32]);
    expect(m.irVersion).toBe(8);
    expect(m.opsets).toEqual([{ domain: '', version: 17 }]);
  });
});
