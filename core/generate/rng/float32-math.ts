// Float32 arithmetic as torch's AVX2 `normal_fill_16` does it: Cephes-style logf and sincosf,
// single-rounded fused multiply-adds. JavaScript has float64 only; `Math.fround` after a
// float64 +, −, ×, ÷ or sqrt of float32 operands is the correctly rounded float32 result (53 bits
// leave room for the double rounding), but a fused multiply-add needs the care in `fma32`.

const f = Math.fround;
const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
// scratchWords[0] must be the low word of the double; true on every platform Node runs on.
const LOW = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

/**
 * `fl32(a·b + c)` with a single rounding, for float32 inputs. The product is exact in float64;
 * the sum is rounded to float64 *to odd* (TwoSum gives the exact error), and rounding that to
 * float32 is then correct because 53 ≥ 24 + 2 (Boldo & Melquiond).
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  if (err === 0) return f(s);
  scratch[0] = s;
  if ((scratchWords[LOW] & 1) === 0) {
    // Move one float64 ulp toward the exact value: that neighbour is odd.
    if (err > 0 === s > 0) {
      scratchWords[LOW] += 1; // cannot carry: the word is even
    } else if (scratchWords[LOW] === 0) {
      scratchWords[LOW] = 0xffffffff;
      scratchWords[LOW ^ 1] -= 1;
    } else {
      scratchWords[LOW] -= 1;
    }
  }
  return f(scratch[0]);
}

const SQRTHF = f(Math.SQRT1_2);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
const LOG_Q1 = f(-2.1219444e-4);
const LOG_Q2 = f(0.693359375);

const bitsF32 = new Float32Array(1);
const bitsU32 = new Uint32Array(bitsF32.buffer);

/** Natural log of a positive normal float32, evaluated like Cephes `logf` with FMA. */
export function logf32(x: number): number {
  // 1. x = m·2^e with m in [0.5, 1): keep the mantissa, force the exponent of 0.5.
  bitsF32[0] = x;
  const word = bitsU32[0];
  let e = ((word >>> 23) & 0xff) - 126;
  bitsU32[0] = (word & 0x807fffff) | 0x3f000000;
  let m = bitsF32[0];
  // 2. Shift m into [√½−1, √2−1) around zero.
  if (m < SQRTHF) {
    e -= 1;
    m = f(f(m - 1) + m);
  } else {
    m = f(m - 1);
  }
  const z = f(m * m);
  // 3. Polynomial by Horner with FMA.
  let y = LOG_P[0];
  for (let i = 1; i < LOG_P.length; i++) y = fma32(y, m, LOG_P[i]);
  // 4.–7. Assemble, with ln 2 split in two parts.
  y = f(y * m);
  y = fma32(y, z, f(e * LOG_Q1));
  y = f(y - f(z * 0.5));
  return f(f(m + y) + f(e * LOG_Q2));
}

const FOPI = f(1.27323954473516);
const DP1 = f(-0.78515625);
const DP2 = f(-2.4187564849853515625e-4);
const DP3 = f(-3.774894977445941e-8);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);

/** sin and cos of a float32 θ ≥ 0, like Cephes `sincosf` with FMA; writes [sin, cos] to `out`. */
export function sincosf32(theta: number, out: Float64Array): void {
  // 1. Octant: j = nearest even integer to θ·4/π (truncated, then rounded up to even).
  let j = Math.trunc(f(theta * FOPI));
  j = (j + 1) & ~1;
  const y = j;
  // 2. Extended-precision reduction x = θ − j·π/4 in three parts.
  const x = f(f(f(theta + f(y * DP1)) + f(y * DP2)) + f(y * DP3));
  const z = f(x * x);
  // 3. cos polynomial on the reduced argument.
  let pc = fma32(fma32(COS_P[0], z, COS_P[1]), z, COS_P[2]);
  pc = f(pc * z);
  pc = fma32(pc, z, -f(z * 0.5));
  pc = f(pc + 1);
  // 4. sin polynomial.
  let ps = fma32(fma32(SIN_P[0], z, SIN_P[1]), z, SIN_P[2]);
  ps = f(ps * z);
  ps = fma32(ps, x, x);
  // 5.–6. Pick the polynomial and the sign for the octant.
  const swap = (j & 2) !== 0;
  let s = swap ? pc : ps;
  let c = swap ? ps : pc;
  if ((j & 4) !== 0) s = -s;
  if (((j - 2) & 4) === 0) c = -c;
  out[0] = s;
  out[1] = c;
}
