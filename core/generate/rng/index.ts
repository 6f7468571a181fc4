// Public surface of core/generate/rng: seeded noise streams (torch CPU randn) and seed handling.
export { TorchCpuGenerator, shapeSize } from './torch-randn.js';
export {
  RNG_SOURCES,
  RNG_SOURCE_NAMES,
  MAX_RANDOM_SEED,
  createRng,
  resolveSeed,
  type Rng,
  type RngSource,
  type ResolvedSeed,
} from './rng.js';
