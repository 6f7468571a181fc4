// LoRA at generation time: graph inputs for LoRA matrices, stacking feeds, a swap-friendly session.
export * from './sites.js';
export * from './graph-inputs.js';
export * from './feeds.js';
export * from './session.js';
