// A1111 prompt syntax → weighted CLIP token chunks and LoRA references.
export * from './parser.js';
export * from './weighted-tokens.js';
