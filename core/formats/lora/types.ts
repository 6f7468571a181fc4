// The normalised form every LoRA file format converts to, and helpers shared by the converters.
// A converted LoRA names each adapted module the way the model builders do (diffusers /
// transformers module paths, e.g. `down_blocks.0.attentions.0.proj_in`,
// `text_model.encoder.layers.3.mlp.fc1`), with lora_down [rank, in(, kh, kw)], lora_up
// [out, rank(, 1, 1)] and alpha; the effective scale of a module is strength · alpha / rank.
import { isFloatFormat, toFloat32 } from '../dtype-convert.js';
import type { SafetensorsDType } from '../safetensors-header.js';

/** Which model a LoRA module belongs to. */
export type LoraComponent = 'unet' | 'text_encoder';
export const LORA_COMPONENTS: readonly LoraComponent[] = ['unet', 'text_encoder'];

/** File layouts we recognise. */
export type LoraFormat = 'kohya' | 'peft' | 'unknown';

/** A tensor as read from the file (any dtype, raw little-endian bytes). */
export interface RawLoraTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

export type RawLoraTensors = ReadonlyMap<string, RawLoraTensor>;

export interface LoraMatrix {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface LoraModuleWeights {
  readonly component: LoraComponent;
  /** Module name as the graph builders call it (an AdapterSite's `module`). */
  readonly module: string;
  /** The name the file gave it (kohya `lora_unet_…`, or the PEFT key prefix), for reports. */
  readonly source: string;
  readonly rank: number;
  /** alpha as stored, or the rank when the file has none (scale 1). */
  readonly alpha: number;
  readonly alphaFromFile: boolean;
  /** [rank, in] for a Linear, [rank, in, kh, kw] for a conv. */
  readonly down: LoraMatrix;
  /** [out, rank] for a Linear, [out, rank, 1, 1] for a conv. */
  readonly up: LoraMatrix;
}

/** Keys that were understood but cannot be applied (LyCORIS variants, unknown modules, …). */
export interface LoraIssue {
  /** The module (or key group) concerned, as the file names it. */
  readonly name: string;
  readonly reason: string;
  readonly keys: readonly string[];
}

export interface ConvertedLora {
  readonly format: LoraFormat;
  readonly modules: readonly LoraModuleWeights[];
  /** Understood but not applicable, by name; never silently dropped. */
  readonly unsupported: readonly LoraIssue[];
  /** Keys no rule consumed. */
  readonly unknownKeys: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Every Linear/Conv module name of each model, as its graph builder calls them (collected from
 * the adapter sites), so file names can be matched against what exists instead of guessed.
 */
export interface KnownModules {
  readonly unet: readonly string[];
  readonly text_encoder: readonly string[];
}

/** Thrown when a file cannot be read as a LoRA at all; lists what was found. */
export class LoraFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraFormatError';
  }
}

const SHOWN = 12;

/** "a, b, c, … and N more" for error messages. */
export function listShort(names: readonly string[], limit = SHOWN): string {
  const head = names.slice(0, limit).join(', ');
  return names.length > limit ? `${head}, … and ${names.length - limit} more` : head;
}

/** A float tensor as fresh float32 values. */
export function floatValues(name: string, t: RawLoraTensor): Float32Array {
  if (!isFloatFormat(t.dtype))
    throw new LoraFormatError(
      `tensor '${name}' is ${t.dtype}; LoRA weights must be float32, float16, bfloat16 or float64`,
    );
  const values = toFloat32(t.bytes, t.dtype);
  // A diverged run exports NaN/Inf; applied, it turns every image black. Refuse it by name.
  let bad = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i])) {
      bad++;
      if (first < 0) first = i;
    }
  if (bad > 0)
    throw new LoraFormatError(
      `tensor '${name}' holds ${bad} NaN/Inf value${bad === 1 ? '' : 's'} (first at index ${first}): ` +
        'the LoRA is damaged (e.g. exported from a diverged training run) and cannot be applied',
    );
  return values;
}

/** A one-element tensor (alpha) of any numeric dtype; diffusers writes alpha as int64. */
export function scalarValue(name: string, t: RawLoraTensor): number {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n !== 1)
    throw new LoraFormatError(
      `'${name}' must hold one value (alpha), got shape [${t.shape.join(', ')}]`,
    );
  const v = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  switch (t.dtype) {
    case 'int64':
      return Number(v.getBigInt64(0, true));
    case 'int32':
      return v.getInt32(0, true);
    case 'int16':
      return v.getInt16(0, true);
    case 'int8':
      return v.getInt8(0);
    case 'uint8':
    case 'bool':
      return v.getUint8(0);
    default:
      return floatValues(name, t)[0];
  }
}

/**
 * Check and build one module's weights from its down/up tensors. Returns the problem as a
 * string when the pair is inconsistent (so the caller can report it under the file's name).
 */
export function moduleWeights(
  component: LoraComponent,
  module: string,
  source: string,
  down: { name: string; t: RawLoraTensor },
  up: { name: string; t: RawLoraTensor },
  alpha: number | undefined,
): LoraModuleWeights | string {
  const ds = down.t.shape;
  const us = up.t.shape;
  const okRank = (s: readonly number[]) => s.length === 2 || s.length === 4;
  if (!okRank(ds) || !okRank(us) || ds.length !== us.length)
    return `down [${ds.join(', ')}] / up [${us.join(', ')}] are not a LoRA pair (2-D Linear or 4-D conv)`;
  if (ds[0] !== us[1])
    return `rank mismatch: down [${ds.join(', ')}] has rank ${ds[0]}, up [${us.join(', ')}] has ${us[1]}`;
  if (us.length === 4 && (us[2] !== 1 || us[3] !== 1))
    return `conv lora_up must be 1×1, got [${us.join(', ')}]`;
  const rank = ds[0];
  if (rank === 0) return 'rank 0';
  if (alpha !== undefined && !Number.isFinite(alpha)) return `alpha ${alpha} is not finite`;
  return {
    component,
    module,
    source,
    rank,
    alpha: alpha ?? rank,
    alphaFromFile: alpha !== undefined,
    down: { shape: [...ds], data: floatValues(down.name, down.t) },
    up: { shape: [...us], data: floatValues(up.name, up.t) },
  };
}

/**
 * LyCORIS and other non-LoRA algorithms, recognised by a key suffix, so a file that uses them is
 * reported by name instead of half-applied.
 */
const ALGORITHMS: readonly [RegExp, string][] = [
  [/(^|\.)hada_/, 'LoHa (hada_*)'],
  [/(^|\.)lokr_/, 'LoKr (lokr_*)'],
  [/(^|\.)dora_scale$|(^|\.)lora_magnitude_vector/, 'DoRA (weight-decomposed LoRA)'],
  [/(^|\.)lora_mid\./, 'LoCon with Tucker decomposition (lora_mid)'],
  [/(^|\.)(oft_blocks|oft_diag|boft_)/, 'OFT/BOFT'],
  [/(^|\.)(diff|diff_b)$/, 'full weight difference (diff)'],
  [/(^|\.)(w_norm|b_norm)$/, 'norm-layer fine-tune (w_norm/b_norm)'],
  [/(^|\.)(a1|a2|b1|b2)\.weight$/, 'GLoRA'],
  [/(^|\.)lora_embedding_[AB]/, 'LoRA on an embedding layer'],
  [/(^|\.)lora_B\.bias$|(^|\.)lora_up\.bias$/, 'LoRA with a bias (lora_bias)'],
];

/** The algorithm a key suffix belongs to, when it is not plain LoRA. */
export function unsupportedAlgorithm(suffix: string): string | undefined {
  return ALGORITHMS.find(([re]) => re.test(suffix))?.[1];
}
