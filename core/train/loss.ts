// The diffusion training objective as graph pieces: forward noising q(x_t | x_0), the prediction
// target (epsilon or v), min-SNR-γ weights, and the float32 MSE loss — shared by the training
// step and the parity graph. Per-timestep quantities are host-computed float32 tables that the
// graph Gathers by the int64 timestep, so nothing depends on in-graph pow/sqrt precision.
import { attr, type GraphBuilder, type Value } from '../graph/index.js';
import { trainSchedule, type NoiseScheduleConfig } from '../schedulers/index.js';

export type TrainPredictionType = 'epsilon' | 'v_prediction';
export const TRAIN_PREDICTION_TYPES: readonly TrainPredictionType[] = ['epsilon', 'v_prediction'];

const f = Math.fround;

export interface NoiseTables {
  /** √ᾱ_t, float32, as diffusers' `alphas_cumprod[t] ** 0.5`. */
  readonly sqrtAlphaBar: Float32Array;
  /** √(1 − ᾱ_t), float32. */
  readonly sqrtOneMinusAlphaBar: Float32Array;
  /** SNR_t = ᾱ_t / (1 − ᾱ_t) (float64 values). */
  readonly snr: Float64Array;
}

export function noiseTables(schedule: NoiseScheduleConfig): NoiseTables {
  const ab = trainSchedule(schedule).alphasCumprod;
  return {
    sqrtAlphaBar: ab.map((a) => f(Math.sqrt(a))),
    sqrtOneMinusAlphaBar: ab.map((a) => f(Math.sqrt(f(1 - a)))),
    snr: Float64Array.from(ab, (a) => a / (1 - a)),
  };
}

/**
 * Min-SNR-γ loss weights per timestep (Hang et al. 2023, as kohya's apply_snr_weight):
 * min(SNR, γ)/SNR for epsilon prediction, min(SNR, γ)/(SNR + 1) for v-prediction.
 */
export function minSnrWeights(
  schedule: NoiseScheduleConfig,
  gamma: number,
  prediction: TrainPredictionType,
): Float32Array {
  if (!Number.isFinite(gamma) || gamma <= 0)
    throw new Error(`min-SNR gamma must be a positive number, got ${gamma}`);
  const { snr } = noiseTables(schedule);
  return Float32Array.from(snr, (s) =>
    prediction === 'v_prediction' ? Math.min(s, gamma) / (s + 1) : Math.min(s, gamma) / s,
  );
}

/** table[t] for int64 timesteps [B], as [B, 1, 1, 1] to broadcast over NCHW. */
function perSample(g: GraphBuilder, table: Float32Array, timesteps: Value): Value {
  const picked = g.op('Gather', [g.constant(table, 'float32', [table.length]), timesteps]);
  return g.op('Unsqueeze', [picked, g.ints([1, 2, 3])]);
}

export interface NoisedBatch {
  /** x_t = √ᾱ·x₀ + √(1−ᾱ)·ε, float32. */
  readonly noisy: Value;
  /** What the model is trained to predict, float32. */
  readonly target: Value;
}

/**
 * Forward noising and the target for float32 latents x₀ and noise ε [B, C, H, W] at int64
 * timesteps [B]. Noise offset and other noise shaping are the caller's: they change ε, which
 * is fed in, not the formula.
 */
export function noiseAndTarget(
  g: GraphBuilder,
  latents: Value,
  noise: Value,
  timesteps: Value,
  o: { schedule: NoiseScheduleConfig; prediction: TrainPredictionType },
): NoisedBatch {
  if (!TRAIN_PREDICTION_TYPES.includes(o.prediction))
    throw new Error(
      `prediction type '${String(o.prediction)}' is not one of ${TRAIN_PREDICTION_TYPES.join(', ')}`,
    );
  return g.scope('noising', () => {
    const t = noiseTables(o.schedule);
    const a = perSample(g, t.sqrtAlphaBar, timesteps);
    const s = perSample(g, t.sqrtOneMinusAlphaBar, timesteps);
    const noisy = g.op('Add', [g.op('Mul', [a, latents]), g.op('Mul', [s, noise])]);
    const target =
      o.prediction === 'epsilon'
        ? noise
        : g.op('Sub', [g.op('Mul', [a, noise]), g.op('Mul', [s, latents])]);
    return { noisy, target };
  });
}

/**
 * float32 scalar loss: per-sample mean of (pred − target)² over C, H, W, optionally times a
 * per-sample weight [B], then the mean over the batch (kohya's order of reductions). The
 * prediction is cast to float32 first so an fp16 model still gets an fp32 loss.
 */
export function mseLoss(g: GraphBuilder, prediction: Value, target: Value, weights?: Value): Value {
  return g.scope('loss', () => {
    const err = g.op('Sub', [g.cast(prediction, 'float32'), g.cast(target, 'float32')]);
    let perSampleLoss = g.op('ReduceMean', [g.op('Mul', [err, err]), g.ints([1, 2, 3])], {
      keepdims: attr.int(0),
    });
    if (weights) perSampleLoss = g.op('Mul', [perSampleLoss, weights]);
    return g.op('ReduceMean', [perSampleLoss], { keepdims: attr.int(0) });
  });
}

/** min-SNR-γ weights [B] for int64 timesteps [B] (see minSnrWeights). */
export function minSnrWeightOf(
  g: GraphBuilder,
  timesteps: Value,
  o: { schedule: NoiseScheduleConfig; prediction: TrainPredictionType; gamma: number },
): Value {
  const w = minSnrWeights(o.schedule, o.gamma, o.prediction);
  return g.op('Gather', [g.constant(w, 'float32', [w.length]), timesteps]);
}
