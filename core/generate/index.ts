// Public surface of image generation: seeds/RNG, A1111 prompt syntax, infotext.
export * from './rng/index.js';
export * from './prompt/index.js';
export * from './infotext.js';
export * from './types.js';
export * from './pipeline/index.js';
