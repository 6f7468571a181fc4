// MT19937, the 32-bit Mersenne Twister PyTorch's CPU generator is built on. Seeding is the
// reference `init_genrand`; torch keeps only the low 32 bits of its 64-bit seed.
const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  /** `seed` is taken modulo 2^32, as torch's `manual_seed` does. */
  constructor(seed: number) {
    const s = this.state;
    s[0] = low32(seed);
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1];
      s[i] = Math.imul(1812433253, prev ^ (prev >>> 30)) + i;
    }
  }

  /** The next tempered 32-bit word, as an unsigned integer. */
  nextU32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let k = 0; k < N; k++) {
      const y = (s[k] & UPPER) | (s[(k + 1) % N] & LOWER);
      s[k] = s[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }
}

/** Low 32 bits of a non-negative safe integer (bit operators would go through int32). */
function low32(seed: number): number {
  return seed % 0x100000000;
}
