// Dataset preparation: import a folder, normalise and bucket images, flag images with text.
export { makeBuckets, assignBucket, planCoverCrop, aspectRange } from './buckets.js';
export type { Bucket, BucketOptions, CropPlan } from './buckets.js';
export { decodeBmp, readBmpHeader, type BmpHeader, type RawImage } from './bmp.js';
export {
  DEFAULT_LIMITS,
  IMAGE_EXTENSIONS,
  openImage,
  probeImage,
  sniffFormat,
  type ImageFormat,
  type ImageInfo,
  type ImageLimits,
  type ImageSource,
} from './decode.js';
export { ImageError, SKIP_REASONS, type SkipReason } from './errors.js';
export {
  CROP_MODES,
  DEFAULT_BACKGROUND,
  decodeRgb,
  makeThumbnail,
  normalizedImage,
  resizeToBucket,
  toWorkingPng,
  type Background,
  type BucketImageOptions,
  type CropMode,
  type PipelineOptions,
  type PixelImage,
  type ThumbnailOptions,
} from './image-pipeline.js';
export {
  importFolder,
  type ImportedImage,
  type ImportOptions,
  type ImportProgress,
  type ImportResult,
  type SkippedFile,
} from './import.js';
export {
  DEFAULT_CAPTION_EXTENSIONS,
  matchCaptions,
  parseRepeatFolder,
  repeatsFor,
  scanFolder,
  type RepeatFolder,
  type ScannedFile,
  type ScanOptions,
  type ScanResult,
} from './scan.js';
export { DET_MEAN, DET_STD, detInputSize, toDetTensor } from './ocr/preprocess.js';
export {
  coveredRatio,
  findTextBoxes,
  scaleBoxes,
  type BoxOptions,
  type TextBox,
} from './ocr/postprocess.js';
export {
  TextDetector,
  defaultDetectorModelPath,
  defaultRecognizerModelPath,
  type DetectOptions,
  type TextDetection,
  type TextDetectorOptions,
} from './ocr/detector.js';
export {
  REC_HEIGHT,
  TextRecognizer,
  ctcGreedyDecode,
  recInput,
  type Reading,
  type TextRecognizerOptions,
} from './ocr/recognizer.js';
export {
  SIGNAL_MAX_SIDE,
  dHash,
  dHashOf,
  greyDownscale,
  hammingDistance,
  imageSignals,
  laplacianVariance,
  lowDct,
  pHash,
  pHashOf,
  type GreyImage,
  type ImageSignals,
  type PerceptualHash,
} from './perceptual-hash.js';
export {
  captionReport,
  countPieces,
  splitTags,
  summarize,
  type CaptionEntry,
  type CaptionOptions,
  type CaptionReport,
  type Summary,
} from './caption-stats.js';
export {
  DEFAULT_BLUR_RATIO,
  DEFAULT_DUPLICATE_THRESHOLD,
  MIN_IMAGES_FOR_BLUR_MEDIAN,
  nearDuplicateGroups,
  pickKeeper,
  qualityReport,
  type DuplicateGroup,
  type ImageId,
  type QualityAction,
  type QualityImage,
  type QualityIssue,
  type QualityOptions,
  type QualityProgress,
  type QualityReport,
  type QualitySuggestion,
} from './quality.js';
export * from './caption/index.js';
