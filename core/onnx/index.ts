// Public surface of the runtime layer: the only place onnxruntime-node is imported.
export { listProviders } from './providers.js';
export type { ExecutionProviderName, ProviderAvailability } from './providers.js';
export {
  writeModel,
  writeModelChunks,
  tooBigError,
  ONNX_IR_VERSION,
  PROTOBUF_LIMIT,
  type WriteOptions,
} from './model-writer.js';
export {
  checkExternalLocation,
  checkExternalRefs,
  externalRefsOfGraph,
  externalRefsOfModel,
  planExternalData,
  writeModelWithExternalData,
  type ExternalRef,
  type ExternalizeOptions,
  type ExternalWriteOptions,
  type ExternalWriteResult,
  type InMemoryExternalData,
} from './external-data.js';
export {
  AUTO_ORDER,
  EXECUTION_PROVIDERS,
  assertExecutionProviderChoice,
  buildSessionOptions,
  createWithFallback,
  isDeviceUnavailableError,
  resetUnavailableDevices,
  resolveExecutionProviders,
  type EpPlan,
  type EpSessionOptions,
  type EpSkip,
  type ExecutionProviderChoice,
} from './ep.js';
export { DeviceTensor, type HostTensor, type OutputLocation } from './device-tensors.js';
export { feedProblems, validateFeeds, type DeclaredInput, type FeedInfo } from './validate.js';
export {
  OptimizedModelCache,
  cacheKey,
  externalDataIdentity,
  type CacheKeyParts,
} from './model-cache.js';
export { SessionCache, type Releasable } from './session-cache.js';
export { getSession, releaseSession, disposeSessions } from './shared-sessions.js';
export {
  Session,
  type CacheStatus,
  type RunOptions,
  type SessionCacheOptions,
  type SessionInfo,
  type SessionOptions,
} from './session.js';
