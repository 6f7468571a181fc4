// `lora-studio demo` and the app's "Try the demo" button: the whole product on the built-in
// tiny model, offline, on the CPU. Every step goes through the same API the UI uses (import,
// OCR scan, caption check, kohya export, training run), then the LoRA is compared with the
// base model in two grids rendered by the generation path, and an image statistic says
// whether the LoRA moved the images toward the dataset.
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Api, ApiEvent, ApiOutput } from '../api.js';
import { GenerationEngine } from '../generate/index.js';
import {
  renderBeforeAfter,
  renderStrengthSweep,
  saveGrid,
  type GridResult,
} from '../library/index.js';
import { DEMO_GENERATION, readRgb } from './check.js';
import { paletteHistogram, histogramDistance } from './image-stats.js';
import { SAMPLE_CONCEPT } from './sample-dataset.js';

export interface DemoPaths {
  /** The built-in base model (diffusers folder). */
  model: string;
  /** The sample dataset (kohya folder layout). */
  dataset: string;
}

export interface DemoOptions {
  paths: DemoPaths;
  /** Where the LoRA, grids and report are written (created). */
  outputDir: string;
  /** Work folder for the exported training set (inside the data dir). */
  workDir: string;
  /** Model cache for grid rendering. */
  cacheDir: string;
  /** The app's data dir: when given, the grids are also saved to the LoRA's library entry. */
  dataDir?: string;
  /** Training steps (default 600; the CI test uses fewer). */
  steps?: number;
  /** Run-config fields (kohya names) that replace the demo's own (experiments, tests). */
  runConfig?: Record<string, unknown>;
  /** Grid prompts (default three "a pink star on a … background"). */
  prompts?: string[];
  onProgress?: (p: DemoProgress) => void;
  signal?: AbortSignal;
}

export type DemoPhase = 'model' | 'import' | 'ocr' | 'captions' | 'train' | 'grids' | 'done';

export interface DemoProgress {
  phase: DemoPhase;
  /** 0…1 within the phase. */
  progress: number;
  message: string;
  loss?: number;
}

export interface DemoReport {
  outputDir: string;
  lora: string;
  grids: { beforeAfter: string; strengthSweep: string };
  /** Library grid ids (library.image) when saved to the library, else null. */
  gridIds: { beforeAfter: string; strengthSweep: string } | null;
  /** The LoRA's id in the model registry. */
  loraModelId: number;
  datasetId: number;
  runId: number;
  images: { imported: number; skipped: number; flaggedByOcr: number; uncaptioned: number };
  /** Loss: mean of the first and of the last tenth of the steps (single steps are noisy). */
  training: { steps: number; startLoss: number; endLoss: number; seconds: number };
  /**
   * Palette-histogram distance of each grid cell to the dataset's images captioned like its
   * prompt (0 = the same colours), averaged: before = without the LoRA, after = strength 1.
   * The LoRA worked when after < before.
   */
  closeness: { before: number; after: number; sweep: { strength: number; distance: number }[] };
}

export const DEMO_PROMPTS: readonly string[] = [
  'a pink star on a blue background',
  'a pink star on a yellow background',
  'a pink star on a black background',
];

/** The demo's training run in kohya names (everything else: the run config defaults). */
export function demoRunConfig(o: { model: string; dataset: string; steps: number }) {
  return {
    pretrained_model_name_or_path: o.model,
    train_data_dir: o.dataset,
    output_name: 'pink_star',
    network_dim: 8,
    network_alpha: 8,
    // LoCon: the ResNet convs paint colour and shape; attention alone learns pink stars slowly.
    conv_dim: 8,
    conv_alpha: 8,
    learning_rate: 2e-3,
    lr_scheduler: 'constant' as const,
    resolution: 64,
    min_bucket_reso: 64,
    max_bucket_reso: 128,
    train_batch_size: 4,
    max_train_steps: o.steps,
    save_every_n_epochs: 0,
    save_every_n_steps: Math.max(50, Math.ceil(o.steps / 4)),
    seed: 1234,
    sample_every_n_steps: 0,
  };
}

function throwIfAborted(signal?: AbortSignal) {
  if (signal?.aborted) throw Object.assign(new Error('demo cancelled'), { name: 'AbortError' });
}

/** Resolves with a job's result when it is done; rejects with its error or on cancel. */
export function waitForJob(
  api: Api,
  jobId: string,
  onProgress?: (e: Extract<ApiEvent, { status: 'progress' }>) => void,
  signal?: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      off();
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const off = api.onEvent((e) => {
      if (!('jobId' in e) || e.jobId !== jobId) return;
      if (e.status === 'progress') onProgress?.(e);
      else if (e.status === 'done') finish(() => resolve(e.result));
      else if (e.status === 'error') finish(() => reject(new Error(e.error.message)));
      else if (e.status === 'cancelled')
        finish(() => reject(new Error(`job ${jobId} was cancelled`)));
    });
    const onAbort = () => {
      void api.call('jobs.cancel', { jobId }).catch(() => {});
      finish(() => reject(Object.assign(new Error('demo cancelled'), { name: 'AbortError' })));
    };
    signal?.addEventListener('abort', onAbort);
    // The job may have ended before we subscribed.
    void api.call('jobs.get', { jobId }).then(
      (j) => {
        if (j.status === 'done') finish(() => resolve(undefined));
        else if (j.status === 'error')
          finish(() => reject(new Error(j.error?.message ?? `job ${jobId} failed`)));
        else if (j.status === 'cancelled')
          finish(() => reject(new Error(`job ${jobId} was cancelled`)));
      },
      (e: unknown) => finish(() => reject(e as Error)),
    );
  });
}

async function demoModelId(api: Api, model: string): Promise<number> {
  const known = (await api.call('models.list', { kind: 'checkpoint' })).find(
    (m) => m.path === model,
  );
  if (known) return known.id;
  const added = await api.call('models.add', {
    path: model,
    kind: 'checkpoint',
    family: 'sd15',
    name: 'LoRA Studio demo (tiny SD1.x)',
  });
  return added.id;
}

/**
 * Mean palette histogram of the dataset's training images, per caption (and over all of them
 * under ''): a grid cell is compared with the images captioned like its prompt, so "a pink star on
 * a blue background" is held against the dataset's blue-background stars, not an average of all
 * backgrounds.
 */
async function datasetHistograms(dir: string): Promise<Map<string, number[]>> {
  const groups = new Map<string, number[][]>();
  for (const sub of await readdir(dir, { withFileTypes: true })) {
    if (!sub.isDirectory()) continue;
    for (const f of await readdir(join(dir, sub.name))) {
      if (!/\.(png|jpe?g|webp)$/i.test(f)) continue;
      const file = join(dir, sub.name, f);
      const caption = await readFile(file.replace(/\.[^.]+$/, '.txt'), 'utf8').catch(() => '');
      const h = paletteHistogram((await readRgb(file, 64)).rgb);
      for (const key of ['', caption.trim()]) groups.set(key, [...(groups.get(key) ?? []), h]);
    }
  }
  const means = new Map<string, number[]>();
  for (const [key, hs] of groups)
    means.set(
      key,
      hs[0].map((_, i) => hs.reduce((a, h) => a + h[i], 0) / hs.length),
    );
  return means;
}

async function cellDistance(
  cell: GridResult['cells'][number],
  targets: ReadonlyMap<string, number[]>,
): Promise<number> {
  const target = targets.get(cell.prompt.trim()) ?? targets.get('')!;
  return histogramDistance(paletteHistogram((await readRgb(cell.image, 64)).rgb), target);
}

const meanOf = (v: readonly number[]) =>
  v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;

/** Runs the demo end to end through `api`. */
export async function runDemo(api: Api, o: DemoOptions): Promise<DemoReport> {
  const steps = o.steps ?? 600;
  const prompts = o.prompts ?? [...DEMO_PROMPTS];
  const say = (phase: DemoPhase, progress: number, message: string, loss?: number) =>
    o.onProgress?.({ phase, progress, message, ...(loss === undefined ? {} : { loss }) });

  say('model', 0, `base model ${o.paths.model}`);
  const baseModelId = await demoModelId(api, o.paths.model);
  throwIfAborted(o.signal);

  const dataset = await api.call('datasets.create', {
    name: `Demo: pink stars ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
    description: 'The sample dataset of `lora-studio demo`: a shape the base model never saw.',
  });
  say('import', 0, `importing ${o.paths.dataset}`);
  const imp = await api.call('datasets.import', { datasetId: dataset.id, folder: o.paths.dataset });
  await waitForJob(
    api,
    imp.jobId,
    (e) => say('import', e.progress, e.message ?? 'importing'),
    o.signal,
  );

  say('ocr', 0, 'looking for text and watermarks');
  const scan = await api.call('datasets.scanText', { datasetId: dataset.id });
  await waitForJob(
    api,
    scan.jobId,
    (e) => say('ocr', e.progress, e.message ?? 'scanning'),
    o.signal,
  );
  const after = await api.call('datasets.get', { id: dataset.id });
  say('ocr', 1, `${after.flaggedCount} image(s) with text left out of training`);

  const uncaptioned = (
    await api.call('images.list', { datasetId: dataset.id, filter: 'uncaptioned', limit: 1 })
  ).total;
  if (uncaptioned > 0)
    throw new Error(
      `${uncaptioned} image(s) of the demo dataset have no caption; the sample dataset is incomplete — reinstall the app`,
    );
  say('captions', 1, `all ${after.imageCount} images have captions`);

  const trainDir = join(o.workDir, `dataset-${dataset.id}`);
  await api.call('datasets.exportKohya', {
    datasetId: dataset.id,
    folder: trainDir,
    overwrite: true,
  });
  throwIfAborted(o.signal);

  say('train', 0, `training a LoRA for ${steps} steps`);
  const started = performance.now();
  const losses: number[] = [];
  const { jobId, runId } = await api.call('runs.start', {
    name: 'pink_star',
    datasetId: dataset.id,
    baseModelId,
    config: {
      ...demoRunConfig({ model: o.paths.model, dataset: trainDir, steps }),
      ...o.runConfig,
    },
  });
  await waitForJob(
    api,
    jobId,
    (e) => {
      if (e.loss !== undefined) losses.push(e.loss);
      const eta = e.etaSeconds === undefined ? '' : `, ${Math.round(e.etaSeconds)} s left`;
      say('train', e.progress, `step ${e.step ?? 0}/${steps}${eta}`, e.loss);
    },
    o.signal,
  );
  const seconds = (performance.now() - started) / 1000;
  const artifacts: ApiOutput<'artifacts.list'> = await api.call('artifacts.list', { runId });
  const final = artifacts.filter((a) => a.path.endsWith('.safetensors')).at(-1);
  if (!final) throw new Error(`training run #${runId} finished without a LoRA file`);

  await mkdir(o.outputDir, { recursive: true });
  const lora = join(o.outputDir, `${SAMPLE_CONCEPT.color}_${SAMPLE_CONCEPT.shape}.safetensors`);
  await copyFile(final.path, lora);

  say('grids', 0, 'rendering before/after and strength sweep');
  const engine = new GenerationEngine({ cacheDir: o.cacheDir, intraOpNumThreads: 1 });
  const common = {
    modelPath: o.paths.model,
    lora,
    prompts,
    seed: 7,
    ...DEMO_GENERATION,
    signal: o.signal,
  };
  let beforeAfter: GridResult;
  let sweep: GridResult;
  const strengths = [0, 0.5, 1];
  try {
    beforeAfter = await renderBeforeAfter(engine, {
      ...common,
      onProgress: (d, t) => say('grids', (0.5 * d) / t, `before/after ${d}/${t}`),
    });
    sweep = await renderStrengthSweep(engine, {
      ...common,
      strengths,
      onProgress: (d, t) => say('grids', 0.5 + (0.5 * d) / t, `strength sweep ${d}/${t}`),
    });
  } finally {
    await engine.dispose();
  }
  const grids = {
    beforeAfter: join(o.outputDir, 'before-after.png'),
    strengthSweep: join(o.outputDir, 'strength-sweep.png'),
  };
  await writeFile(grids.beforeAfter, beforeAfter.png);
  await writeFile(grids.strengthSweep, sweep.png);
  // Training registered the run's LoRA; the grids join its library entry.
  const registered = (await api.call('models.list', { kind: 'lora' })).find(
    (m) => m.path === final.path,
  );
  const loraModelId =
    registered?.id ?? (await api.call('models.add', { path: final.path, kind: 'lora' })).id;
  let gridIds: DemoReport['gridIds'] = null;
  if (o.dataDir) {
    const settings = { ...DEMO_GENERATION, prompts, source: 'demo' };
    const ba = await saveGrid(
      o.dataDir,
      { loraModelId, kind: 'before-after', seed: common.seed, settings },
      beforeAfter,
    );
    const sw = await saveGrid(
      o.dataDir,
      { loraModelId, kind: 'strength-sweep', seed: common.seed, settings },
      sweep,
    );
    gridIds = { beforeAfter: ba.id, strengthSweep: sw.id };
  }

  const targets = await datasetHistograms(trainDir);
  const mean = async (cells: GridResult['cells']) => {
    let s = 0;
    for (const c of cells) s += await cellDistance(c, targets);
    return s / cells.length;
  };
  const closeness = {
    before: await mean(beforeAfter.cells.filter((c) => c.strength === null)),
    after: await mean(beforeAfter.cells.filter((c) => c.strength !== null)),
    sweep: await Promise.all(
      strengths.map(async (strength) => ({
        strength,
        distance: await mean(sweep.cells.filter((c) => c.strength === strength)),
      })),
    ),
  };
  const report: DemoReport = {
    outputDir: o.outputDir,
    lora,
    grids,
    gridIds,
    loraModelId,
    datasetId: dataset.id,
    runId,
    images: {
      imported: after.imageCount,
      skipped: after.skipped.length,
      flaggedByOcr: after.flaggedCount,
      uncaptioned,
    },
    training: {
      steps,
      startLoss: meanOf(losses.slice(0, Math.max(1, Math.ceil(losses.length / 10)))),
      endLoss: meanOf(losses.slice(-Math.max(1, Math.ceil(losses.length / 10)))),
      seconds,
    },
    closeness,
  };
  await writeFile(join(o.outputDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  say('done', 1, `done: ${o.outputDir}`);
  return report;
}
