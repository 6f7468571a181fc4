// Numerical faults: NaN/Inf planted in a batch, in cached latents, in the LoRA weights of a
// resumed run, and in an imported LoRA file.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertFiniteLora,
  convertLora,
  LoraFormatError,
  parseSafetensors,
  readLoraFile,
  serializeSafetensors,
  type RawLoraTensor,
} from '../../core/formats/index.js';
import { GenerateParamsError, GenerationEngine } from '../../core/generate/index.js';
import { createApiService } from '../../core/service/index.js';
import { openStore, type Store } from '../../core/store/index.js';
import {
  buildTrainStepGraph,
  initLoraParams,
  LoraTrainer,
  MAX_CONSECUTIVE_SKIPS,
  readTrainState,
  runDirOf,
  TrainCache,
  trainLora,
  writeTrainState,
} from '../../core/train/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { f32, fixturePath, loadTinyUnet, wave } from '../train/helpers.js';
import { makeTinyDataset, tinyConfig } from '../train/run-helpers.js';
import { tinyKohyaLora } from './fuzz/safetensors-target.js';

const batch = (latents: Float32Array) => ({
  latents: f32([1, 4, 8, 8], latents),
  noise: f32([1, 4, 8, 8], wave(256, 0.91)),
  timesteps: { dtype: 'int64' as const, shape: [1], data: BigInt64Array.of(400n) },
  encoder_hidden_states: f32([1, 77, 32], wave(77 * 32, 0.11)),
});

describe('a NaN/Inf planted in a batch', () => {
  it('skips that step (parameters untouched), recovers the loss scale, applies the next', async () => {
    const { cfg, weights } = await loadTinyUnet();
    const built = buildTrainStepGraph({
      unet: cfg,
      weights,
      network: { rank: 4, alpha: 4 },
      computeDType: 'float32',
      batch: 1,
      height: 8,
      width: 8,
    });
    const init = initLoraParams(built.modules, 1);
    for (const m of built.modules) init.get(m.upInput)!.fill(0.01);
    const trainer = await LoraTrainer.create(built, init, {
      schedule: { name: 'constant', lr: 1e-3 },
      lossScale: { init: 4, growthInterval: 1 },
      session: { graphOptimizationLevel: 'basic' },
    });
    try {
      const before = await trainer.flatParams();
      for (const bad of [NaN, Infinity]) {
        const lat = wave(256, 0.37);
        lat[17] = bad;
        const r = await trainer.step(batch(lat));
        expect(r.skipped).toBe(true);
        expect(await trainer.flatParams()).toEqual(before);
      }
      expect(trainer.lossScale.value).toBe(1); // halved twice
      const clean = await trainer.step(batch(wave(256, 0.37)));
      expect(clean.skipped).toBe(false);
      expect(Number.isFinite(clean.loss)).toBe(true);
      const after = await trainer.flatParams();
      expect(after.every(Number.isFinite)).toBe(true);
      expect(after).not.toEqual(before);
      expect(trainer.lossScale.value).toBe(2); // growing back after a clean step
    } finally {
      await trainer.release();
    }
  }, 60_000);
});

describe('NaN in the training data and the LoRA weights of a run', () => {
  let store: Store;
  let dataDir: string;
  let root: string;

  beforeAll(async () => {
    ({ root, dataDir } = await makeTinyDataset());
    store = openStore(dataDir);
  });
  afterAll(() => store?.close());

  it('a computed latent with NaN fails naming the image; a cached one is recomputed', async () => {
    const cache = new TrainCache(store.db, dataDir);
    const nan = Float32Array.of(0, NaN, 1);
    await expect(
      cache.getOrCompute(
        'latent',
        'k1',
        async () => ({ shape: [3], data: nan }),
        'the latent of a.png',
      ),
    ).rejects.toThrow(/the latent of a\.png holds NaN at index 1/);
    expect(cache.count('latent')).toBe(0);
    // A damaged cache entry (NaN on disk) is a miss: recomputed, never handed to training.
    await cache.put('latent', 'k2', [3], nan);
    let computed = 0;
    const v = await cache.getOrCompute('latent', 'k2', async () => {
      computed++;
      return { shape: [3], data: Float32Array.of(1, 2, 3) };
    });
    expect(computed).toBe(1);
    expect([...v]).toEqual([1, 2, 3]);
  });

  it('a run whose LoRA weights turn NaN stops after repeated skipped steps, naming the cause', async () => {
    const cfg = tinyConfig(root, { max_train_steps: 2 + MAX_CONSECUTIVE_SKIPS + 5 });
    const first = await trainLora({ ...cfg, max_train_steps: 4 }, { store, dataDir });
    // Its step-2 state with the parameters poisoned: what a resume would load.
    const good = await readTrainState(
      join(runDirOf(dataDir, first.runId), 'state-step00000002.safetensors'),
    );
    good.trainer.param[3] = NaN;
    const poisoned = await writeTrainState(runDirOf(dataDir, first.runId), {
      ...good,
      config: cfg,
    });
    await expect(trainLora(undefined, { store, dataDir, resume: poisoned })).rejects.toThrow(
      new RegExp(`${MAX_CONSECUTIVE_SKIPS} steps in a row had a non-finite loss`),
    );
    expect(store.runs.get(first.runId)?.status).toBe('failed');
    expect(store.runs.get(first.runId)?.error).toMatch(/non-finite loss or gradients/);
  }, 120_000);
});

describe('an imported LoRA with NaN weights', () => {
  let dir: string;
  let file: string;
  let known: { unet: string[]; text_encoder: string[] };
  beforeAll(async () => {
    dir = makeTempDir();
    const { bytes, sites } = await tinyKohyaLora();
    known = { unet: sites.map((s) => s.module), text_encoder: [] };
    const r = parseSafetensors(bytes);
    const tensors: Record<
      string,
      { dtype: 'float32'; shape: readonly number[]; data: Float32Array }
    > = {};
    for (const [name, t] of r.tensors) {
      const data = new Float32Array((await r.read(name)).slice().buffer);
      tensors[name] = { dtype: 'float32', shape: t.shape, data };
    }
    const up = Object.keys(tensors).find((k) => k.endsWith('.lora_up.weight'))!;
    tensors[up].data[5] = NaN;
    file = join(dir, 'diverged.safetensors');
    await writeFile(file, serializeSafetensors(tensors, { ss_network_dim: '2' }));
  });
  afterAll(() => removeDir(dir));

  it('is refused whole on the generation path (engine.lora), naming the tensor', async () => {
    const engine = new GenerationEngine();
    try {
      const model = await engine.model(fixturePath('tiny_sd'));
      const err = await engine.lora(file, model).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GenerateParamsError);
      expect((err as Error).message).toMatch(
        /lora_up\.weight' holds 1 NaN\/Inf value \(first at index 5\)/,
      );
      // The converter alone would only drop the damaged module and apply the rest.
      const f = await readLoraFile(file);
      const partial = convertLora(new Map<string, RawLoraTensor>(f.tensors), known, f.metadata);
      expect(partial.unsupported.length).toBe(1);
      expect(() => assertFiniteLora(f)).toThrow(LoraFormatError);
    } finally {
      await engine.dispose();
    }
  });

  it('is refused by the model registry (models.add) with a bad_request naming it', async () => {
    const service = createApiService({ dataDir: join(dir, 'app') });
    try {
      const out = await service.dispatch('models.add', { path: file });
      expect(out.ok).toBe(false);
      if (!out.ok) {
        expect(out.error.code).toBe('bad_request');
        expect(out.error.message).toMatch(/cannot be registered: .*NaN\/Inf/);
      }
      // The same file without the NaN registers.
      const clean = join(dir, 'clean.safetensors');
      await writeFile(clean, (await tinyKohyaLora()).bytes);
      expect((await service.dispatch('models.add', { path: clean })).ok).toBe(true);
    } finally {
      service.close();
    }
  });
});
