// Tensor element types, named as in onnxruntime-node's Tensor `type` strings where possible.
export type DType =
  'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export const DTYPES: readonly DType[] = Object.freeze([
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'int64',
  'int32',
  'int8',
  'uint8',
  'bool',
]);

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE_CODE: Readonly<Record<DType, number>> = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
});

export const DTYPE_BYTES: Readonly<Record<DType, number>> = Object.freeze({
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
});

export function isFloatDType(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';
}

export function dtypeFromOnnxCode(code: number): DType {
  for (const d of DTYPES) if (ONNX_DTYPE_CODE[d] === code) return d;
  throw new Error(`unsupported ONNX data type code ${code}; supported: ${DTYPES.join(', ')}`);
}

export function assertDType(d: string): DType {
  if ((DTYPES as readonly string[]).includes(d)) return d as DType;
  throw new Error(`unknown dtype '${d}'; valid: ${DTYPES.join(', ')}`);
}
