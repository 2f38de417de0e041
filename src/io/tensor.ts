/**
 * The host tensor type shared by the whole SDK: weight readers produce it, the ONNX graph builder
 * consumes it as initializers, and the runtime converts it to and from onnxruntime tensors.
 *
 * Half-precision values (float16, bfloat16) are kept as their raw 16-bit patterns in a
 * `Uint16Array`, so a checkpoint round-trips bit for bit; {@link toFloat32} widens them when a
 * caller needs numbers.
 */

/** Element types of host tensors (the same names as the ONNX dtypes in `src/onnx/dtype.ts`). */
export type TensorDType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/**
 * Storage of a host tensor. `Uint16Array` holds raw float16/bfloat16 bits; `Uint8Array` holds
 * uint8 values and bools (0 or 1).
 */
export type TensorData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A dense, row-major (C-contiguous) tensor in host memory. */
export interface HostTensor {
  dtype: TensorDType;
  /** Dimensions; `[]` is a scalar with one element. */
  shape: number[];
  /** Exactly `numel(shape)` elements, in row-major order. */
  data: TensorData;
}

/** Tensors by name, in a meaningful order (file order for readers). */
export type NamedTensors = Map<string, HostTensor>;

/** All dtypes, in the order used by error messages. */
export const TENSOR_DTYPES: readonly TensorDType[] = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

const BYTES: Record<TensorDType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

type TypedArrayCtor =
  Float32ArrayConstructor | Float64ArrayConstructor | Uint16ArrayConstructor | BigInt64ArrayConstructor | Int32ArrayConstructor | Int16ArrayConstructor | Int8ArrayConstructor | Uint8ArrayConstructor;

const CTORS: Record<TensorDType, TypedArrayCtor> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** Whether `x` names a {@link TensorDType}. */
export function isTensorDType(x: unknown): x is TensorDType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(BYTES, x);
}

/** Size of one element of `dtype` in bytes. */
export function bytesPerElement(dtype: TensorDType): number {
  return BYTES[dtype];
}

/**
 * Number of elements of a tensor with this shape (1 for a scalar `[]`).
 * @throws if a dimension is not a non-negative integer or the product exceeds 2^53.
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Error(`invalid tensor shape [${shape.join(', ')}]: dimension ${d} is not a non-negative integer`);
    }
    n *= d;
    if (!Number.isSafeInteger(n)) {
      throw new Error(`invalid tensor shape [${shape.join(', ')}]: more than 2^53 elements`);
    }
  }
  return n;
}

/** A zero-filled typed array of the right class for `dtype` with `n` elements. */
export function allocTensorData(dtype: TensorDType, n: number): TensorData {
  return new CTORS[dtype](n);
}

/**
 * Builds a {@link HostTensor}, checking that `data` is the array class used for `dtype`
 * (e.g. `Uint16Array` for float16/bfloat16, `BigInt64Array` for int64) and that it holds exactly
 * `numel(shape)` elements.
 * @throws an `Error` naming the mismatch.
 */
export function hostTensor(dtype: TensorDType, shape: readonly number[], data: TensorData): HostTensor {
  if (!isTensorDType(dtype)) throw new Error(`unknown tensor dtype '${String(dtype)}'`);
  const n = numel(shape);
  const ctor = CTORS[dtype];
  if (!(data instanceof ctor)) {
    throw new Error(`tensor of dtype ${dtype} needs a ${ctor.name}, got ${data?.constructor?.name ?? typeof data}`);
  }
  if (data.length !== n) {
    throw new Error(`tensor of shape [${shape.join(', ')}] needs ${n} elements, data has ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

/** The little-endian bytes of a tensor's data (a view, not a copy). */
export function tensorBytes(t: HostTensor): Uint8Array {
  assertLittleEndianHost();
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

let hostIsLittleEndian: boolean | undefined;

/**
 * Every reader and writer in `src/io` copies little-endian file bytes straight into typed arrays,
 * which is only right on a little-endian host (every platform Node ships for today).
 */
export function assertLittleEndianHost(): void {
  if (hostIsLittleEndian === undefined) {
    hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  }
  if (!hostIsLittleEndian) throw new Error('balmkit io: big-endian hosts are not supported');
}

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16 conversions

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Raw float32 bits of `x` (after rounding `x` to float32). */
function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

/** Decodes IEEE 754 binary16 bits to a number (exact: every float16 is a float32). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * Encodes a number as IEEE 754 binary16 bits, rounding to nearest even: overflow gives ±inf,
 * tiny values give (signed) subnormals or zero. Like PyTorch, every NaN becomes the quiet NaN
 * `sign | 0x7e00`. The number is first rounded to float32, as PyTorch's `.half()` sees it.
 */
export function f32ToF16(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 : sign | 0x7c00;
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e > 0) {
    // Normal: drop 13 mantissa bits. A carry out of the mantissa bumps the exponent, which is
    // the right encoding (up to and including infinity).
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1;
    return sign | h;
  }
  // Subnormal half: value in units of 2^-24 is (1.mant × 2^23) >> (126 - exp).
  const shift = 126 - exp; // ≥ 14
  if (shift > 24) return sign; // below half of the smallest subnormal
  const full = mant | 0x800000;
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) === 1)) h += 1;
  return sign | h;
}

/** Decodes bfloat16 bits (the top half of a float32) to a number. */
export function bf16ToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0];
}

/**
 * Encodes a number as bfloat16 bits, rounding to nearest even (as PyTorch does); every NaN
 * becomes PyTorch's quiet NaN `0x7fc0`.
 */
export function f32ToBf16(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Uint32Array | undefined;

/** float32 bit patterns of all 65536 float16 values, built once on first use (256 KiB). */
function f16ToF32BitsTable(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  const f = new Float32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >>> 10) & 0x1f;
    if (exp === 0x1f) {
      // Keep NaN payloads (shifted) rather than canonicalising: the conversion is exact.
      table[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
    } else {
      f[h] = f16ToF32(h);
    }
  }
  f16Table = table;
  return table;
}

/**
 * The tensor's values as float32: float16/bfloat16 are widened exactly, float64 rounded, integers
 * and bools converted (int64 beyond 2^24 loses precision, as any float32 would).
 * For a float32 tensor this returns `t.data` itself, not a copy.
 */
export function toFloat32(t: HostTensor): Float32Array {
  const d = t.data;
  switch (t.dtype) {
    case 'float32':
      return d as Float32Array;
    case 'float16': {
      const table = f16ToF32BitsTable();
      const src = d as Uint16Array;
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
      return out;
    }
    case 'bfloat16': {
      const src = d as Uint16Array;
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'int64': {
      const src = d as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    default:
      // float64, int32, int16, int8, uint8, bool: Float32Array.from converts element-wise.
      return Float32Array.from(d as ArrayLike<number>);
  }
}

/** Whether two shapes are the same (rank and every dimension): the one shape check of loaders and graph builders. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A 2-D tensor [rows, cols] transposed to float32 [cols, rows] (a [out, in] weight for MatMul). */
export function transposed(t: HostTensor): Float32Array {
  const [r, c] = t.shape as [number, number];
  const data = toFloat32(t);
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = data[i * c + j];
  return out;
}
