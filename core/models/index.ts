// Public surface of core/models: SD1.x network graph builders, their weight plumbing, and the
// CLIP tokenizer.
export * from './weights.js';
export * from './nn.js';
export * from './clip/index.js';
export * from './unet/index.js';
export * from './vae/index.js';
export * from './tokenizer/index.js';
export * from './load/index.js';
export * from './lora/index.js';
export * from './eval/index.js';
