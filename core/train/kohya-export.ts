// Export a trained LoRA as a kohya/A1111 `.safetensors`: per module `<name>.lora_down.weight`
// [r, in] (or [r, in, kh, kw] for a conv: 1×1, or LoCon's 3×3), `<name>.lora_up.weight` [out, r]
// (or [out, r, 1, 1]), the `.alpha` of the module (LoCon modules: conv_alpha),
// `<name>.alpha` (0-d), every tensor in the save precision (kohya casts the whole state dict,
// alpha included), plus the ss_* metadata and the two precomputed hashes
// sd-webui-additional-networks reads instead of hashing the file itself:
//   sshs_model_hash   sha256 (hex) of everything after the header — the tensor data only;
//   sshs_legacy_hash  the first 8 hex digits of sha256 over the 64 KiB at offset 1 MiB of the
//                     whole serialised file (empty → sha256("") for files under 1 MiB).
// Like kohya (train_util.precalculate_safetensors_hashes), both are taken over a serialisation
// whose metadata holds only the ss_* keys, so user metadata added later does not change them.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { serializeSafetensors, writeSafetensors, type TensorToWrite } from '../formats/index.js';
import { float32ToFloat16Bits } from '../graph/index.js';
import { LORA_ALPHA_SUFFIX, type LoraModuleSpec } from './lora-network.js';
import { checkLoraParams, loraLayout, type LoraParamValues } from './lora-params.js';
import { pyFloat } from './kohya-metadata.js';

export type ExportPrecision = 'fp16' | 'fp32';
export const EXPORT_PRECISIONS: readonly ExportPrecision[] = ['fp16', 'fp32'];

/** Trained modules and their values by name (see unpackLoraParams / LoraTrainer.params). */
export interface LoraParams {
  readonly modules: readonly LoraModuleSpec[];
  readonly values: LoraParamValues;
}

export interface KohyaExportOptions {
  alpha: number;
  rank: number;
  /** ss_* training metadata (see kohyaTrainingMetadata) and any other string → string entries. */
  metadata?: Readonly<Record<string, string>>;
  /** Default fp16, what kohya saves with `--save_precision fp16` and what WebUIs expect. */
  precision?: ExportPrecision;
}

export interface KohyaExportResult {
  readonly path: string;
  readonly tensors: number;
  readonly bytes: number;
  readonly modelHash: string;
  readonly legacyHash: string;
  readonly metadata: Readonly<Record<string, string>>;
}

function encode(values: Float32Array, precision: ExportPrecision): Uint8Array {
  if (precision === 'fp32')
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float32ToFloat16Bits(values[i]);
  return new Uint8Array(half.buffer);
}

/** The tensors of a kohya LoRA file (names, kohya shapes, save dtype). */
export function kohyaLoraTensors(
  params: LoraParams,
  opts: Pick<KohyaExportOptions, 'alpha' | 'rank' | 'precision'>,
): Map<string, TensorToWrite> {
  const precision = opts.precision ?? 'fp16';
  if (!EXPORT_PRECISIONS.includes(precision))
    throw new Error(
      `export precision '${String(precision)}' is not one of ${EXPORT_PRECISIONS.join(', ')}`,
    );
  if (!(Number.isFinite(opts.alpha) && opts.alpha > 0))
    throw new Error(`LoRA alpha must be a positive number, got ${opts.alpha}`);
  // LoCon modules carry their own rank and alpha (conv_dim / conv_alpha).
  const wrongRank = params.modules
    .filter((m) => m.alpha === undefined && m.rank !== opts.rank)
    .map((m) => m.name);
  if (wrongRank.length)
    throw new Error(`modules ${wrongRank.slice(0, 4).join(', ')}… are not rank ${opts.rank}`);
  checkLoraParams(loraLayout(params.modules), params.values);
  const dtype = precision === 'fp16' ? 'float16' : 'float32';
  const out = new Map<string, TensorToWrite>();
  for (const m of params.modules) {
    const conv = m.kind === 'conv2d';
    const down = params.values.get(m.downInput)!;
    const up = params.values.get(m.upInput)!;
    out.set(m.downInput, {
      dtype,
      shape: conv ? [m.rank, m.inFeatures, ...m.kernel] : [...m.downShape],
      data: encode(down, precision),
    });
    out.set(m.upInput, {
      dtype,
      shape: conv ? [...m.upShape, 1, 1] : [...m.upShape],
      data: encode(up, precision),
    });
    out.set(m.name + LORA_ALPHA_SUFFIX, {
      dtype,
      shape: [],
      data: encode(Float32Array.of(m.alpha ?? opts.alpha), precision),
    });
  }
  return out;
}

/** sshs_model_hash: sha256 of a safetensors file's bytes after its header (the tensor data). */
export function addnetModelHash(file: Uint8Array): string {
  if (file.byteLength < 8) throw new Error(`not a safetensors file: ${file.byteLength} bytes`);
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > file.byteLength)
    throw new Error(
      `safetensors header of ${n} bytes runs past the end of a ${file.byteLength}-byte file`,
    );
  return createHash('sha256')
    .update(file.subarray(8 + n))
    .digest('hex');
}

/** sshs_legacy_hash: sha256 of bytes [1 MiB, 1 MiB + 64 KiB) of the file, first 8 hex digits. */
export function addnetLegacyHash(file: Uint8Array): string {
  const start = Math.min(0x100000, file.byteLength);
  const end = Math.min(0x100000 + 0x10000, file.byteLength);
  return createHash('sha256').update(file.subarray(start, end)).digest('hex').slice(0, 8);
}

/** Both hashes of these tensors, over a serialisation with only the ss_* metadata (as kohya). */
export function kohyaHashes(
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata: Readonly<Record<string, string>>,
): { modelHash: string; legacyHash: string } {
  const ss = Object.fromEntries(Object.entries(metadata).filter(([k]) => k.startsWith('ss_')));
  const bytes = serializeSafetensors(tensors, ss);
  return { modelHash: addnetModelHash(bytes), legacyHash: addnetLegacyHash(bytes) };
}

/**
 * Write the LoRA atomically (temp file + rename). The network keys ss_network_module / dim /
 * alpha are filled in from the options; metadata that contradicts them is refused.
 */
export async function exportKohyaLora(
  path: string,
  params: LoraParams,
  opts: KohyaExportOptions,
): Promise<KohyaExportResult> {
  const tensors = kohyaLoraTensors(params, opts);
  const network = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(opts.rank),
    ss_network_alpha: pyFloat(opts.alpha),
  };
  const given = opts.metadata ?? {};
  for (const [k, v] of Object.entries(network)) {
    const g = given[k];
    if (g !== undefined && g !== v && !(k === 'ss_network_alpha' && Number(g) === opts.alpha))
      throw new Error(`metadata ${k} = '${g}' contradicts the exported network (${v})`);
  }
  for (const [k, v] of Object.entries(given))
    if (typeof v !== 'string') throw new Error(`metadata '${k}' must be a string, got ${typeof v}`);
  const base = { ...given, ...network };
  const { modelHash, legacyHash } = kohyaHashes(tensors, base);
  const metadata = { ...base, sshs_model_hash: modelHash, sshs_legacy_hash: legacyHash };
  await writeSafetensors(path, tensors, metadata);
  return {
    path,
    tensors: tensors.size,
    bytes: (await stat(path)).size,
    modelHash,
    legacyHash,
    metadata,
  };
}
