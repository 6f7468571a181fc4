// Shared helpers for the model parity tests: fixture paths, weight/reference loading, errors.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  loadCheckpoint,
  openSafetensors,
  parseSafetensors,
  type LoadedCheckpoint,
} from '../../core/formats/index.js';
import type { Graph } from '../../core/graph/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import { readSafetensorsWeights, type WeightSource } from '../../core/models/weights.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixturePath(rel: string): string {
  return FIXTURES + rel;
}

export async function loadJson(rel: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(fixturePath(rel), 'utf8')) as Record<string, unknown>;
}

export async function loadWeights(rel: string): Promise<WeightSource> {
  const f = await openSafetensors(fixturePath(rel));
  try {
    return await readSafetensorsWeights(f);
  } finally {
    await f.close();
  }
}

/** Reference tensors of a fixture file as host tensors (float32 / int64). */
export async function loadRefs(rel: string): Promise<Map<string, HostTensor>> {
  const bytes = new Uint8Array(await readFile(fixturePath(rel)));
  const r = parseSafetensors(bytes, rel);
  const out = new Map<string, HostTensor>();
  for (const name of r.names()) {
    const t = await r.readTensorData(name);
    const copy = t.bytes.slice();
    const data =
      t.dtype === 'int64'
        ? new BigInt64Array(copy.buffer, 0, copy.byteLength / 8)
        : new Float32Array(copy.buffer, 0, copy.byteLength / 4);
    out.set(name, { dtype: t.dtype, shape: t.shape, data });
  }
  return out;
}

export function ref(refs: Map<string, HostTensor>, name: string): HostTensor {
  const t = refs.get(name);
  if (!t) throw new Error(`reference '${name}' missing; have ${[...refs.keys()].join(', ')}`);
  return t;
}

/** A float32 host tensor. */
export function f32(shape: readonly number[], data: ArrayLike<number>): HostTensor {
  return { dtype: 'float32', shape, data: Float32Array.from(data) };
}

/** Largest |a − b|; throws on a shape mismatch so a wrong layout cannot pass. */
export function maxAbsDiff(actual: HostTensor, expected: HostTensor): number {
  if (actual.shape.join(',') !== expected.shape.join(',')) {
    throw new Error(
      `shape [${actual.shape.join(', ')}] differs from reference [${expected.shape.join(', ')}]`,
    );
  }
  const a = actual.data as Float32Array;
  const b = expected.data as Float32Array;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function maxAbs(t: HostTensor): number {
  let m = 0;
  for (const v of t.data as Float32Array) m = Math.max(m, Math.abs(v));
  return m;
}

export async function runGraph(
  graph: Graph,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, HostTensor>> {
  const s = await Session.create(graph);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Fixture timesteps as the UNet's float32 [n] input (a 0-d int64 becomes [1]). */
export function timestepFeed(t: HostTensor): HostTensor {
  return f32(
    t.shape.length === 0 ? [1] : t.shape,
    Array.from(t.data as ArrayLike<number | bigint>, Number),
  );
}

/** UNet feeds of a unet_ref-style fixture for pass 'a' or 'b'. */
export function unetFeeds(
  refs: Map<string, HostTensor>,
  pass: 'a' | 'b',
): Record<string, HostTensor> {
  return {
    sample: ref(refs, 'sample'),
    timestep: timestepFeed(ref(refs, `timestep_${pass}`)),
    encoder_hidden_states: ref(refs, 'encoder_hidden_states'),
  };
}

export const TINY_LDM = 'tiny_sd/tiny_sd_ldm.safetensors';

/** The tiny single-file (LDM/A1111 naming) checkpoint; its configs need the tiny group/head counts. */
export function loadTinyLdm(): Promise<LoadedCheckpoint> {
  return loadCheckpoint(fixturePath(TINY_LDM), {
    configs: {
      unet: { norm_num_groups: 8 },
      vae: { norm_num_groups: 8 },
      textEncoder: { num_attention_heads: 4 },
    },
  });
}

/** The whole LDM file as in-memory external data under the name `location`. */
export async function ldmExternalData(
  location: string,
): Promise<{ path: string; data: Uint8Array }[]> {
  return [{ path: location, data: new Uint8Array(await readFile(fixturePath(TINY_LDM))) }];
}
