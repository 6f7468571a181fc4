// Where a graph's initializers point. When every tensor of a checkpoint component is stored in
// the compute dtype, straight into the user's file: ORT resolves the locations against the
// file's own directory and maps the bytes, so nothing is read, copied or written by us. Otherwise
// into a converted copy in the app data dir, made once per (file sha256, component, dtype) and
// found again on later launches. See docs/decisions/0003-weights-without-copies.md.
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  convertFloatBytes,
  isFloatFormat,
  readSafetensorsHeader,
  SAFETENSORS_CODES,
  safetensorsDTypeBytes,
  type CheckpointComponent,
  type SafetensorsDType,
} from '../../formats/index.js';
import type { DType } from '../../graph/index.js';
import { checkpointWeights, safetensorsExternalWeights, type WeightSource } from '../weights.js';
import type { FileHashIndex } from './file-identity.js';

/** Bump when the converted files' content would change for the same input. */
const CONVERTED_FORMAT = '1';

/** A checkpoint's weight sets (the VAE's serves both the encoder and the decoder graph). */
export type WeightsComponent = 'textEncoder' | 'unet' | 'vae';

export interface ComponentWeights {
  readonly component: WeightsComponent;
  readonly source: WeightSource;
  /** Directory ORT resolves the initializers' locations against. */
  readonly modelDir: string;
  /** The file the initializers point into: the user's, or the converted copy. */
  readonly file: string;
  readonly mode: 'checkpoint' | 'converted';
  /** Identity of the bytes behind the initializers, for the optimized-model cache key. */
  readonly identity: string;
  /** sha256 of the user's file, and whether it was computed now (false: from the index). */
  readonly sha256: string;
  readonly hashed: boolean;
  readonly storedDTypes: readonly string[];
  readonly computeDType: DType;
  /** Tensors converted to another dtype now (0 when the converted copy was found). */
  readonly convertedTensors: number;
  /** Tensors copied as they are into the converted file now (a component of mixed dtypes). */
  readonly copiedTensors: number;
  /** 'hit': converted copy found; 'miss': made now; 'not-needed': the user's file is used. */
  readonly cache: 'hit' | 'miss' | 'not-needed';
  readonly ms: number;
}

export interface ComponentWeightsOptions {
  readonly component: WeightsComponent;
  readonly weights: Pick<CheckpointComponent, 'file' | 'tensors' | 'readTensor'>;
  readonly computeDType: 'float32' | 'float16';
  /** App data directory: converted files go to `<cacheDir>/weights/`. */
  readonly cacheDir: string;
  readonly hashes: FileHashIndex;
  onHashProgress?(done: number, total: number): void;
  onConvertProgress?(done: number, total: number): void;
}

/** Initializers for one component, pointing into the user's file or a converted copy. */
export async function componentWeights(opts: ComponentWeightsOptions): Promise<ComponentWeights> {
  const t0 = performance.now();
  const { component, weights, computeDType } = opts;
  const tensors = [...weights.tensors.values()];
  const stored = [...new Set(tensors.map((t) => t.dtype))].sort();
  const bad = tensors.find((t) => !isFloatFormat(t.dtype));
  if (bad) {
    throw new Error(
      `${weights.file}: weight '${bad.name}' is ${bad.dtype}; model weights must be float32, float16, bfloat16 or float64`,
    );
  }
  const id = await opts.hashes.identify(weights.file, opts.onHashProgress);
  const base = {
    component,
    sha256: id.sha256,
    hashed: id.computed,
    storedDTypes: stored,
    computeDType,
  };
  // A reshape-only transform (LDM's 1×1-conv VAE attention) keeps the bytes: it needs no copy.
  if (tensors.every((t) => t.dtype === computeDType)) {
    // ORT resolves symlinks and refuses a location that leaves the model directory, so point at
    // the real file from its real directory.
    const real = await realpath(weights.file);
    return {
      ...base,
      source: checkpointWeights(weights, () => basename(real)),
      modelDir: dirname(real),
      file: real,
      mode: 'checkpoint',
      identity: `file:${id.sha256}`,
      convertedTensors: 0,
      copiedTensors: 0,
      cache: 'not-needed',
      ms: performance.now() - t0,
    };
  }
  await mkdir(join(opts.cacheDir, 'weights'), { recursive: true });
  // Real path for the same reason as above: ORT compares resolved paths.
  const dir = await realpath(join(opts.cacheDir, 'weights'));
  const file = join(
    dir,
    `${id.sha256}.${component}.${computeDType}.v${CONVERTED_FORMAT}.safetensors`,
  );
  const metadata: Record<string, string> = {
    format: `lora-studio-converted-${CONVERTED_FORMAT}`,
    source_sha256: id.sha256,
    source_file: id.path,
    component,
    dtype: computeDType,
  };
  let converted = 0;
  let copied = 0;
  let cache: 'hit' | 'miss' = 'hit';
  const header = await validConvertedHeader(file, metadata, weights, computeDType);
  let tensorsOnDisk = header;
  if (!tensorsOnDisk) {
    cache = 'miss';
    const entries = tensors.map((t) => ({
      name: t.name,
      dtype: computeDType as SafetensorsDType,
      shape: t.shape,
      produce: async () => {
        const raw = (await weights.readTensor(t.name)).bytes;
        if (t.dtype === computeDType) {
          copied++;
          return raw;
        }
        converted++;
        return convertFloatBytes(raw, t.dtype, computeDType);
      },
    }));
    await writeSafetensorsStreaming(file, entries, metadata, opts.onConvertProgress);
    tensorsOnDisk = (await readSafetensorsHeader(file)).tensors;
  }
  return {
    ...base,
    source: safetensorsExternalWeights({ tensors: tensorsOnDisk }, basename(file)),
    modelDir: dir,
    file,
    mode: 'converted',
    identity: `converted:${id.sha256}:${component}:${computeDType}:v${CONVERTED_FORMAT}`,
    convertedTensors: converted,
    copiedTensors: copied,
    cache,
    ms: performance.now() - t0,
  };
}

/**
 * The converted file's tensors when it exists and describes exactly this component in this dtype;
 * undefined when it is missing, truncated, foreign or stale (then it is simply rewritten).
 */
async function validConvertedHeader(
  file: string,
  metadata: Readonly<Record<string, string>>,
  weights: Pick<CheckpointComponent, 'tensors'>,
  dtype: DType,
): Promise<Awaited<ReturnType<typeof readSafetensorsHeader>>['tensors'] | undefined> {
  let parsed;
  try {
    parsed = await readSafetensorsHeader(file);
  } catch {
    return undefined;
  }
  if (Object.entries(metadata).some(([k, v]) => k !== 'source_file' && parsed.metadata[k] !== v))
    return undefined;
  if (parsed.tensors.size !== weights.tensors.size) return undefined;
  for (const [name, t] of weights.tensors) {
    const c = parsed.tensors.get(name);
    if (!c || c.dtype !== dtype || c.shape.join(',') !== t.shape.join(',')) return undefined;
  }
  return parsed.tensors;
}

interface StreamedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  produce(): Promise<Uint8Array>;
}

/**
 * Write a safetensors file one tensor at a time (core/formats' writer wants every tensor in memory
 * at once; a converted SD1.5 UNet is 3.4 GB). Same layout: name order, space-padded header, data
 * contiguous. Written to a temp name, fsynced and renamed, so a reader never sees half a file.
 */
export async function writeSafetensorsStreaming(
  path: string,
  tensors: readonly StreamedTensor[],
  metadata: Readonly<Record<string, string>>,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const json: Record<string, unknown> = { __metadata__: { ...metadata } };
  let offset = 0;
  const lengths: number[] = [];
  for (const t of sorted) {
    const length = t.shape.reduce((n, d) => n * d, 1) * safetensorsDTypeBytes(t.dtype);
    json[t.name] = {
      dtype: SAFETENSORS_CODES[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + length],
    };
    lengths.push(length);
    offset += length;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);

  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    await fh.write(header);
    for (const [i, t] of sorted.entries()) {
      const bytes = await t.produce();
      if (bytes.byteLength !== lengths[i]) {
        throw new Error(
          `tensor '${t.name}': ${t.dtype} [${t.shape.join(', ')}] needs ${lengths[i]} bytes, got ${bytes.byteLength}`,
        );
      }
      let done = 0;
      while (done < bytes.byteLength)
        done += (await fh.write(bytes, done, bytes.byteLength - done)).bytesWritten;
      onProgress?.(i + 1, sorted.length);
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
