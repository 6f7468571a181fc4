// The loaded form of a checkpoint: per component, each diffusers-named weight described by
// file, offset and length (never read until asked), plus lazily opened shared file readers.
import { readFile } from 'node:fs/promises';
import type { TensorData } from '../../graph/ir.js';
import { openSafetensors, type SafetensorsFile } from '../safetensors.js';
import type { TensorInfo } from '../safetensors-header.js';
import { toFloat32 } from '../dtype-convert.js';
import type {
  ClipTextConfig,
  ConfigJson,
  ConfigOverrides,
  UNetConfig,
  VaeConfig,
} from './configs.js';
import { CheckpointError } from './errors.js';
import type { ConvertedKeys, ShapeMap } from './key-map.js';

/** One weight under its diffusers name: where its bytes are, never the bytes themselves. */
export interface CheckpointTensor extends TensorInfo {
  /** The safetensors file holding it. */
  readonly file: string;
  /** Its name inside that file. */
  readonly source: string;
  /** Shape as stored; differs from `shape` only when `transform` is set. */
  readonly storedShape: readonly number[];
  /** 'reshape-linear': same bytes, new shape (LDM's 1×1-conv VAE attention → Linear). */
  readonly transform?: 'reshape-linear';
}

export interface CheckpointComponent {
  /** The file all of this component's tensors live in. */
  readonly file: string;
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
  /** Raw bytes with the diffusers shape. */
  readTensor(name: string): Promise<TensorData>;
  readFloat32(name: string): Promise<Float32Array>;
}

export interface LoadedCheckpoint {
  readonly family: 'sd1';
  readonly format: 'single-file' | 'diffusers';
  readonly path: string;
  readonly components: {
    readonly unet: CheckpointComponent;
    readonly vae: CheckpointComponent;
    readonly textEncoder: CheckpointComponent;
  };
  readonly configs: {
    readonly unet: UNetConfig;
    readonly vae: VaeConfig;
    readonly textEncoder: ClipTextConfig;
  };
  /** A diffusers folder's tokenizer/ (vocab.json + merges.txt), when it has one. */
  readonly tokenizerDir?: string;
  /** Source keys skipped on purpose (DDPM buffers, EMA copies, position_ids, …). */
  readonly ignoredKeys: readonly string[];
  /** Close the file handles opened by reads. */
  close(): Promise<void>;
}

export interface LoadCheckpointOptions {
  /** An external VAE file (e.g. vae-ft-mse-840000-ema-pruned.safetensors) that replaces the checkpoint's. */
  vae?: string;
  /** Config fields the weights cannot show (norm_num_groups, heads, sample_size, …). */
  configs?: ConfigOverrides;
}

/** Lazily opened readers shared by a checkpoint's components. */
export class ReaderPool {
  private readonly open = new Map<string, Promise<SafetensorsFile>>();
  get(file: string): Promise<SafetensorsFile> {
    let r = this.open.get(file);
    if (!r) {
      r = openSafetensors(file);
      this.open.set(file, r);
      r.catch(() => this.open.delete(file));
    }
    return r;
  }
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(async (r) => (await r.catch(() => undefined))?.close()));
  }
}

export function component(
  file: string,
  header: ReadonlyMap<string, TensorInfo>,
  keys: ConvertedKeys,
  pool: ReaderPool,
): CheckpointComponent {
  const tensors = new Map<string, CheckpointTensor>();
  for (const [name, m] of keys.map) {
    const t = header.get(m.source)!;
    tensors.set(name, {
      name,
      dtype: t.dtype,
      shape: m.shape,
      offset: t.offset,
      length: t.length,
      file,
      source: m.source,
      storedShape: t.shape,
      ...(m.reshaped ? { transform: 'reshape-linear' as const } : {}),
    });
  }
  const get = (name: string): CheckpointTensor => {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`${file}: no weight "${name}" (${tensors.size} weights)`);
    return t;
  };
  return {
    file,
    tensors,
    async readTensor(name) {
      const t = get(name);
      if (t.dtype === 'int16')
        throw new CheckpointError(`${file}: weight "${name}" is int16; weights must be float`);
      const bytes = await (await pool.get(file)).read(t.source);
      return { dtype: t.dtype, shape: [...t.shape], bytes };
    },
    async readFloat32(name) {
      const t = get(name);
      return toFloat32(await (await pool.get(file)).read(t.source), t.dtype);
    },
  };
}

export const shapesOf = (tensors: ReadonlyMap<string, TensorInfo>): ShapeMap =>
  new Map([...tensors].map(([k, t]) => [k, t.shape]));
export const diffusersShapes = (c: CheckpointComponent): ShapeMap =>
  new Map([...c.tensors].map(([k, t]) => [k, t.shape]));

export function checkCrossAttention(unet: UNetConfig, te: ClipTextConfig, path: string): void {
  if (unet.cross_attention_dim !== te.hidden_size) {
    throw new CheckpointError(
      `${path}: the UNet attends to ${unet.cross_attention_dim}-d text features but the text encoder makes ${te.hidden_size}-d ones`,
    );
  }
}

export async function readJson(path: string): Promise<ConfigJson> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CheckpointError(`${path} is missing`);
  }
  try {
    return JSON.parse(text) as ConfigJson;
  } catch (e) {
    throw new CheckpointError(`${path} is not valid JSON (${(e as Error).message})`);
  }
}
