// Conversions between JS numbers and raw little-endian tensor bytes (ONNX raw_data layout).
import { DTYPE_BYTES, type DType } from './dtype.js';
import type { TensorData } from './ir.js';
import { numel } from './ir.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE float32 → float16 bits, round-to-nearest-even (what PyTorch/numpy do). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // carry may bump the exponent: correct
  return half;
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 is the top half of a float32 (round-to-nearest-even). */
export function float32ToBfloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16BitsToFloat32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

export type NumericArray =
  Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | BigInt64Array | Uint16Array;

/** Encode numbers as raw bytes of the given dtype. */
export function encodeTensor(
  dtype: DType,
  values: ArrayLike<number> | ArrayLike<bigint>,
): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    switch (dtype) {
      case 'float32':
        view.setFloat32(i * 4, Number(v), true);
        break;
      case 'float64':
        view.setFloat64(i * 8, Number(v), true);
        break;
      case 'float16':
        view.setUint16(i * 2, float32ToFloat16Bits(Number(v)), true);
        break;
      case 'bfloat16':
        view.setUint16(i * 2, float32ToBfloat16Bits(Number(v)), true);
        break;
      case 'int64':
        view.setBigInt64(i * 8, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))), true);
        break;
      case 'int32':
        view.setInt32(i * 4, Number(v), true);
        break;
      case 'int8':
        view.setInt8(i, Number(v));
        break;
      case 'uint8':
        view.setUint8(i, Number(v));
        break;
      case 'bool':
        view.setUint8(i, Number(v) ? 1 : 0);
        break;
    }
  }
  return out;
}

/** Decode raw bytes into JS numbers (int64 beyond 2^53 loses precision; fine for shapes/ids). */
export function decodeTensor(dtype: DType, bytes: Uint8Array): number[] {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const n = bytes.byteLength / size;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'float32':
        out[i] = view.getFloat32(i * 4, true);
        break;
      case 'float64':
        out[i] = view.getFloat64(i * 8, true);
        break;
      case 'float16':
        out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
        break;
      case 'bfloat16':
        out[i] = bfloat16BitsToFloat32(view.getUint16(i * 2, true));
        break;
      case 'int64':
        out[i] = Number(view.getBigInt64(i * 8, true));
        break;
      case 'int32':
        out[i] = view.getInt32(i * 4, true);
        break;
      case 'int8':
        out[i] = view.getInt8(i);
        break;
      case 'uint8':
      case 'bool':
        out[i] = view.getUint8(i);
        break;
    }
  }
  return out;
}

export function tensorData(
  dtype: DType,
  shape: readonly number[],
  values: ArrayLike<number> | ArrayLike<bigint>,
): TensorData {
  if (values.length !== numel(shape)) {
    throw new Error(
      `tensor of shape [${shape.join(', ')}] needs ${numel(shape)} values, got ${values.length}`,
    );
  }
  return { dtype, shape: [...shape], bytes: encodeTensor(dtype, values) };
}
