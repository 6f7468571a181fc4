// The training objective's graph pieces against host arithmetic: forward noising, epsilon / v
// targets, min-SNR-γ weights and the per-sample-then-batch MSE.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/index.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import { SD15_NOISE_SCHEDULE } from '../../core/schedulers/index.js';
import {
  minSnrWeightOf,
  minSnrWeights,
  mseLoss,
  noiseAndTarget,
  noiseTables,
  type TrainPredictionType,
} from '../../core/train/index.js';
import { f32, loadFloatTensors, wave } from './helpers.js';

const SHAPE = [3, 4, 2, 2];
const N = 3 * 16;
const TS = [0, 499, 999];

async function run(prediction: TrainPredictionType, gamma?: number) {
  const g = new GraphBuilder('objective');
  const x0 = g.input('latents', 'float32', SHAPE);
  const eps = g.input('noise', 'float32', SHAPE);
  const t = g.input('timesteps', 'int64', [3]);
  const pred = g.input('pred', 'float32', SHAPE);
  const schedule = SD15_NOISE_SCHEDULE;
  const { noisy, target } = noiseAndTarget(g, x0, eps, t, { schedule, prediction });
  const w = gamma === undefined ? undefined : minSnrWeightOf(g, t, { schedule, prediction, gamma });
  g.output(noisy, 'noisy');
  g.output(target, 'target');
  g.output(mseLoss(g, pred, target, w), 'loss');
  const feeds: Record<string, HostTensor> = {
    latents: f32(SHAPE, wave(N, 0.3)),
    noise: f32(SHAPE, wave(N, 0.71)),
    timesteps: { dtype: 'int64', shape: [3], data: BigInt64Array.from(TS.map(BigInt)) },
    pred: f32(SHAPE, wave(N, 0.53)),
  };
  const s = await Session.create(g.build());
  try {
    const out = await s.run(feeds);
    return { feeds, out };
  } finally {
    await s.release();
  }
}

describe('training objective', () => {
  const tables = noiseTables(SD15_NOISE_SCHEDULE);

  it('√ᾱ tables come from the SD1.5 training schedule (fixture alphas_cumprod)', async () => {
    const ref = (await loadFloatTensors('scheduler/sd15_train_schedule.safetensors')).get(
      'alphas_cumprod',
    )!;
    for (const t of TS) {
      expect(tables.sqrtAlphaBar[t]).toBe(Math.fround(Math.sqrt(ref.data[t])));
      expect(tables.sqrtOneMinusAlphaBar[t]).toBe(
        Math.fround(Math.sqrt(Math.fround(1 - ref.data[t]))),
      );
    }
  });

  for (const [prediction, gamma] of [
    ['epsilon', undefined],
    ['epsilon', 5],
    ['v_prediction', 5],
  ] as const) {
    it(`${prediction}${gamma ? ', min-SNR-γ 5' : ''}: noisy, target and loss as the formulas`, async () => {
      const { feeds, out } = await run(prediction, gamma);
      const x0 = feeds.latents.data as Float32Array;
      const eps = feeds.noise.data as Float32Array;
      const pred = feeds.pred.data as Float32Array;
      const noisy = out.noisy.data as Float32Array;
      const target = out.target.data as Float32Array;
      const weights = gamma ? minSnrWeights(SD15_NOISE_SCHEDULE, gamma, prediction) : undefined;
      let loss = 0;
      TS.forEach((t, b) => {
        const a = tables.sqrtAlphaBar[t];
        const s = tables.sqrtOneMinusAlphaBar[t];
        let se = 0;
        for (let i = b * 16; i < (b + 1) * 16; i++) {
          expect(noisy[i]).toBeCloseTo(a * x0[i] + s * eps[i], 6);
          const want = prediction === 'epsilon' ? eps[i] : a * eps[i] - s * x0[i];
          expect(target[i]).toBeCloseTo(want, 6);
          se += (pred[i] - want) ** 2;
        }
        const snr = tables.snr[t];
        const w = weights ? weights[t] : 1;
        if (weights)
          expect(w).toBeCloseTo(
            prediction === 'epsilon' ? Math.min(snr, 5) / snr : Math.min(snr, 5) / (snr + 1),
            7,
          );
        loss += ((se / 16) * w) / 3;
      });
      expect((out.loss.data as Float32Array)[0]).toBeCloseTo(loss, 6);
    });
  }

  it('min-SNR-γ caps the weight of low-noise steps only', () => {
    const w = minSnrWeights(SD15_NOISE_SCHEDULE, 5, 'epsilon');
    expect(w[0]).toBeLessThan(0.01); // SNR ≈ 1175 at t = 0
    expect(w[999]).toBe(1); // SNR ≈ 0.005 < γ
    expect(() => minSnrWeights(SD15_NOISE_SCHEDULE, 0, 'epsilon')).toThrow(/gamma/);
  });
});
