// The Train screen's form as pure functions: presets → a run config core/train accepts, the
// memory estimate's formula, and the loss smoothing.
import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../core/train/index.js';
import {
  DEFAULT_TRAIN_FORM,
  estimateVram,
  formatDuration,
  smoothed,
  toRunConfig,
  TRAIN_PRESETS,
} from '../../renderer/src/train-form.js';

describe('train form', () => {
  it('the kohya preset is kohya’s SD1.5 default and the config parses as such', () => {
    const form = {
      ...DEFAULT_TRAIN_FORM,
      name: 'my lora!',
      modelPath: '/m.safetensors',
      datasetDir: '/d',
    };
    const c = parseRunConfig(toRunConfig(form, 'cpu'));
    expect(c).toMatchObject({
      network_dim: 32,
      network_alpha: 16,
      learning_rate: 1e-4,
      lr_scheduler: 'constant',
      resolution: 512,
      train_batch_size: 1,
      max_train_epochs: 10,
      output_name: 'my_lora_',
      ep: 'cpu',
    });
    expect(c.max_train_steps).toBeUndefined();
  });

  it('every preset gives a valid config (the small one goes below the default bucket minimum)', () => {
    for (const p of TRAIN_PRESETS) {
      const form = { ...DEFAULT_TRAIN_FORM, ...p.values, modelPath: '/m', datasetDir: '/d' };
      const c = parseRunConfig(toRunConfig(form, 'auto'));
      expect(c.min_bucket_reso).toBeLessThanOrEqual(c.resolution);
    }
    const small = TRAIN_PRESETS.find((p) => p.id === 'small-test')!;
    expect(small.values).toMatchObject({ resolution: 64, maxSteps: 6 });
  });

  it('estimates memory as weights + batch × res² activations + LoRA/optimizer state + runtime', () => {
    const e = estimateVram({ batchSize: 1, resolution: 512, networkDim: 32 });
    expect(e.weightsGb).toBe(1.7);
    expect(e.activationsGb).toBeCloseTo((512 * 512 * 17_000) / 1e9, 9);
    expect(e.loraGb).toBeCloseTo((32 * 0.5e6 * 18) / 1e9, 9);
    expect(e.totalGb).toBeCloseTo(6.944, 3);
    // Activations scale with batch and with pixels.
    const b2 = estimateVram({ batchSize: 2, resolution: 1024, networkDim: 32 });
    expect(b2.activationsGb).toBeCloseTo(8 * e.activationsGb, 9);
  });

  it('maps text-encoder training, LoCon and accumulation to kohya names, and counts them in memory', () => {
    const base = { ...DEFAULT_TRAIN_FORM, modelPath: '/m', datasetDir: '/d' };
    expect(parseRunConfig(toRunConfig(base, 'cpu'))).toMatchObject({
      network_train_unet_only: true,
      gradient_accumulation_steps: 1,
    });
    const form = {
      ...base,
      trainTextEncoder: true,
      textEncoderLr: 5e-5,
      convDim: 8,
      convAlpha: 4,
      gradientAccumulation: 4,
    };
    const c = parseRunConfig(toRunConfig(form, 'cpu'));
    expect(c).toMatchObject({
      network_train_unet_only: false,
      text_encoder_lr: 5e-5,
      conv_dim: 8,
      conv_alpha: 4,
      gradient_accumulation_steps: 4,
    });
    const plain = estimateVram(base);
    const e = estimateVram(form);
    expect(e.weightsGb).toBeCloseTo(plain.weightsGb + 0.25, 9);
    // LoRA params: UNet 0.5 M + TE 0.17 M + LoCon block Linear 0.08 M per rank, 0.54 M per conv rank.
    expect(e.loraGb).toBeCloseTo(((32 * (0.5e6 + 0.17e6 + 0.08e6) + 8 * 0.54e6) * 18) / 1e9, 9);
  });

  it('smooths with a bias-corrected EMA (a constant series stays constant)', () => {
    expect(smoothed([2, 2, 2])).toEqual([2, 2, 2].map(() => expect.closeTo(2, 12)));
    const s = smoothed([0, 10], 0.5);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo(5 / 0.75, 12);
    expect(formatDuration(3725)).toBe('1 h 2 min');
    expect(formatDuration(undefined)).toBe('—');
  });
});
