// LoRA files in: kohya/A1111 and PEFT/diffusers layouts → one normalised module list.
export {
  LORA_COMPONENTS,
  LoraFormatError,
  type ConvertedLora,
  type KnownModules,
  type LoraComponent,
  type LoraFormat,
  type LoraIssue,
  type LoraMatrix,
  type LoraModuleWeights,
  type RawLoraTensor,
  type RawLoraTensors,
} from './types.js';
export { KOHYA_PREFIX, convertKohyaLora, kohyaName, kohyaNameIndex } from './kohya.js';
export { convertPeftLora, isPeftLoraKey } from './peft.js';
export {
  assertFiniteLora,
  convertLora,
  detectLoraFormat,
  loadLoraFile,
  readLoraFile,
  type LoraFile,
} from './detect.js';
