// Public surface of the runtime layer: the only place onnxruntime-node is imported.
export { listProviders } from './providers.js';
export type { ExecutionProviderName, ProviderAvailability } from './providers.js';
export { writeModel, writeModelChunks, ONNX_IR_VERSION } from './model-writer.js';
export { Session, type HostTensor, type SessionOptions } from './session.js';
