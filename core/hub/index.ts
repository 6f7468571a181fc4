// Public surface of core/hub: model downloads (resume, checksum, progress) and the local model
// registry (header-only classification, A1111-compatible hashes, folder scans).
export * from './errors.js';
export {
  downloadFile,
  type DownloadEvent,
  type DownloadOptions,
  type DownloadResult,
} from './download.js';
export type { ProgressFigures } from './progress.js';
export {
  DEFAULT_HF_ENDPOINT,
  DEFAULT_REVISION,
  hfResolveUrl,
  type DownloadSource,
  type HfFileSource,
  type UrlSource,
} from './source.js';
export {
  computeModelHashes,
  legacyModelHash,
  LEGACY_LENGTH,
  LEGACY_OFFSET,
  type HashOptions,
  type HashProgress,
  type ModelHashes,
} from './hashes.js';
export { HashCache, HASH_CACHE_FILE, type HashCacheStats } from './hash-cache.js';
export {
  familyFromMetadata,
  familyFromShapes,
  type FamilyGuess,
  type ModelFamilyId,
} from './family.js';
export {
  familyLabel,
  findPreview,
  inspectModelFile,
  isPicklePath,
  isSafetensorsPath,
  MAX_METADATA_VALUE,
  PICKLE_EXTENSIONS,
  PREVIEW_EXTENSIONS,
  SAFETENSORS_EXTENSIONS,
  type ModelFileInfo,
  type ModelFileKind,
} from './registry.js';
export {
  ScanCancelledError,
  scanModelFolders,
  suggestModelFolders,
  type ModelRole,
  type ScanOptions,
  type ScanResult,
  type SuggestedFolder,
} from './scan.js';
export {
  CAPTION_MODELS,
  captionModelDir,
  captionModelEntry,
  ensureCaptionModel,
  localCaptionModel,
  type CaptionModelEntry,
  type CaptionModelFile,
  type CaptionModelKind,
  type CaptionModelPaths,
  type EnsureOptions,
} from './caption-models.js';
