// img2img, cancellation, previews and parameter checks of generate() on tiny_sd, plus the
// add_noise rules img2img starts from.
import { readdir } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelledError,
  GenerateParamsError,
  GenerationEngine,
  addNoise,
  createRng,
  generate,
  img2imgStartIndex,
  parseInfotext,
  type GenerateProgress,
  type GenerateParams,
} from '../../core/generate/index.js';
import { createScheduler, trainSchedule } from '../../core/schedulers/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fixtureParams, get, maxAbs, maxAbsDiff, readLatents } from './pipeline-helpers.js';

const dir = makeTempDir('lora-studio-gen-i2i-');
const engine = new GenerationEngine({ cacheDir: `${dir}/cache` });
let n = 0;
const params = (over: Partial<GenerateParams> = {}) => fixtureParams(`${dir}/out${n++}`, over);

/** A 96×80 picture with structure (gradients + a square), as PNG bytes. */
async function picture(seed: number): Promise<Uint8Array> {
  const [w, h] = [96, 80];
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const inSquare = x > 30 && x < 60 && y > 20 && y < 50;
      rgb[i] = (x * 2 + seed * 40) % 256;
      rgb[i + 1] = inSquare ? 255 - seed * 60 : (y * 3) % 256;
      rgb[i + 2] = 128;
    }
  return new Uint8Array(
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

let image: Uint8Array;
beforeAll(async () => {
  image = await picture(0);
});
afterAll(async () => {
  await engine.dispose();
  removeDir(dir);
});

describe('img2img', () => {
  it('runs the last strength·steps steps from the encoded image; low strength stays close to it', async () => {
    const steps: GenerateProgress[] = [];
    const [low] = await generate(
      engine,
      params({ initImage: image, denoisingStrength: 0.25, sampler: 'Euler' }),
      { onProgress: (p) => steps.push(p) },
    );
    expect(steps.map((s) => `${s.step}/${s.totalSteps}`)).toEqual(['0/1', '1/1']);
    expect(parseInfotext(low.infotext).denoisingStrength).toBe(0.25);
    const t = await readLatents(low.latentsPath!);
    const init = get(t, 'init_latents');
    // Per generator: the VAE posterior sample draws first, then the noise that is added.
    const rng = createRng('cpu', 42);
    rng.randn([1, 4, 8, 8]);
    expect(get(t, 'initial_noise')).toEqual(rng.randn([1, 4, 8, 8]));
    // One Euler step from σ(t = 0) ≈ 0.029 back to 0 barely moves the encoded image.
    expect(maxAbsDiff(get(t, 'final_latents'), init)).toBeLessThan(0.05 * maxAbs(init) + 0.1);

    const [full] = await generate(
      engine,
      params({ initImage: image, denoisingStrength: 1, sampler: 'Euler' }),
    );
    const f = await readLatents(full.latentsPath!);
    expect(get(f, 'init_latents')).toEqual(init);
    expect(maxAbsDiff(get(f, 'final_latents'), init)).toBeGreaterThan(maxAbs(init));
  });

  it('is deterministic, depends on the picture, and works with every sampler', async () => {
    const p = { denoisingStrength: 0.6, steps: 5 };
    const [a] = await generate(engine, params({ ...p, initImage: image, sampler: 'Euler a' }));
    const [b] = await generate(engine, params({ ...p, initImage: image, sampler: 'Euler a' }));
    const [c] = await generate(
      engine,
      params({ ...p, initImage: await picture(2), sampler: 'Euler a' }),
    );
    const fin = async (x: typeof a) => get(await readLatents(x.latentsPath!), 'final_latents');
    expect(await fin(a)).toEqual(await fin(b));
    expect(maxAbsDiff(await fin(a), await fin(c))).toBeGreaterThan(1e-2);
    for (const sampler of ['DPM++ 2M Karras', 'DDIM'] as const) {
      const [img] = await generate(engine, params({ ...p, initImage: image, sampler }));
      expect(Number.isFinite(maxAbs(await fin(img)))).toBe(true);
    }
  });

  it('refuses a strength that runs no step and bytes that are no image', async () => {
    await expect(
      generate(engine, params({ initImage: image, denoisingStrength: 0.2, steps: 4 })),
    ).rejects.toThrow(/strength 0.2 × 4 steps runs no step/);
    await expect(
      generate(engine, params({ initImage: new Uint8Array([1, 2, 3]), denoisingStrength: 0.5 })),
    ).rejects.toThrow(/initImage is not an image/);
  });
});

describe('add_noise at the img2img start', () => {
  const x = createRng('cpu', 1).randn([64]);
  const eps = createRng('cpu', 2).randn([64]);

  it('Euler: x + σ·ε; DPM++ 2M and DDIM: √ᾱ·x + √(1−ᾱ)·ε at the same timestep', () => {
    const euler = createScheduler('Euler');
    euler.setTimesteps(10);
    const sigma = (euler as unknown as { sigmas: Float32Array }).sigmas[3];
    expect(
      maxAbsDiff(
        addNoise(euler, x, eps, 3),
        x.map((v, i) => v + sigma * eps[i]),
      ),
    ).toBeLessThan(1e-6);

    const ac = trainSchedule(createScheduler('DDIM').config).alphasCumprod;
    for (const name of ['DDIM', 'DPM++ 2M'] as const) {
      const s = createScheduler(name);
      s.setTimesteps(10);
      const a = ac[s.timesteps[3]];
      const want = x.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
      expect(maxAbsDiff(addNoise(s, x, eps, 3), want), name).toBeLessThan(1e-5);
    }
  });

  it('starts at steps − ⌊steps·strength⌋', () => {
    expect([
      img2imgStartIndex(20, 0.75),
      img2imgStartIndex(20, 1),
      img2imgStartIndex(4, 0.5),
    ]).toEqual([5, 0, 2]);
  });
});

describe('cancellation', () => {
  const files = async (d: string) => (await readdir(d).catch(() => [] as string[])).sort();

  it('an abort mid-loop rejects with CancelledError and leaves no file behind', async () => {
    const ac = new AbortController();
    const p = params({ steps: 4 });
    const err = await generate(engine, p, {
      signal: ac.signal,
      onProgress: (e) => e.step === 2 && ac.abort(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).completed).toEqual([]);
    expect(await files(p.outputDir)).toEqual([]);
  });

  it('images finished before the abort stay, complete, and are listed', async () => {
    const ac = new AbortController();
    const p = params({ steps: 2, batchCount: 3 });
    const err = (await generate(engine, p, {
      signal: ac.signal,
      onProgress: (e) => e.imageIndex === 1 && e.step === 1 && ac.abort(),
    }).catch((e: unknown) => e)) as CancelledError;
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.completed.map((i) => i.seed)).toEqual([42]);
    expect(await files(p.outputDir)).toEqual(['00000-42.latents.safetensors', '00000-42.png']);
  });

  it('an already aborted signal stops before any work', async () => {
    const before = engine.stats.sessionsCreated;
    const fresh = new GenerationEngine({ cacheDir: `${dir}/cache` });
    await expect(generate(fresh, params(), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      CancelledError,
    );
    expect(fresh.stats.sessionsCreated).toBe(0);
    expect(engine.stats.sessionsCreated).toBe(before);
    await fresh.dispose();
  });
});

describe('previews and checks', () => {
  it('attaches a latent-size PNG preview every N steps (not on the last)', async () => {
    const previews: [number, Uint8Array][] = [];
    await generate(engine, params({ steps: 4 }), {
      previewEvery: 2,
      onProgress: (p) => {
        if (p.previewPng) previews.push([p.step, p.previewPng]);
      },
    });
    const seen = await Promise.all(
      previews.map(async ([step, png]) => {
        const meta = await sharp(png).metadata();
        return [step, meta.width, meta.height];
      }),
    );
    expect(seen).toEqual([[2, 8, 8]]);
  });

  it('names every bad parameter at once, before loading anything', async () => {
    const fresh = new GenerationEngine({ cacheDir: `${dir}/cache` });
    const bad = params({ width: 60, steps: 0, sampler: 'LMS' as 'Euler', batchSize: 0 });
    const err = (await generate(fresh, bad).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(GenerateParamsError);
    expect(err.message).toMatch(/width must be a multiple of 8 .* got 60/);
    expect(err.message).toMatch(/steps must be an integer from 1 to 1000, got 0/);
    expect(err.message).toMatch(/unknown sampler "LMS"; valid: Euler, Euler a, DPM\+\+ 2M/);
    expect(err.message).toMatch(/batchSize must be an integer ≥ 1, got 0/);
    await expect(generate(fresh, params({ width: 72 }))).rejects.toThrow(
      /width 72 is not a multiple of 64, which this model needs.*try 64 or 128/,
    );
    await expect(generate(fresh, params({ clipSkip: 6 }))).rejects.toThrow(
      /clipSkip 6 is more than the text encoder's 5 layers/,
    );
    expect(fresh.stats.sessionsCreated).toBe(0);
    await fresh.dispose();
  });
});
