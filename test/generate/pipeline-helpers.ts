// Shared setup of the pipeline tests: the tiny SD fixture, the fixture loops' settings
// (README §2f), reading back latents files and PNGs.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { getPngText, openSafetensors, type ConfigOverrides } from '../../core/formats/index.js';
import type { GenerateParams } from '../../core/generate/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const TINY_SD = FIXTURES + 'tiny_sd';
export const TINY_LDM = FIXTURES + 'tiny_sd/tiny_sd_ldm.safetensors';
export const LORA_KOHYA = FIXTURES + 'lora/lora_kohya.safetensors';
/** What the single LDM file cannot show of the tiny model. */
export const TINY_CONFIGS: ConfigOverrides = {
  unet: { norm_num_groups: 8 },
  vae: { norm_num_groups: 8 },
  textEncoder: { num_attention_heads: 4 },
};
/** The prompt of the pipeline fixtures. */
export const FIXTURE_PROMPT = 'a photograph of an astronaut riding a horse';

/** The fixture loops' settings: seed 42, CFG 7.5, 4 steps, 64×64, no negative prompt. */
export function fixtureParams(
  outputDir: string,
  over: Partial<GenerateParams> = {},
): GenerateParams {
  return {
    modelPath: TINY_SD,
    prompt: FIXTURE_PROMPT,
    negativePrompt: '',
    sampler: 'Euler',
    steps: 4,
    cfgScale: 7.5,
    seed: 42,
    width: 64,
    height: 64,
    batchCount: 1,
    batchSize: 1,
    clipSkip: 1,
    loras: [],
    ep: 'cpu',
    outputDir,
    saveLatents: true,
    ...over,
  };
}

/** All float32 tensors of a latents file, by name. */
export async function readLatents(path: string): Promise<Map<string, Float32Array>> {
  const f = await openSafetensors(path);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of f.names()) out.set(name, await f.readFloat32(name));
    return out;
  } finally {
    await f.close();
  }
}

export function get(m: Map<string, Float32Array>, name: string): Float32Array {
  const v = m.get(name);
  if (!v) throw new Error(`no tensor '${name}'; have ${[...m.keys()].join(', ')}`);
  return v;
}

/** RGB bytes (interleaved) and the `parameters` text of a PNG file. */
export async function readPng(
  path: string,
): Promise<{ rgb: Uint8Array; width: number; height: number; parameters?: string }> {
  const bytes = await readFile(path);
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return {
    rgb: new Uint8Array(data),
    width: info.width,
    height: info.height,
    parameters: getPngText(new Uint8Array(bytes), 'parameters'),
  };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
