// Whole 4-step txt2img loops of diffusers' StableDiffusionPipeline (fixtures §2f) replayed
// through our schedulers: the fixtures record the guided UNet output of every step, so no UNet
// is needed. The noise comes from our torch-CPU generator seeded 42, shared by the initial
// latents and the per-step draws exactly as the pipeline shares its generator.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/generate/rng/index.js';
import { createScheduler, type SamplerName } from '../../core/schedulers/index.js';
import { floats, loadTensors, maxAbsDiff, numbers } from './fixtures.js';

const LOOPS: [SamplerName, string, number][] = [
  // [sampler, fixture, max |Δ| allowed on the latents after each step]
  ['Euler', 'euler', 0],
  ['Euler a', 'euler_ancestral', 0],
  // DPM goes through ln/exp, whose last bit may differ between libms; measured 0 here.
  ['DPM++ 2M Karras', 'dpmpp_2m_karras', 1e-5],
  ['DDIM', 'ddim', 0],
];

describe('denoising loops vs diffusers', () => {
  it.each(LOOPS)('%s reproduces every step of txt2img_%s_4steps', async (name, file, tol) => {
    const ref = await loadTensors(`pipeline/txt2img_${file}_4steps.safetensors`);
    const scheduler = createScheduler(name);
    scheduler.setTimesteps(4);
    expect(scheduler.timesteps).toEqual(numbers(ref, 'timesteps'));
    const rng = createRng('cpu', 42);
    const noise = rng.randn([1, 4, 8, 8]);
    expect(noise).toEqual(floats(ref, 'initial_noise'));
    let latents: Float32Array = noise.map((x) => Math.fround(x * scheduler.initNoiseSigma));
    for (let k = 0; k < 4; k++) {
      const t = scheduler.timesteps[k];
      expect(t).toBe(numbers(ref, `step${k}.unet_timestep`)[0]);
      // The pipeline feeds cat([latents, latents]) (CFG); both halves are the scaled latents.
      const unetInput = floats(ref, `step${k}.unet_input`);
      const scaled = scheduler.scaleModelInput(latents, t);
      expect(maxAbsDiff(scaled, unetInput.subarray(0, 256))).toBe(0);
      expect(maxAbsDiff(scaled, unetInput.subarray(256))).toBe(0);
      latents = scheduler.step(floats(ref, `step${k}.noise_pred_guided`), t, latents, {
        rng,
      }).prevSample;
      expect(maxAbsDiff(latents, floats(ref, `step${k}.latents_after`))).toBeLessThanOrEqual(tol);
    }
    expect(maxAbsDiff(latents, floats(ref, 'final_latents'))).toBeLessThanOrEqual(tol);
  });
});
