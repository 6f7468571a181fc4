// End to end on the tiny UNet: the noising training step + in-graph AdamW with device-resident
// state, on a fixed synthetic batch, drives the loss down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../core/generate/index.js';
import type { HostTensor } from '../../core/onnx/index.js';
import {
  buildTrainStepGraph,
  initLoraParams,
  LoraTrainer,
  type StepResult,
} from '../../core/train/index.js';
import { f32, loadTinyUnet, wave, type TinyUnet } from './helpers.js';

const B = 2;
const HW = 8;
const STEPS = 30;

function batch(): Record<string, HostTensor> {
  const rng = createRng('cpu', 1234);
  return {
    latents: f32([B, 4, HW, HW], wave(B * 4 * HW * HW, 0.37)),
    noise: f32([B, 4, HW, HW], rng.randn([B, 4, HW, HW])),
    timesteps: { dtype: 'int64', shape: [B], data: BigInt64Array.of(150n, 620n) },
    encoder_hidden_states: f32([B, 77, 32], wave(B * 77 * 32, 0.11)),
  };
}

describe('LoRA training on the tiny UNet', () => {
  let tiny: TinyUnet;
  beforeAll(async () => {
    tiny = await loadTinyUnet();
  });

  describe('AdamW steps on a fixed batch', () => {
    let trainer: LoraTrainer;
    const results: StepResult[] = [];
    let seconds = 0;

    beforeAll(async () => {
      const built = buildTrainStepGraph({
        unet: tiny.cfg,
        weights: tiny.weights,
        network: { rank: 4, alpha: 4 },
        batch: B,
        height: HW,
        width: HW,
      });
      trainer = await LoraTrainer.create(built, initLoraParams(built.modules, 0), {
        optimizer: { weightDecay: 0.01, maxGradNorm: 1 },
        schedule: { name: 'constant_with_warmup', lr: 3e-3, warmupSteps: 2 },
      });
      const feeds = batch();
      const t0 = performance.now();
      for (let i = 0; i < STEPS; i++) results.push(await trainer.step(feeds));
      seconds = (performance.now() - t0) / 1000;
    });
    afterAll(async () => {
      await trainer?.release();
    });

    it(`lowers the loss over ${STEPS} steps`, () => {
      const losses = results.map((r) => r.loss);
      const first = losses[0];
      const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
      console.log(
        `tiny LoRA training: loss ${first.toFixed(4)} → ${last.toFixed(4)} in ${STEPS} steps, ` +
          `${(STEPS / seconds).toFixed(1)} steps/s`,
      );
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(results.some((r) => r.skipped)).toBe(false);
      expect(last).toBeLessThan(0.8 * first);
    });

    it('follows the LR schedule (warmup from 0) with a fixed loss scale of 1 in fp32', () => {
      expect(results.slice(0, 3).map((r) => r.lr)).toEqual([0, 1.5e-3, 3e-3]);
      expect(results.every((r) => r.lossScale === 1)).toBe(true);
      // Step 0 has lr 0 and lora_up = 0: the second loss equals the first.
      expect(results[1].loss).toBeCloseTo(results[0].loss, 6);
      expect(results[2].loss).not.toBeCloseTo(results[1].loss, 6);
    });

    it('hands the trained parameters back to the host', async () => {
      const p = await trainer.params();
      expect(p.size).toBe(2 * 192);
      const up = p.get(
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight',
      )!;
      expect(up.some((v) => v !== 0)).toBe(true);
    });
  });
});
