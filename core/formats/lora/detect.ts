// Which layout a LoRA file uses, and the one entry point that reads and converts any of them.
import { readFile } from 'node:fs/promises';
import { isFloatFormat } from '../dtype-convert.js';
import { parseSafetensors } from '../safetensors.js';
import { convertKohyaLora } from './kohya.js';
import { convertPeftLora, isPeftLoraKey } from './peft.js';
import {
  floatValues,
  listShort,
  LoraFormatError,
  type ConvertedLora,
  type KnownModules,
  type LoraFormat,
  type RawLoraTensor,
  type RawLoraTensors,
} from './types.js';

const KOHYA_KEY = /^lora_(unet|te\d?)_[^.]+\./;

/** kohya when any key is `lora_unet_…`/`lora_te…_…`, PEFT when any has a PEFT role suffix. */
export function detectLoraFormat(names: Iterable<string>): LoraFormat {
  let peft = false;
  for (const n of names) {
    if (KOHYA_KEY.test(n)) return 'kohya';
    if (!peft && isPeftLoraKey(n)) peft = true;
  }
  return peft ? 'peft' : 'unknown';
}

/** Convert tensors of any supported layout (detected from the names). */
export function convertLora(
  tensors: RawLoraTensors,
  known: KnownModules,
  metadata: Readonly<Record<string, string>> = {},
  source = 'LoRA',
): ConvertedLora {
  const format = detectLoraFormat(tensors.keys());
  if (format === 'kohya') return convertKohyaLora(tensors, known, metadata);
  if (format === 'peft') return convertPeftLora(tensors, known, metadata);
  throw new LoraFormatError(
    `${source}: not a LoRA file we know (${tensors.size} tensors: ${listShort([...tensors.keys()], 6)}); ` +
      'expected kohya keys (lora_unet_….lora_down.weight) or PEFT/diffusers keys (unet.….lora_A.weight)',
  );
}

export interface LoraFile {
  readonly path: string;
  readonly tensors: RawLoraTensors;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Read a LoRA safetensors file whole (LoRAs are megabytes, not gigabytes: one read is fastest). */
export async function readLoraFile(path: string): Promise<LoraFile> {
  const r = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const tensors = new Map<string, RawLoraTensor>();
  for (const [name, info] of r.tensors)
    tensors.set(name, { dtype: info.dtype, shape: info.shape, bytes: await r.read(name) });
  return { path, tensors, metadata: r.metadata };
}

/**
 * Throw a LoraFormatError naming the first float tensor that holds NaN/Inf (a LoRA exported by a
 * diverged run would turn every image black); for registering a LoRA before it is ever applied.
 */
export function assertFiniteLora(file: LoraFile): void {
  for (const [name, t] of file.tensors)
    if (LORA_WEIGHT_KEY.test(name) && isFloatFormat(t.dtype)) floatValues(name, t);
}

// The tensors a LoRA is applied from (kohya down/up/mid + alpha, PEFT A/B); other keys are not
// read when applying, so their bytes do not matter here.
const LORA_WEIGHT_KEY = /(\.lora_(down|up|mid|A|B)(\.[^.]+)?\.weight|\.alpha)$/;

/** Read and convert a LoRA file. */
export async function loadLoraFile(path: string, known: KnownModules): Promise<ConvertedLora> {
  const file = await readLoraFile(path);
  return convertLora(file.tensors, known, file.metadata, path);
}
