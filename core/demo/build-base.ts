// Builds the demo base model from nothing, with our own engine: a VAE trained as an autoencoder
// on procedurally drawn shapes, a text encoder left at its seeded random initialisation (it only
// has to tell prompts apart; the UNet learns what its outputs mean), and a UNet trained with the
// usual ε-prediction loss on the VAE latents of captioned shapes. Writes a diffusers folder.
// Deterministic for a seed (given the same ORT build and thread count).
import { mkdir, writeFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildClipTextGraph,
  buildVaeEncoderGraph,
  clipTextConfigFromJson,
  ClipTokenizer,
  memoryWeights,
  syntheticWeights,
  unetConfigFromJson,
  vaeConfigFromJson,
  type WeightTensor,
} from '../models/index.js';
import { Session } from '../onnx/index.js';
import {
  fromFloat32,
  openSafetensors,
  toFloat32,
  writeSafetensors,
  type TensorToWrite,
} from '../formats/index.js';
import { randn } from './randn.js';
import {
  BASE_COLORS,
  BASE_SHAPES,
  mulberry32,
  renderRandomColorSet,
  renderShapeSet,
  rgbToChw,
  type ShapeImage,
} from './shapes.js';
import {
  DEMO_IMAGE_SIZE,
  DEMO_MODEL_INDEX,
  DEMO_SCHEDULER_CONFIG,
  DEMO_TEXT_ENCODER_CONFIG,
  DEMO_UNET_CONFIG,
  DEMO_VAE_CONFIG,
} from './demo-model-config.js';
import {
  buildUnetTrainGraph,
  buildVaeTrainGraph,
  FullTrainer,
  initialWeights,
  syntheticValues,
  type FullTrainGraph,
  type TrainableParam,
} from './full-train.js';

export interface BuildBaseOptions {
  outDir: string;
  seed: number;
  vaeSteps: number;
  unetSteps: number;
  /** Images per (shape, colour, background) combination (90 combinations). */
  perCombination: number;
  /** Store weights as float16 (half the size; the loader converts once on the CPU). */
  float16: boolean;
  /** ORT intra-op threads; 1 is fastest for these small graphs on a busy machine. */
  threads: number;
  /**
   * Continue from an earlier build (a demo model folder): its VAE is kept (vaeSteps ignored) and
   * its UNet is the starting point; the text encoder is the same seeded one either way.
   */
  from?: string;
  /** Write the model folder every N UNet steps too, to look at it while training goes on. */
  snapshotEvery?: number;
  onLog?: (line: string) => void;
}

export const DEFAULT_BUILD_BASE: Omit<BuildBaseOptions, 'outDir'> = {
  seed: 20261123,
  vaeSteps: 3000,
  unetSteps: 4000,
  perCombination: 8,
  float16: false,
  threads: 1,
};

const VAE_CROP = 32;
const VAE_BATCH = 16;
const UNET_BATCH = 32;
const CAPTION_DROPOUT = 0.1;

/** Linear warm-up then cosine decay to 10 % (per step, 1-based). */
export function warmupCosine(step: number, total: number, peak: number, warmup: number): number {
  if (step <= warmup) return (peak * step) / warmup;
  const p = (step - warmup) / Math.max(1, total - warmup);
  return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, p))));
}

function every(steps: number): number {
  return Math.max(1, Math.round(steps / 10));
}

async function trainVae(
  images: readonly Uint8Array[],
  o: BuildBaseOptions,
  log: (s: string) => void,
) {
  const cfg = vaeConfigFromJson(DEMO_VAE_CONFIG as unknown as Record<string, unknown>);
  const spec = buildVaeTrainGraph(cfg, { batch: VAE_BATCH, size: VAE_CROP, klWeight: 1e-4 });
  const params = initialWeights(spec.params, o.seed + 1);
  const trainer = await FullTrainer.create(spec, params, {
    weightDecay: 0,
    maxGradNorm: 1,
    intraOpThreads: o.threads,
  });
  const next = mulberry32(o.seed + 2);
  const S = DEMO_IMAGE_SIZE;
  const chw = images.map((rgb) => rgbToChw(rgb, S));
  const latentSide = VAE_CROP / 8;
  const t0 = performance.now();
  let avg = 0;
  try {
    for (let step = 1; step <= o.vaeSteps; step++) {
      const batch = new Float32Array(VAE_BATCH * 3 * VAE_CROP * VAE_CROP);
      for (let b = 0; b < VAE_BATCH; b++) {
        const src = chw[Math.floor(next() * chw.length)];
        const x0 = Math.floor(next() * (S - VAE_CROP + 1));
        const y0 = Math.floor(next() * (S - VAE_CROP + 1));
        const flip = next() < 0.5;
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < VAE_CROP; y++)
            for (let x = 0; x < VAE_CROP; x++) {
              const sx = flip ? x0 + VAE_CROP - 1 - x : x0 + x;
              batch[((b * 3 + c) * VAE_CROP + y) * VAE_CROP + x] = src[(c * S + y0 + y) * S + sx];
            }
      }
      const eps = randn(VAE_BATCH * 4 * latentSide * latentSide, next);
      const { loss } = await trainer.step(
        {
          image: { dtype: 'float32', shape: [VAE_BATCH, 3, VAE_CROP, VAE_CROP], data: batch },
          eps: { dtype: 'float32', shape: [VAE_BATCH, 4, latentSide, latentSide], data: eps },
        },
        warmupCosine(step, o.vaeSteps, 2e-3, 50),
      );
      avg = step === 1 ? loss : 0.98 * avg + 0.02 * loss;
      if (step % every(o.vaeSteps) === 0 || step === o.vaeSteps)
        log(
          `vae step ${step}/${o.vaeSteps} loss ${avg.toFixed(5)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
    }
  } finally {
    await trainer.release();
  }
  return { cfg, params, seconds: (performance.now() - t0) / 1000 };
}

function toWeightTensors(
  params: ReadonlyMap<string, Float32Array>,
  specs: readonly TrainableParam[],
) {
  const m = new Map<string, WeightTensor>();
  for (const p of specs) {
    const v = params.get(p.name)!;
    m.set(p.name, {
      dtype: 'float32',
      shape: p.shape,
      data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    });
  }
  return m;
}

/** Encode every image with the trained encoder: latent means [N, 4, 8, 8] and 1/std over all of them. */
async function encodeAll(
  images: readonly ShapeImage[],
  vae: Awaited<ReturnType<typeof trainVae>>,
  weights: Map<string, WeightTensor>,
  threads: number,
) {
  const S = DEMO_IMAGE_SIZE;
  const graph = buildVaeEncoderGraph(vae.cfg, memoryWeights(weights), {
    batch: 1,
    height: S,
    width: S,
  });
  const session = await Session.create(graph, { ep: 'cpu', intraOpNumThreads: threads });
  const L = 4 * (S / 8) * (S / 8);
  const latents = new Float32Array(images.length * L);
  try {
    for (let i = 0; i < images.length; i++) {
      const out = await session.run({
        image: { dtype: 'float32', shape: [1, 3, S, S], data: rgbToChw(images[i].rgb, S) },
      });
      latents.set(out.latent_mean.data as Float32Array, i * L);
    }
  } finally {
    await session.release();
  }
  let sum = 0;
  let sq = 0;
  for (const v of latents) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / latents.length;
  const std = Math.sqrt(sq / latents.length - mean * mean);
  return { latents, perImage: L, scalingFactor: 1 / std };
}

/** Seeded random text encoder, its weights, and the embeddings [77, hidden] of each caption. */
async function textEmbeddings(captions: readonly string[], o: BuildBaseOptions) {
  const cfg = clipTextConfigFromJson(
    DEMO_TEXT_ENCODER_CONFIG as unknown as Record<string, unknown>,
  );
  const src = syntheticWeights({ fill: 'random', seed: o.seed + 3, location: 'text-encoder.bin' });
  const graph = buildClipTextGraph(cfg, src, { batch: 1 });
  const blob = src.blob();
  const weights = syntheticValues(src, blob);
  const session = await Session.create(graph, {
    ep: 'cpu',
    intraOpNumThreads: o.threads,
    externalData: [{ path: src.location, data: blob }],
  });
  const tokenizer = await ClipTokenizer.sd1();
  const embeddings = new Map<string, Float32Array>();
  try {
    for (const caption of captions) {
      const ids = BigInt64Array.from(tokenizer.encodeForModel(caption), (v) => BigInt(v));
      const out = await session.run({
        input_ids: { dtype: 'int64', shape: [1, ids.length], data: ids },
      });
      embeddings.set(caption, out.prompt_embeds.data as Float32Array);
    }
  } finally {
    await session.release();
  }
  const shapes = new Map(src.tensors.map((t) => [t.name, t.shape]));
  return { cfg, weights, shapes, embeddings };
}

async function trainUnet(
  latents: Float32Array,
  perImage: number,
  captions: readonly string[],
  embeddings: ReadonlyMap<string, Float32Array>,
  o: BuildBaseOptions,
  log: (s: string) => void,
  snapshot: (weights: ReadonlyMap<string, Float32Array>, spec: FullTrainGraph) => Promise<void>,
  init?: Map<string, Float32Array>,
) {
  const cfg = unetConfigFromJson(DEMO_UNET_CONFIG as unknown as Record<string, unknown>);
  const side = DEMO_IMAGE_SIZE / 8;
  const spec = buildUnetTrainGraph(cfg, { batch: UNET_BATCH, latentSize: side, seqLen: 77 });
  const params = init ?? initialWeights(spec.params, o.seed + 4);
  const trainer = await FullTrainer.create(spec, params, {
    weightDecay: 0.01,
    maxGradNorm: 1,
    emaDecay: 0.999,
    intraOpThreads: o.threads,
  });
  const next = mulberry32(o.seed + 5);
  const n = captions.length;
  const embLen = embeddings.get('')!.length;
  const t0 = performance.now();
  let avg = 0;
  try {
    for (let step = 1; step <= o.unetSteps; step++) {
      const x = new Float32Array(UNET_BATCH * perImage);
      const ehs = new Float32Array(UNET_BATCH * embLen);
      const ts = new BigInt64Array(UNET_BATCH);
      for (let b = 0; b < UNET_BATCH; b++) {
        const i = Math.floor(next() * n);
        x.set(latents.subarray(i * perImage, (i + 1) * perImage), b * perImage);
        // Caption dropout teaches the unconditional prediction that classifier-free guidance needs.
        ehs.set(embeddings.get(next() < CAPTION_DROPOUT ? '' : captions[i])!, b * embLen);
        ts[b] = BigInt(Math.floor(next() * 1000));
      }
      const { loss } = await trainer.step(
        {
          latents: { dtype: 'float32', shape: [UNET_BATCH, 4, side, side], data: x },
          noise: {
            dtype: 'float32',
            shape: [UNET_BATCH, 4, side, side],
            data: randn(x.length, next),
          },
          timesteps: { dtype: 'int64', shape: [UNET_BATCH], data: ts },
          encoder_hidden_states: {
            dtype: 'float32',
            shape: [UNET_BATCH, 77, cfg.crossAttentionDim],
            data: ehs,
          },
        },
        warmupCosine(step, o.unetSteps, 1e-3, 100),
      );
      avg = step === 1 ? loss : 0.99 * avg + 0.01 * loss;
      if (step % every(o.unetSteps) === 0 || step === o.unetSteps)
        log(
          `unet step ${step}/${o.unetSteps} loss ${avg.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
      if (o.snapshotEvery && step % o.snapshotEvery === 0 && step < o.unetSteps)
        await snapshot(trainer.ema ?? params, spec);
    }
  } finally {
    await trainer.release();
  }
  return { spec, weights: trainer.ema ?? params, seconds: (performance.now() - t0) / 1000 };
}

function tensorsToWrite(
  weights: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, readonly number[]>,
  float16: boolean,
): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, v] of weights) {
    const shape = shapes.get(name)!;
    if (!float16) out.set(name, { dtype: 'float32', shape, data: v });
    else out.set(name, { dtype: 'float16', shape, data: fromFloat32(v, 'float16') });
  }
  return out;
}

/** Every tensor of a safetensors file as float32. */
async function readFloat32(path: string): Promise<Map<string, Float32Array>> {
  const file = await openSafetensors(path);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of file.names()) {
      const t = await file.readTensorData(name);
      out.set(name, toFloat32(t.bytes, t.dtype));
    }
    return out;
  } finally {
    await file.close();
  }
}

/** Writes the diffusers folder next to `outDir` and renames it over (never half-written). Returns weight bytes. */
async function writeModelFolder(
  outDir: string,
  vaeConfig: unknown,
  files: {
    te: Map<string, TensorToWrite>;
    unet: Map<string, TensorToWrite>;
    vae: Map<string, TensorToWrite>;
  },
): Promise<number> {
  const tmp = `${outDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  const put = async (rel: string, content: string) => {
    await mkdir(join(tmp, rel, '..'), { recursive: true });
    await writeFile(join(tmp, rel), content);
  };
  await put('model_index.json', json(DEMO_MODEL_INDEX));
  await put('scheduler/scheduler_config.json', json(DEMO_SCHEDULER_CONFIG));
  await put('text_encoder/config.json', json(DEMO_TEXT_ENCODER_CONFIG));
  await put('unet/config.json', json(DEMO_UNET_CONFIG));
  await put('vae/config.json', json(vaeConfig));
  let bytes = 0;
  for (const [rel, tensors] of [
    ['text_encoder/model.safetensors', files.te],
    ['unet/diffusion_pytorch_model.safetensors', files.unet],
    ['vae/diffusion_pytorch_model.safetensors', files.vae],
  ] as const) {
    await writeSafetensors(join(tmp, rel), tensors, { format: 'pt' });
    for (const t of tensors.values()) bytes += (t.data as ArrayBufferView).byteLength;
  }
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
  return bytes;
}

export interface BuildBaseReport {
  readonly outDir: string;
  readonly images: number;
  readonly vaeSeconds: number;
  readonly unetSeconds: number;
  readonly scalingFactor: number;
  readonly bytes: number;
}

/** Train the demo model and write it as a diffusers folder at `outDir` (replaced atomically). */
export async function buildDemoBaseModel(o: BuildBaseOptions): Promise<BuildBaseReport> {
  const log = o.onLog ?? (() => {});
  const images = renderShapeSet({
    size: DEMO_IMAGE_SIZE,
    seed: o.seed,
    shapes: BASE_SHAPES,
    colors: BASE_COLORS,
    backgrounds: BASE_COLORS,
    perCombination: o.perCombination,
  });
  log(`${images.length} shape images of ${DEMO_IMAGE_SIZE}×${DEMO_IMAGE_SIZE}`);
  const vae = o.from
    ? {
        cfg: vaeConfigFromJson(DEMO_VAE_CONFIG as unknown as Record<string, unknown>),
        params: await readFloat32(join(o.from, 'vae', 'diffusion_pytorch_model.safetensors')),
        seconds: 0,
      }
    : await trainVae(
        [
          ...images.map((im) => im.rgb),
          ...renderRandomColorSet({
            size: DEMO_IMAGE_SIZE,
            seed: o.seed + 6,
            count: images.length,
          }),
        ],
        o,
        log,
      );
  const vaeSpecs = buildVaeTrainGraph(vae.cfg, { batch: 1, size: VAE_CROP, klWeight: 0 }).params;
  const vaeWeights = toWeightTensors(vae.params, vaeSpecs);
  const enc = await encodeAll(images, vae, vaeWeights, o.threads);
  log(`latents encoded; scaling factor ${enc.scalingFactor.toFixed(4)}`);
  const scaled = enc.latents.map((v) => v * enc.scalingFactor);
  const captions = images.map((im) => im.caption);
  const te = await textEmbeddings([...new Set(['', ...captions])], o);
  const vaeConfig = { ...DEMO_VAE_CONFIG, scaling_factor: Number(enc.scalingFactor.toFixed(5)) };
  const vaeFile = tensorsToWrite(
    vae.params,
    new Map(vaeSpecs.map((p) => [p.name, p.shape])),
    o.float16,
  );
  const teFile = tensorsToWrite(te.weights, te.shapes, o.float16);
  let bytes = 0;
  const write = async (weights: ReadonlyMap<string, Float32Array>, spec: FullTrainGraph) => {
    const unetFile = tensorsToWrite(
      weights,
      new Map(spec.params.map((p) => [p.name, p.shape])),
      o.float16,
    );
    bytes = await writeModelFolder(o.outDir, vaeConfig, {
      te: teFile,
      unet: unetFile,
      vae: vaeFile,
    });
  };
  const unetInit = o.from
    ? await readFloat32(join(o.from, 'unet', 'diffusion_pytorch_model.safetensors'))
    : undefined;
  const unet = await trainUnet(
    scaled,
    enc.perImage,
    captions,
    te.embeddings,
    o,
    log,
    async (w, spec) => {
      await write(w, spec);
      log(`snapshot written to ${o.outDir}`);
    },
    unetInit,
  );
  await write(unet.weights, unet.spec);
  return {
    outDir: o.outDir,
    images: images.length,
    vaeSeconds: vae.seconds,
    unetSeconds: unet.seconds,
    scalingFactor: enc.scalingFactor,
    bytes,
  };
}
