// Training runs as jobs: runs.start / runs.cancel / runs.resume queue core/train's trainLora on the
// job runner (one job at a time, off the request path) and forward its events as ApiEvent
// progress (step, loss, lr, it/s, ETA, skipped fp16-overflow steps).
// Pause is cancel-with-checkpoint: trainLora stops before its next step and writes a checkpoint
// (LoRA + optimizer state); runs.resume continues from the newest one, exactly.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ApiOutput, TrainingConfig, TrainingRun } from '../api.js';
import { inspectModelFile } from '../hub/index.js';
import {
  apiConfigOf,
  latestTrainState,
  parseRunConfig,
  readSampleIndex,
  runDirOf,
  runOwnersOf,
  samplesDirOf,
  trainLora,
  type RunConfig,
  type TrainEvent,
} from '../train/index.js';
import type { Handlers, ServiceContext } from './context.js';
import { badRequest, conflict, notFound } from './errors.js';
import type { JobHandle, JobRunner } from './jobs.js';
import { upsertFromInfo } from './model-rows.js';
import { exportDatasetKohya } from './dataset-handlers.js';
import type { Store } from '../store/index.js';

type TrainingJobMethods = 'runs.start' | 'runs.cancel' | 'runs.resume';

interface ActiveRun {
  jobId: string;
  /** runs.cancel asked for a pause: the run ends `paused` instead of `cancelled`. */
  pause: boolean;
}

// Per job runner (i.e. per service): which run each training job works on.
const activeRuns = new WeakMap<JobRunner, Map<number, ActiveRun>>();

function activeOf(ctx: ServiceContext): Map<number, ActiveRun> {
  let map = activeRuns.get(ctx.jobs);
  if (!map) activeRuns.set(ctx.jobs, (map = new Map()));
  return map;
}

/** The training job working on `runId` now, if any. */
export function activeJobOf(ctx: ServiceContext, runId: number): string | null {
  return activeOf(ctx).get(runId)?.jobId ?? null;
}

function requireRun(ctx: ServiceContext, id: number): TrainingRun {
  const run = ctx.store.runs.get(id);
  if (!run) throw notFound(`run #${id} does not exist`);
  return run;
}

/**
 * Runs that a dead process left `running` or `queued` (jobs live in memory, so at startup none
 * can be) become `interrupted`: resumable from their newest checkpoint with runs.resume. Called
 * once when a service opens its store. A CLI run training into the same data dir at that moment
 * would be marked too (it keeps training and sets its own status when it ends).
 */
export function markInterruptedRuns(store: Store): number[] {
  const stale = [
    ...store.runs.list({ status: 'running' }),
    ...store.runs.list({ status: 'queued' }),
  ];
  for (const r of stale)
    store.runs.update(r.id, {
      status: 'interrupted',
      error: `interrupted: the app stopped while the run was ${r.status}; resume continues from its last checkpoint`,
    });
  return stale.map((r) => r.id);
}

const readJson = async (file: string): Promise<unknown> =>
  JSON.parse(await readFile(file, 'utf8')) as unknown;

/** runs.get: the row, its loss/lr series, artifacts, sample images and the full config. */
export async function runDetails(
  ctx: ServiceContext,
  run: TrainingRun,
): Promise<ApiOutput<'runs.get'>> {
  const dir = runDirOf(ctx.dataDir, run.id);
  const runConfig = await readJson(join(dir, 'run.json')).catch(() => null);
  // The sample gallery index core/train writes: { rounds: [{ step, images: [{ file, prompt }] }] }.
  const index = await readSampleIndex(dir).catch(() => ({ rounds: [] }));
  const samples = index.rounds.flatMap((round) =>
    round.images.map((image) => ({
      step: round.step,
      path: join(samplesDirOf(dir), image.file),
      prompt: image.prompt,
    })),
  );
  return {
    ...run,
    steps: ctx.store.runs.steps(run.id),
    artifacts: ctx.store.artifacts.list({ runId: run.id }),
    samples,
    runConfig:
      runConfig && typeof runConfig === 'object' && !Array.isArray(runConfig)
        ? (runConfig as Record<string, unknown>)
        : null,
    jobId: activeJobOf(ctx, run.id),
  };
}

/** A draft's TrainingConfig in kohya names, on its dataset's folder and base checkpoint. */
export function runConfigOfDraft(
  name: string,
  cfg: TrainingConfig,
  paths: { model: string; dataset: string },
): Record<string, unknown> {
  return {
    pretrained_model_name_or_path: paths.model,
    train_data_dir: paths.dataset,
    output_name: name.replace(/[^\w.-]+/g, '_').slice(0, 100) || 'lora',
    network_dim: cfg.rank,
    network_alpha: cfg.alpha,
    learning_rate: cfg.learningRate,
    lr_scheduler: cfg.lrScheduler,
    lr_warmup_steps: cfg.warmupSteps,
    weight_decay: cfg.weightDecay,
    resolution: cfg.resolution,
    min_bucket_reso: Math.min(256, cfg.resolution),
    max_bucket_reso: Math.max(1024, cfg.resolution),
    train_batch_size: cfg.batchSize,
    max_train_steps: cfg.maxSteps,
    save_every_n_epochs: 0,
    save_every_n_steps: cfg.saveEverySteps,
    seed: cfg.seed,
    mixed_precision: cfg.precision === 'fp32' ? 'no' : cfg.precision,
    clip_skip: cfg.clipSkip,
    caption_dropout_rate: cfg.captionDropoutRate,
    shuffle_caption: cfg.shuffleCaptionTags,
    ep: cfg.executionProvider,
  };
}

function parseOrBadRequest(config: unknown): RunConfig {
  try {
    return parseRunConfig(config);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

async function requirePath(field: string, p: string, kind: 'file or folder' | 'folder') {
  const s = await stat(p).catch(() => undefined);
  if (!s) throw badRequest(`${field}: ${JSON.stringify(p)} does not exist`);
  if (kind === 'folder' && !s.isDirectory())
    throw badRequest(`${field}: ${JSON.stringify(p)} is not a folder`);
}

const cancelledError = () => Object.assign(new Error('training cancelled'), { name: 'AbortError' });

/** Queues the training job for `runId`; `resume` continues from the run's newest checkpoint. */
function enqueueTraining(
  ctx: ServiceContext,
  run: TrainingRun,
  config: RunConfig | undefined,
  resume: boolean,
): { jobId: string; runId: number } {
  const runId = run.id;
  const active = activeOf(ctx);
  const entry: ActiveRun = { jobId: '', pause: false };
  ctx.store.runs.update(runId, { status: 'queued', error: null, finishedAt: null });
  ctx.changed('runs', [runId]);
  const job = ctx.jobs.enqueue({
    kind: 'train',
    label: `${resume ? 'Resume' : 'Train'} “${run.name}”`,
    run: (handle) => runTraining(ctx, runId, config, resume, entry, handle),
  });
  entry.jobId = job.id;
  active.set(runId, entry);
  return { jobId: job.id, runId };
}

async function runTraining(
  ctx: ServiceContext,
  runId: number,
  config: RunConfig | undefined,
  resume: boolean,
  entry: ActiveRun,
  handle: JobHandle,
) {
  let total = 0;
  let dynamicCaptions = false;
  let lastChanged = 0;
  const onEvent = (e: TrainEvent | { type: string }) => {
    const ev = e as TrainEvent;
    switch (ev.type) {
      case 'prepare':
        total = ev.totalSteps;
        dynamicCaptions = ev.dynamicCaptions;
        handle.report({
          progress: 0,
          total,
          message: `Preparing ${ev.images} images and their caches`,
          metrics: { runId, dynamicCaptions },
        });
        break;
      case 'cache':
        handle.report({
          progress: 0,
          message: dynamicCaptions
            ? `Latents cached (${ev.latentsComputed} computed); embeddings computed per step`
            : `Caches ready (${ev.latentsComputed} latents, ${ev.textComputed} embeddings computed)`,
        });
        break;
      case 'progress': {
        handle.report({
          progress: ev.step / ev.totalSteps,
          step: ev.step,
          total: ev.totalSteps,
          message: `Epoch ${ev.epoch + 1}`,
          metrics: {
            loss: ev.loss,
            lr: ev.lr,
            itPerSec: Number.isFinite(ev.itPerSec) ? ev.itPerSec : 0,
            etaSeconds: Number.isFinite(ev.etaSeconds) ? ev.etaSeconds : 0,
            epoch: ev.epoch,
            skippedSteps: ev.skippedSteps,
            runId,
            dynamicCaptions,
          },
        });
        // Lists refetch the run (last step, last loss) at most once a second.
        if (Date.now() - lastChanged > 1000) {
          lastChanged = Date.now();
          ctx.changed('runs', [runId]);
        }
        break;
      }
      case 'checkpoint':
        handle.report({ progress: 0, message: `Checkpoint saved at step ${ev.step}` });
        break;
      default:
        // Other events (sample images) change what runs.get shows.
        ctx.changed('runs', [runId]);
    }
  };
  try {
    const result = await trainLora(resume ? undefined : config, {
      store: ctx.store,
      dataDir: ctx.dataDir,
      signal: handle.signal,
      onEvent,
      ...(resume ? { resume: runId } : { runId }),
    });
    if (result.cancelled) {
      if (entry.pause) ctx.store.runs.update(runId, { status: 'paused', finishedAt: null });
      throw cancelledError();
    }
    // The exported LoRA becomes a model row, so Generate can pick it.
    let modelId: number | null = null;
    try {
      modelId = upsertFromInfo(ctx, await inspectModelFile(result.outputPath)).id;
      ctx.changed('models', [modelId]);
    } catch (e) {
      ctx.emit({
        status: 'log',
        level: 'warn',
        message: `run #${runId}: the LoRA was exported but not registered: ${(e as Error).message}`,
        jobId: handle.id,
        at: new Date().toISOString(),
      });
    }
    ctx.changed(
      'artifacts',
      ctx.store.artifacts.list({ runId }).map((a) => a.id),
    );
    return {
      result: {
        runId,
        outputPath: result.outputPath,
        modelId,
        steps: result.steps.length,
        totalSteps: result.totalSteps,
        dynamicCaptions: result.dynamicCaptions,
      },
    };
  } catch (e) {
    // trainLora marks failures it sees; this covers a stop before it took the row over.
    const row = ctx.store.runs.get(runId);
    if (handle.signal.aborted) {
      if (row && row.status !== 'paused')
        ctx.store.runs.update(runId, {
          status: entry.pause ? 'paused' : 'cancelled',
          error: null,
          finishedAt: entry.pause ? null : new Date().toISOString(),
        });
    } else if (row && (row.status === 'queued' || row.status === 'running')) {
      ctx.store.runs.update(runId, {
        status: 'failed',
        error: (e as Error).message,
        finishedAt: new Date().toISOString(),
      });
    }
    throw e;
  } finally {
    if (activeOf(ctx).get(runId) === entry) activeOf(ctx).delete(runId);
    ctx.changed('runs', [runId]);
  }
}

/**
 * A run started on an imported dataset trains on a kohya snapshot of it in the run's folder:
 * the images the app includes (excluded and OCR-flagged ones left out) with the captions as
 * edited in the app — not the untouched source folder.
 */
async function snapshotDataset(ctx: ServiceContext, runId: number, datasetId: number) {
  const folder = join(runDirOf(ctx.dataDir, runId), 'dataset');
  const out = await exportDatasetKohya(ctx, datasetId, folder, true);
  if (out.images === 0)
    throw badRequest(
      `dataset #${datasetId} has no image left to train on (all excluded or flagged); keep some in the Datasets screen`,
    );
  return out.folder;
}

export const trainingJobHandlers: Pick<Handlers, TrainingJobMethods> = {
  'runs.start': async (input, ctx) => {
    if (input.runId !== undefined) {
      const run = requireRun(ctx, input.runId);
      if (run.status !== 'draft')
        throw conflict(
          `run #${run.id} is ${run.status}; only a draft can be started (runs.resume continues a stopped run)`,
        );
      const model = run.baseModelId === null ? undefined : ctx.store.models.get(run.baseModelId);
      if (!model) throw badRequest(`run #${run.id} has no base checkpoint (baseModelId)`);
      const dataset = run.datasetId === null ? undefined : ctx.store.datasets.get(run.datasetId);
      if (!dataset?.sourceDir)
        throw badRequest(`run #${run.id}: its dataset has no imported folder to train on`);
      const c = parseOrBadRequest(
        runConfigOfDraft(run.name, run.config, { model: model.path, dataset: dataset.sourceDir }),
      );
      c.train_data_dir = await snapshotDataset(ctx, run.id, dataset.id);
      return enqueueTraining(ctx, run, c, false);
    }
    const c = parseOrBadRequest(input.config);
    await requirePath(
      'pretrained_model_name_or_path',
      c.pretrained_model_name_or_path,
      'file or folder',
    );
    await requirePath('train_data_dir', c.train_data_dir, 'folder');
    if (input.datasetId !== undefined && !ctx.store.datasets.get(input.datasetId))
      throw notFound(`datasetId: dataset #${input.datasetId} does not exist`);
    if (input.baseModelId !== undefined && !ctx.store.models.get(input.baseModelId))
      throw notFound(`baseModelId: model #${input.baseModelId} does not exist`);
    const owners = runOwnersOf(ctx.store, c);
    const run = ctx.store.runs.create({
      name: input.name ?? c.output_name,
      datasetId: input.datasetId ?? owners.datasetId,
      baseModelId: input.baseModelId ?? owners.baseModelId,
      // trainLora replaces maxSteps once it has counted the dataset.
      config: apiConfigOf(c, c.max_train_steps ?? c.max_train_epochs),
    });
    // The imported dataset's own folder: train on what the app shows (exclusions, edited captions).
    const picked = run.datasetId === null ? undefined : ctx.store.datasets.get(run.datasetId);
    if (picked?.sourceDir && resolve(picked.sourceDir) === resolve(c.train_data_dir)) {
      try {
        c.train_data_dir = await snapshotDataset(ctx, run.id, picked.id);
      } catch (e) {
        ctx.store.runs.remove(run.id); // no run that never started is left behind
        throw e;
      }
    }
    return enqueueTraining(ctx, run, c, false);
  },

  'runs.cancel': (input, ctx) => {
    const run = requireRun(ctx, input.id);
    const entry = activeOf(ctx).get(run.id);
    if (entry) {
      entry.pause = input.pause;
      const job = ctx.jobs.cancel(entry.jobId);
      // A queued job never started: nothing to checkpoint, the run just stops.
      if (job.status === 'cancelled') {
        activeOf(ctx).delete(run.id);
        ctx.store.runs.update(run.id, {
          status: input.pause ? 'paused' : 'cancelled',
          finishedAt: input.pause ? null : new Date().toISOString(),
        });
        ctx.changed('runs', [run.id]);
      }
      return requireRun(ctx, run.id);
    }
    if (run.status === 'paused' || run.status === 'queued' || run.status === 'running') {
      // No job works on it (paused, or left over from a closed app): it simply ends.
      if (input.pause && run.status === 'paused') return run;
      const next = ctx.store.runs.update(run.id, {
        status: input.pause ? 'paused' : 'cancelled',
        finishedAt: input.pause ? null : new Date().toISOString(),
      })!;
      ctx.changed('runs', [run.id]);
      return next;
    }
    throw conflict(
      `run #${run.id} is ${run.status}; only queued, running or paused runs can be cancelled`,
    );
  },

  'runs.resume': async (input, ctx) => {
    const run = requireRun(ctx, input.id);
    if (activeOf(ctx).has(run.id)) throw conflict(`run #${run.id} is already ${run.status}`);
    if (run.status === 'draft')
      throw conflict(`run #${run.id} is a draft; start it with runs.start`);
    if (run.status === 'completed') throw conflict(`run #${run.id} is already completed`);
    const dir = runDirOf(ctx.dataDir, run.id);
    if (await latestTrainState(dir)) return enqueueTraining(ctx, run, undefined, true);
    // Stopped before its first checkpoint: start over from its saved config.
    const saved = await readJson(join(dir, 'run.json')).catch(() => undefined);
    if (saved === undefined)
      throw conflict(`run #${run.id} has neither a checkpoint nor a saved config to resume from`);
    return enqueueTraining(ctx, run, parseOrBadRequest(saved), false);
  },
};
