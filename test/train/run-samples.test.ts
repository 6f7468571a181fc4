// Sample images during a training run on the tiny SD model: kohya prompt options, the files and
// gallery index per round, one warm generation engine for the whole run, and samples that change
// as the LoRA trains.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPngText } from '../../core/formats/index.js';
import { parseInfotext } from '../../core/generate/index.js';
import { openStore, type Store } from '../../core/store/index.js';
import {
  parseRunConfig,
  parseSamplePrompt,
  readSampleIndex,
  runDirOf,
  trainLora,
  type TrainEvent,
  type TrainLoraResult,
} from '../../core/train/index.js';
import { makeTinyDataset, tinyConfig } from './run-helpers.js';

describe('parseSamplePrompt (kohya per-prompt options)', () => {
  const d = { seed: 42, width: 512, height: 512 };

  it('reads --n --s --l --d --w --h in any order, the rest as defaults', () => {
    expect(
      parseSamplePrompt(
        'a cat, masterpiece --w 768 --n lowres, bad hands --d 7 --l 5.5 --s 12 --h 640',
        d,
      ),
    ).toEqual({
      prompt: 'a cat, masterpiece',
      negativePrompt: 'lowres, bad hands',
      steps: 12,
      cfgScale: 5.5,
      seed: 7,
      width: 768,
      height: 640,
    });
    expect(parseSamplePrompt('just text', d)).toEqual({
      prompt: 'just text',
      negativePrompt: '',
      steps: 20,
      cfgScale: 7.5,
      seed: 42,
      width: 512,
      height: 512,
    });
  });

  it('names bad options and values', () => {
    expect(() => parseSamplePrompt('x --q 3', d)).toThrow(/unknown option --q; valid: --n, --s/);
    expect(() => parseSamplePrompt('x --s 2.5', d)).toThrow(
      /--s needs a whole number ≥ 0, got "2.5"/,
    );
    expect(() => parseSamplePrompt('x --w 100', d)).toThrow(
      /width must be a multiple of 64, got 100/,
    );
    expect(() => parseSamplePrompt(' --s 3', d)).toThrow(/has no prompt text/);
  });

  it('is validated by the run config', () => {
    const base = { pretrained_model_name_or_path: 'm', train_data_dir: 'd' };
    expect(parseRunConfig(base).sample_sampler).toBe('Euler a');
    expect(() => parseRunConfig({ ...base, sample_every_n_steps: 5 })).toThrow(
      /sample_prompts is empty/,
    );
    expect(() =>
      parseRunConfig({ ...base, sample_prompts: ['x'], sample_sampler: 'Heun' }),
    ).toThrow(/sample_sampler: unknown sampler; valid: Euler, Euler a.*, got "Heun"/);
  });
});

describe('trainLora samples on the tiny SD model', () => {
  let store: Store;
  let result: TrainLoraResult;
  let runDir: string;
  const events: TrainEvent[] = [];
  const prompts = ['tiny, red, square --s 3 --d 11', 'tiny, blue --n green --l 5 --s 3 --d 12'];

  beforeAll(async () => {
    const { root, dataDir } = await makeTinyDataset();
    store = openStore(dataDir);
    result = await trainLora(
      tinyConfig(root, {
        learning_rate: 1e-2,
        save_every_n_steps: 0,
        sample_every_n_steps: 2,
        sample_at_first: true,
        sample_prompts: prompts,
        sample_sampler: 'Euler a',
      }),
      { store, dataDir, onEvent: (e) => events.push(e) },
    );
    runDir = runDirOf(dataDir, result.runId);
  }, 60_000);
  afterAll(() => store?.close());

  const sampleEvents = () =>
    events.filter((e): e is Extract<TrainEvent, { type: 'sample' }> => e.type === 'sample');

  it('samples at step 0, every 2 steps and at the end, one image per prompt', async () => {
    expect(sampleEvents().map((e) => e.step)).toEqual([0, 2, 4]);
    for (const e of sampleEvents())
      expect(e.paths).toEqual(
        [0, 1].map((k) => join(runDir, 'samples', `step-${e.step}-${k}.png`)),
      );
    const files = (await readdir(join(runDir, 'samples'))).sort();
    // Only the images and the index: no temporary LoRA or generation folder left behind.
    expect(files).toEqual([
      'index.json',
      'step-0-0.png',
      'step-0-1.png',
      'step-2-0.png',
      'step-2-1.png',
      'step-4-0.png',
      'step-4-1.png',
    ]);
  });

  it('creates the generation sessions once: later rounds reuse them', () => {
    const created = sampleEvents().map((e) => e.sessionsCreated);
    console.log(`sample rounds: sessions created so far ${created.join(', ')}`);
    expect(created[0]).toBe(3); // text encoder, UNet, VAE decoder
    expect(created[1]).toBe(created[0]);
    expect(created[2]).toBe(created[0]);
  });

  it('writes A1111 infotext with the prompt options and the run LoRA', async () => {
    const png = new Uint8Array(await readFile(join(runDir, 'samples', 'step-2-1.png')));
    const info = parseInfotext(getPngText(png, 'parameters')!);
    expect(info.prompt).toBe('tiny, blue');
    expect(info.negativePrompt).toBe('green');
    expect(info.steps).toBe(3);
    expect(info.cfgScale).toBe(5);
    expect(info.seed).toBe(12);
    expect(info.sampler).toBe('Euler a');
    expect(info.width).toBe(64);
    expect(getPngText(png, 'parameters')).toMatch(/Lora hashes: "tiny-step00000002: [0-9a-f]{12}"/);
  });

  it('records a gallery index by step', async () => {
    const index = await readSampleIndex(runDir);
    expect(index.rounds.map((r) => r.step)).toEqual([0, 2, 4]);
    expect(index.rounds[1].images.map((i) => [i.file, i.prompt, i.seed])).toEqual([
      ['step-2-0.png', 'tiny, red, square', 11],
      ['step-2-1.png', 'tiny, blue', 12],
    ]);
  });

  it('shows the training: step-0 and final samples differ, same seed same noise', async () => {
    const pixels = async (name: string) =>
      new Uint8Array(
        await sharp(join(runDir, 'samples', name))
          .raw()
          .toBuffer(),
      );
    const diff = (a: Uint8Array, b: Uint8Array) => {
      let d = 0;
      for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
      return d / a.length;
    };
    const first = await pixels('step-0-0.png');
    const last = await pixels('step-4-0.png');
    const d = diff(first, last);
    console.log(`sample step 0 vs step 4: mean |Δ| ${d.toFixed(2)} / 255`);
    expect(d).toBeGreaterThan(0.5);
  });
});
