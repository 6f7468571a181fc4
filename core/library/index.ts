// The LoRA library: comparison grids on the generation path, what a LoRA's metadata says
// (A1111-style facts, tag frequency, trigger words, Civitai card) and the files it writes.
export {
  DEFAULT_STRENGTHS,
  renderBeforeAfter,
  renderStrengthSweep,
  type GenerateImagesFn,
  type GridCell,
  type GridOptions,
  type GridResult,
  type StrengthSweepOptions,
} from './grids.js';
export {
  civitaiCard,
  loraFacts,
  tagFrequency,
  triggerWords,
  type CivitaiCard,
  type CivitaiCardInput,
  type LoraFact,
  type TagCount,
} from './lora-card.js';
export {
  LibraryFileError,
  copyLoraTo,
  exportForCivitai,
  gridImageFile,
  gridsDir,
  isGridId,
  listGrids,
  saveGrid,
  type CivitaiExport,
  type GridKind,
  type GridRecord,
} from './files.js';
export {
  IMAGE_OUTPUT_FORMATS,
  convertOutputImage,
  readUserComment,
  type ImageOutputFormat,
} from './output-format.js';
