// GenerationEngine and generate() beyond parity: warm sessions, LoRAs as feeds (tags and
// files, swap without rebuild), batch seeds, prompts (emphasis, long prompts), infotext.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../core/formats/index.js';
import {
  GenerateParamsError,
  GenerationEngine,
  createRng,
  generate,
  parseInfotext,
  samplerFromInfotext,
  type GeneratedImage,
  type GenerateParams,
} from '../../core/generate/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import {
  FIXTURE_PROMPT,
  LORA_KOHYA,
  TINY_SD,
  fixtureParams,
  get,
  maxAbsDiff,
  readLatents,
  readPng,
} from './pipeline-helpers.js';

const dir = makeTempDir('lora-studio-gen-engine-');
const engine = new GenerationEngine({ cacheDir: `${dir}/cache` });
let n = 0;
/** Each call writes into its own folder. */
const params = (over: Partial<GenerateParams> = {}) =>
  fixtureParams(`${dir}/out${n++}`, { steps: 3, ...over });
const finalOf = async (img: GeneratedImage) =>
  get(await readLatents(img.latentsPath!), 'final_latents');

let base: GeneratedImage;
beforeAll(async () => {
  [base] = await generate(engine, params());
});
afterAll(async () => {
  await engine.dispose();
  removeDir(dir);
});

describe('warm sessions', () => {
  it('a second generation (other seed, prompt, CFG, sampler) creates no session', async () => {
    const created = engine.stats.sessionsCreated;
    expect(created).toBe(3); // text encoder, UNet, VAE decoder
    const [again] = await generate(engine, params());
    expect(await finalOf(again)).toEqual(await finalOf(base));
    await generate(engine, params({ seed: 7, prompt: 'a cat', cfgScale: 3, sampler: 'DDIM' }));
    expect(engine.stats.sessionsCreated).toBe(created);
  });
});

describe('LoRAs are feeds: applied, stacked and swapped without a new session', () => {
  it('changes the image at 0.8, leaves it unchanged at 0, tag = file entry, no rebuild', async () => {
    await generate(engine, params()); // back to 64×64
    const created = engine.stats.sessionsCreated;
    const ref = await finalOf(base);
    const [withFile] = await generate(
      engine,
      params({ loras: [{ path: LORA_KOHYA, strength: 0.8 }] }),
    );
    const lora = await finalOf(withFile);
    expect(maxAbsDiff(lora, ref)).toBeGreaterThan(1e-3);
    const [zero] = await generate(engine, params({ loras: [{ path: LORA_KOHYA, strength: 0 }] }));
    expect(await finalOf(zero)).toEqual(ref);
    const [tagged] = await generate(
      engine,
      params({ prompt: `<lora:style:0.8>${FIXTURE_PROMPT}` }),
      {
        resolveLora: (name) => (name === 'style' ? LORA_KOHYA : undefined),
      },
    );
    expect(await finalOf(tagged)).toEqual(lora);
    // Stacked twice at 0.4 = once at 0.8 (up to float32 rounding of the two halves).
    const [stacked] = await generate(
      engine,
      params({
        loras: [
          { path: LORA_KOHYA, strength: 0.4 },
          { path: LORA_KOHYA, strength: 0.4 },
        ],
      }),
    );
    expect(maxAbsDiff(await finalOf(stacked), lora)).toBeLessThan(1e-4);
    expect(engine.stats.sessionsCreated).toBe(created);
    expect(engine.stats.loraLoads).toBe(1);

    // Infotext: the tag stays in the prompt; the hash is AutoV3 (sha256 of the data section).
    const bytes = await readFile(LORA_KOHYA);
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const autoV3 = createHash('sha256')
      .update(bytes.subarray(headerEnd))
      .digest('hex')
      .slice(0, 12);
    expect(parseInfotext(tagged.infotext).loraHashes).toEqual([{ name: 'style', hash: autoV3 }]);
  });

  it('a LoRA for another model or a file that is no LoRA is a GenerateParamsError', async () => {
    const wrong = `${dir}/wrong-size.safetensors`;
    const key = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
    const t = (shape: number[]) => ({
      dtype: 'float32' as const,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    await writeSafetensors(wrong, {
      [`${key}.lora_down.weight`]: t([4, 99]),
      [`${key}.lora_up.weight`]: t([16, 4]),
    });
    const p = (path: string) => params({ loras: [{ path, strength: 1 }], steps: 1 });
    const err = (await generate(engine, p(wrong)).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(GenerateParamsError);
    expect(err.message).toMatch(/does not fit this UNet.*maps 99 → 16/);
    await expect(
      generate(engine, p(`${TINY_SD}/vae/diffusion_pytorch_model.safetensors`)),
    ).rejects.toBeInstanceOf(GenerateParamsError);
  });

  it('an unknown tag fails naming it, before any step', async () => {
    const p = params({ prompt: 'x <lora:nowhere:1>' });
    await expect(generate(engine, p, { resolveLora: () => undefined })).rejects.toThrow(
      /<lora:nowhere> in the prompt names no LoRA file/,
    );
    await expect(generate(engine, p)).rejects.toBeInstanceOf(GenerateParamsError);
    expect(await readdir(p.outputDir).catch(() => [])).toEqual([]);
  });
});

describe('batches and seeds', () => {
  it('image i of a batch is the batch-1 image of seed + i (one generator per image)', async () => {
    const p = { sampler: 'Euler a' as const, steps: 2 };
    const imgs = await generate(engine, params({ ...p, batchCount: 2, batchSize: 2, seed: 100 }));
    expect(imgs.map((i) => i.seed)).toEqual([100, 101, 102, 103]);
    expect(imgs.map((i) => i.path.split('/').pop())).toEqual([
      '00000-100.png',
      '00001-101.png',
      '00002-102.png',
      '00003-103.png',
    ]);
    const [single] = await generate(engine, params({ ...p, seed: 103 }));
    expect(maxAbsDiff(await finalOf(imgs[3]), await finalOf(single))).toBeLessThan(1e-5);
    const noise = get(await readLatents(imgs[1].latentsPath!), 'initial_noise');
    expect(noise).toEqual(createRng('cpu', 101).randn([1, 4, 8, 8]));
  });

  it('seed −1 picks a seed and reports it in the result and the PNG', async () => {
    const [img] = await generate(engine, params({ seed: -1, steps: 1 }));
    expect(Number.isSafeInteger(img.seed) && img.seed >= 0).toBe(true);
    expect(parseInfotext((await readPng(img.path)).parameters!).seed).toBe(img.seed);
  });
});

describe('prompts', () => {
  it('weights change the result; weight 1 and plain text do not differ', async () => {
    const plain = await finalOf(base);
    const [one] = await generate(
      engine,
      params({ prompt: '(a photograph of an astronaut riding a horse:1.0)' }),
    );
    expect(await finalOf(one)).toEqual(plain);
    const [heavy] = await generate(
      engine,
      params({ prompt: 'a photograph of an (astronaut:1.6) riding a horse' }),
    );
    expect(maxAbsDiff(await finalOf(heavy), plain)).toBeGreaterThan(1e-3);
  });

  it('a prompt past 75 tokens runs as two chunks (154 tokens), the negative padded to match', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `horse ${i % 2 ? 'red' : 'blue'}`).join(', ');
    const [img] = await generate(engine, params({ prompt: long, steps: 1 }));
    const [short] = await generate(engine, params({ prompt: long.slice(0, 60), steps: 1 }));
    expect(maxAbsDiff(await finalOf(img), await finalOf(short))).toBeGreaterThan(0);
  });
});

// Last: these replace the 64×64 sessions (new sizes cost a UNet build each).
describe('size changes and PNG output', () => {
  it('another size rebuilds only the UNet and the VAE decoder, releasing the old ones', async () => {
    const before = { ...engine.stats };
    await generate(engine, params({ width: 128, height: 64, steps: 1 }));
    expect(engine.stats.sessionsCreated - before.sessionsCreated).toBe(2);
    expect(engine.stats.sessionsReleased - before.sessionsReleased).toBe(2);
    expect(engine.warmKeys().unet).toMatch(/\|8x16$/);
  });

  it('the parameters chunk parses back to the params used (keepWarm off: all released)', async () => {
    const p = params({
      prompt: 'a (red:1.2) horse',
      negativePrompt: 'blurry, lowres',
      sampler: 'DPM++ 2M Karras',
      steps: 2,
      cfgScale: 6.5,
      seed: 1234,
      clipSkip: 2,
      width: 128,
      height: 64,
    });
    engine.keepWarm = false;
    const [img] = await generate(engine, p);
    expect(engine.warmKeys()).toEqual({});
    expect(engine.stats.sessionsReleased).toBe(engine.stats.sessionsCreated);
    const png = await readPng(img.path);
    expect([png.width, png.height]).toEqual([128, 64]);
    expect(png.parameters).toBe(img.infotext);
    const info = parseInfotext(png.parameters!);
    const unetFile = `${TINY_SD}/unet/diffusion_pytorch_model.safetensors`;
    const sha = createHash('sha256')
      .update(await readFile(unetFile))
      .digest('hex');
    expect(info).toEqual({
      prompt: p.prompt,
      negativePrompt: p.negativePrompt,
      steps: 2,
      sampler: 'DPM++ 2M',
      scheduleType: 'Karras',
      cfgScale: 6.5,
      seed: 1234,
      width: 128,
      height: 64,
      clipSkip: 2,
      model: 'tiny_sd',
      modelHash: sha.slice(0, 10),
      extra: {},
    });
    expect(samplerFromInfotext(info)).toBe(p.sampler);
    expect(samplerFromInfotext({ sampler: 'Euler a', scheduleType: 'Automatic' })).toBe('Euler a');
    expect(samplerFromInfotext({ sampler: 'LMS' })).toBeUndefined();
  });
});
