// Image generation on ONNX sessions: the engine that keeps them warm, and generate().
export { generate, textEncoderRunner } from './generate.js';
export {
  GenerationEngine,
  vaeFactor,
  type EngineStats,
  type GenerationEngineOptions,
  type LoadedLora,
  type ModelInfo,
  type SessionSpec,
  type WarmSession,
} from './engine.js';
export { CancelledError, GenerateParamsError, throwIfCancelled } from './errors.js';
export {
  GENERATE_EPS,
  MAX_IMAGES,
  MAX_SIDE,
  MAX_STEPS,
  checkSizeForModel,
  resolveParams,
  type ResolvedParams,
} from './params.js';
export {
  BatchNoise,
  addNoise,
  denoise,
  img2imgStartIndex,
  usesGuidance,
  type DenoiseOptions,
  type DenoiseStep,
} from './denoise.js';
export {
  encodeConditioning,
  unetContext,
  type Conditioning,
  type TextEncoderRun,
} from './conditioning.js';
export { imageToPng, initImageTensor, latentPreviewPng } from './image-io.js';
export { LoraHashCache, autoV2, safetensorsDataSha256 } from './hashes.js';
export { LoraInputs, type LoraFeedResult, type LoraUse } from './lora-inputs.js';
export { samplerFromInfotext, samplerInfotextFields } from './sampler-names.js';
