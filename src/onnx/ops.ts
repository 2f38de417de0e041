/**
 * Op helpers: one small function per ONNX op pattern, in the spirit of onnxruntime-genai's
 * model builder. Each takes graph values (the graph comes from the first value), adds one node
 * (checked at once by `shapes.ts`) and returns its output(s). Plain numbers become constants
 * of the other operand's element type.
 */
import { type DType, dtypeCode as dtypeCodeOf } from './dtype.js';
import { f32ToBf16, f32ToF16 } from '../io/tensor.js';
import { type Attrs, type GraphBuilder, type TensorBytes, type TensorInit, type Value, GraphError, MS_DOMAIN, attr } from './graph.js';
import './contrib.js';

export interface OpOptions {
  /** Node name (scoped and made unique). */
  name?: string;
  /** Name of the (first) output value. */
  out?: string;
}

function opts(o: OpOptions | undefined, extra: { domain?: string; outputs?: number } = {}) {
  return { name: o?.name, outputNames: o?.out ? [o.out] : undefined, ...extra };
}

function one(g: GraphBuilder, op: string, inputs: (Value | null)[], attrs: Attrs = {}, o?: OpOptions, domain = ''): Value {
  return g.node(op, inputs, attrs, opts(o, { domain }))[0];
}

// ---------------------------------------------------------------------------------------------
// constants

const constCache = new WeakMap<GraphBuilder, Map<string, Value>>();

function typedArray(dtype: DType, values: ArrayLike<number | bigint | boolean>): TensorBytes {
  const nums = Array.from(values, (v) => (typeof v === 'boolean' ? Number(v) : v));
  switch (dtype) {
    case 'float32':
      return Float32Array.from(nums, Number);
    case 'float64':
      return Float64Array.from(nums, Number);
    case 'int64':
      return BigInt64Array.from(nums, (v) => BigInt(v));
    case 'uint64':
      return BigUint64Array.from(nums, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(nums, Number);
    case 'uint32':
      return Uint32Array.from(nums, Number);
    case 'int16':
      return Int16Array.from(nums, Number);
    case 'int8':
      return Int8Array.from(nums, Number);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(nums, Number);
    case 'float16':
      return Uint16Array.from(nums, (v) => f32ToF16(Number(v)));
    case 'bfloat16':
      return Uint16Array.from(nums, (v) => f32ToBf16(Number(v)));
    default:
      throw new GraphError(`cannot make a ${dtype} constant`);
  }
}

/**
 * A constant tensor (an initializer with a generated name). Identical small constants are shared.
 * `dims` defaults to a scalar for one value and a vector otherwise.
 */
export function constant(g: GraphBuilder, dtype: DType, values: ArrayLike<number | bigint | boolean>, dims?: number[], name?: string): Value {
  const shape = dims ?? (values.length === 1 ? [] : [values.length]);
  const small = values.length <= 16 && name === undefined;
  const key = small ? `${dtype}|${shape.join(',')}|${Array.from(values).join(',')}` : '';
  let cache = constCache.get(g);
  if (!cache) constCache.set(g, (cache = new Map()));
  if (small && cache.has(key)) return cache.get(key)!;
  const v = g.initializer(name ?? g.uniqueName('const'), { dtype, dims: shape, data: typedArray(dtype, values) });
  if (small) cache.set(key, v);
  return v;
}

/** A 1-D int64 constant (shapes, axes, starts/ends). */
export function ints(g: GraphBuilder, values: number[]): Value {
  return constant(g, 'int64', values, [values.length]);
}

/** A scalar constant of `like`'s element type. */
export function scalar(like: Value, x: number): Value {
  return constant(like.graph, like.dtype, [x], []);
}

/** A named initializer from raw data. */
export function weight(g: GraphBuilder, name: string, tensor: TensorInit): Value {
  return g.initializer(name, tensor);
}

type Operand = Value | number;

function pair(a: Operand, b: Operand): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number') throw new GraphError('at least one operand must be a graph value');
  const va = typeof a === 'number' ? scalar(b as Value, a) : a;
  const vb = typeof b === 'number' ? scalar(va, b) : b;
  return [va, vb];
}

// ---------------------------------------------------------------------------------------------
// elementwise

function binary(op: string) {
  return (a: Operand, b: Operand, o?: OpOptions): Value => {
    const [x, y] = pair(a, b);
    return one(x.graph, op, [x, y], {}, o);
  };
}

export const add = binary('Add');
export const sub = binary('Sub');
export const mul = binary('Mul');
export const div = binary('Div');
export const pow = binary('Pow');
export const max = binary('Max');
export const min = binary('Min');
export const equal = binary('Equal');
export const less = binary('Less');
export const greater = binary('Greater');
export const lessOrEqual = binary('LessOrEqual');
export const greaterOrEqual = binary('GreaterOrEqual');
export const and = binary('And');
export const or = binary('Or');

function unary(op: string) {
  return (x: Value, o?: OpOptions): Value => one(x.graph, op, [x], {}, o);
}

export const neg = unary('Neg');
export const abs = unary('Abs');
export const exp = unary('Exp');
export const log = unary('Log');
export const sqrt = unary('Sqrt');
export const reciprocal = unary('Reciprocal');
export const erf = unary('Erf');
export const tanh = unary('Tanh');
export const sigmoid = unary('Sigmoid');
export const relu = unary('Relu');
export const sin = unary('Sin');
export const cos = unary('Cos');
export const not = unary('Not');
export const identity = unary('Identity');

export function where(cond: Value, x: Operand, y: Operand, o?: OpOptions): Value {
  const [vx, vy] = pair(x, y);
  return one(cond.graph, 'Where', [cond, vx, vy], {}, o);
}

export function clip(x: Value, lo?: number, hi?: number, o?: OpOptions): Value {
  const l = lo === undefined ? null : scalar(x, lo);
  const h = hi === undefined ? null : scalar(x, hi);
  return one(x.graph, 'Clip', [x, l, h], {}, o);
}

export function cast(x: Value, to: DType, o?: OpOptions): Value {
  if (x.dtype === to) return x;
  return one(x.graph, 'Cast', [x], { to: attr.int(dtypeCodeOf(to)) }, o);
}

// ---------------------------------------------------------------------------------------------
// linear algebra

export function matMul(a: Value, b: Value, o?: OpOptions): Value {
  return one(a.graph, 'MatMul', [a, b], {}, o);
}

export function gemm(a: Value, b: Value, c: Value | null, p: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}, o?: OpOptions): Value {
  const attrs: Attrs = {};
  if (p.transA) attrs.transA = attr.int(1);
  if (p.transB) attrs.transB = attr.int(1);
  if (p.alpha !== undefined) attrs.alpha = attr.float(p.alpha);
  if (p.beta !== undefined) attrs.beta = attr.float(p.beta);
  return one(a.graph, 'Gemm', [a, b, c], attrs, o);
}

export function einsum(equation: string, inputs: Value[], o?: OpOptions): Value {
  if (inputs.length === 0) throw new GraphError(`einsum '${equation}' needs at least one input`);
  return one(inputs[0].graph, 'Einsum', inputs, { equation: attr.string(equation) }, o);
}

// ---------------------------------------------------------------------------------------------
// shapes

export function shape(x: Value, p: { start?: number; end?: number } = {}, o?: OpOptions): Value {
  const attrs: Attrs = {};
  if (p.start !== undefined) attrs.start = attr.int(p.start);
  if (p.end !== undefined) attrs.end = attr.int(p.end);
  return one(x.graph, 'Shape', [x], attrs, o);
}

/** Reshape to a constant shape (0 copies a dim, -1 infers one) or to a computed int64 shape value. */
export function reshape(x: Value, to: number[] | Value, o?: OpOptions): Value {
  const s = Array.isArray(to) ? ints(x.graph, to) : to;
  return one(x.graph, 'Reshape', [x, s], {}, o);
}

export function transpose(x: Value, perm: number[], o?: OpOptions): Value {
  return one(x.graph, 'Transpose', [x], { perm: attr.ints(perm) }, o);
}

export function concat(xs: Value[], axis: number, o?: OpOptions): Value {
  if (xs.length === 0) throw new GraphError('concat of nothing');
  return one(xs[0].graph, 'Concat', xs, { axis: attr.int(axis) }, o);
}

/** Split along `axis` into the given sizes, or into `parts` equal pieces. */
export function split(x: Value, axis: number, sizes: number[] | { parts: number }, o?: OpOptions): Value[] {
  const g = x.graph;
  if (Array.isArray(sizes)) return g.node('Split', [x, ints(g, sizes)], { axis: attr.int(axis) }, { name: o?.name });
  return g.node('Split', [x], { axis: attr.int(axis) }, { name: o?.name, outputs: sizes.parts });
}

/** Slice with constant starts/ends (and optional axes/steps). Use `Number.MAX_SAFE_INTEGER`-like big ends for "to the end". */
export function slice(x: Value, starts: number[] | Value, ends: number[] | Value, axes?: number[], steps?: number[], o?: OpOptions): Value {
  const g = x.graph;
  const s = Array.isArray(starts) ? ints(g, starts) : starts;
  const e = Array.isArray(ends) ? ints(g, ends) : ends;
  return one(g, 'Slice', [x, s, e, axes ? ints(g, axes) : null, steps ? ints(g, steps) : null], {}, o);
}

export const END = 2 ** 62;

export function unsqueeze(x: Value, axes: number[], o?: OpOptions): Value {
  return one(x.graph, 'Unsqueeze', [x, ints(x.graph, axes)], {}, o);
}

export function squeeze(x: Value, axes?: number[], o?: OpOptions): Value {
  return one(x.graph, 'Squeeze', [x, axes ? ints(x.graph, axes) : null], {}, o);
}

export function expand(x: Value, to: number[] | Value, o?: OpOptions): Value {
  const s = Array.isArray(to) ? ints(x.graph, to) : to;
  return one(x.graph, 'Expand', [x, s], {}, o);
}

export function gather(x: Value, indices: Value | number[], axis = 0, o?: OpOptions): Value {
  const idx = Array.isArray(indices) ? ints(x.graph, indices) : indices;
  return one(x.graph, 'Gather', [x, idx], { axis: attr.int(axis) }, o);
}

/** Gather one index along `axis`, dropping that axis. */
export function gatherScalar(x: Value, index: number, axis = 0, o?: OpOptions): Value {
  return one(x.graph, 'Gather', [x, constant(x.graph, 'int64', [index], [])], { axis: attr.int(axis) }, o);
}

export function gatherElements(x: Value, indices: Value, axis: number, o?: OpOptions): Value {
  return one(x.graph, 'GatherElements', [x, indices], { axis: attr.int(axis) }, o);
}

export function gatherND(x: Value, indices: Value, batchDims = 0, o?: OpOptions): Value {
  return one(x.graph, 'GatherND', [x, indices], batchDims ? { batch_dims: attr.int(batchDims) } : {}, o);
}

/** ScatterND; `reduction: 'add'` adds the updates to x (a repeated index adds twice) instead of overwriting. */
export function scatterND(x: Value, indices: Value, updates: Value, o?: OpOptions & { reduction?: 'add' | 'mul' }): Value {
  return one(x.graph, 'ScatterND', [x, indices, updates], o?.reduction ? { reduction: attr.string(o.reduction) } : {}, o);
}

/** The indices of the non-zero elements of x, int64 [rank, count]. */
export function nonZero(x: Value, o?: OpOptions): Value {
  return one(x.graph, 'NonZero', [x], {}, o);
}

export function scatterElements(x: Value, indices: Value, updates: Value, axis: number, o?: OpOptions): Value {
  return one(x.graph, 'ScatterElements', [x, indices, updates], { axis: attr.int(axis) }, o);
}

export const ceil = unary('Ceil');
export const floor = unary('Floor');

export function range(start: Value, limit: Value, delta: Value, o?: OpOptions): Value {
  return one(start.graph, 'Range', [start, limit, delta], {}, o);
}

export function constantOfShape(shapeValue: Value, value: number, dtype: DType = 'float32', o?: OpOptions): Value {
  return one(shapeValue.graph, 'ConstantOfShape', [shapeValue], { value: attr.tensor({ dtype, dims: [1], data: typedArray(dtype, [value]) }) }, o);
}

export function trilu(x: Value, upper: boolean, k?: Value, o?: OpOptions): Value {
  return one(x.graph, 'Trilu', [x, k ?? null], { upper: attr.int(upper ? 1 : 0) }, o);
}

export function cumSum(x: Value, axis: number, p: { exclusive?: boolean; reverse?: boolean } = {}, o?: OpOptions): Value {
  const attrs: Attrs = {};
  if (p.exclusive) attrs.exclusive = attr.int(1);
  if (p.reverse) attrs.reverse = attr.int(1);
  return one(x.graph, 'CumSum', [x, constant(x.graph, 'int64', [axis], [])], attrs, o);
}

// ---------------------------------------------------------------------------------------------
// normalisation, softmax, reductions

export function softmax(x: Value, axis = -1, o?: OpOptions): Value {
  return one(x.graph, 'Softmax', [x], { axis: attr.int(axis) }, o);
}

export function logSoftmax(x: Value, axis = -1, o?: OpOptions): Value {
  return one(x.graph, 'LogSoftmax', [x], { axis: attr.int(axis) }, o);
}

export function layerNorm(x: Value, scale: Value, bias: Value | null, epsilon = 1e-5, axis = -1, o?: OpOptions): Value {
  return one(x.graph, 'LayerNormalization', [x, scale, bias], { axis: attr.int(axis), epsilon: attr.float(epsilon) }, o);
}

export type ReduceOp = 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd' | 'ReduceL2' | 'ReduceSumSquare' | 'ReduceLogSumExp';

/** Any Reduce* op; axes go where the graph's opset wants them (input or attribute). */
export function reduce(op: ReduceOp, x: Value, axes: number[], keepdims = true, o?: OpOptions): Value {
  const g = x.graph;
  const attrs: Attrs = { keepdims: attr.int(keepdims ? 1 : 0) };
  if (op === 'ReduceSum' || g.opset >= 18) return one(g, op, [x, ints(g, axes)], attrs, o);
  return one(g, op, [x], { ...attrs, axes: attr.ints(axes) }, o);
}

export const reduceSum = (x: Value, axes: number[], keepdims = true, o?: OpOptions) => reduce('ReduceSum', x, axes, keepdims, o);
export const reduceMean = (x: Value, axes: number[], keepdims = true, o?: OpOptions) => reduce('ReduceMean', x, axes, keepdims, o);
export const reduceMax = (x: Value, axes: number[], keepdims = true, o?: OpOptions) => reduce('ReduceMax', x, axes, keepdims, o);

export function argMax(x: Value, axis: number, keepdims = false, o?: OpOptions): Value {
  return one(x.graph, 'ArgMax', [x], { axis: attr.int(axis), keepdims: attr.int(keepdims ? 1 : 0) }, o);
}

/** Top-k values and int64 indices along `axis`; `k` a number (constant) or an int64 [1] value. */
export function topK(x: Value, k: number | Value, axis = -1, p: { largest?: boolean; sorted?: boolean } = {}, o?: OpOptions): [Value, Value] {
  const g = x.graph;
  const kv = typeof k === 'number' ? ints(g, [k]) : k;
  const [values, indices] = g.node('TopK', [x, kv], { axis: attr.int(axis), largest: attr.int(p.largest === false ? 0 : 1), sorted: attr.int(p.sorted === false ? 0 : 1) }, { name: o?.name });
  return [values, indices];
}

export function dequantizeLinear(x: Value, scale: Value, zeroPoint: Value | null, axis?: number, o?: OpOptions): Value {
  return one(x.graph, 'DequantizeLinear', [x, scale, zeroPoint], axis === undefined ? {} : { axis: attr.int(axis) }, o);
}

// ---------------------------------------------------------------------------------------------
// com.microsoft contrib ops (CPU and CUDA in onnxruntime)

export interface MhaParams {
  numHeads: number;
  scale?: number;
  maskFilterValue?: number;
  unidirectional?: boolean;
  key?: Value;
  value?: Value;
  bias?: Value;
  keyPaddingMask?: Value;
  attentionBias?: Value;
  pastKey?: Value;
  pastValue?: Value;
  /** Also return present_key / present_value. */
  present?: boolean;
}

export function multiHeadAttention(query: Value, p: MhaParams, o?: OpOptions): Value[] {
  const attrs: Attrs = { num_heads: attr.int(p.numHeads) };
  if (p.scale !== undefined) attrs.scale = attr.float(p.scale);
  if (p.maskFilterValue !== undefined) attrs.mask_filter_value = attr.float(p.maskFilterValue);
  if (p.unidirectional) attrs.unidirectional = attr.int(1);
  const inputs = [query, p.key ?? null, p.value ?? null, p.bias ?? null, p.keyPaddingMask ?? null, p.attentionBias ?? null, p.pastKey ?? null, p.pastValue ?? null];
  return query.graph.node('MultiHeadAttention', inputs, attrs, { name: o?.name, domain: MS_DOMAIN, outputs: p.present ? 3 : 1 });
}

export interface GqaParams {
  numHeads: number;
  kvNumHeads: number;
  key: Value | null;
  value: Value | null;
  pastKey: Value;
  pastValue: Value;
  seqlensK: Value;
  totalSequenceLength: Value;
  cosCache?: Value;
  sinCache?: Value;
  rotaryInterleaved?: boolean;
  scale?: number;
  localWindowSize?: number;
  softcap?: number;
}

/** GroupQueryAttention: [output, present_key, present_value]. */
export function groupQueryAttention(query: Value, p: GqaParams, o?: OpOptions): Value[] {
  const attrs: Attrs = { num_heads: attr.int(p.numHeads), kv_num_heads: attr.int(p.kvNumHeads) };
  if (p.cosCache) {
    attrs.do_rotary = attr.int(1);
    attrs.rotary_interleaved = attr.int(p.rotaryInterleaved ? 1 : 0);
  }
  if (p.scale !== undefined) attrs.scale = attr.float(p.scale);
  if (p.localWindowSize !== undefined) attrs.local_window_size = attr.int(p.localWindowSize);
  if (p.softcap !== undefined) attrs.softcap = attr.float(p.softcap);
  const inputs = [query, p.key, p.value, p.pastKey, p.pastValue, p.seqlensK, p.totalSequenceLength, p.cosCache ?? null, p.sinCache ?? null];
  return query.graph.node('GroupQueryAttention', inputs, attrs, { name: o?.name, domain: MS_DOMAIN });
}

export function rotaryEmbedding(x: Value, positionIds: Value, cosCache: Value, sinCache: Value, p: { interleaved?: boolean; numHeads?: number; rotaryDim?: number } = {}, o?: OpOptions): Value {
  const attrs: Attrs = { interleaved: attr.int(p.interleaved ? 1 : 0) };
  if (p.numHeads !== undefined) attrs.num_heads = attr.int(p.numHeads);
  if (p.rotaryDim !== undefined) attrs.rotary_embedding_dim = attr.int(p.rotaryDim);
  return one(x.graph, 'RotaryEmbedding', [x, positionIds, cosCache, sinCache], attrs, o, MS_DOMAIN);
}

/** SkipLayerNormalization: LayerNorm(input + skip + bias). With `withSum`, also returns the pre-norm sum (the next residual). */
export function skipLayerNorm(x: Value, skip: Value, gamma: Value, beta: Value | null, p: { epsilon?: number; bias?: Value; withSum?: boolean } = {}, o?: OpOptions): Value[] {
  const attrs: Attrs = { epsilon: attr.float(p.epsilon ?? 1e-5) };
  const outs = x.graph.node('SkipLayerNormalization', [x, skip, gamma, beta, p.bias ?? null], attrs, { name: o?.name, domain: MS_DOMAIN, outputs: p.withSum ? 4 : 1 });
  return p.withSum ? [outs[0], outs[3]] : [outs[0]];
}

export function fastGelu(x: Value, bias?: Value, o?: OpOptions): Value {
  return one(x.graph, 'FastGelu', [x, bias ?? null], {}, o, MS_DOMAIN);
}

export function matMulNBits(a: Value, b: Value, scales: Value, p: { K: number; N: number; bits?: number; blockSize: number; zeroPoints?: Value; accuracyLevel?: number }, o?: OpOptions): Value {
  const attrs: Attrs = { K: attr.int(p.K), N: attr.int(p.N), bits: attr.int(p.bits ?? 4), block_size: attr.int(p.blockSize) };
  if (p.accuracyLevel !== undefined) attrs.accuracy_level = attr.int(p.accuracyLevel);
  return one(a.graph, 'MatMulNBits', [a, b, scales, p.zeroPoints ?? null], attrs, o, MS_DOMAIN);
}
