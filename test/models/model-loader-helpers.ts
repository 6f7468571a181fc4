// Shared helpers for the model-loader tests: deterministic feeds for the four tiny graphs, the
// "direct load" baseline (graph over checkpointWeights + the whole file handed over in memory, no
// caches), and an fp16 copy of the tiny checkpoint.
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  convertFloatBytes,
  loadCheckpoint,
  openSafetensors,
  writeSafetensors,
  type ConfigOverrides,
  type TensorToWrite,
} from '../../core/formats/index.js';
import type { Graph } from '../../core/graph/index.js';
import {
  buildClipTextGraph,
  buildUnetGraph,
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
  checkpointWeights,
  clipTextConfigFromJson,
  unetConfigFromJson,
  vaeConfigFromJson,
  type ModelGraphName,
  type ModelSessions,
} from '../../core/models/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import { f32, fixturePath, maxAbs, maxAbsDiff } from './model-fixtures.js';

export const TINY_CONFIGS: ConfigOverrides = {
  unet: { norm_num_groups: 8 },
  vae: { norm_num_groups: 8 },
  textEncoder: { num_attention_heads: 4 },
};
export const TINY_LDM_PATH = fixturePath('tiny_sd/tiny_sd_ldm.safetensors');

const made: string[] = [];

/** A fresh temp directory, removed by removeTempDirs(). */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lora-studio-${tag}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k));

/** One feed set per graph; shapes fit the tiny models (vocab 1000, 4 latent channels, ×8 VAE). */
export const FEEDS: Readonly<Record<ModelGraphName, Record<string, HostTensor>>> = {
  textEncoder: {
    input_ids: {
      dtype: 'int64',
      shape: [1, 77],
      data: BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i === 0 ? 998 : (i * 37) % 997)),
    },
  },
  unet: {
    sample: f32([1, 4, 8, 8], wave(256, 0.37)),
    timestep: f32([1], [321]),
    encoder_hidden_states: f32([1, 77, 32], wave(77 * 32, 0.11)),
  },
  vaeEncoder: { image: f32([1, 3, 32, 32], wave(3 * 32 * 32, 0.05)) },
  vaeDecoder: { latents: f32([1, 4, 4, 4], wave(64, 0.7)) },
};

/** The first float output of a graph (what each test compares). */
export const OUTPUT: Readonly<Record<ModelGraphName, string>> = {
  textEncoder: 'prompt_embeds',
  unet: 'noise_pred',
  vaeEncoder: 'latent_mean',
  vaeDecoder: 'image',
};

export async function runLoaded(
  m: ModelSessions,
  name: ModelGraphName,
  feeds: Record<string, HostTensor> = FEEDS[name],
): Promise<HostTensor> {
  return (await m.session(name).run(feeds))[OUTPUT[name]];
}

/** Float32 view of an output (fp16 outputs widened) for comparisons. */
export function asF32(t: HostTensor): HostTensor {
  if (t.dtype === 'float32') return t;
  return f32(t.shape, Array.from(t.data as ArrayLike<number>, Number));
}

/** max |a − b| relative to max |b|. */
export function relDiff(a: HostTensor, b: HostTensor): number {
  return maxAbsDiff(asF32(a), asF32(b)) / Math.max(maxAbs(asF32(b)), 1e-12);
}

/**
 * The same graph built the plain way: checkpointWeights over the loaded checkpoint, the whole
 * file read into memory as external data, no caches.
 */
export async function directOutput(
  path: string,
  name: ModelGraphName,
  dtype: 'float32' | 'float16' = 'float32',
): Promise<HostTensor> {
  const ckpt = await loadCheckpoint(path, { configs: TINY_CONFIGS });
  try {
    const component =
      name === 'textEncoder' ? 'textEncoder' : name === 'unet' ? 'unet' : ('vae' as const);
    const c = ckpt.components[component];
    const w = checkpointWeights(c, () => 'direct.bin');
    let graph: Graph;
    if (name === 'textEncoder')
      graph = buildClipTextGraph(clipTextConfigFromJson(ckpt.configs.textEncoder), w, { dtype });
    else if (name === 'unet')
      graph = buildUnetGraph(unetConfigFromJson(ckpt.configs.unet), w, { dtype });
    else if (name === 'vaeEncoder')
      graph = buildVaeEncoderGraph(vaeConfigFromJson(ckpt.configs.vae), w);
    else graph = buildVaeDecoderGraph(vaeConfigFromJson(ckpt.configs.vae), w);
    const data = new Uint8Array(await readFile(c.file));
    const s = await Session.create(graph, { externalData: [{ path: 'direct.bin', data }] });
    try {
      return (await s.run(FEEDS[name]))[OUTPUT[name]];
    } finally {
      await s.release();
    }
  } finally {
    await ckpt.close();
  }
}

/** A copy of a safetensors file with every float tensor re-encoded as `dtype` (and a map of tensors). */
export async function writeConvertedCopy(
  src: string,
  dest: string,
  dtype: 'float16' | 'float32',
  edit?: (name: string, values: Float32Array) => void,
): Promise<number> {
  const f = await openSafetensors(src);
  const tensors: Record<string, TensorToWrite> = {};
  try {
    for (const name of f.names()) {
      const info = f.info(name);
      let bytes = await f.read(name);
      if (edit) {
        const values = await f.readFloat32(name);
        edit(name, values);
        bytes = new Uint8Array(values.buffer);
        bytes = convertFloatBytes(bytes, 'float32', dtype);
      } else bytes = convertFloatBytes(bytes, info.dtype, dtype);
      tensors[name] = { dtype, shape: info.shape, data: bytes };
    }
  } finally {
    await f.close();
  }
  await writeSafetensors(dest, tensors);
  return Object.keys(tensors).length;
}
