// Checking GenerateParams before any model is touched: every problem is listed at once, each
// naming the bad value and the valid ones. Checks that need the model (the UNet's size factor,
// the text encoder's layer count) happen once its config is known (checkSizeForModel).
import { isSamplerName, SAMPLER_NAMES, type SamplerName } from '../../schedulers/index.js';
import { resolveSeed } from '../rng/index.js';
import type { GenerateEp, GenerateParams } from '../types.js';
import { GenerateParamsError } from './errors.js';

export const GENERATE_EPS: readonly GenerateEp[] = Object.freeze([
  'auto',
  'cuda',
  'dml',
  'webgpu',
  'cpu',
]);

/** Largest side we accept (SD1.x at 2048² already needs tens of GB). */
export const MAX_SIDE = 4096;
export const MAX_STEPS = 1000;
export const MAX_IMAGES = 1000;

/** Params after checking: the seed resolved, LoRA list copied, defaults filled. */
export interface ResolvedParams extends Omit<GenerateParams, 'seed' | 'sampler'> {
  readonly sampler: SamplerName;
  /** The first image's seed (never −1). */
  readonly seed: number;
  readonly seedWasRandom: boolean;
  readonly imageCount: number;
  readonly img2img: boolean;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Throws GenerateParamsError listing every problem; returns the resolved params. */
export function resolveParams(p: GenerateParams, randomWord?: () => number): ResolvedParams {
  const problems: string[] = [];
  const need = (ok: boolean, msg: string) => {
    if (!ok) problems.push(msg);
  };
  need(
    typeof p.modelPath === 'string' && p.modelPath.length > 0,
    'modelPath is empty; give a .safetensors checkpoint or a diffusers folder',
  );
  need(typeof p.prompt === 'string', `prompt must be a string, got ${typeof p.prompt}`);
  need(
    typeof p.negativePrompt === 'string',
    `negativePrompt must be a string, got ${typeof p.negativePrompt}`,
  );
  need(
    isSamplerName(String(p.sampler)),
    `unknown sampler "${p.sampler}"; valid: ${SAMPLER_NAMES.join(', ')}`,
  );
  need(
    isInt(p.steps) && p.steps >= 1 && p.steps <= MAX_STEPS,
    `steps must be an integer from 1 to ${MAX_STEPS}, got ${p.steps}`,
  );
  need(
    typeof p.cfgScale === 'number' && Number.isFinite(p.cfgScale) && p.cfgScale >= 0,
    `cfgScale must be a finite number ≥ 0, got ${p.cfgScale}`,
  );
  for (const [key, v] of [
    ['width', p.width],
    ['height', p.height],
  ] as const)
    need(
      isInt(v) && v >= 8 && v <= MAX_SIDE && v % 8 === 0,
      `${key} must be a multiple of 8 from 8 to ${MAX_SIDE}, got ${v}` +
        (isInt(v) && v > 8 ? ` (nearest: ${Math.max(64, Math.round(v / 64) * 64)})` : ''),
    );
  need(
    isInt(p.batchCount) && p.batchCount >= 1,
    `batchCount must be an integer ≥ 1, got ${p.batchCount}`,
  );
  need(
    isInt(p.batchSize) && p.batchSize >= 1,
    `batchSize must be an integer ≥ 1, got ${p.batchSize}`,
  );
  const imageCount = (p.batchCount ?? 0) * (p.batchSize ?? 0);
  need(
    !(imageCount > MAX_IMAGES),
    `batchCount × batchSize = ${imageCount} images; at most ${MAX_IMAGES} per call`,
  );
  need(
    isInt(p.clipSkip) && p.clipSkip >= 1,
    `clipSkip must be an integer ≥ 1 (1 = last layer), got ${p.clipSkip}`,
  );
  need(Array.isArray(p.loras), 'loras must be an array of { path, strength }');
  for (const [i, l] of (Array.isArray(p.loras) ? p.loras : []).entries()) {
    need(
      typeof l?.path === 'string' && l.path.length > 0,
      `loras[${i}].path must be a file path, got ${JSON.stringify(l?.path)}`,
    );
    need(
      typeof l?.strength === 'number' && Number.isFinite(l.strength),
      `loras[${i}].strength must be a finite number, got ${l?.strength}`,
    );
  }
  const img2img = p.initImage !== undefined;
  if (img2img) {
    need(
      p.initImage instanceof Uint8Array && p.initImage.length > 0,
      'initImage must hold the bytes of a PNG or JPEG file',
    );
    const s = p.denoisingStrength ?? 0.75;
    need(
      typeof s === 'number' && s > 0 && s <= 1,
      `denoisingStrength must be in (0, 1], got ${p.denoisingStrength}`,
    );
  } else
    need(
      p.denoisingStrength === undefined,
      'denoisingStrength is for img2img; give initImage too or leave it out',
    );
  need(
    (GENERATE_EPS as readonly string[]).includes(p.ep),
    `unknown execution provider '${p.ep}'; valid: ${GENERATE_EPS.join(', ')}`,
  );
  need(
    typeof p.outputDir === 'string' && p.outputDir.length > 0,
    'outputDir is empty; give the folder to write the images to',
  );
  let seed = 0;
  let seedWasRandom = false;
  try {
    const r = resolveSeed(p.seed, randomWord);
    seed = r.seed;
    seedWasRandom = r.random;
    need(
      Number.isSafeInteger(seed + imageCount),
      `seed ${p.seed} + ${imageCount} images runs past ${Number.MAX_SAFE_INTEGER}`,
    );
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (problems.length) throw new GenerateParamsError(`cannot generate: ${problems.join('; ')}`);
  return {
    ...p,
    sampler: p.sampler,
    seed,
    seedWasRandom,
    imageCount,
    img2img,
    loras: p.loras.map((l) => ({ path: l.path, strength: l.strength })),
    ...(img2img ? { denoisingStrength: p.denoisingStrength ?? 0.75 } : {}),
  };
}

/**
 * Width and height against the model: latents are 1/8 of the image and must divide by the
 * UNet's 2^(levels − 1), so SD1.x images are multiples of 64.
 */
export function checkSizeForModel(
  width: number,
  height: number,
  unetLevels: number,
  vaeFactor: number,
): void {
  const step = vaeFactor * 2 ** (unetLevels - 1);
  const bad = [
    ['width', width],
    ['height', height],
  ].filter(([, v]) => (v as number) % step !== 0);
  if (bad.length)
    throw new GenerateParamsError(
      bad
        .map(([k, v]) => {
          const n = v as number;
          const lo = Math.max(step, Math.floor(n / step) * step);
          return `${k} ${n} is not a multiple of ${step}, which this model needs (its UNet halves the ${n / vaeFactor}-latent ${unetLevels - 1} times); try ${lo} or ${lo + step}`;
        })
        .join('; '),
    );
}
