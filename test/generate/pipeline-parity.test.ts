// generate() end to end against diffusers' StableDiffusionPipeline on tiny_sd (fixtures §2f:
// prompt "a photograph of an astronaut riding a horse", no negative, seed 42 on a CPU
// generator, CFG 7.5, 4 steps, 64×64). Our whole stack runs: tokenizer, text encoder, the
// guided sampler loop on the UNet, the fp32 VAE, the PNG. Final latents reach |x| ≈ 40 (σmax
// 14.6); four UNet calls compound float32 differences, so the bound is relative to that.
import { afterAll, describe, expect, it } from 'vitest';
import {
  GenerationEngine,
  encodeConditioning,
  generate,
  textEncoderRunner,
  type SamplerName,
} from '../../core/generate/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { floats, loadTensors } from '../schedulers/fixtures.js';
import {
  FIXTURE_PROMPT,
  TINY_CONFIGS,
  TINY_LDM,
  TINY_SD,
  fixtureParams,
  get,
  maxAbs,
  maxAbsDiff,
  readLatents,
  readPng,
} from './pipeline-helpers.js';

const dir = makeTempDir('lora-studio-gen-parity-');
const engine = new GenerationEngine({ cacheDir: `${dir}/cache` });
afterAll(async () => {
  await engine.dispose();
  removeDir(dir);
});

/** Latents: ≤ 1e-5 of the largest value (measured ≤ 3e-6). */
const LATENT_REL = 1e-5;

const LOOPS: [SamplerName, string][] = [
  ['Euler', 'euler'],
  ['Euler a', 'euler_ancestral'],
  ['DPM++ 2M Karras', 'dpmpp_2m_karras'],
  ['DDIM', 'ddim'],
];

describe('generate() vs diffusers txt2img on tiny_sd', () => {
  it('encodes the prompt and "" exactly as the pipeline did (and clip skip 2 as A1111 does)', async () => {
    const ref = await loadTensors('pipeline/txt2img_euler_4steps.safetensors');
    const model = await engine.model(TINY_SD);
    const te = await engine.session('textEncoder', model, { ep: 'cpu', clipSkip: 1 });
    const run = textEncoderRunner(te, te.lora!.feedsFor([]).feeds);
    const c = await encodeConditioning(model.tokenizer, run, FIXTURE_PROMPT, '', 32);
    expect([c.chunks, c.seqLen]).toEqual([1, 77]);
    expect(maxAbsDiff(c.cond, floats(ref, 'prompt_embeds'))).toBeLessThan(1e-5);
    expect(maxAbsDiff(c.uncond, floats(ref, 'negative_prompt_embeds'))).toBeLessThan(1e-5);

    const text = await loadTensors('text/text_encoder_ref.safetensors');
    const penultimate = floats(text, 'penultimate_final_ln');
    const te2 = await engine.session('textEncoder', model, { ep: 'cpu', clipSkip: 2 });
    const c2 = await encodeConditioning(
      model.tokenizer,
      textEncoderRunner(te2, te2.lora!.feedsFor([]).feeds),
      FIXTURE_PROMPT,
      '',
      32,
    );
    expect(maxAbsDiff(c2.cond, penultimate.subarray(0, 77 * 32))).toBeLessThan(1e-5);
    expect(maxAbsDiff(c2.uncond, penultimate.subarray(2 * 77 * 32))).toBeLessThan(1e-5);
  });

  it.each(LOOPS)(
    '%s: noise, final latents and image match txt2img_%s_4steps',
    async (sampler, file) => {
      const ref = await loadTensors(`pipeline/txt2img_${file}_4steps.safetensors`);
      const [img] = await generate(engine, fixtureParams(`${dir}/${file}`, { sampler }));
      expect(img.seed).toBe(42);
      const ours = await readLatents(img.latentsPath!);
      expect(get(ours, 'initial_noise')).toEqual(floats(ref, 'initial_noise'));
      const want = floats(ref, 'final_latents');
      const err = maxAbsDiff(get(ours, 'final_latents'), want);
      expect(err).toBeLessThanOrEqual(LATENT_REL * maxAbs(want));

      // The PNG is the pipeline's image: round(clamp(decoded/2 + 0.5, 0, 1)·255), ≤ 1 level off.
      const png = await readPng(img.path);
      expect([png.width, png.height]).toEqual([64, 64]);
      const decoded = floats(ref, 'vae_decoded');
      let worst = 0;
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 64 * 64; i++) {
          const v = Math.min(1, Math.max(0, decoded[c * 4096 + i] / 2 + 0.5));
          worst = Math.max(worst, Math.abs(Math.round(v * 255) - png.rgb[i * 3 + c]));
        }
      expect(worst).toBeLessThanOrEqual(1);
    },
  );

  it('the fp32 VAE decodes the final latents like vae.decode(latents / 0.18215)', async () => {
    const ref = await loadTensors('pipeline/txt2img_euler_4steps.safetensors');
    const model = await engine.model(TINY_SD);
    const dec = await engine.session('vaeDecoder', model, {
      ep: 'cpu',
      latentHeight: 8,
      latentWidth: 8,
    });
    expect(dec.dtype).toBe('float32');
    const out = await dec.session.run({
      latents: { dtype: 'float32', shape: [1, 4, 8, 8], data: floats(ref, 'final_latents') },
    });
    const want = floats(ref, 'vae_decoded');
    expect(maxAbsDiff(out.image.data as Float32Array, want)).toBeLessThan(1e-4 * maxAbs(want));
  });

  it('the single-file LDM checkpoint gives the diffusers folder’s result', async () => {
    const ldm = new GenerationEngine({
      cacheDir: `${dir}/cache`,
      configs: TINY_CONFIGS,
      tokenizerDir: `${TINY_SD}/tokenizer`,
    });
    try {
      const [img] = await generate(ldm, fixtureParams(`${dir}/ldm`, { modelPath: TINY_LDM }));
      const ref = await loadTensors('pipeline/txt2img_euler_4steps.safetensors');
      const want = floats(ref, 'final_latents');
      const got = get(await readLatents(img.latentsPath!), 'final_latents');
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(LATENT_REL * maxAbs(want));
      expect(img.infotext).toMatch(/Model: tiny_sd_ldm(,|$)/m);
    } finally {
      await ldm.dispose();
    }
  });
});
