/**
 * Element types of ONNX tensors as balmkit names them, with their TensorProto.DataType codes.
 * The names match {@link ../io/tensor.js TensorDType} so host tensors and graph values share one vocabulary.
 */
export const DTYPE_CODES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
} as const;

export type DType = keyof typeof DTYPE_CODES;

const CODE_TO_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as DType]));

export function dtypeCode(dtype: DType): number {
  return DTYPE_CODES[dtype];
}

export function dtypeFromCode(code: number): DType {
  const d = CODE_TO_DTYPE.get(code);
  if (d === undefined) throw new Error(`ONNX element type ${code} is not supported by balmkit`);
  return d;
}

export const FLOAT_DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float64'];
export const INT_DTYPES: readonly DType[] = ['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64'];
export const INDEX_DTYPES: readonly DType[] = ['int64', 'int32'];

export function isFloat(d: DType): boolean {
  return FLOAT_DTYPES.includes(d);
}

export function isInteger(d: DType): boolean {
  return INT_DTYPES.includes(d);
}

export function isNumeric(d: DType): boolean {
  return d !== 'bool';
}
