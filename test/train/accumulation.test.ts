// Gradient accumulation (kohya's gradient_accumulation_steps): two micro-batches of one sample
// make the same update as one batch of both; an overflow in any micro-batch skips the step. And
// the per-element learning rate that gives the text encoder its own lr in the packed vector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  ADAMW_IO,
  AdamW,
  adamwScalarFeeds,
  buildAdamWGraph,
  buildTrainStepGraph,
  initLoraParams,
  LoraTrainer,
  resolveAdamW,
} from '../../core/train/index.js';
import { f32, loadTinyUnet, relError, wave } from './helpers.js';

const HW = 8;
const PER = 4 * HW * HW;
const latents = wave(2 * PER, 0.37);
const noise = wave(2 * PER, 0.91);
const ehs = wave(2 * 77 * 32, 0.11);

function feeds(samples: number[]): Record<string, HostTensor> {
  const B = samples.length;
  const pick = (src: Float32Array, per: number) => {
    const out = new Float32Array(B * per);
    samples.forEach((s, k) => out.set(src.subarray(s * per, (s + 1) * per), k * per));
    return out;
  };
  return {
    latents: f32([B, 4, HW, HW], pick(latents, PER)),
    noise: f32([B, 4, HW, HW], pick(noise, PER)),
    timesteps: {
      dtype: 'int64',
      shape: [B],
      data: BigInt64Array.from(samples, (s) => [150n, 620n][s]),
    },
    encoder_hidden_states: f32([B, 77, 32], pick(ehs, 77 * 32)),
  };
}

describe('gradient accumulation on the tiny UNet', () => {
  let whole: LoraTrainer;
  let micro: LoraTrainer;

  beforeAll(async () => {
    const tiny = await loadTinyUnet();
    const o = { unet: tiny.cfg, weights: tiny.weights, network: { rank: 4, alpha: 4 } };
    const g2 = buildTrainStepGraph({ ...o, batch: 2, height: HW, width: HW });
    const g1 = buildTrainStepGraph({ ...o, batch: 1, height: HW, width: HW });
    const init = initLoraParams(g2.modules, 0);
    // Non-zero up so the first update moves every parameter.
    for (const m of g2.modules) init.get(m.upInput)!.fill(0.01);
    const opts = {
      optimizer: { weightDecay: 0.01, maxGradNorm: 1 },
      schedule: { name: 'constant' as const, lr: 1e-3 },
    };
    [whole, micro] = await Promise.all([
      LoraTrainer.create(g2, init, opts),
      LoraTrainer.create(g1, init, opts),
    ]);
  }, 180_000);
  afterAll(async () => {
    await whole?.release();
    await micro?.release();
  });

  it('averages the micro-batch gradients: 2 × batch 1 makes the update of 1 × batch 2', async () => {
    const init = await micro.flatParams();
    const parts = [await micro.gradient(feeds([0])), await micro.gradient(feeds([1]))];
    // The micro-batches differ, so the mean is not just one of them…
    expect(relError(parts[0].grad, parts[1].grad)).toBeGreaterThan(1e-2);
    // …and it is the whole batch's gradient (MSE averages over the batch).
    const both = await whole.gradient(feeds([0, 1]));
    const mean = parts[0].grad.map((v, i) => (v + parts[1].grad[i]) / 2);
    const gErr = relError(mean, both.grad);
    console.log(`accumulated vs whole-batch gradient: relative error ${gErr.toExponential(2)}`);
    expect(gErr).toBeLessThan(1e-4);
    expect((parts[0].loss + parts[1].loss) / 2).toBeCloseTo(both.loss, 5);
    const a = await micro.stepAccumulated(parts);
    const b = await whole.step(feeds([0, 1]));
    expect(a.skipped).toBe(false);
    expect(a.step).toBe(0);
    expect(micro.stepCount).toBe(1);
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect(a.gradNorm).toBeCloseTo(b.gradNorm, 4);
    // The same update (AdamW's first step is ≈ lr·sign(g): compare the moves, not the values).
    const moved = (p: Float32Array) => p.map((v, i) => v - init[i]);
    const uErr = relError(moved(await micro.flatParams()), moved(await whole.flatParams()));
    expect(uErr).toBeLessThan(2e-2);
  });

  it('skips the whole step when any micro-batch overflowed, and halves the loss scale', async () => {
    const before = await micro.flatParams();
    const scale = micro.lossScale.value;
    const ok = await micro.gradient(feeds([0]));
    const r = await micro.stepAccumulated([ok, { ...ok, overflow: true }]);
    expect(r.skipped).toBe(true);
    expect(Number.isNaN(r.gradNorm)).toBe(true);
    expect(micro.lossScale.value).toBe(scale / 2);
    expect(await micro.flatParams()).toEqual(before);
    await expect(micro.stepAccumulated([])).rejects.toThrow(/no micro-batches/);
  });
});

describe('AdamW with a per-element learning rate (text_encoder_lr in one packed vector)', () => {
  it('steps each element with lr · lr_scale, as two torch param groups would', async () => {
    const n = 6;
    const o = resolveAdamW({ weightDecay: 0.1, maxGradNorm: 0 });
    const session = await Session.create(buildAdamWGraph([{ name: 'p', shape: [n] }], o, true));
    try {
      const p0 = wave(n, 0.5);
      const grad = wave(n, 1.7, 0.3);
      const lrScale = Float32Array.of(1, 1, 1, 0.25, 0.25, 0.25);
      const out = await session.run({
        [ADAMW_IO.param('p')]: f32([n], p0),
        [ADAMW_IO.grad('p')]: f32([n], grad),
        [ADAMW_IO.m('p')]: f32([n], new Float32Array(n)),
        [ADAMW_IO.v('p')]: f32([n], new Float32Array(n)),
        [ADAMW_IO.lrScale('p')]: f32([n], lrScale),
        ...adamwScalarFeeds(1, 1e-2, o),
      });
      // Reference: host AdamW over each group with its own lr.
      const ref = new Float32Array(n);
      for (const [from, to, lr] of [
        [0, 3, 1e-2],
        [3, 6, 2.5e-3],
      ] as const) {
        const p = p0.slice(from, to);
        new AdamW(o).step(new Map([['p', p]]), new Map([['p', grad.slice(from, to)]]), lr);
        ref.set(p, from);
      }
      expect(relError(out[ADAMW_IO.newParam('p')].data as Float32Array, ref)).toBeLessThan(1e-6);
    } finally {
      await session.release();
    }
  });
});
