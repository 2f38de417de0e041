/**
 * Malformed graphs must fail at build time, before ORT sees them, with the node's name and the
 * shapes involved in the message.
 */
import { describe, expect, test } from 'vitest';
import { GraphBuilder, GraphError, MS_DOMAIN, attr, op, serializeModel, type Value } from '../../src/onnx/index.js';

function f32(g: GraphBuilder, name: string, dims: number[]): Value {
  return g.initializer(name, { dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
}

interface Case {
  what: string;
  build: (g: GraphBuilder) => void;
  /** Substrings the error must contain, besides the node name 'bad'. */
  expect: string[];
}

const cases: Case[] = [
  {
    what: 'MatMul inner dimensions differ',
    build: (g) => op.matMul(g.input('x', 'float32', ['b', 5, 8]), f32(g, 'w', [7, 4]), { name: 'bad' }),
    expect: ['inner dimensions', '8 ≠ 7', '[b,5,8]', '[7,4]'],
  },
  {
    what: 'Add shapes do not broadcast',
    build: (g) => op.add(g.input('x', 'float32', [2, 3]), g.input('y', 'float32', [4, 3]), { name: 'bad' }),
    expect: ['do not broadcast', '[2,3]', '[4,3]'],
  },
  {
    what: 'Add of float32 and int64',
    build: (g) => op.add(g.input('x', 'float32', [3]), g.input('y', 'int64', [3]), { name: 'bad' }),
    expect: ['element types differ', 'float32', 'int64'],
  },
  {
    what: 'Concat of different ranks',
    build: (g) => op.concat([g.input('x', 'float32', [2, 3]), g.input('y', 'float32', [2, 3, 1])], 1, { name: 'bad' }),
    expect: ['different ranks', '[2,3]', '[2,3,1]'],
  },
  {
    what: 'Concat with a mismatched non-axis dimension',
    build: (g) => op.concat([g.input('x', 'float32', [2, 3]), g.input('y', 'float32', [5, 4])], 1, { name: 'bad' }),
    expect: ['dimension 0', '2 ≠ 5'],
  },
  {
    what: 'Gather with float indices',
    build: (g) => op.gather(f32(g, 'table', [10, 4]), g.input('idx', 'float32', [3]), 0, { name: 'bad' }),
    expect: ['indices', 'int64 or int32', 'float32'],
  },
  {
    what: 'Reshape to a different element count',
    build: (g) => op.reshape(g.input('x', 'float32', [4, 6]), [5, 5], { name: 'bad' }),
    expect: ['cannot reshape', '[4,6]', '24', '[5,5]'],
  },
  {
    what: 'Transpose with a perm that is not a permutation',
    build: (g) => op.transpose(g.input('x', 'float32', [2, 3, 4]), [0, 0, 1], { name: 'bad' }),
    expect: ['perm [0,0,1]', '[2,3,4]'],
  },
  {
    what: 'Softmax of an integer tensor',
    build: (g) => op.softmax(g.input('x', 'int64', [2, 3]), -1, { name: 'bad' }),
    expect: ['floating-point', 'int64'],
  },
  {
    what: 'LayerNormalization scale does not fit the normalised dims',
    build: (g) => op.layerNorm(g.input('x', 'float32', ['b', 's', 32]), f32(g, 'gamma', [16]), null, 1e-5, -1, { name: 'bad' }),
    expect: ['Scale', '16 ≠ 32'],
  },
  {
    what: 'unknown op',
    build: (g) => g.node('MatMull', [g.input('x', 'float32', [2, 2]), g.input('y', 'float32', [2, 2])], {}, { name: 'bad' }),
    expect: ["unknown op 'MatMull'"],
  },
  {
    what: 'contrib op without its domain',
    build: (g) => g.node('FastGelu', [g.input('x', 'float32', [2, 2])], {}, { name: 'bad' }),
    expect: ["unknown op 'FastGelu'", 'domain'],
  },
  {
    what: 'Where with a missing input',
    build: (g) => g.node('Where', [g.input('c', 'bool', [2]), g.input('x', 'float32', [2])], {}, { name: 'bad' }),
    expect: ['takes 3 inputs, got 2'],
  },
  {
    what: 'Where with a float condition',
    build: (g) => op.where(g.input('c', 'float32', [2]), g.input('x', 'float32', [2]), 0, { name: 'bad' }),
    expect: ['condition', 'bool', 'float32'],
  },
  {
    what: 'Einsum whose operand does not fit its term',
    build: (g) => op.einsum('bij,bjk->bik', [g.input('x', 'float32', [2, 3, 4]), g.input('y', 'float32', [2, 5, 6])], { name: 'bad' }),
    expect: ["dimension 'j'", '4 ≠ 5'],
  },
  {
    what: 'Split sizes that do not sum to the axis',
    build: (g) => op.split(g.input('x', 'float32', [2, 10]), 1, [3, 3], { name: 'bad' }),
    expect: ['sum to 6', 'has 10'],
  },
  {
    what: 'TopK with K larger than the axis',
    build: (g) => op.topK(g.input('x', 'float32', [2, 5]), 7, -1, {}, { name: 'bad' }),
    expect: ['K = 7', 'size 5'],
  },
  {
    what: 'ReduceMean axis out of range',
    build: (g) => op.reduceMean(g.input('x', 'float32', [2, 5]), [2], true, { name: 'bad' }),
    expect: ['axis 2 is out of range for rank 2'],
  },
  {
    what: 'Gemm with a rank-3 operand',
    build: (g) => op.gemm(g.input('x', 'float32', [2, 3, 4]), f32(g, 'w', [4, 5]), null, {}, { name: 'bad' }),
    expect: ['must have rank 2', '[2,3,4]'],
  },
  {
    what: 'MultiHeadAttention hidden size not divisible by heads',
    build: (g) => op.multiHeadAttention(g.input('q', 'float32', ['b', 's', 30]), { numHeads: 4 }, { name: 'bad' }),
    expect: ['hidden size 30 is not divisible by 4'],
  },
  {
    what: 'GroupQueryAttention heads not a multiple of KV heads',
    build: (g) => {
      const q = g.input('q', 'float32', [1, 4, 48]);
      const kv = g.input('k', 'float32', [1, 4, 32]);
      const past = g.input('pk', 'float32', [1, 4, 0, 8]);
      op.groupQueryAttention(
        q,
        { numHeads: 6, kvNumHeads: 4, key: kv, value: kv, pastKey: past, pastValue: past, seqlensK: g.input('sl', 'int32', [1]), totalSequenceLength: g.input('t', 'int32', []) },
        { name: 'bad' },
      );
    },
    expect: ['num_heads 6 is not a multiple of kv_num_heads 4'],
  },
  {
    what: 'MatMulNBits with a B of the wrong shape',
    build: (g) => {
      const b = g.initializer('b', { dtype: 'uint8', dims: [8, 2, 8], data: new Uint8Array(128) });
      op.matMulNBits(g.input('a', 'float32', [1, 64]), b, f32(g, 's', [16]), { K: 64, N: 8, blockSize: 32 }, { name: 'bad' });
    },
    expect: ['B dimension 2', '8 ≠ 16'],
  },
  {
    what: 'Slice with float starts',
    build: (g) => g.node('Slice', [g.input('x', 'float32', [4]), f32(g, 'st', [1]), f32(g, 'en', [1])], {}, { name: 'bad' }),
    expect: ['starts', 'int64 or int32'],
  },
  {
    what: 'ScatterND updates of the wrong shape',
    build: (g) => {
      const idx = g.initializer('idx', { dtype: 'int64', dims: [2, 1], data: new BigInt64Array([0n, 1n]) });
      op.scatterND(g.input('x', 'float32', [4, 3]), idx, g.input('u', 'float32', [2, 4]), { name: 'bad' });
    },
    expect: ['updates dimension 1', '3 ≠ 4'],
  },
  {
    what: 'attribute of the wrong type',
    build: (g) => g.node('Softmax', [g.input('x', 'float32', [2, 3])], { axis: attr.float(1) }, { name: 'bad' }),
    expect: ["attribute 'axis' must be an int"],
  },
];

describe('malformed graphs fail at build time with the node name', () => {
  test('there are at least ten cases', () => expect(cases.length).toBeGreaterThanOrEqual(10));
  test.each(cases)('$what', ({ build, expect: parts }) => {
    const g = new GraphBuilder('negative');
    let err: unknown;
    try {
      build(g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    const msg = (err as Error).message;
    expect(msg).toContain("node 'bad'");
    for (const p of parts) expect(msg).toContain(p);
  });
});

describe('graph-level mistakes', () => {
  test('a value from another graph is refused, naming the node and both graphs', () => {
    const g1 = new GraphBuilder('one');
    const g2 = new GraphBuilder('two');
    const x = g1.input('x', 'float32', [2]);
    expect(() => op.neg(x, { name: 'stray' })).not.toThrow();
    const y = g2.input('y', 'float32', [2]);
    expect(() => g2.node('Add', [y, x], {}, { name: 'mixed' })).toThrow(/node 'mixed'.*'x' belongs to graph 'one'/);
  });

  test('duplicate names and outputless graphs are refused', () => {
    const g = new GraphBuilder('dups');
    g.input('x', 'float32', [2]);
    expect(() => g.input('x', 'float32', [2])).toThrow(/already used/);
    expect(() => serializeModel(g)).toThrow(/has no outputs/);
  });

  test('an initializer whose data does not fill its dims is refused', () => {
    const g = new GraphBuilder('init');
    expect(() => g.initializer('w', { dtype: 'float32', dims: [2, 3], data: new Float32Array(5) })).toThrow(/'w'.*5 values.*\[2,3\]/);
  });

  test('contrib ops declare the com.microsoft opset only when used', () => {
    const g = new GraphBuilder('ms');
    const x = g.input('x', 'float32', [2, 4]);
    g.output(op.neg(x), 'y');
    expect(g.opsetImports.map((o) => o.domain)).toEqual(['']);
    g.output(op.fastGelu(x), 'z');
    expect(g.opsetImports.map((o) => o.domain)).toEqual(['', MS_DOMAIN]);
  });
});
