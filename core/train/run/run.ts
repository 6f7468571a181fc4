// A LoRA training run end to end: dataset → caches (VAE latents, text embeddings) → one step
// graph per bucket size → the loop (seeded noise and timesteps, per-step records in SQLite,
// progress events, cancel) → checkpoints (LoRA + resumable state) → the final kohya LoRA in the
// data dir's loras folder with an artifacts row.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { faultPoint } from '../../faults/index.js';
import { loadCheckpoint } from '../../formats/index.js';
import { CancelledError } from '../../generate/index.js';
import { TorchCpuGenerator } from '../../generate/rng/index.js';
import { legacyModelHash } from '../../hub/index.js';
import {
  clipTextConfigFromJson,
  componentWeights,
  FileHashIndex,
  unetConfigFromJson,
  vaeConfigFromJson,
  type WeightSource,
} from '../../models/index.js';
import type { HostTensor } from '../../onnx/index.js';
import type { Store } from '../../store/index.js';
import { exportKohyaLora } from '../kohya-export.js';
import { initLoraParams, seededUniform, unpackLoraParams } from '../lora-params.js';
import { buildTrainStepGraph, STEP_IO, type LoraTrainGraph } from '../step-graph.js';
import { LoraTrainer, type MicroBatchGradient, type StepResult } from '../trainer.js';
import { TrainCache } from './caches.js';
import {
  latestTrainState,
  readTrainState,
  removeOrphanTemps,
  writeTrainState,
  type TrainState,
} from './checkpoint.js';
import { computeDTypeOf, loconOf, parseRunConfig, prodigyOptionsOf } from './config.js';
import {
  batchesPerEpoch,
  captionsAreDynamic,
  deriveSeed,
  loadTrainDataset,
  planEpoch,
  processCaption,
  SEED_PURPOSE,
  type PlannedBatch,
} from './dataset.js';
import { Encoders } from './encode.js';
import {
  assertTrainingFits,
  describeRunFailure,
  divergedError,
  MAX_CONSECUTIVE_SKIPS,
} from './failures.js';
import { runSampler, type TrainingSampler } from './samples.js';
import { apiConfigOf, exportFinalLora } from './finish.js';
import { runOwnersOf } from './owners.js';

export type TrainEvent =
  | {
      type: 'prepare';
      runId: number;
      images: number;
      totalSteps: number;
      /** Text embeddings are computed per step (captions change, or the text encoder trains). */
      dynamicCaptions: boolean;
      trainTextEncoder: boolean;
    }
  | { type: 'cache'; latentsComputed: number; textComputed: number }
  | {
      type: 'progress';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      lr: number;
      itPerSec: number;
      etaSeconds: number;
      skippedSteps: number;
    }
  | { type: 'checkpoint'; step: number; loraPath: string; statePath: string }
  /**
   * Sample images of the LoRA after `step` steps (see samples.ts; index in samples/index.json);
   * sessionsCreated: the sampling engine's sessions so far (the first round creates them).
   */
  | { type: 'sample'; step: number; paths: string[]; sessionsCreated: number }
  | { type: 'done'; outputPath: string; cancelled: boolean };

export interface TrainLoraOptions {
  store: Store;
  dataDir: string;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  /** Continue a run: its id (newest valid checkpoint) or a state file path. */
  resume?: number | string;
  /** Train into this existing run row (e.g. a draft the API created) instead of a new one. */
  runId?: number;
}

export interface TrainLoraResult {
  runId: number;
  /** The final LoRA, or the last checkpoint's when cancelled. */
  outputPath: string;
  cancelled: boolean;
  steps: { step: number; loss: number; lr: number; skipped: boolean }[];
  totalSteps: number;
  /** Captions change per step (shuffle / dropout): text embeddings were computed per step. */
  dynamicCaptions: boolean;
  /** VAE and text-encoder invocations of this call (0 and 0 with warm caches). */
  encoderCalls: { vae: number; textEncoder: number };
  stepsPerSecond: number;
  finalParams: Float32Array;
}

export const runDirOf = (dataDir: string, runId: number) => join(dataDir, 'runs', String(runId));

/** `source` with its external-data locations made relative to `toDir` instead of `fromDir`. */
function relocated(source: WeightSource, fromDir: string, toDir: string): WeightSource {
  if (fromDir === toDir) return source;
  return {
    names: () => source.names(),
    get: (name, spec) => {
      const t = source.get(name, spec);
      if (!t || t.data instanceof Uint8Array) return t;
      const location = relative(toDir, join(fromDir, t.data.location));
      return { ...t, data: { ...t.data, location } };
    },
  };
}

/** The deepest directory holding both (ORT resolves every location against one model dir). */
function commonDir(a: string, b: string): string {
  const pa = a.split(sep);
  const pb = b.split(sep);
  let n = 0;
  while (n < pa.length && n < pb.length && pa[n] === pb[n]) n++;
  return pa.slice(0, n).join(sep) || sep;
}

const sha256 = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');

export async function trainLora(
  configInput: unknown,
  o: TrainLoraOptions,
): Promise<TrainLoraResult> {
  const { store, dataDir } = o;
  const emit = o.onEvent ?? (() => {});
  let resumed: TrainState | undefined;
  if (o.resume !== undefined) {
    resumed =
      typeof o.resume === 'number'
        ? await latestTrainState(runDirOf(dataDir, o.resume))
        : await readTrainState(o.resume);
    if (!resumed) throw new Error(`run ${String(o.resume)} has no valid checkpoint to resume from`);
  }
  const c = parseRunConfig(configInput ?? resumed?.config);
  const dtype = computeDTypeOf(c);
  const ds = await loadTrainDataset(c);
  // Optimizer steps per epoch: kohya's ceil(batches / gradient_accumulation_steps).
  const accum = c.gradient_accumulation_steps;
  const microPerEpoch = batchesPerEpoch(ds, c.train_batch_size);
  const perEpoch = Math.ceil(microPerEpoch / accum);
  const totalSteps = c.max_train_steps ?? c.max_train_epochs * perEpoch;
  const trainTE = !c.network_train_unet_only;
  const dynamic = captionsAreDynamic(c) || trainTE;
  const cacheDir = join(dataDir, 'cache');
  const cache = new TrainCache(store.db, dataDir);

  const ckpt = await loadCheckpoint(c.pretrained_model_name_or_path);
  const encoders = new Encoders({
    model: c.pretrained_model_name_or_path,
    cacheDir,
    ep: c.ep,
    clipSkip: c.clip_skip,
    tokenizerDir: ckpt.tokenizerDir,
    vaeScalingFactor: vaeConfigFromJson(ckpt.configs.vae).scalingFactor,
  });
  const unetCfg = unetConfigFromJson(ckpt.configs.unet);
  const trainers = new Map<string, LoraTrainer>();
  let sampler: TrainingSampler | undefined;
  let failedRun: number | undefined;
  try {
    // Sizes that cannot fit fail now, with advice, not deep inside ONNX Runtime.
    assertTrainingFits({
      unet: unetCfg,
      buckets: ds.images.map((i) => i.bucket),
      batch: c.train_batch_size,
      computeDType: dtype,
    });
    const hashes = new FileHashIndex(cacheDir);
    const unetW = await componentWeights({
      component: 'unet',
      weights: ckpt.components.unet,
      computeDType: dtype,
      cacheDir,
      hashes,
    });
    const teW = trainTE
      ? await componentWeights({
          component: 'textEncoder',
          weights: ckpt.components.textEncoder,
          computeDType: dtype,
          cacheDir,
          hashes,
        })
      : undefined;
    const modelDir = teW ? commonDir(unetW.modelDir, teW.modelDir) : unetW.modelDir;
    const vaeId = `${(await hashes.identify(ckpt.components.vae.file)).sha256}:vae`;
    const teId = `${(await hashes.identify(ckpt.components.textEncoder.file)).sha256}:te`;

    // 1. Run row and folder.
    const runId =
      resumed?.runId ??
      o.runId ??
      store.runs.create({
        name: c.output_name,
        ...runOwnersOf(store, c),
        config: apiConfigOf(c, totalSteps),
      }).id;
    failedRun = runId;
    const runDir = runDirOf(dataDir, runId);
    await mkdir(runDir, { recursive: true });
    if (resumed || o.runId !== undefined) await removeOrphanTemps(runDir);
    await writeFile(join(runDir, 'run.json'), JSON.stringify(c, null, 2));
    store.runs.update(runId, {
      ...(o.runId !== undefined && !resumed && { config: apiConfigOf(c, totalSteps) }),
      status: 'running',
      startedAt: store.runs.get(runId)?.startedAt ?? new Date().toISOString(),
      error: null,
    });
    emit({
      type: 'prepare',
      runId,
      images: ds.images.length,
      totalSteps,
      dynamicCaptions: dynamic,
      trainTextEncoder: trainTE,
    });

    // 2. Caches: every latent the run can use; text embeddings unless captions change per step.
    const latentOf = (i: number, flip: boolean) => {
      const img = ds.images[i];
      const key = TrainCache.latentKey({
        imageSha256: img.sha256,
        vaeIdentity: vaeId,
        width: img.bucket.width,
        height: img.bucket.height,
        flip,
      });
      return cache.getOrCompute(
        'latent',
        key,
        () => encoders.latents(img.path, img.bucket, flip),
        `the latent of ${img.path}${flip ? ' (flipped)' : ''}`,
      );
    };
    const textOf = (caption: string) =>
      cache.getOrCompute(
        'text',
        TrainCache.textKey({ caption, teIdentity: teId, clipSkip: c.clip_skip }),
        () => encoders.text(caption),
      );
    const latents = new Map<string, Float32Array>();
    const texts = new Map<string, Float32Array>();
    for (let i = 0; i < ds.images.length; i++)
      for (const flip of c.flip_aug ? [false, true] : [false])
        latents.set(`${i}:${flip}`, await latentOf(i, flip));
    if (!dynamic)
      for (const img of ds.images)
        if (!texts.has(img.caption)) texts.set(img.caption, await textOf(img.caption));
    emit({
      type: 'cache',
      latentsComputed: cache.computed.latent,
      textComputed: cache.computed.text,
    });

    // 3. One step graph (and trainer) per bucket size and batch size; they hand the state over.
    const schedule = {
      name: c.lr_scheduler,
      lr: c.unet_lr ?? c.learning_rate,
      warmupSteps: c.lr_warmup_steps,
      totalSteps,
      numCycles: c.lr_scheduler === 'cosine' ? undefined : c.lr_scheduler_num_cycles,
    };
    const optimizer = { weightDecay: c.weight_decay, maxGradNorm: c.max_grad_norm };
    const prodigy = prodigyOptionsOf(c);
    let current: LoraTrainer | undefined;
    let graph0: LoraTrainGraph | undefined;
    const trainerOf = async (b: PlannedBatch): Promise<LoraTrainer> => {
      const key = `${b.bucket.width}x${b.bucket.height}x${b.items.length}`;
      let t = trainers.get(key);
      if (!t) {
        const built = buildTrainStepGraph({
          unet: unetCfg,
          weights: relocated(unetW.source, unetW.modelDir, modelDir),
          network: { rank: c.network_dim, alpha: c.network_alpha, conv: loconOf(c) },
          textEncoder: teW && {
            config: clipTextConfigFromJson(ckpt.configs.textEncoder),
            weights: relocated(teW.source, teW.modelDir, modelDir),
            clipSkip: c.clip_skip,
          },
          computeDType: dtype,
          batch: b.items.length,
          height: b.bucket.height / 8,
          width: b.bucket.width / 8,
          minSnrGamma: c.min_snr_gamma,
        });
        graph0 ??= built;
        t = await LoraTrainer.create(built, initLoraParams(built.modules, c.seed), {
          optimizer,
          prodigy,
          schedule,
          session: { ep: c.ep, modelDir },
          textEncoderLrRatio: (c.text_encoder_lr ?? c.learning_rate) / schedule.lr,
        });
        trainers.set(key, t);
        if (!current && resumed) t.restore(resumed.trainer);
      }
      if (current && current !== t) t.restore(await current.snapshot());
      current = t;
      return t;
    };

    // 4. The loop.
    const steps: TrainLoraResult['steps'] = [];
    let skipped = 0;
    let consecutiveSkips = 0;
    let lastCheckpoint = '';
    const plans = new Map<number, PlannedBatch[]>();
    const planOf = (epoch: number) => {
      let p = plans.get(epoch);
      if (!p) {
        plans.clear();
        p = planEpoch(ds, c.train_batch_size, c.seed, epoch);
        plans.set(epoch, p);
      }
      return p;
    };
    const checkpoint = async (done: number) => {
      faultPoint('train.checkpoint');
      const t = current!;
      const name = `${c.output_name}-step${String(done).padStart(8, '0')}.safetensors`;
      const loraPath = join(runDir, name);
      await exportKohyaLora(
        loraPath,
        { modules: t.graph.modules, values: await t.params() },
        { rank: c.network_dim, alpha: c.network_alpha, precision: c.save_precision },
      );
      const statePath = await writeTrainState(runDir, {
        runId,
        seed: c.seed,
        step: done,
        epoch: Math.floor(done / perEpoch),
        batchInEpoch: done % perEpoch,
        loraFile: name,
        loraSha256: await sha256(loraPath),
        config: c,
        trainer: await t.snapshot(),
      });
      lastCheckpoint = loraPath;
      emit({ type: 'checkpoint', step: done, loraPath, statePath });
    };

    sampler = runSampler(c, { runDir, cacheDir, dtype, tokenizerDir: ckpt.tokenizerDir }, o.signal);
    const sampleRound = async (done: number, t: LoraTrainer) => {
      let paths: string[];
      try {
        paths = await sampler!.round(done, { modules: t.graph.modules, values: await t.params() });
      } catch (e) {
        // A cancel during a sample round cancels the run (handled by the loop), not fails it.
        if (e instanceof CancelledError && o.signal?.aborted) return;
        throw e;
      }
      emit({
        type: 'sample',
        step: done,
        paths,
        sessionsCreated: sampler!.engine.stats.sessionsCreated,
      });
    };

    /** The step graph's data feeds for one micro-batch (`index`: its position in the run). */
    const feedOf = async (batch: PlannedBatch, index: number) => {
      const next = seededUniform(deriveSeed(c.seed, SEED_PURPOSE.step, index));
      const B = batch.items.length;
      const h = batch.bucket.height / 8;
      const w = batch.bucket.width / 8;
      const per = 4 * h * w;
      const lat = new Float32Array(B * per);
      const timesteps = new BigInt64Array(B);
      const captions: string[] = [];
      for (let k = 0; k < B; k++) {
        const i = batch.items[k];
        const flip = c.flip_aug && next() < 0.5;
        lat.set(latents.get(`${i}:${flip}`)!, k * per);
        timesteps[k] = BigInt(Math.floor(next() * 1000));
        const cap = ds.images[i].caption;
        captions.push(dynamic && captionsAreDynamic(c) ? processCaption(cap, c, next) : cap);
      }
      const gen = new TorchCpuGenerator(deriveSeed(c.seed, SEED_PURPOSE.noise, index));
      const noise = gen.randn([B, 4, h, w]);
      if (c.noise_offset > 0) {
        // kohya: noise + offset · randn(B, C, 1, 1), one shift per sample and channel.
        const off = gen.randn([B, 4, 1, 1]);
        for (let j = 0; j < noise.length; j++)
          noise[j] += c.noise_offset * off[Math.floor(j / (h * w))];
      }
      const f32 = (shape: number[], data: Float32Array): HostTensor => ({
        dtype: 'float32',
        shape,
        data,
      });
      const feed: Record<string, HostTensor> = {
        latents: f32([B, 4, h, w], lat),
        noise: f32([B, 4, h, w], noise),
        timesteps: { dtype: 'int64', shape: [B], data: timesteps },
      };
      if (trainTE) {
        // The text encoder runs inside the step graph: token ids, no embeddings.
        const ids = (await Promise.all(captions.map((t) => encoders.tokens(t)))).flat();
        feed[STEP_IO.inputIds] = {
          dtype: 'int64',
          shape: [B, ids.length / B],
          data: BigInt64Array.from(ids, (x) => BigInt(x)),
        };
      } else {
        const parts = await Promise.all(
          captions.map(async (t) => (dynamic ? (await encoders.text(t)).data : texts.get(t)!)),
        );
        const seqLen = parts[0].length;
        const ehs = new Float32Array(B * seqLen);
        parts.forEach((e, k) => ehs.set(e, k * seqLen));
        feed[STEP_IO.encoderHiddenStates] = f32([B, 77, seqLen / 77], ehs);
      }
      return feed;
    };

    const first = resumed?.step ?? 0;
    if (sampler && c.sample_at_first && first === 0 && totalSteps > 0) {
      await sampleRound(0, await trainerOf(planOf(0)[0]));
    }
    // Seconds spent in steps, graph builds excluded (a new bucket builds its graph once).
    let stepSeconds = 0;
    let cancelled = false;
    for (let s = first; s < totalSteps; s++) {
      if (o.signal?.aborted) {
        cancelled = true;
        break;
      }
      const epoch = Math.floor(s / perEpoch);
      // This step's micro-batches; a micro-batch's seeds follow its index in the run, so runs
      // without accumulation keep their streams.
      const j0 = (s % perEpoch) * accum;
      const micro = planOf(epoch).slice(j0, j0 + accum);
      const tStep = performance.now();
      faultPoint('train.step');
      // Graph builds and session creation (a bucket's first batch) are not step time.
      let buildSeconds = 0;
      const trainerFor = async (b: PlannedBatch) => {
        const t0 = performance.now();
        const t = await trainerOf(b);
        buildSeconds += (performance.now() - t0) / 1000;
        return t;
      };
      let r: StepResult;
      if (micro.length === 1) {
        const trainer = await trainerFor(micro[0]);
        r = await trainer.step(await feedOf(micro[0], epoch * microPerEpoch + j0));
      } else {
        const parts: MicroBatchGradient[] = [];
        for (let k = 0; k < micro.length; k++) {
          const trainer = await trainerFor(micro[k]);
          parts.push(
            await trainer.gradient(await feedOf(micro[k], epoch * microPerEpoch + j0 + k)),
          );
        }
        r = await current!.stepAccumulated(parts);
      }
      const trainer = current!;
      if (r.skipped) skipped++;
      consecutiveSkips = r.skipped ? consecutiveSkips + 1 : 0;
      if (consecutiveSkips >= MAX_CONSECUTIVE_SKIPS) throw divergedError(consecutiveSkips, r.loss);
      steps.push({ step: s, loss: r.loss, lr: r.lr, skipped: r.skipped });
      faultPoint('train.db-commit');
      // A skipped step's loss may be NaN, which SQLite stores as NULL (loss is NOT NULL): such a
      // step has no loss point (found by test/resilience/faults-numeric).
      if (Number.isFinite(r.loss))
        store.runs.recordSteps(runId, [{ step: s, loss: r.loss, lr: r.lr }]);
      const done = s + 1;
      stepSeconds += (performance.now() - tStep) / 1000 - buildSeconds;
      const itPerSec = (done - first) / stepSeconds;
      emit({
        type: 'progress',
        step: done,
        totalSteps,
        epoch,
        loss: r.loss,
        lr: r.lr,
        itPerSec,
        etaSeconds: (totalSteps - done) / itPerSec,
        skippedSteps: skipped,
      });
      const epochEnd = done % perEpoch === 0;
      const byEpoch =
        epochEnd && c.save_every_n_epochs > 0 && (done / perEpoch) % c.save_every_n_epochs === 0;
      const bySteps = c.save_every_n_steps > 0 && done % c.save_every_n_steps === 0;
      if (done < totalSteps && (byEpoch || bySteps)) await checkpoint(done);
      const sampleNow =
        sampler &&
        !o.signal?.aborted &&
        ((c.sample_every_n_steps > 0 && done % c.sample_every_n_steps === 0) ||
          done === totalSteps);
      if (sampleNow) {
        await sampleRound(done, trainer);
      }
    }
    const doneSteps = first + steps.length;
    const result = {
      runId,
      steps,
      totalSteps,
      dynamicCaptions: dynamic,
      encoderCalls: { ...encoders.calls },
      stepsPerSecond: steps.length / stepSeconds,
    };
    if (cancelled && !current) {
      // Cancelled before the first step (e.g. while caching): a cancel, not a failure; the
      // newest checkpoint (if any) stays what a resume continues from.
      const last = resumed ? join(runDir, resumed.loraFile) : '';
      store.runs.update(runId, { status: 'cancelled', finishedAt: new Date().toISOString() });
      emit({ type: 'done', outputPath: last, cancelled: true });
      return {
        ...result,
        outputPath: last,
        cancelled,
        finalParams: resumed?.trainer.param ?? new Float32Array(0),
      };
    }
    if (!current) throw new Error('training run made no step (nothing left to train)');
    if (cancelled) {
      await checkpoint(doneSteps);
      store.runs.update(runId, { status: 'cancelled', finishedAt: new Date().toISOString() });
      emit({ type: 'done', outputPath: lastCheckpoint, cancelled: true });
      return {
        ...result,
        outputPath: lastCheckpoint,
        cancelled,
        finalParams: await current.flatParams(),
      };
    }

    // 5. The final LoRA with kohya's metadata, and its artifacts row.
    const graph = graph0 ?? current.graph;
    faultPoint('train.export');
    const outputPath = await exportFinalLora({
      store,
      dataDir,
      runId,
      config: c,
      dataset: ds,
      computeDType: dtype,
      baseModelSha256: unetW.sha256,
      baseModelLegacyHash: await legacyModelHash(ckpt.components.unet.file),
      perEpoch,
      batchesPerEpoch: microPerEpoch,
      totalSteps,
      steps: doneSteps,
      modules: graph.modules,
      values: unpackLoraParams(graph.layout, await current.flatParams()),
    });
    faultPoint('train.exported');
    store.runs.update(runId, { status: 'completed', finishedAt: new Date().toISOString() });
    emit({ type: 'done', outputPath, cancelled: false });
    return { ...result, outputPath, cancelled: false, finalParams: await current.flatParams() };
  } catch (caught) {
    const e = describeRunFailure(caught);
    if (failedRun !== undefined)
      store.runs.update(failedRun, {
        status: 'failed',
        error: (e as Error).message,
        finishedAt: new Date().toISOString(),
      });
    throw e;
  } finally {
    for (const t of trainers.values()) await t.release();
    await sampler?.dispose();
    await encoders.release();
    await ckpt.close();
  }
}
