// CLIP BPE tokenizer for SD1.x prompts.
export * from './clip-tokenizer.js';
export * from './text-clean.js';
export * from './vocab.js';
