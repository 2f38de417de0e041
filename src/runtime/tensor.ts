/**
 * Typed helpers between host data and onnxruntime tensors.
 *
 * Feeds may be ORT tensors, `{dtype, dims, data}` records (the graph builder's `TensorInit`) or
 * the SDK's {@link HostTensor} (`{dtype, shape, data}`). Half precision travels as raw 16-bit
 * patterns in a `Uint16Array` both ways, as everywhere in balmkit.
 */
import * as ort from 'onnxruntime-node';
import type { HostTensor, TensorDType } from '../io/tensor.js';

/** Element types balmkit exchanges with ORT (ORT has no bfloat16 tensors in JavaScript). */
export type OrtDType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint64' | 'uint32' | 'uint16' | 'uint8' | 'bool';

/** The typed array behind each {@link OrtDType}. */
export interface OrtDataTypeMap {
  float32: Float32Array;
  float16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint64: BigUint64Array;
  uint32: Uint32Array;
  uint16: Uint16Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/** Typed arrays accepted as tensor data. */
export type TypedData = OrtDataTypeMap[OrtDType];

/** A dense row-major tensor described by dims (the graph builder's `TensorInit` shape). */
export interface DimsTensor {
  dtype: string;
  dims: readonly number[];
  data: TypedData;
}

/** Anything `Session.run` accepts as one feed. */
export type FeedTensor = ort.Tensor | DimsTensor | HostTensor;

/** Named feeds for `Session.run`. */
export type Feeds = Record<string, FeedTensor>;

/** A tensor read back from ORT: dtype, dims and a typed array that owns its data. */
export interface ReadTensor<D extends OrtDType = OrtDType> {
  dtype: D;
  dims: number[];
  data: OrtDataTypeMap[D];
}

const CTORS: Record<OrtDType, new (n: number) => TypedData> = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint64: BigUint64Array,
  uint32: Uint32Array,
  uint16: Uint16Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** Whether `x` names a dtype ORT tensors can hold in balmkit. */
export function isOrtDType(x: string): x is OrtDType {
  return Object.prototype.hasOwnProperty.call(CTORS, x);
}

function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Builds an ORT tensor from a typed array, checking that dtype, array type and element count agree.
 *
 * @param name - used in error messages (the feed's name).
 * @throws Error naming the tensor when the dtype is unsupported (bfloat16), the array type does
 *   not match the dtype, or `data.length` differs from the product of `dims`.
 */
export function makeTensor<D extends OrtDType>(dtype: D, data: OrtDataTypeMap[D], dims: readonly number[], name = 'tensor'): ort.Tensor {
  const Ctor = CTORS[dtype];
  if (!(data instanceof Ctor)) {
    throw new Error(`${name}: ${dtype} data must be a ${Ctor.name}, got ${data.constructor.name}`);
  }
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${name}: dims [${dims.join(',')}] must be whole numbers ≥ 0`);
  }
  const n = numel(dims);
  if (data.length !== n) {
    throw new Error(`${name}: ${data.length} values for dims [${dims.join(',')}] (${n} expected)`);
  }
  return new ort.Tensor(dtype, data as ort.Tensor.DataTypeMap[D], [...dims]);
}

/** Whether `x` is an onnxruntime tensor (as opposed to a plain `{dtype, dims|shape, data}` record). */
export function isOrtTensor(x: unknown): x is ort.Tensor {
  if (x instanceof ort.Tensor) return true;
  // A tensor from another copy of onnxruntime-common: same shape of object, different class.
  if (typeof x !== 'object' || x === null || 'dtype' in x) return false;
  const t = x as { type?: unknown; dims?: unknown; data?: unknown };
  return typeof t.type === 'string' && Array.isArray(t.dims) && t.data !== undefined;
}

/**
 * Converts one feed to an ORT tensor: ORT tensors pass through; `{dtype, dims, data}` and
 * {@link HostTensor} are checked and wrapped without copying.
 *
 * @throws Error naming the feed for bfloat16 (convert with `toFloat32` first), unknown dtypes and
 *   size mismatches.
 */
export function toOrtTensor(feed: FeedTensor, name = 'tensor'): ort.Tensor {
  if (isOrtTensor(feed)) return feed;
  const dims = 'dims' in feed ? feed.dims : feed.shape;
  const dtype: string = feed.dtype;
  if (dtype === 'bfloat16') {
    throw new Error(`${name}: onnxruntime-node has no bfloat16 tensors; widen it with toFloat32() or cast inside the graph`);
  }
  if (!isOrtDType(dtype)) throw new Error(`${name}: unsupported dtype '${dtype}'`);
  return makeTensor(dtype, feed.data, dims, name);
}

/**
 * Reads an ORT tensor back as `{dtype, dims, data}` with a typed array of the dtype's type.
 *
 * @throws Error for string and 4-bit tensors, which balmkit does not use.
 */
export function readTensor(t: ort.Tensor, name = 'tensor'): ReadTensor {
  const dtype = t.type;
  if (!isOrtDType(dtype)) throw new Error(`${name}: ORT returned a ${dtype} tensor, which balmkit cannot read`);
  const data = t.data as TypedData;
  const Ctor = CTORS[dtype];
  // ORT uses Float16Array for float16 where the runtime has one; balmkit keeps raw bits.
  const typed = data instanceof Ctor ? data : new Ctor(data.length);
  if (typed !== data) {
    if (dtype === 'float16') (typed as Uint16Array).set(new Uint16Array(data.buffer, data.byteOffset, data.length));
    else throw new Error(`${name}: ${dtype} tensor holds a ${data.constructor.name}`);
  }
  return { dtype, dims: [...t.dims], data: typed };
}

const HOST_DTYPES: readonly TensorDType[] = ['float32', 'float16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

/**
 * Reads an ORT tensor back as the SDK's {@link HostTensor}.
 *
 * @throws Error for dtypes HostTensor cannot hold (uint16, uint32, uint64).
 */
export function toHostTensor(t: ort.Tensor, name = 'tensor'): HostTensor {
  const r = readTensor(t, name);
  if (!(HOST_DTYPES as readonly string[]).includes(r.dtype)) {
    throw new Error(`${name}: ${r.dtype} tensors have no HostTensor form; use readTensor()`);
  }
  return { dtype: r.dtype as TensorDType, shape: r.dims, data: r.data as HostTensor['data'] };
}

/** A float32 ORT tensor from numbers. */
export function float32(values: ArrayLike<number>, dims: readonly number[] = [values.length]): ort.Tensor {
  return makeTensor('float32', Float32Array.from(values), dims);
}

/** An int64 ORT tensor from numbers or bigints (token ids, positions). */
export function int64(values: ArrayLike<number | bigint>, dims: readonly number[] = [values.length]): ort.Tensor {
  return makeTensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
}

/** An int32 ORT tensor from numbers. */
export function int32(values: ArrayLike<number>, dims: readonly number[] = [values.length]): ort.Tensor {
  return makeTensor('int32', Int32Array.from(values), dims);
}

/** A bool ORT tensor from booleans (masks). */
export function bool(values: ArrayLike<boolean | number>, dims: readonly number[] = [values.length]): ort.Tensor {
  return makeTensor('bool', Uint8Array.from(Array.from(values, (v) => (v ? 1 : 0))), dims);
}
