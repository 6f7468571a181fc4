// Shared helpers of the training tests: the tiny SD UNet fixture, the fixture LoRA as parameter
// values, and error measures.
import { readFile } from 'node:fs/promises';
import { parseSafetensors } from '../../core/formats/index.js';
import type { HostTensor } from '../../core/onnx/index.js';
import { unetConfigFromJson, type UNetConfig, type WeightSource } from '../../core/models/index.js';
import { fixturePath, loadJson, loadWeights } from '../models/model-fixtures.js';

export { fixturePath, loadRefs, ref, timestepFeed } from '../models/model-fixtures.js';

export interface TinyUnet {
  cfg: UNetConfig;
  weights: WeightSource;
}

export async function loadTinyUnet(): Promise<TinyUnet> {
  return {
    cfg: unetConfigFromJson(await loadJson('tiny_sd/unet/config.json')),
    weights: await loadWeights('tiny_sd/unet/diffusion_pytorch_model.safetensors'),
  };
}

/** Every float32 tensor of a fixture file, by name, as flat values + shape. */
export async function loadFloatTensors(
  rel: string,
): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const r = parseSafetensors(new Uint8Array(await readFile(fixturePath(rel))), rel);
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const name of r.names()) {
    const t = await r.readTensorData(name);
    if (t.dtype !== 'float32') continue;
    const copy = t.bytes.slice();
    out.set(name, { shape: t.shape, data: new Float32Array(copy.buffer, 0, copy.byteLength / 4) });
  }
  return out;
}

export function f32(shape: readonly number[], data: ArrayLike<number>): HostTensor {
  return { dtype: 'float32', shape, data: Float32Array.from(data) };
}

/** max|a − b| / max|b| (the tensor's scale), throwing on a length mismatch. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length)
    throw new Error(`length ${actual.length} differs from reference ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** The fixture LoRA's targets: attn1/attn2 to_q, to_k, to_v, to_out.0. */
export const FIXTURE_TARGETS = (s: { module: string }): boolean =>
  /\.(to_q|to_k|to_v|to_out\.0)$/.test(s.module);

/** A deterministic pseudo-random float32 array in [−a, a). */
export function wave(n: number, k: number, a = 1): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => a * Math.sin(i * k + 0.3 * Math.cos(i * 0.7 * k)),
  );
}
