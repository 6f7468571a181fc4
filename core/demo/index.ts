// The built-in demo: a tiny base model we train ourselves, a sample dataset, and the
// `lora-studio demo` flow that trains a LoRA on it and renders before/after grids.
export * from './shapes.js';
export * from './image-stats.js';
export * from './demo-model-config.js';
export {
  buildDemoBaseModel,
  DEFAULT_BUILD_BASE,
  warmupCosine,
  type BuildBaseOptions,
  type BuildBaseReport,
} from './build-base.js';
export {
  buildUnetTrainGraph,
  buildVaeTrainGraph,
  finishFullTrainGraph,
  FullTrainer,
  initialWeights,
  syntheticValues,
  type FullTrainGraph,
  type TrainableParam,
} from './full-train.js';
export {
  checkDemoModel,
  CHECK_PROMPTS,
  DEMO_GENERATION,
  readRgb,
  type CheckResult,
} from './check.js';
export * from './sample-dataset.js';
export * from './demo-flow.js';
export * from './assets.js';
