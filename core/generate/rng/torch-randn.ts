// `torch.randn` on a CPU generator (torch 1.13, x86-64 AVX2 build), bit for bit. This is the
// noise diffusers uses with `torch.Generator("cpu")` and A1111 with "RNG source: CPU", so a seed
// gives the same image as there. The recipe is spelled out in the fixtures README (§2d).
import { logf32, sincosf32 } from './float32-math.js';
import { Mt19937 } from './mt19937.js';

const f = Math.fround;
const TWO_PI_F32 = f(2 * Math.PI);
const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M53 = 2 ** -53;
const TWO_POW_32 = 2 ** 32;
/** Below this many elements torch takes the per-element float64 path. */
const VECTOR_MIN = 16;

/** Element count of a shape, refusing dims that are not non-negative integers. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Error(`randn: bad shape [${shape.join(', ')}]: dims must be integers ≥ 0`);
    }
    n *= d;
  }
  return n;
}

/** Mirrors one `torch.Generator("cpu")`: a seeded MT19937 plus torch's cached normal. */
export class TorchCpuGenerator {
  private engine: Mt19937;
  /** torch caches the second Box–Muller value of the float64 path until the next reseed. */
  private nextDoubleNormal: number | null = null;
  private readonly sc = new Float64Array(2);

  constructor(seed: number) {
    this.engine = new Mt19937(checkSeed(seed));
  }

  /** `generator.manual_seed(seed)`: restarts the stream and clears the cached normal. */
  manualSeed(seed: number): void {
    this.engine = new Mt19937(checkSeed(seed));
    this.nextDoubleNormal = null;
  }

  /** `torch.randn(shape, generator=g)` as float32, row-major. Only the element count matters. */
  randn(shape: readonly number[]): Float32Array {
    const n = shapeSize(shape);
    const out = new Float32Array(n);
    if (n >= VECTOR_MIN) this.fillVectorised(out);
    else for (let i = 0; i < n; i++) out[i] = this.normalDouble();
    return out;
  }

  /** 24-bit uniform in [0, 1) from one word, as `uniform_real_distribution<float>`. */
  private uniformF32(): number {
    return (this.engine.nextU32() & 0xffffff) * TWO_POW_M24;
  }

  /** 53-bit uniform in [0, 1) from two words (first word high), as for `double`. */
  private uniformF64(): number {
    const hi = this.engine.nextU32();
    const lo = this.engine.nextU32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_M53;
  }

  /** `normal_fill`: all uniforms first, then Box–Muller over chunks of 16. */
  private fillVectorised(out: Float32Array): void {
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = this.uniformF32();
    for (let i = 0; i + VECTOR_MIN <= n; i += VECTOR_MIN) this.boxMuller16(out, i);
    if (n % VECTOR_MIN !== 0) {
      // torch redoes the last 16 positions with 16 fresh uniforms, overlapping finished values.
      const start = n - VECTOR_MIN;
      for (let i = start; i < n; i++) out[i] = this.uniformF32();
      this.boxMuller16(out, start);
    }
  }

  /** `normal_fill_16`: pairs (k, k+8) of one chunk become (r·cos θ, r·sin θ). */
  private boxMuller16(data: Float32Array, at: number): void {
    const sc = this.sc;
    for (let k = 0; k < 8; k++) {
      const u1 = f(1 - data[at + k]);
      const u2 = data[at + k + 8];
      const radius = f(Math.sqrt(f(-2 * logf32(u1))));
      sincosf32(f(TWO_PI_F32 * u2), sc);
      data[at + k] = f(radius * sc[1]);
      data[at + k + 8] = f(radius * sc[0]);
    }
  }

  /** `at::normal_distribution<double>`: Box–Muller in float64, second value cached. */
  private normalDouble(): number {
    if (this.nextDoubleNormal !== null) {
      const v = this.nextDoubleNormal;
      this.nextDoubleNormal = null;
      return v;
    }
    const u1 = this.uniformF64();
    const u2 = this.uniformF64();
    const radius = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }
}

/** Seeds are integers in [0, 2^53); torch keeps their low 32 bits. */
function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(
      `bad seed ${seed}: a generator seed is an integer in [0, ${Number.MAX_SAFE_INTEGER}] ` +
        '(resolve −1 = "random" with resolveSeed first)',
    );
  }
  return seed;
}
