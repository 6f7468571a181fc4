// generate(): txt2img and img2img on a GenerationEngine. Per batch of images: one torch-CPU
// generator per image (seed + i), initial noise (or the init image encoded and noised part-way
// into the schedule), the guided sampler loop, fp32 VAE decode, PNGs with A1111 `parameters`.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { writePngText, writeSafetensors } from '../../formats/index.js';
import type { HostTensor } from '../../onnx/index.js';
import { createScheduler } from '../../schedulers/index.js';
import { formatInfotext, type LoraHash } from '../infotext.js';
import { parsePrompt } from '../prompt/index.js';
import { createRng } from '../rng/index.js';
import type { GeneratedImage, GenerateOptions, GenerateParams } from '../types.js';
import { encodeConditioning, unetContext, type TextEncoderRun } from './conditioning.js';
import { addNoise, BatchNoise, denoise, img2imgStartIndex, usesGuidance } from './denoise.js';
import {
  vaeFactor,
  type GenerationEngine,
  type LoadedLora,
  type ModelInfo,
  type WarmSession,
} from './engine.js';
import { GenerateParamsError, throwIfCancelled } from './errors.js';
import { floatData, floatFeed, imageToPng, initImageTensor, latentPreviewPng } from './image-io.js';
import { samplerInfotextFields } from './sampler-names.js';
import { checkSizeForModel, resolveParams, type ResolvedParams } from './params.js';

/** A LoRA to apply, with its text-encoder and UNet multipliers. */
interface LoraPlan {
  readonly loaded: LoadedLora;
  /** The tag name, or the file name without extension. */
  readonly name: string;
  readonly te: number;
  readonly unet: number;
}

/**
 * Generate batchCount × batchSize images. Resolves with the images written (seed i = seed + i);
 * rejects with CancelledError when opts.signal fires (images finished before stay on disk and
 * are listed in the error), GenerateParamsError for params that cannot run.
 */
export async function generate(
  engine: GenerationEngine,
  params: GenerateParams,
  opts: GenerateOptions = {},
): Promise<GeneratedImage[]> {
  const p = resolveParams(params);
  throwIfCancelled(opts.signal);
  return engine.exclusive(async () => {
    try {
      return await run(engine, p, opts);
    } finally {
      if (!engine.keepWarm) await engine.release();
    }
  });
}

async function planLoras(
  engine: GenerationEngine,
  model: ModelInfo,
  p: ResolvedParams,
  opts: GenerateOptions,
): Promise<LoraPlan[]> {
  const plans: LoraPlan[] = [];
  for (const l of p.loras) {
    const loaded = await engine.lora(l.path, model);
    const name = basename(l.path, extname(l.path));
    plans.push({ loaded, name, te: l.strength, unet: l.strength });
  }
  for (const tag of parsePrompt(p.prompt).loras) {
    const path = opts.resolveLora?.(tag.name);
    if (!path)
      throw new GenerateParamsError(
        `<${tag.tag}:${tag.name}> in the prompt names no LoRA file we know` +
          (opts.resolveLora ? '' : ' (no LoRA library to look names up in)'),
      );
    const loaded = await engine.lora(path, model);
    plans.push({ loaded, name: tag.name, te: tag.multiplier, unet: tag.unetMultiplier });
  }
  return plans;
}

/** One warning per LoRA for the modules neither graph could apply (A1111 skips them silently). */
function warnUnsupported(
  issues: readonly { lora: string; name: string; reason: string }[],
  warn: (m: string) => void,
): void {
  const byLora = new Map<string, Map<string, string>>();
  for (const u of issues) {
    const m = byLora.get(u.lora) ?? new Map<string, string>();
    m.set(u.name, u.reason);
    byLora.set(u.lora, m);
  }
  for (const [lora, m] of byLora) {
    const shown = [...m].slice(0, 3).map(([name, reason]) => `${name} (${reason})`);
    warn(
      `LoRA ${lora}: ${m.size} module(s) not applied: ${shown.join('; ')}${m.size > 3 ? '; …' : ''}`,
    );
  }
}

/** Token rows → prompt embeddings through a warm text-encoder session (float32 out). */
export function textEncoderRunner(
  te: WarmSession,
  loraFeeds: Readonly<Record<string, HostTensor>>,
): TextEncoderRun {
  return async (rows) => {
    const ids: HostTensor = {
      dtype: 'int64',
      shape: [rows.length, rows[0].length],
      data: BigInt64Array.from(rows.flat(), (x) => BigInt(x)),
    };
    const out = await te.session.run(
      { input_ids: ids, ...loraFeeds },
      { outputs: ['prompt_embeds'] },
    );
    return floatData(out.prompt_embeds);
  };
}

/** The next free A1111-style image number in the folder (`00012-<seed>.png` → 13). */
async function nextImageNumber(dir: string): Promise<number> {
  let max = -1;
  for (const name of await readdir(dir)) {
    const m = /^(\d+)-/.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Write through a temp name and rename: a crash or cancel never leaves half a file. */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, bytes, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

function repeat(data: Float32Array, times: number): Float32Array {
  const out = new Float32Array(data.length * times);
  for (let i = 0; i < times; i++) out.set(data, i * data.length);
  return out;
}

async function run(
  engine: GenerationEngine,
  p: ResolvedParams,
  opts: GenerateOptions,
): Promise<GeneratedImage[]> {
  const signal = opts.signal;
  const warn = opts.onWarning ?? (() => {});
  const completed: GeneratedImage[] = [];
  const cancelCheck = () => throwIfCancelled(signal, completed);

  // 1. The model's configs (headers only), and the checks that need them.
  const model = await engine.model(p.modelPath, p.vaePath);
  const { configs } = model;
  const vf = vaeFactor(configs);
  checkSizeForModel(p.width, p.height, configs.unet.blockOutChannels.length, vf);
  if (p.clipSkip > configs.textEncoder.numLayers)
    throw new GenerateParamsError(
      `clipSkip ${p.clipSkip} is more than the text encoder's ${configs.textEncoder.numLayers} layers`,
    );
  const [lh, lw] = [p.height / vf, p.width / vf];
  const startIndex = p.img2img ? img2imgStartIndex(p.steps, p.denoisingStrength!) : 0;
  const C = configs.unet.inChannels;
  const loras = await planLoras(engine, model, p, opts);
  for (const l of loras)
    if (l.loaded.lora.unknownKeys.length)
      warn(`LoRA ${l.name}: ${l.loaded.lora.unknownKeys.length} key(s) not understood, left out`);
  cancelCheck();

  // 2. Conditioning (text encoder with the LoRAs' text-encoder parts).
  const spec = { ep: p.ep, latentHeight: lh, latentWidth: lw, clipSkip: p.clipSkip };
  const te = await engine.session('textEncoder', model, spec);
  const teLora = te.lora!.feedsFor(
    loras.map((l) => ({ lora: l.loaded.lora, name: l.name, strength: l.te })),
  );
  cancelCheck();
  const cond = await encodeConditioning(
    model.tokenizer,
    textEncoderRunner(te, teLora.feeds),
    p.prompt,
    p.negativePrompt,
    configs.textEncoder.hiddenSize,
  );
  cancelCheck();

  // 3. UNet and VAE sessions (warm ones are reused as they are).
  const unet = await engine.session('unet', model, spec);
  const unetLora = unet.lora!.feedsFor(
    loras.map((l) => ({ lora: l.loaded.lora, name: l.name, strength: l.unet })),
  );
  warnUnsupported([...teLora.unsupported, ...unetLora.unsupported], warn);
  const decoder = await engine.session('vaeDecoder', model, spec);
  const encoder = p.img2img ? await engine.session('vaeEncoder', model, spec) : undefined;
  cancelCheck();
  const initImage = p.img2img ? await initImageTensor(p.initImage!, p.width, p.height) : undefined;

  // 4. What every image's infotext shares.
  const loraHashes: LoraHash[] = loras.map((l) => ({ name: l.name, hash: l.loaded.hash }));
  const shared = {
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    steps: p.steps,
    ...samplerInfotextFields(p.sampler),
    cfgScale: p.cfgScale,
    width: p.width,
    height: p.height,
    modelHash: await engine.modelHash(model),
    model: model.name,
    ...(p.vaePath ? { vae: basename(p.vaePath), vaeHash: await engine.vaeHash(p.vaePath) } : {}),
    ...(p.img2img ? { denoisingStrength: p.denoisingStrength } : {}),
    clipSkip: p.clipSkip,
    ...(loraHashes.length ? { loraHashes } : {}),
  };

  // 5. Batches.
  await mkdir(p.outputDir, { recursive: true });
  let number = await nextImageNumber(p.outputDir);
  const B = p.batchSize;
  const guided = usesGuidance(p.cfgScale);
  const ctx = floatFeed(
    unetContext(cond, B, guided),
    [guided ? 2 * B : B, cond.seqLen, cond.hidden],
    unet.dtype,
  );
  const timestep = (t: number): HostTensor => ({
    dtype: 'float32',
    shape: [1],
    data: Float32Array.of(t),
  });
  const shape = [B, C, lh, lw];
  const perImage = C * lh * lw;

  for (let b = 0; b < p.batchCount; b++) {
    cancelCheck();
    const imageIndex = b * B;
    const seeds = Array.from({ length: B }, (_, i) => p.seed + imageIndex + i);
    const noise = new BatchNoise(seeds.map((s) => createRng('cpu', s)));
    const scheduler = createScheduler(p.sampler);
    scheduler.setTimesteps(p.steps);
    let initialNoise: Float32Array;
    let initLatents: Float32Array | undefined;
    let latents: Float32Array;
    if (encoder && initImage) {
      // diffusers' img2img order per generator: the VAE posterior sample, then the added noise.
      const sampleNoise = noise.randn(shape);
      const enc = await encoder.session.run(
        {
          image: { dtype: 'float32', shape: [B, 3, p.height, p.width], data: repeat(initImage, B) },
          noise: { dtype: 'float32', shape, data: sampleNoise },
        },
        { outputs: ['latent_sample'] },
      );
      initLatents = floatData(enc.latent_sample);
      initialNoise = noise.randn(shape);
      latents = addNoise(scheduler, initLatents, initialNoise, startIndex);
    } else {
      initialNoise = noise.randn(shape);
      const s = scheduler.initNoiseSigma;
      latents = initialNoise.map((x) => Math.fround(x * s));
    }
    const totalSteps = p.steps - startIndex;
    const progress = { imageIndex, imageCount: p.imageCount, totalSteps };
    opts.onProgress?.({ ...progress, step: 0 });
    const final = await denoise({
      scheduler,
      startIndex,
      latents,
      batch: B,
      cfgScale: p.cfgScale,
      noise,
      beforeStep: cancelCheck,
      unet: async (sample, rows, t) => {
        const out = await unet.session.run(
          {
            sample: floatFeed(sample, [rows, C, lh, lw], unet.dtype),
            timestep: timestep(t),
            encoder_hidden_states: ctx,
            ...unetLora.feeds,
          },
          { outputs: ['noise_pred'] },
        );
        return floatData(out.noise_pred);
      },
      onStep: async ({ step, total, predOriginal }) => {
        const every = opts.previewEvery ?? 0;
        const preview = every > 0 && step % every === 0 && step < total;
        opts.onProgress?.({
          ...progress,
          step,
          ...(preview ? { previewPng: await latentPreviewPng(predOriginal, 0, lh, lw) } : {}),
        });
      },
    });
    cancelCheck();

    // 6. Decode (fp32, one image at a time: the VAE is the memory peak) and write.
    for (let i = 0; i < B; i++) {
      const slice = (a: Float32Array) => a.slice(i * perImage, (i + 1) * perImage);
      const out = await decoder.session.run(
        { latents: { dtype: 'float32', shape: [1, C, lh, lw], data: slice(final) } },
        { outputs: ['image'] },
      );
      const seed = seeds[i];
      const infotext = formatInfotext({ ...shared, seed });
      const png = writePngText(await imageToPng(floatData(out.image), 0, p.width, p.height), {
        parameters: infotext,
      });
      let stem = `${String(number++).padStart(5, '0')}-${seed}`;
      // Another writer (a second app window, a CLI run) may have taken the number meanwhile.
      while (await exists(join(p.outputDir, `${stem}.png`)))
        stem = `${String(number++).padStart(5, '0')}-${seed}`;
      const path = join(p.outputDir, `${stem}.png`);
      let latentsPath: string | undefined;
      if (p.saveLatents) {
        latentsPath = join(p.outputDir, `${stem}.latents.safetensors`);
        const t = (data: Float32Array) => ({
          dtype: 'float32' as const,
          shape: [1, C, lh, lw],
          data,
        });
        await writeSafetensors(
          latentsPath,
          {
            initial_noise: t(slice(initialNoise)),
            final_latents: t(slice(final)),
            ...(initLatents ? { init_latents: t(slice(initLatents)) } : {}),
          },
          { parameters: infotext, seed: String(seed), sampler: p.sampler, steps: String(p.steps) },
        );
      }
      await writeAtomic(path, png);
      completed.push({
        path,
        seed,
        infotext,
        width: p.width,
        height: p.height,
        ...(latentsPath ? { latentsPath } : {}),
      });
    }
  }
  return completed;
}
