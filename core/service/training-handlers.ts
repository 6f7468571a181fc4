// Training runs, exported artifacts and generated images.
import fs from 'node:fs/promises';
import path from 'node:path';
import { badRequest, conflict, notFound } from './errors.js';
import { generationImageBase64 } from './generate-handlers.js';
import { runDetails } from './training-jobs.js';
import type { Handlers, ServiceContext } from './context.js';

type TrainingMethods =
  | 'runs.list'
  | 'runs.get'
  | 'runs.create'
  | 'runs.remove'
  | 'artifacts.list'
  | 'generations.list'
  | 'generations.get'
  | 'generations.remove';

// A run in these states has a trainer attached; removing its rows would pull them from under it.
const ACTIVE_RUN_STATUSES = new Set(['queued', 'running', 'paused']);

function requireRun(ctx: ServiceContext, id: number) {
  const run = ctx.store.runs.get(id);
  if (!run) throw notFound(`run #${id} does not exist`);
  return run;
}

/** True when `file` (after resolving symlinks) lies inside `dir`. */
async function isInside(dir: string, file: string): Promise<boolean> {
  const [realDir, realFile] = await Promise.all([
    fs.realpath(dir).catch(() => path.resolve(dir)),
    fs.realpath(file).catch(() => null),
  ]);
  if (!realFile) return false;
  const rel = path.relative(realDir, realFile);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export const trainingHandlers: Pick<Handlers, TrainingMethods> = {
  'runs.list': (input, ctx) => ctx.store.runs.list(input),

  'runs.get': (input, ctx) => runDetails(ctx, requireRun(ctx, input.id)),

  'runs.create': (input, ctx) => {
    if (!ctx.store.datasets.get(input.datasetId)) {
      throw notFound(`datasetId: dataset #${input.datasetId} does not exist`);
    }
    const model = ctx.store.models.get(input.baseModelId);
    if (!model) throw notFound(`baseModelId: model #${input.baseModelId} does not exist`);
    if (model.kind !== 'checkpoint') {
      throw badRequest(
        `baseModelId: model #${model.id} is a ${model.kind}; a run trains on a checkpoint`,
      );
    }
    const run = ctx.store.runs.create({
      name: input.name,
      datasetId: input.datasetId,
      baseModelId: input.baseModelId,
      config: input.config,
    });
    ctx.changed('runs', [run.id]);
    return run;
  },

  'runs.remove': (input, ctx) => {
    const run = requireRun(ctx, input.id);
    if (ACTIVE_RUN_STATUSES.has(run.status)) {
      throw conflict(`run #${run.id} is ${run.status}; cancel it before removing it`);
    }
    ctx.store.runs.remove(run.id);
    ctx.changed('runs', [run.id]);
    return { id: run.id };
  },

  'artifacts.list': (input, ctx) => {
    if (input.runId !== undefined) requireRun(ctx, input.runId);
    return ctx.store.artifacts.list(input);
  },

  'generations.list': (input, ctx) => ctx.store.generations.list(input),

  'generations.get': async (input, ctx) => {
    const generation = ctx.store.generations.get(input.id);
    if (!generation) throw notFound(`generation #${input.id} does not exist`);
    if (!input.withImage) return generation;
    return { ...generation, image: await generationImageBase64(generation) };
  },

  'generations.remove': async (input, ctx) => {
    const generation = ctx.store.generations.get(input.id);
    if (!generation) throw notFound(`generation #${input.id} does not exist`);
    let fileDeleted = false;
    // Only files inside the app's own folders (data dir, configured output dir) are deleted,
    // so a row that points at some other user file can never remove it.
    const outputDir = ctx.store.settings.getAll().outputDir;
    const ownFolders = outputDir ? [ctx.dataDir, outputDir] : [ctx.dataDir];
    const owned = await Promise.all(ownFolders.map((dir) => isInside(dir, generation.filePath)));
    if (input.deleteFile && owned.includes(true)) {
      await fs.rm(generation.filePath, { force: true });
      fileDeleted = true;
    }
    ctx.store.generations.remove(generation.id);
    ctx.changed('generations', [generation.id]);
    return { id: generation.id, fileDeleted };
  },
};
