// Public surface of core/train: the LoRA network, the training-step graph and its loss, the
// optimizer, LR schedules and the kohya export.
export * from './lora-network.js';
export * from './lora-params.js';
export * from './loss.js';
export * from './step-graph.js';
export * from './optimizer/adamw.js';
export * from './optimizer/prodigy.js';
export * from './lr-schedule.js';
export * from './kohya-metadata.js';
export * from './kohya-export.js';
export * from './trainer.js';
export * from './run/index.js';
