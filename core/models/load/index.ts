// Checkpoint → ONNX sessions: weights straight from the user's file or a converted copy made once.
export * from './file-identity.js';
export {
  componentWeights,
  writeSafetensorsStreaming,
  type ComponentWeights,
  type ComponentWeightsOptions,
  type WeightsComponent,
} from './component-weights.js';
export * from './model-loader.js';
