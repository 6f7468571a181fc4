// The LoRA library and the generations history: LoRA details A1111-style (core/library), the
// training run a LoRA came from, comparison grids as jobs saved under `<dataDir>/grids/`,
// Copy to… a configured LoRA folder, the Civitai export, and history search.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SAMPLER_LABELS, type LoraEntry, type Model } from '../api.js';
import type { SamplerName } from '../generate/index.js';
import { suggestModelFolders } from '../hub/index.js';
import {
  LibraryFileError,
  copyLoraTo,
  exportForCivitai,
  gridImageFile,
  listGrids,
  loraFacts,
  renderBeforeAfter,
  renderStrengthSweep,
  saveGrid,
  tagFrequency,
  triggerWords,
  type GridOptions,
} from '../library/index.js';
import type { Handlers, ServiceContext } from './context.js';
import { badRequest, notFound, ServiceError } from './errors.js';
import { runDetails } from './training-jobs.js';

type LibraryLoraMethods =
  | 'library.loras'
  | 'library.lora'
  | 'library.renderGrid'
  | 'library.image'
  | 'library.copyTargets'
  | 'library.copyTo'
  | 'library.exportCivitai'
  | 'generations.search';

function requireLora(ctx: ServiceContext, id: number): Model {
  const model = ctx.store.models.get(id);
  if (!model) throw notFound(`id: model #${id} does not exist`);
  if (model.kind !== 'lora') throw badRequest(`id: model #${id} is a ${model.kind}, not a lora`);
  return model;
}

async function requireFile(model: Model): Promise<string> {
  const stat = await fs.stat(model.path).catch(() => null);
  if (!stat?.isFile()) throw badRequest(`id: model #${model.id}'s file is missing (${model.path})`);
  return model.path;
}

/** A registry row with the run that exported its file (artifacts are matched by path). */
function entryOf(ctx: ServiceContext, model: Model): LoraEntry {
  const file = path.resolve(model.path);
  const artifact = ctx.store.artifacts.list().find((a) => path.resolve(a.path) === file);
  const run = artifact?.runId != null ? ctx.store.runs.get(artifact.runId) : undefined;
  return {
    model,
    run: run ? { id: run.id, name: run.name, status: run.status } : null,
    artifactId: artifact?.id ?? null,
    triggerWords: triggerWords(model.metadata),
  };
}

async function samplesOf(ctx: ServiceContext, entry: LoraEntry) {
  const run = entry.run && ctx.store.runs.get(entry.run.id);
  if (!run) return [];
  const { samples } = await runDetails(ctx, run);
  return samples.map((s, index) => ({ ...s, index }));
}

function libraryError(err: unknown): never {
  if (err instanceof LibraryFileError)
    throw new ServiceError(err.code === 'exists' ? 'conflict' : 'bad_request', err.message);
  throw err;
}

/** LoRA folders among the configured model folders: a folder itself, or an install's. */
async function copyTargets(ctx: ServiceContext) {
  const out: { path: string; layout: 'a1111' | 'comfyui' | 'folder' }[] = [];
  const seen = new Set<string>();
  const add = (p: string, layout: 'a1111' | 'comfyui' | 'folder') => {
    const resolved = path.resolve(p);
    if (!seen.has(resolved)) out.push({ path: resolved, layout });
    seen.add(resolved);
  };
  for (const dir of ctx.store.settings.getAll().modelDirs) {
    if (!(await fs.stat(dir).catch(() => null))?.isDirectory()) continue;
    if (/^(lora|loras|lycoris)$/i.test(path.basename(dir))) add(dir, 'folder');
    for (const s of await suggestModelFolders(dir).catch(() => []))
      if (s.role === 'lora') add(s.path, s.layout);
  }
  return out;
}

async function readPng(file: string | null, what: string): Promise<string> {
  if (!file) throw notFound(`${what}: no such image`);
  return (await fs.readFile(file)).toString('base64');
}

export const libraryLoraHandlers: Pick<Handlers, LibraryLoraMethods> = {
  'library.loras': (_input, ctx) =>
    ctx.store.models.list({ kind: 'lora' }).map((m) => entryOf(ctx, m)),

  'library.lora': async (input, ctx) => {
    const entry = entryOf(ctx, requireLora(ctx, input.id));
    return {
      ...entry,
      facts: loraFacts(entry.model.metadata),
      tagFrequency: tagFrequency(entry.model.metadata),
      samples: await samplesOf(ctx, entry),
      grids: await listGrids(ctx.dataDir, entry.model.id),
    };
  },

  'library.renderGrid': async (input, ctx) => {
    const lora = requireLora(ctx, input.id);
    const loraFile = await requireFile(lora);
    const settings = ctx.store.settings.getAll();
    const checkpointId = input.checkpointId ?? settings.defaultCheckpointId;
    if (checkpointId === null) {
      throw badRequest(
        'checkpointId: give a checkpoint (no default checkpoint is set; set one on the Models screen)',
      );
    }
    const ckpt = ctx.store.models.get(checkpointId);
    if (!ckpt || ckpt.kind !== 'checkpoint')
      throw badRequest(`checkpointId: #${checkpointId} is not a registered checkpoint`);
    if (!(await fs.stat(ckpt.path).catch(() => null)))
      throw badRequest(`checkpointId: #${ckpt.id}'s file is missing (${ckpt.path})`);
    const vae = settings.defaultVaeId !== null ? ctx.store.models.get(settings.defaultVaeId) : null;
    const label = `${input.kind === 'strength-sweep' ? 'Strength sweep' : 'Before/after'} of ${lora.name}`;
    const job = ctx.jobs.enqueue({
      kind: 'eval',
      label,
      run: async (handle) => {
        handle.report({ progress: 0, message: 'Loading the model…' });
        const opts: GridOptions = {
          modelPath: ckpt.path,
          ...(vae && { vaePath: vae.path }),
          lora: loraFile,
          prompts: input.prompts,
          seed: input.seed,
          steps: input.steps,
          width: input.width,
          height: input.height,
          sampler: SAMPLER_LABELS[input.sampler] as SamplerName,
          cfgScale: input.cfgScale,
          negativePrompt: input.negativePrompt,
          ep: settings.executionProvider,
          signal: handle.signal,
          onProgress: (done, total) =>
            handle.report({
              progress: (done / total) * 0.98,
              step: done,
              total,
              message: `Image ${done} of ${total}`,
            }),
        };
        const result =
          input.kind === 'strength-sweep'
            ? await renderStrengthSweep(ctx.generate, { ...opts, strengths: input.strengths })
            : await renderBeforeAfter(ctx.generate, { ...opts, strength: input.strength });
        const grid = await saveGrid(
          ctx.dataDir,
          {
            loraModelId: lora.id,
            kind: input.kind,
            seed: input.seed,
            settings: {
              checkpoint: ckpt.name,
              sampler: input.sampler,
              steps: input.steps,
              cfgScale: input.cfgScale,
              width: input.width,
              height: input.height,
              negativePrompt: input.negativePrompt,
            },
          },
          result,
        );
        ctx.changed('models', [lora.id]);
        return { result: { grid } };
      },
    });
    return { jobId: job.id };
  },

  'library.image': async (input, ctx) => {
    if ('gridId' in input) {
      const file = await gridImageFile(ctx.dataDir, input.gridId, input.cell);
      return { mime: 'image/png', data: await readPng(file, `grid ${input.gridId}`) };
    }
    const entry = entryOf(ctx, requireLora(ctx, input.loraId));
    const sample = (await samplesOf(ctx, entry))[input.sample];
    if (!sample) throw notFound(`sample: LoRA #${input.loraId} has no sample ${input.sample}`);
    return { mime: 'image/png', data: await readPng(sample.path, `sample ${input.sample}`) };
  },

  'library.copyTargets': (_input, ctx) => copyTargets(ctx),

  'library.copyTo': async (input, ctx) => {
    const lora = requireLora(ctx, input.id);
    const file = await requireFile(lora);
    const targets = await copyTargets(ctx);
    const folder = path.resolve(input.folder);
    if (!targets.some((t) => t.path === folder)) {
      throw badRequest(
        `folder: "${folder}" is not a configured LoRA folder (valid: ${
          targets.map((t) => t.path).join(', ') || 'none; add one in Settings → model folders'
        })`,
      );
    }
    const dest = await copyLoraTo(file, folder, input).catch(libraryError);
    return { path: dest };
  },

  'library.exportCivitai': async (input, ctx) => {
    const lora = requireLora(ctx, input.id);
    const file = await requireFile(lora);
    const entry = entryOf(ctx, lora);
    // Preview: the newest grid's first row at its strongest LoRA, else the newest sample.
    const [grid] = await listGrids(ctx.dataDir, lora.id);
    let preview: Buffer | null = null;
    const strongest = grid?.cells
      .slice(0, grid.columns.length)
      .reduce(
        (best, c, i, row) =>
          (c.strength ?? -Infinity) > (row[best].strength ?? -Infinity) ? i : best,
        0,
      );
    const cell = grid && (await gridImageFile(ctx.dataDir, grid.id, strongest));
    if (cell) preview = await fs.readFile(cell);
    else {
      const samples = await samplesOf(ctx, entry);
      const newest = samples.sort((a, b) => b.step - a.step)[0];
      if (newest) preview = await fs.readFile(newest.path).catch(() => null);
    }
    const stat = await fs.stat(input.folder).catch(() => null);
    if (stat && !stat.isDirectory()) throw badRequest(`folder: "${input.folder}" is a file`);
    const out = await exportForCivitai(
      file,
      input.folder,
      {
        name: lora.name,
        metadata: lora.metadata,
        hashes: lora.hashes,
        run: entry.run && { id: entry.run.id, name: entry.run.name },
      },
      { preview, overwrite: input.overwrite },
    ).catch(libraryError);
    return out;
  },

  'generations.search': (input, ctx) => {
    let loraPath: string | undefined;
    if (input.loraId !== undefined) loraPath = requireLora(ctx, input.loraId).path;
    if (input.modelId !== undefined && !ctx.store.models.get(input.modelId))
      throw notFound(`modelId: model #${input.modelId} does not exist`);
    return ctx.store.generations.search({ ...input, loraPath });
  },
};

/** For serve mode's file route: a grid sheet or cell PNG inside the grids folder, or null. */
export function gridFilePath(dataDir: string, id: string, cell?: number): Promise<string | null> {
  return gridImageFile(dataDir, id, cell);
}
