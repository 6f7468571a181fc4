// A whole training run on the tiny SD fixture: caches reused, exact resume, cancel, export.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLoraFile, readLoraFile } from '../../core/formats/index.js';
import { unetConfigFromJson, unetModuleSites } from '../../core/models/index.js';
import { openStore, type Store } from '../../core/store/index.js';
import {
  readTrainState,
  runDirOf,
  trainLora,
  type TrainEvent,
  type TrainLoraResult,
} from '../../core/train/index.js';
import { loadJson } from '../models/model-fixtures.js';
import { makeTinyDataset, tinyConfig } from './run-helpers.js';

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('trainLora on the tiny SD model: caches, resume, export', () => {
  let store: Store;
  let dataDir: string;
  let root: string;
  let first: TrainLoraResult;
  let second: TrainLoraResult;
  const events: TrainEvent[] = [];

  beforeAll(async () => {
    ({ root, dataDir } = await makeTinyDataset());
    store = openStore(dataDir);
    first = await trainLora(tinyConfig(root), { store, dataDir, onEvent: (e) => events.push(e) });
    second = await trainLora(tinyConfig(root), { store, dataDir });
    console.log(`tiny run: ${first.stepsPerSecond.toFixed(2)} steps/s (batch 2, 64×64)`);
  }, 60_000);
  afterAll(() => store?.close());

  it('trains the planned steps and reports progress', () => {
    expect(first.totalSteps).toBe(4);
    expect(first.steps.map((s) => s.step)).toEqual([0, 1, 2, 3]);
    expect(first.steps.every((s) => Number.isFinite(s.loss))).toBe(true);
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.type === 'checkpoint').map((e) => e.step)).toEqual([2]);
    expect(store.runs.steps(first.runId).map((s) => s.step)).toEqual([0, 1, 2, 3]);
  });

  it('computes the caches once; the second run never runs the VAE or the text encoder', () => {
    expect(first.encoderCalls).toEqual({ vae: 4, textEncoder: 4 });
    expect(second.encoderCalls).toEqual({ vae: 0, textEncoder: 0 });
    expect(first.dynamicCaptions).toBe(false);
    // Same seed, same data: the same losses and parameters.
    second.steps.forEach((s, k) => expect(s.loss).toBeCloseTo(first.steps[k].loss, 6));
    expect(maxDiff(second.finalParams, first.finalParams)).toBeLessThan(1e-6);
  });

  it('resumes exactly: N steps + resume + N steps = 2N steps', async () => {
    const state = join(runDirOf(dataDir, first.runId), 'state-step00000002.safetensors');
    const resumed = await trainLora(undefined, { store, dataDir, resume: state });
    expect(resumed.runId).toBe(first.runId);
    expect(resumed.steps.map((s) => s.step)).toEqual([2, 3]);
    resumed.steps.forEach((s, k) => expect(s.loss).toBeCloseTo(first.steps[2 + k].loss, 6));
    expect(maxDiff(resumed.finalParams, first.finalParams)).toBeLessThan(1e-6);
    // …and the two resumed steps moved the parameters, so the comparison means something.
    const saved = await readTrainState(state);
    expect(saved.step).toBe(2);
    expect(maxDiff(resumed.finalParams, saved.trainer.param)).toBeGreaterThan(1e-5);
  }, 30_000);

  it('exports a kohya LoRA with ss_* metadata that core/formats/lora loads; artifact recorded', async () => {
    const file = await readLoraFile(first.outputPath);
    expect(file.metadata.ss_network_dim).toBe('4');
    expect(JSON.parse(file.metadata.ss_tag_frequency)).toEqual({
      '1_tiny': { tiny: 4, red: 2, square: 1, green: 1, circle: 1, blue: 2 },
    });
    expect(JSON.parse(file.metadata.ss_dataset_dirs)).toEqual({
      '1_tiny': { n_repeats: 1, img_count: 4 },
    });
    expect(JSON.parse(file.metadata.ss_bucket_info).buckets['0'].resolution).toEqual([64, 64]);
    expect(file.metadata.ss_steps).toBe('4');
    const unet = unetConfigFromJson(await loadJson('tiny_sd/unet/config.json'));
    const lora = await loadLoraFile(first.outputPath, {
      unet: unetModuleSites(unet).map((s) => s.module),
      text_encoder: [],
    });
    expect(lora.format).toBe('kohya');
    expect(lora.modules.length).toBeGreaterThan(0);
    expect(lora.unknownKeys).toEqual([]);
    const arts = store.artifacts.list({ runId: first.runId });
    expect(arts.map((a) => a.path)).toContain(first.outputPath);
    expect(store.runs.get(first.runId)?.status).toBe('completed');
  });
});
