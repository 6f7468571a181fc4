// Per-step caption processing (shuffle / dropout) on the tiny SD model: embeddings are computed
// per step and the run says so; a cancel stops after the current step with a checkpoint.
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../core/store/index.js';
import {
  runDirOf,
  trainLora,
  type TrainEvent,
  type TrainLoraResult,
} from '../../core/train/index.js';
import { makeTinyDataset, tinyConfig } from './run-helpers.js';

describe('trainLora with shuffled captions, cancelled', () => {
  let store: Store;
  let dataDir: string;
  let r: TrainLoraResult;
  const events: TrainEvent[] = [];

  beforeAll(async () => {
    const ds = await makeTinyDataset();
    dataDir = ds.dataDir;
    store = openStore(dataDir);
    const ac = new AbortController();
    r = await trainLora(
      tinyConfig(ds.root, {
        shuffle_caption: true,
        keep_tokens: 1,
        flip_aug: true,
        max_train_steps: 6,
        save_every_n_steps: 0,
      }),
      {
        store,
        dataDir,
        signal: ac.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'progress' && e.step === 2) ac.abort();
        },
      },
    );
  }, 30_000);
  afterAll(() => store?.close());

  it('flags dynamic captions and runs the text encoder per step, not from the cache', () => {
    expect(r.dynamicCaptions).toBe(true);
    expect(events.find((e) => e.type === 'prepare')).toMatchObject({ dynamicCaptions: true });
    // 2 steps × batch 2; latents of both flips of 4 images were cached first.
    expect(r.encoderCalls).toEqual({ vae: 8, textEncoder: 4 });
  });

  it('stops after the current step, writes a checkpoint and marks the run cancelled', async () => {
    expect(r.cancelled).toBe(true);
    expect(r.steps.map((s) => s.step)).toEqual([0, 1]);
    expect(await readdir(runDirOf(dataDir, r.runId))).toContain('state-step00000002.safetensors');
    expect(store.runs.get(r.runId)?.status).toBe('cancelled');
    expect(events.at(-1)).toMatchObject({ type: 'done', cancelled: true });
  });
});
