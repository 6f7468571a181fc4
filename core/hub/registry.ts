// What a model file on disk is, from its header alone: kind (checkpoint, VAE, LoRA, …), family
// (SD1.x, SD2.x, SDXL, …), size, main dtype, embedded metadata and a preview image beside it,
// and whether this app can use it (and if not, why). Nothing here reads weights, so a folder
// of 7 GB checkpoints is classified in milliseconds. Hashes are separate (hashes.ts): slow.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import {
  detectCheckpoint,
  detectLoraFormat,
  PickleRefusedError,
  readSafetensorsHeader,
  refusal,
  type CheckpointKind,
  type Detection,
  type SafetensorsDType,
  type TensorInfo,
} from '../formats/index.js';
import { familyFromMetadata, familyFromShapes, type ModelFamilyId } from './family.js';

export type ModelFileKind =
  'checkpoint' | 'vae' | 'lora' | 'lycoris' | 'embedding' | 'unet' | 'unknown';

export const SAFETENSORS_EXTENSIONS = ['.safetensors', '.sft'] as const;
/** Pickled PyTorch files: listed so users see why they are skipped, never opened. */
export const PICKLE_EXTENSIONS = ['.ckpt', '.pt', '.pth', '.bin', '.pkl'] as const;
/** A1111's order: for each image type, `name.ext` then `name.preview.ext`. */
export const PREVIEW_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif'] as const;
/** Metadata values longer than this are left out of listings (tag counts, base64 thumbnails). */
export const MAX_METADATA_VALUE = 8192;

export interface ModelFileInfo {
  path: string;
  /** File name without its extension. */
  name: string;
  sizeBytes: number;
  mtimeMs: number;
  format: 'safetensors' | 'pickle';
  kind: ModelFileKind;
  family: ModelFamilyId;
  /** Evidence for the family (metadata key or tensor shape), or why it is unknown. */
  familyReason: string;
  /** core/formats's detection (safetensors only). */
  detected?: { kind: CheckpointKind; naming: Detection['naming']; reason: string };
  /** LoRA layout: kohya (`lora_unet_…`) or PEFT/diffusers (`….lora_A.weight`). */
  loraFormat?: 'kohya' | 'peft' | 'unknown';
  /** The dtype holding most of the bytes. */
  dtype?: SafetensorsDType;
  /** Bytes per dtype. */
  dtypeBytes?: Partial<Record<SafetensorsDType, number>>;
  tensorCount?: number;
  parameterCount?: number;
  /** `ss_*`, `sshs_*`, `modelspec.*` and `format` entries of `__metadata__` (short values). */
  metadata: Record<string, string>;
  /** Metadata keys left out of `metadata` for their size. */
  largeMetadataKeys: string[];
  /** A preview image beside the file (`name.png`, `name.preview.png`, …). */
  preview?: string;
  /** Can this app use the file as what it is? */
  supported: boolean;
  /** Why not (unsupported family/kind, pickle, unreadable header). */
  reason?: string;
  /** The store's kind/family for registering it (undefined: not registrable). */
  store?: { kind: 'checkpoint' | 'vae' | 'lora'; family: 'sd15' | 'sd2' | 'sdxl' | 'unknown' };
}

const KEPT_METADATA = /^(ss_|sshs_|modelspec\.)|^format$/;

export function isSafetensorsPath(p: string): boolean {
  return (SAFETENSORS_EXTENSIONS as readonly string[]).includes(extname(p).toLowerCase());
}

export function isPicklePath(p: string): boolean {
  return (PICKLE_EXTENSIONS as readonly string[]).includes(extname(p).toLowerCase());
}

/**
 * The preview image for a model file, looked up in `siblings` (names in its folder; read when
 * not given). Matching ignores case, as Windows and macOS file systems do.
 */
export async function findPreview(
  path: string,
  siblings?: readonly string[],
): Promise<string | undefined> {
  const dir = dirname(path);
  const names = siblings ?? (await readdir(dir).catch(() => [] as string[]));
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const stem = basename(path, extname(path)).toLowerCase();
  for (const ext of PREVIEW_EXTENSIONS) {
    for (const candidate of [`${stem}${ext}`, `${stem}.preview${ext}`]) {
      const hit = byLower.get(candidate);
      if (hit) return join(dir, hit);
    }
  }
  return undefined;
}

function kindOf(d: Detection): ModelFileKind {
  switch (d.kind) {
    case 'sd1':
    case 'sd2':
    case 'sdxl':
    case 'sd3':
    case 'flux':
      return 'checkpoint';
    case 'diffusers-unet':
      return 'unet';
    default:
      return d.kind;
  }
}

function dtypeSummary(tensors: ReadonlyMap<string, TensorInfo>) {
  const dtypeBytes: Partial<Record<SafetensorsDType, number>> = {};
  let parameterCount = 0;
  for (const t of tensors.values()) {
    dtypeBytes[t.dtype] = (dtypeBytes[t.dtype] ?? 0) + t.length;
    parameterCount += t.shape.reduce((a, b) => a * b, 1);
  }
  let dtype: SafetensorsDType | undefined;
  for (const [d, n] of Object.entries(dtypeBytes) as [SafetensorsDType, number][]) {
    if (dtype === undefined || n > dtypeBytes[dtype]!) dtype = d;
  }
  return { dtype, dtypeBytes, parameterCount, tensorCount: tensors.size };
}

function splitMetadata(all: Readonly<Record<string, string>>) {
  const metadata: Record<string, string> = {};
  const largeMetadataKeys: string[] = [];
  for (const [k, v] of Object.entries(all)) {
    if (!KEPT_METADATA.test(k)) continue;
    if (v.length > MAX_METADATA_VALUE) largeMetadataKeys.push(k);
    else metadata[k] = v;
  }
  return { metadata, largeMetadataKeys };
}

const ONLY_SD1 = 'only SD1.x models are supported for now';

/** Can we use it, and under which store kind/family? */
function judge(
  kind: ModelFileKind,
  family: ModelFamilyId,
  d: Detection,
  name: string,
): Pick<ModelFileInfo, 'supported' | 'reason' | 'store'> {
  const storeFamily =
    family === 'sd15' || family === 'sd2' || family === 'sdxl' ? family : 'unknown';
  switch (kind) {
    case 'checkpoint': {
      const refused = refusal(d, name);
      return refused
        ? {
            supported: false,
            reason: refused.message,
            store: { kind: 'checkpoint', family: storeFamily },
          }
        : { supported: true, store: { kind: 'checkpoint', family: storeFamily } };
    }
    case 'vae':
      // SD1.x, SD2.x and SDXL VAEs share one architecture; all load (SDXL's needs fp32 to avoid NaNs).
      return { supported: true, store: { kind: 'vae', family: storeFamily } };
    case 'lora':
      if (family === 'sd15' || family === 'unknown') {
        return { supported: true, store: { kind: 'lora', family: storeFamily } };
      }
      return {
        supported: false,
        reason: `${name}: a LoRA for ${familyLabel(family)}; ${ONLY_SD1}`,
        store: { kind: 'lora', family: storeFamily },
      };
    case 'lycoris':
      return {
        supported: false,
        reason: `${name}: a LyCORIS file (${d.reason}); LoHa/LoKr/OFT weights are not supported yet — only plain LoRA (lora_down/lora_up)`,
        store: { kind: 'lora', family: storeFamily },
      };
    case 'embedding':
      return {
        supported: false,
        reason: `${name}: a textual-inversion embedding (${d.reason}); embeddings are not supported yet`,
      };
    default: {
      const refused = refusal(d, name);
      return {
        supported: false,
        reason: refused?.message ?? `${name}: not a model file we recognise (${d.reason})`,
      };
    }
  }
}

export function familyLabel(f: ModelFamilyId): string {
  return {
    sd15: 'SD1.x',
    sd2: 'SD2.x',
    sdxl: 'SDXL',
    sd3: 'SD3',
    flux: 'Flux',
    unknown: 'an unknown base model',
  }[f];
}

/** Classify one model file from its header. Never throws for a bad file: `reason` says what is wrong. */
export async function inspectModelFile(
  path: string,
  options: { siblings?: readonly string[] } = {},
): Promise<ModelFileInfo> {
  const s = await stat(path);
  const name = basename(path, extname(path));
  const base = {
    path,
    name,
    sizeBytes: s.size,
    mtimeMs: s.mtimeMs,
    metadata: {},
    largeMetadataKeys: [],
    preview: await findPreview(path, options.siblings),
  };
  if (isPicklePath(path)) {
    return {
      ...base,
      format: 'pickle',
      kind: 'unknown',
      family: 'unknown',
      familyReason: 'pickled files are not opened',
      supported: false,
      reason: new PickleRefusedError(path).message,
    };
  }
  let header: Awaited<ReturnType<typeof readSafetensorsHeader>>;
  try {
    header = await readSafetensorsHeader(path);
  } catch (e) {
    return {
      ...base,
      format: 'safetensors',
      kind: 'unknown',
      family: 'unknown',
      familyReason: 'the header could not be read',
      supported: false,
      reason: (e as Error).message,
    };
  }
  const shapes = new Map([...header.tensors].map(([k, t]) => [k, t.shape]));
  const d = detectCheckpoint(shapes);
  const kind = kindOf(d);
  const fromShapes = familyFromShapes(d.kind, shapes);
  const fromMeta = familyFromMetadata(header.metadata);
  const fam =
    fromShapes.family !== 'unknown'
      ? fromShapes
      : fromMeta.family !== 'unknown'
        ? fromMeta
        : fromShapes;
  const split = splitMetadata(header.metadata);
  return {
    ...base,
    ...split,
    format: 'safetensors',
    kind,
    family: fam.family,
    familyReason: fam.reason,
    detected: { kind: d.kind, naming: d.naming, reason: d.reason },
    ...(kind === 'lora' || kind === 'lycoris'
      ? { loraFormat: detectLoraFormat(shapes.keys()) }
      : {}),
    ...dtypeSummary(header.tensors),
    ...judge(kind, fam.family, d, basename(path)),
  };
}
