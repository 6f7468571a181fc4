// generate.start: checks a request against the registry and the disk (so mistakes fail the
// call, not the job), then runs it as a job whose images become generations rows.
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  SAMPLER_LABELS,
  type ApiParsedInput,
  type GenerationParams,
  type Model,
  type ModelKind,
} from '../api.js';
import type { GenerateOptions, GenerateParams, GeneratedImage } from '../generate/index.js';
import { convertOutputImage } from '../library/index.js';
import { badRequest, notFound } from './errors.js';
import type { JobHandle, JobOutcome, JobSpec } from './jobs.js';
import type { ServiceContext } from './context.js';

/** The pipeline as a dependency: core/generate's `generate` bound to an engine, or a test double. */
export type GenerateFn = (
  params: GenerateParams,
  opts: GenerateOptions,
) => Promise<GeneratedImage[]>;

type Request = ApiParsedInput<'generate.start'>;

export interface PreparedGeneration {
  params: GenerateParams;
  modelId: number | null;
  previewEvery: number;
  /** `<lora:name:w>` tag name (lower case) → file of a registered LoRA. */
  loraByName: Map<string, string>;
  label: string;
}

/** Where images go: the outputDir setting, else `<data dir>/outputs`; one folder a day. */
export function generationOutputDir(
  ctx: ServiceContext,
  img2img: boolean,
  now = new Date(),
): string {
  const base = ctx.store.settings.getAll().outputDir ?? path.join(ctx.dataDir, 'outputs');
  const day = now.toISOString().slice(0, 10);
  return path.join(base, img2img ? 'img2img' : 'txt2img', day);
}

function requireModel(ctx: ServiceContext, id: number, kind: ModelKind, field: string): Model {
  const model = ctx.store.models.get(id);
  if (!model) throw notFound(`${field}: model #${id} does not exist`);
  if (model.kind !== kind) {
    throw badRequest(`${field}: model #${id} ("${model.name}") is a ${model.kind}, not a ${kind}`);
  }
  return model;
}

async function requireOnDisk(file: string, field: string): Promise<string> {
  const resolved = path.resolve(file);
  const exists = await fs.stat(resolved).then(
    () => true,
    () => false,
  );
  if (!exists) throw badRequest(`${field}: no such file or folder "${resolved}"`);
  return resolved;
}

function decodeBase64(text: string, field: string): Uint8Array {
  const bytes = Buffer.from(text.replace(/^data:[^,]*,/, ''), 'base64');
  if (bytes.length === 0) throw badRequest(`${field}: the base64 text decodes to no bytes`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function labelFor(req: Request): string {
  const images = req.batchCount * req.batchSize;
  const prompt = req.prompt.trim().replace(/\s+/g, ' ');
  const short = prompt.length > 40 ? `${prompt.slice(0, 39)}…` : prompt || '(empty prompt)';
  return `Generate ${images} image${images === 1 ? '' : 's'}: ${short}`;
}

export async function prepareGeneration(
  req: Request,
  ctx: ServiceContext,
): Promise<PreparedGeneration> {
  let modelId: number | null;
  let modelPath: string;
  // A request that names no checkpoint (or VAE) uses the defaults set in Models/Settings.
  const defaults = ctx.store.settings.getAll();
  if (req.modelId === undefined && req.modelPath === undefined) {
    if (defaults.defaultCheckpointId === null)
      throw badRequest(
        'modelId: give modelId (a registered checkpoint) or modelPath ' +
          '(no default checkpoint is set; set one on the Models screen)',
      );
    req = { ...req, modelId: defaults.defaultCheckpointId };
  }
  if (req.vaeId === undefined && req.vaePath === undefined && defaults.defaultVaeId !== null)
    req = { ...req, vaeId: defaults.defaultVaeId };
  if (req.modelId !== undefined) {
    const model = requireModel(ctx, req.modelId, 'checkpoint', 'modelId');
    modelId = model.id;
    modelPath = await requireOnDisk(model.path, `modelId: model #${model.id}'s path`);
  } else {
    modelPath = await requireOnDisk(req.modelPath!, 'modelPath');
    modelId = ctx.store.models.getByPath(modelPath)?.id ?? null;
  }
  let vaePath: string | undefined;
  if (req.vaeId !== undefined) {
    const vae = requireModel(ctx, req.vaeId, 'vae', 'vaeId');
    vaePath = await requireOnDisk(vae.path, `vaeId: model #${vae.id}'s path`);
  } else if (req.vaePath !== undefined) {
    vaePath = await requireOnDisk(req.vaePath, 'vaePath');
  }
  const loras: GenerateParams['loras'] = [];
  for (const [i, choice] of req.loras.entries()) {
    const field = `loras.${i}`;
    const file =
      choice.modelId !== undefined
        ? requireModel(ctx, choice.modelId, 'lora', `${field}.modelId`).path
        : choice.path!;
    loras.push({ path: await requireOnDisk(file, `${field}.path`), strength: choice.strength });
  }
  // Prompt tags name LoRAs the way A1111 does: by file name, or by the name shown here.
  const loraByName = new Map<string, string>();
  for (const lora of ctx.store.models.list({ kind: 'lora' })) {
    loraByName.set(path.basename(lora.path, path.extname(lora.path)).toLowerCase(), lora.path);
    if (!loraByName.has(lora.name.toLowerCase()))
      loraByName.set(lora.name.toLowerCase(), lora.path);
  }
  const img2img = req.initImage !== undefined;
  const params: GenerateParams = {
    modelPath,
    ...(vaePath !== undefined && { vaePath }),
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    sampler: SAMPLER_LABELS[req.sampler] as GenerateParams['sampler'],
    steps: req.steps,
    cfgScale: req.cfgScale,
    seed: req.seed,
    width: req.width,
    height: req.height,
    batchCount: req.batchCount,
    batchSize: req.batchSize,
    clipSkip: req.clipSkip,
    loras,
    ...(img2img && { initImage: decodeBase64(req.initImage!, 'initImage') }),
    ...(req.denoisingStrength !== undefined && { denoisingStrength: req.denoisingStrength }),
    ep: req.ep ?? ctx.store.settings.getAll().executionProvider,
    outputDir: generationOutputDir(ctx, img2img),
    saveLatents: req.saveLatents,
  };
  return { params, modelId, previewEvery: req.previewEvery, loraByName, label: labelFor(req) };
}

/** The row stored for each image (its sampler under our id, as the contract has it). */
function rowParams(req: Request, p: GenerateParams, image: GeneratedImage): GenerationParams {
  return {
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    sampler: req.sampler,
    steps: p.steps,
    cfgScale: p.cfgScale,
    width: image.width,
    height: image.height,
    clipSkip: p.clipSkip,
    loras: p.loras.map((l) => ({ path: l.path, strength: l.strength })),
    modelPath: p.modelPath,
    ...(p.vaePath !== undefined && { vaePath: p.vaePath }),
    ...(p.denoisingStrength !== undefined && { denoisingStrength: p.denoisingStrength }),
    infotext: image.infotext,
  };
}

export function generationJob(
  req: Request,
  prepared: PreparedGeneration,
  generate: GenerateFn,
  ctx: ServiceContext,
): JobSpec {
  const { params } = prepared;
  const imageCount = params.batchCount * params.batchSize;
  return {
    kind: 'generate',
    label: prepared.label,
    async run(job: JobHandle): Promise<JobOutcome> {
      const record = (images: readonly GeneratedImage[]): number[] => {
        const ids = ctx.store.db.transaction(() =>
          images.map(
            (image) =>
              ctx.store.generations.add({
                modelId: prepared.modelId,
                filePath: image.path,
                seed: image.seed,
                params: rowParams(req, params, image),
              }).id,
          ),
        )();
        job.addGenerations(ids);
        if (ids.length) ctx.changed('generations', ids);
        return ids;
      };
      // The first job on a model builds its sessions, which takes a while: say so.
      job.report({ progress: 0, message: 'Loading the model…' });
      let images: GeneratedImage[];
      try {
        images = await generate(params, {
          signal: job.signal,
          previewEvery: prepared.previewEvery,
          resolveLora: (name) => prepared.loraByName.get(name.toLowerCase()),
          onProgress: (p) => {
            // Images of one batch are denoised together: a step advances all of them.
            const inBatch = Math.min(params.batchSize, Math.max(1, p.imageCount - p.imageIndex));
            const done = p.imageIndex + (inBatch * p.step) / Math.max(1, p.totalSteps);
            const last = p.imageIndex + inBatch;
            job.report({
              progress: done / Math.max(1, p.imageCount),
              step: p.step,
              total: p.totalSteps,
              message:
                p.imageCount > 1
                  ? `Image ${p.imageIndex + 1}${last > p.imageIndex + 1 ? `–${last}` : ''} of ${p.imageCount} · step ${p.step} of ${p.totalSteps}`
                  : `Step ${p.step} of ${p.totalSteps}`,
              previewPng: p.previewPng,
            });
          },
        });
      } catch (err) {
        // A cancelled run keeps the images it finished (they are on disk): list them too.
        const completed = (err as { completed?: unknown } | null)?.completed;
        if ((err as Error | null)?.name === 'CancelledError' && Array.isArray(completed)) {
          record(completed as GeneratedImage[]);
        }
        throw err;
      }
      if (images.length !== imageCount) {
        throw new Error(
          `the pipeline returned ${images.length} images, ${imageCount} were asked for`,
        );
      }
      // The default output format setting: webp/jpeg carry the infotext in EXIF UserComment.
      const format = ctx.store.settings.getAll().defaultOutputFormat;
      images = await Promise.all(images.map((image) => convertOutputImage(image, format)));
      return { result: { generationIds: record(images) } };
    },
  };
}
