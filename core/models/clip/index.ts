// CLIP text encoder: config and graph builder.
export * from './config.js';
export * from './text-encoder.js';
