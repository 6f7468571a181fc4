// A training run: config, dataset plan, caches, checkpoints and the loop.
export * from './config.js';
export * from './dataset.js';
export * from './caches.js';
export * from './checkpoint.js';
export * from './encode.js';
export * from './run.js';
export * from './finish.js';
export * from './samples.js';
export * from './owners.js';
export * from './failures.js';
