// The sampler loop with classifier-free guidance, in the order of diffusers'
// StableDiffusionPipeline (fixtures §2f): scale the latents, run the UNet on
// cat([latents, latents]) against cat([uncond, cond]), guide, step. Plus the noise plumbing:
// one torch-CPU generator per image (seed, seed + 1, …, as A1111 does for a batch) and img2img's
// start part-way through the schedule.
import {
  DdimScheduler,
  DpmSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  trainSchedule,
  type NoiseSource,
  type Scheduler,
} from '../../schedulers/index.js';
import type { Rng } from '../rng/index.js';
import { GenerateParamsError } from './errors.js';

const f = Math.fround;

/**
 * Noise for a batch where image i has its own generator: a draw of N values is N/B values from
 * each generator in turn. torch's CPU randn depends only on the element count, so image i gets
 * exactly what a batch-1 run with its seed would get.
 */
export class BatchNoise implements NoiseSource {
  constructor(readonly rngs: readonly Rng[]) {
    if (!rngs.length) throw new Error('BatchNoise needs at least one generator');
  }

  randn(shape: readonly number[]): Float32Array {
    const n = shape.reduce((a, b) => a * b, 1);
    const b = this.rngs.length;
    if (n % b !== 0)
      throw new Error(`cannot split ${n} noise values over a batch of ${b} images evenly`);
    const out = new Float32Array(n);
    const per = n / b;
    this.rngs.forEach((r, i) => out.set(r.randn([per]), i * per));
    return out;
  }
}

/** The scheduler's σ for schedule index `i` (σ-space samplers), or undefined. */
function sigmaAt(s: Scheduler, i: number): number | undefined {
  if (
    s instanceof EulerDiscreteScheduler ||
    s instanceof EulerAncestralDiscreteScheduler ||
    s instanceof DpmSolverMultistepScheduler
  )
    return s.sigmas[i];
  return undefined;
}

/**
 * diffusers' scheduler.add_noise at schedule index `i`, in float32: Euler family x + σ·ε
 * (their latents live in σ-space); DPM++ α·x + σ_t·ε with α = 1/√(σ²+1), σ_t = σ·α; DDIM
 * √ᾱ_t·x + √(1−ᾱ_t)·ε.
 */
export function addNoise(
  s: Scheduler,
  original: Float32Array,
  noise: Float32Array,
  i: number,
): Float32Array {
  if (original.length !== noise.length)
    throw new Error(`noise has ${noise.length} values, the latents ${original.length}`);
  const out = new Float32Array(original.length);
  const sigma = sigmaAt(s, i);
  if (s instanceof EulerDiscreteScheduler || s instanceof EulerAncestralDiscreteScheduler) {
    for (let k = 0; k < out.length; k++) out[k] = f(original[k] + f(noise[k] * sigma!));
    return out;
  }
  let a: number;
  let b: number;
  if (s instanceof DpmSolverMultistepScheduler) {
    a = f(1 / f(Math.sqrt(f(f(sigma! * sigma!) + 1))));
    b = f(sigma! * a);
  } else if (s instanceof DdimScheduler) {
    const ac = trainSchedule(s.config).alphasCumprod[s.timesteps[i]];
    a = f(Math.sqrt(ac));
    b = f(Math.sqrt(f(1 - ac)));
  } else throw new Error(`img2img: no add_noise rule for sampler '${s.name}'`);
  for (let k = 0; k < out.length; k++) out[k] = f(f(a * original[k]) + f(b * noise[k]));
  return out;
}

/**
 * diffusers' img2img get_timesteps: run the last ⌊steps·strength⌋ steps of a `steps` schedule.
 * Returns the index of the first one.
 */
export function img2imgStartIndex(steps: number, strength: number): number {
  const run = Math.min(Math.floor(steps * strength), steps);
  if (run < 1)
    throw new GenerateParamsError(
      `denoising strength ${strength} × ${steps} steps runs no step; raise the strength to ≥ ${(1 / steps).toFixed(3)} or the steps`,
    );
  return steps - run;
}

export interface DenoiseStep {
  /** 1-based count of steps done. */
  readonly step: number;
  readonly total: number;
  /** The sampler's estimate of the clean latents after this step (for previews). */
  readonly predOriginal: Float32Array;
}

export interface DenoiseOptions {
  readonly scheduler: Scheduler;
  /** Index into scheduler.timesteps to start at (img2img), default 0. */
  readonly startIndex?: number;
  /** [B, C, h, w] latents to start from (already × initNoiseSigma or noised). */
  readonly latents: Float32Array;
  readonly batch: number;
  readonly cfgScale: number;
  /**
   * The UNet: `sample` holds `batch` copies (no guidance) or 2·batch (uncond first, then cond);
   * the caller pairs it with the matching text conditioning.
   */
  readonly unet: (sample: Float32Array, rows: number, timestep: number) => Promise<Float32Array>;
  readonly noise: NoiseSource;
  /** Called after every step; throw from it to stop (cancellation). */
  readonly onStep?: (s: DenoiseStep) => void | Promise<void>;
  /** Checked before each step; throw from it to stop. */
  readonly beforeStep?: () => void;
}

/** Whether guidance runs at all (diffusers: guidance_scale > 1). */
export const usesGuidance = (cfgScale: number): boolean => cfgScale > 1;

/** Run the schedule from startIndex to the end; returns the final latents. */
export async function denoise(o: DenoiseOptions): Promise<Float32Array> {
  const ts = o.scheduler.timesteps;
  const start = o.startIndex ?? 0;
  const total = ts.length - start;
  const guided = usesGuidance(o.cfgScale);
  const n = o.latents.length;
  let latents = o.latents;
  for (let k = start; k < ts.length; k++) {
    o.beforeStep?.();
    const t = ts[k];
    // 1. model input: the scaled latents, twice when guiding (uncond half, cond half)
    const scaled = o.scheduler.scaleModelInput(latents, t);
    let input = scaled;
    if (guided) {
      input = new Float32Array(2 * n);
      input.set(scaled, 0);
      input.set(scaled, n);
    }
    const eps = await o.unet(input, guided ? 2 * o.batch : o.batch, t);
    // 2. guidance: uncond + g·(text − uncond), float32 as torch computes it
    let pred = eps;
    if (guided) {
      pred = new Float32Array(n);
      const g = o.cfgScale;
      for (let i = 0; i < n; i++) {
        const u = eps[i];
        pred[i] = f(u + f(g * f(eps[n + i] - u)));
      }
    }
    // 3. the sampler step (stochastic samplers draw from each image's generator)
    const out = o.scheduler.step(pred, t, latents, { rng: o.noise });
    latents = out.prevSample;
    await o.onStep?.({ step: k - start + 1, total, predOriginal: out.predOriginalSample });
  }
  return latents;
}
