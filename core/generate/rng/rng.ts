// The pluggable noise source of generation. A1111 calls the choice "RNG source"; we have its
// "CPU" generator (= torch's CPU generator, what diffusers uses with a CPU generator). Its GPU
// and "NV" sources would register here under their own names.
import { TorchCpuGenerator } from './torch-randn.js';

/** A seeded stream of standard normal float32 noise. */
export interface Rng {
  /** The generator family, a key of `RNG_SOURCES`. */
  readonly source: RngSource;
  /** The seed the stream started from. */
  readonly seed: number;
  /** The next `shape`-sized block of N(0, 1) values, row-major. */
  randn(shape: readonly number[]): Float32Array;
}

class TorchCpuRng implements Rng {
  readonly source = 'cpu' as const;
  private readonly generator: TorchCpuGenerator;

  constructor(readonly seed: number) {
    this.generator = new TorchCpuGenerator(seed);
  }

  randn(shape: readonly number[]): Float32Array {
    return this.generator.randn(shape);
  }
}

/** RNG source name → factory. */
export const RNG_SOURCES = Object.freeze({
  cpu: (seed: number): Rng => new TorchCpuRng(seed),
});

export type RngSource = keyof typeof RNG_SOURCES;
export const RNG_SOURCE_NAMES = Object.freeze(Object.keys(RNG_SOURCES) as RngSource[]);

/** A noise stream from a named source; the seed must already be resolved (not −1). */
export function createRng(source: string, seed: number): Rng {
  if (!Object.hasOwn(RNG_SOURCES, source)) {
    throw new Error(`unknown RNG source "${source}"; valid: ${RNG_SOURCE_NAMES.join(', ')}`);
  }
  return RNG_SOURCES[source as RngSource](seed);
}

/** Largest seed A1111 draws for "random" (it picks from [0, 4294967294)). */
export const MAX_RANDOM_SEED = 4294967293;

export interface ResolvedSeed {
  /** The seed to use and to report (PNG parameters, history). */
  readonly seed: number;
  /** True when it was chosen here because the request said −1. */
  readonly random: boolean;
}

/**
 * −1 means "pick one": a uniformly random seed in [0, MAX_RANDOM_SEED], reported back so the
 * image can be reproduced. Any other value must be an integer in [0, 2^53).
 */
export function resolveSeed(
  requested: number,
  randomWord: () => number = cryptoWord,
): ResolvedSeed {
  if (requested === -1) {
    for (;;) {
      const w = randomWord();
      if (w <= MAX_RANDOM_SEED) return { seed: w, random: true };
    }
  }
  if (!Number.isSafeInteger(requested) || requested < 0) {
    throw new Error(
      `bad seed ${requested}: use −1 for a random seed or an integer in [0, ${Number.MAX_SAFE_INTEGER}]`,
    );
  }
  return { seed: requested, random: false };
}

function cryptoWord(): number {
  return globalThis.crypto.getRandomValues(new Uint32Array(1))[0];
}
