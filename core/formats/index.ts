// Public surface of core/formats: safetensors, dtype conversion, checkpoints.
export * from './safetensors-header.js';
export * from './safetensors.js';
export * from './safetensors-writer.js';
export * from './dtype-convert.js';
export * from './checkpoint/index.js';
export * from './png-text.js';
export * from './lora/index.js';
