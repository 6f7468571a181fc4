// The end of a run: the final LoRA with kohya's ss_* metadata (config + dataset statistics) in
// the data dir's loras folder and its artifacts row; and the app's TrainingConfig view of a run.
import { mkdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { trainingConfigSchema, type TrainingConfig } from '../../api.js';
import { readSafetensorsHeader } from '../../formats/index.js';
import type { Store } from '../../store/index.js';
import { exportKohyaLora } from '../kohya-export.js';
import { kohyaAdamWName, kohyaTrainingMetadata, pyFloat } from '../kohya-metadata.js';
import type { LoraModuleSpec } from '../lora-network.js';
import type { LoraParamValues } from '../lora-params.js';
import { networkArgsOf, type RunConfig } from './config.js';
import { bucketInfo, datasetDirs, tagFrequency, type TrainDataset } from './dataset.js';

export interface FinalLoraInput {
  store: Store;
  dataDir: string;
  runId: number;
  config: RunConfig;
  dataset: TrainDataset;
  computeDType: 'float32' | 'float16';
  baseModelSha256: string;
  /** A1111's legacy 8-hex hash of the base checkpoint file (ss_sd_model_hash). */
  baseModelLegacyHash?: string;
  /** Optimizer steps per epoch, and the micro-batches they take (gradient accumulation). */
  perEpoch: number;
  batchesPerEpoch?: number;
  totalSteps: number;
  /** Steps trained. */
  steps: number;
  modules: readonly LoraModuleSpec[];
  values: LoraParamValues;
}

/** Export `<dataDir>/loras/<output_name>.safetensors` (`-run<id>` when taken); returns its path. */
export async function exportFinalLora(o: FinalLoraInput): Promise<string> {
  const { store, dataDir, runId, config: c, dataset: ds } = o;
  const lorasDir = join(dataDir, 'loras');
  await mkdir(lorasDir, { recursive: true });
  let outputPath = join(lorasDir, `${c.output_name}.safetensors`);
  if ((await stat(outputPath).catch(() => undefined)) && !(await isOwnFinalLora(outputPath, runId)))
    outputPath = join(lorasDir, `${c.output_name}-run${runId}.safetensors`);
  const started = store.runs.get(runId)?.startedAt;
  const metadata = kohyaTrainingMetadata({
    outputName: c.output_name,
    rank: c.network_dim,
    alpha: c.network_alpha,
    networkArgs: networkArgsOf(c),
    baseModel: {
      name: basename(c.pretrained_model_name_or_path),
      sha256: o.baseModelSha256,
      legacyHash: o.baseModelLegacyHash,
    },
    clipSkip: c.clip_skip,
    learningRate: c.learning_rate,
    unetLr: c.unet_lr ?? c.learning_rate,
    textEncoderLr: c.network_train_unet_only ? undefined : (c.text_encoder_lr ?? c.learning_rate),
    lrScheduler: c.lr_scheduler,
    lrWarmupSteps: c.lr_warmup_steps,
    optimizer:
      c.optimizer_type === 'Prodigy'
        ? // kohya: the class's module path, then the optimizer kwargs as given.
          `prodigyopt.prodigy.Prodigy(weight_decay=${pyFloat(c.weight_decay)},d_coef=${pyFloat(c.prodigy_d_coef)})`
        : kohyaAdamWName({ weightDecay: c.weight_decay, beta1: 0.9, beta2: 0.999 }),
    mixedPrecision: o.computeDType === 'float16' ? 'fp16' : 'no',
    maxGradNorm: c.max_grad_norm,
    resolution: [c.resolution, c.resolution],
    numTrainImages: ds.images.reduce((n, i) => n + i.repeats, 0),
    numBatchesPerEpoch: o.batchesPerEpoch ?? o.perEpoch,
    gradientAccumulationSteps: c.gradient_accumulation_steps,
    numEpochs: Math.ceil(o.totalSteps / o.perEpoch),
    epoch: Math.ceil(o.steps / o.perEpoch),
    steps: o.steps,
    maxTrainSteps: o.totalSteps,
    batchSize: c.train_batch_size,
    seed: c.seed,
    noiseOffset: c.noise_offset || undefined,
    minSnrGamma: c.min_snr_gamma,
    cacheLatents: true,
    captionDropoutRate: c.caption_dropout_rate,
    shuffleCaption: c.shuffle_caption,
    keepTokens: c.keep_tokens,
    enableBucket: c.enable_bucket,
    flipAug: c.flip_aug,
    tagFrequency: tagFrequency(ds),
    datasetDirs: datasetDirs(ds),
    bucketInfo: bucketInfo(ds),
    trainingStartedAt: (started ? Date.parse(started) : Date.now()) / 1000,
    trainingFinishedAt: Date.now() / 1000,
    sessionId: runId,
  });
  const exported = await exportKohyaLora(
    outputPath,
    { modules: o.modules, values: o.values },
    { rank: c.network_dim, alpha: c.network_alpha, precision: c.save_precision, metadata },
  );
  // A run resumed after a crash at its very end exports again: keep one row per file.
  for (const a of store.artifacts.list({ runId }))
    if (a.path === outputPath) store.artifacts.remove(a.id);
  store.artifacts.add({
    runId,
    name: basename(outputPath),
    path: outputPath,
    sizeBytes: exported.bytes,
    metadata: { step: o.steps, modelHash: exported.modelHash },
  });
  return outputPath;
}

/**
 * Whether `path` is this run's own final LoRA, written before a crash cut the run short between
 * the export and marking the run completed: then the resumed run replaces it rather than writing
 * `-run<id>` beside it (found by test/resilience/crash-kill).
 */
async function isOwnFinalLora(path: string, runId: number): Promise<boolean> {
  const h = await readSafetensorsHeader(path).catch(() => undefined);
  return h?.metadata.ss_session_id === String(runId);
}

/** The app's TrainingConfig view of a run (the run dir's run.json keeps the full config). */
export function apiConfigOf(c: RunConfig, totalSteps: number): TrainingConfig {
  return trainingConfigSchema.parse({
    resolution: c.resolution,
    batchSize: c.train_batch_size,
    maxSteps: totalSteps,
    rank: c.network_dim,
    alpha: c.network_alpha,
    learningRate: c.unet_lr ?? c.learning_rate,
    lrScheduler: c.lr_scheduler,
    warmupSteps: c.lr_warmup_steps,
    weightDecay: c.weight_decay,
    seed: c.seed,
    precision: c.mixed_precision === 'auto' ? 'auto' : c.mixed_precision === 'no' ? 'fp32' : 'fp16',
    clipSkip: c.clip_skip,
    captionDropoutRate: c.caption_dropout_rate,
    shuffleCaptionTags: c.shuffle_caption,
    saveEverySteps: c.save_every_n_steps,
  });
}
