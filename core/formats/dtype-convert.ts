// Conversions between raw little-endian float tensors (float32/float16/bfloat16/float64).
// Checkpoints ship in fp16 or bf16 while CPU graphs want fp32, so these run over hundreds of
// megabytes: typed-array loops and a 64 K-entry lookup table for fp16 decoding.
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../graph/tensor-data.js';
import type { SafetensorsDType } from './safetensors-header.js';

export type FloatDType = 'float32' | 'float16' | 'bfloat16' | 'float64';
export const FLOAT_DTYPES: readonly FloatDType[] = ['float32', 'float16', 'bfloat16', 'float64'];

const FLOAT_BYTES: Readonly<Record<FloatDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
};

export function isFloatFormat(d: SafetensorsDType): d is FloatDType {
  return (FLOAT_DTYPES as readonly string[]).includes(d);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | undefined;
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16BitsToFloat32(h);
  }
  return f16Table;
}

/** A view of `bytes` as the given typed array when aligned (and the host is LE), else a copy. */
function view<T>(
  bytes: Uint8Array,
  size: number,
  Ctor: new (buffer: ArrayBufferLike, offset: number, length: number) => T,
): T {
  const n = bytes.byteLength / size;
  if (LITTLE_ENDIAN && bytes.byteOffset % size === 0)
    return new Ctor(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  return new Ctor(copy.buffer, 0, n);
}

function checkLength(bytes: Uint8Array, dtype: FloatDType): void {
  if (bytes.byteLength % FLOAT_BYTES[dtype] !== 0) {
    throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
}

/** Decode float bytes of any float dtype into a fresh Float32Array (float64 rounds). */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array {
  if (!isFloatFormat(dtype)) {
    throw new Error(`cannot decode ${dtype} as float32; float dtypes: ${FLOAT_DTYPES.join(', ')}`);
  }
  checkLength(bytes, dtype);
  switch (dtype) {
    case 'float32':
      return Float32Array.from(view(bytes, 4, Float32Array));
    case 'float64':
      return Float32Array.from(view(bytes, 8, Float64Array));
    case 'float16': {
      const src = view(bytes, 2, Uint16Array);
      const table = float16Table();
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return out;
    }
    case 'bfloat16': {
      // bf16 is the top half of an f32: shift the bits into place.
      const src = view(bytes, 2, Uint16Array);
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
  }
}

/** Encode float32 values as little-endian bytes of a float dtype (round-to-nearest-even). */
export function fromFloat32(values: Float32Array, dtype: FloatDType): Uint8Array {
  const out = new Uint8Array(values.length * FLOAT_BYTES[dtype]);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case 'float32':
      for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
      break;
    case 'float64':
      for (let i = 0; i < values.length; i++) dv.setFloat64(i * 8, values[i], true);
      break;
    case 'float16':
      for (let i = 0; i < values.length; i++)
        dv.setUint16(i * 2, float32ToFloat16Bits(values[i]), true);
      break;
    case 'bfloat16':
      for (let i = 0; i < values.length; i++)
        dv.setUint16(i * 2, float32ToBfloat16Bits(values[i]), true);
      break;
  }
  return out;
}

/**
 * Convert raw float bytes from one float dtype to another. float64 → float32/16 goes through
 * float32 (double rounding for fp16 is at most 1 ulp off in rare ties; checkpoints are never f64).
 */
export function convertFloatBytes(
  bytes: Uint8Array,
  from: SafetensorsDType,
  to: SafetensorsDType,
): Uint8Array {
  if (!isFloatFormat(from) || !isFloatFormat(to)) {
    throw new Error(
      `float conversion needs float dtypes (${FLOAT_DTYPES.join(', ')}), got ${from} → ${to}`,
    );
  }
  checkLength(bytes, from);
  if (from === to) return bytes.slice();
  if (to === 'float64') return fromFloat32AsF64(toFloat32(bytes, from));
  return fromFloat32(toFloat32(bytes, from), to);
}

function fromFloat32AsF64(values: Float32Array): Uint8Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i];
  const bytes = new Uint8Array(out.buffer);
  if (!LITTLE_ENDIAN) for (let i = 0; i < bytes.length; i += 8) bytes.subarray(i, i + 8).reverse();
  return bytes;
}

/** Decode one value (used by diagnostics and tests). */
export function decodeFloatAt(bytes: Uint8Array, dtype: FloatDType, index: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float32':
      return dv.getFloat32(index * 4, true);
    case 'float64':
      return dv.getFloat64(index * 8, true);
    case 'float16':
      return float16BitsToFloat32(dv.getUint16(index * 2, true));
    case 'bfloat16':
      return bfloat16BitsToFloat32(dv.getUint16(index * 2, true));
  }
}
