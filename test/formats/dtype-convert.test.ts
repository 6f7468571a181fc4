import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  convertFloatBytes,
  decodeFloatAt,
  fromFloat32,
  toFloat32,
} from '../../core/formats/index.js';

const f16 = (bits: number[]) => new Uint8Array(new Uint16Array(bits).buffer);

describe('float dtype conversion', () => {
  it('decodes float16 specials: ±0, subnormals, max, ±inf, NaN', () => {
    const v = toFloat32(
      f16([0x0000, 0x8000, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3c00, 0xc000]),
      'float16',
    );
    expect(Array.from(v.slice(0, 7))).toEqual([
      0,
      -0,
      2 ** -24,
      1023 * 2 ** -24,
      65504,
      Infinity,
      -Infinity,
    ]);
    expect(Number.isNaN(v[7])).toBe(true);
    expect(Array.from(v.slice(8))).toEqual([1, -2]);
  });

  it('encodes float32 → float16 with round-to-nearest-even and overflow to inf', () => {
    const bytes = fromFloat32(
      new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 1e-8, -0]),
      'float16',
    );
    const bits = Array.from(new Uint16Array(bytes.buffer));
    expect(bits).toEqual([0x3c00, 0x3c02, 0x7c00, 0x0000, 0x8000]);
  });

  it('bfloat16 is the top half of float32', () => {
    const x = new Float32Array([1.5, -3.140625, 1e30]);
    const bf = fromFloat32(x, 'bfloat16');
    expect(Array.from(toFloat32(bf, 'bfloat16'))).toEqual([
      1.5,
      -3.140625,
      decodeFloatAt(bf, 'bfloat16', 2),
    ]);
    expect(Math.abs(decodeFloatAt(bf, 'bfloat16', 2) / 1e30 - 1)).toBeLessThan(2 ** -8);
  });

  it('float16 → float32 → float16 and bf16 → f32 → bf16 are lossless (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 64 }),
        (bits) => {
          const nonNaN = bits.filter((b) => (b & 0x7c00) !== 0x7c00 || (b & 0x3ff) === 0);
          fc.pre(nonNaN.length > 0);
          const h = f16(nonNaN);
          expect(
            Array.from(
              convertFloatBytes(convertFloatBytes(h, 'float16', 'float32'), 'float32', 'float16'),
            ),
          ).toEqual(Array.from(h));
          const viaF64 = convertFloatBytes(
            convertFloatBytes(h, 'float16', 'float64'),
            'float64',
            'float16',
          );
          expect(Array.from(viaF64)).toEqual(Array.from(h));
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });

  it('float32 → float16 is within half an ulp (property)', () => {
    fc.assert(
      fc.property(
        fc.float({ min: -60000, max: 60000, noNaN: true, noDefaultInfinity: true }),
        (x) => {
          const back = toFloat32(fromFloat32(new Float32Array([x]), 'float16'), 'float16')[0];
          const ulp = Math.max(
            2 ** (Math.floor(Math.log2(Math.max(Math.abs(x), 2 ** -14))) - 10),
            2 ** -24,
          );
          expect(Math.abs(back - x)).toBeLessThanOrEqual(ulp / 2 + 1e-12);
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });

  it('reads unaligned buffers and refuses non-float dtypes and ragged lengths', () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float32Array([2.5, -1]).buffer), 1);
    expect(Array.from(toFloat32(buf.subarray(1), 'float32'))).toEqual([2.5, -1]);
    expect(() => toFloat32(new Uint8Array(4), 'int32')).toThrow(
      /cannot decode int32 as float32; float dtypes: float32, float16/,
    );
    expect(() => toFloat32(new Uint8Array(3), 'float16')).toThrow(
      /3 bytes is not a whole number of float16/,
    );
    expect(() => convertFloatBytes(new Uint8Array(4), 'float32', 'int64')).toThrow(
      /float32 → int64/,
    );
  });

  it('converts a 4 M-element fp16 tensor quickly', () => {
    const n = 4 * 1024 * 1024;
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = (i * 2654435761) & 0x7bff;
    const t0 = performance.now();
    const f = toFloat32(new Uint8Array(bits.buffer), 'float16');
    const ms = performance.now() - t0;
    expect(f.length).toBe(n);
    expect(ms).toBeLessThan(2000); // ≈ 80 ms measured on the shared 2-core machine
  });
});
