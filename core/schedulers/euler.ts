// Euler sampler (Karras et al. 2022, Algorithm 2 without churn) = diffusers'
// EulerDiscreteScheduler = A1111 "Euler". Works in σ-space: latents are x = x0 + σ·ε, the model
// sees x/√(σ²+1). Arithmetic is float32 step by step, as torch does it.
import { trainSchedule, type TrainSchedule } from './betas.js';
import {
  StepCursor,
  interpSigmas,
  karrasSigmas,
  leadingTimesteps,
  linspaceTimesteps,
  sigmaToT,
  trailingTimesteps,
} from './sigmas.js';
import {
  checkSameSize,
  checkStepCount,
  resolveConfig,
  type ResolvedSchedulerConfig,
  type Scheduler,
  type SchedulerOptions,
  type StepOptions,
  type StepOutput,
} from './types.js';

const f = Math.fround;

export interface EulerOptions extends SchedulerOptions {
  /** Re-space the sigmas à la Karras between the schedule's own σmax and σmin. */
  readonly useKarrasSigmas?: boolean;
}

/** Timesteps (float32) and N+1 sigmas (float32, last 0) of the Euler family. */
export function eulerSchedule(
  cfg: ResolvedSchedulerConfig,
  train: TrainSchedule,
  n: number,
  karras: boolean,
): { timesteps: number[]; sigmas: Float32Array } {
  checkStepCount(n, cfg);
  const T = cfg.numTrainTimesteps;
  // 1. Timesteps on the chosen spacing, as float32.
  let raw: Float64Array;
  if (cfg.timestepSpacing === 'linspace') raw = linspaceTimesteps(T, n);
  else if (cfg.timestepSpacing === 'leading') raw = leadingTimesteps(T, n, cfg.stepsOffset);
  else raw = trailingTimesteps(T, n);
  let timesteps = Array.from(raw, f);
  // 2. Sigmas at those timesteps, interpolated in float64.
  let sigmas = interpSigmas(timesteps, train.sigmas);
  // 3. Karras: ρ-spaced sigmas over this schedule's range, mapped back to fractional timesteps.
  if (karras) {
    sigmas = karrasSigmas(sigmas[sigmas.length - 1], sigmas[0], n);
    timesteps = Array.from(sigmas, (s) => f(sigmaToT(s, train.logSigmas)));
  }
  // 4. The final sigma is 0: the last step lands on the clean estimate.
  const out = new Float32Array(n + 1);
  out.set(sigmas);
  return { timesteps, sigmas: out };
}

/** σmax for 'linspace'/'trailing', √(σmax² + 1) for 'leading' (diffusers' rule). */
export function eulerInitNoiseSigma(sigmas: Float32Array, cfg: ResolvedSchedulerConfig): number {
  const max = sigmas.reduce((m, s) => Math.max(m, s), 0);
  return cfg.timestepSpacing === 'leading' ? f(Math.sqrt(f(f(max * max) + 1))) : max;
}

/** The model input x/√(σ²+1). */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const denom = f(Math.sqrt(f(f(sigma * sigma) + 1)));
  return sample.map((x) => f(x / denom));
}

/** x0 from the model output at σ: x − σ·ε, or from v: v·(−σ/√(σ²+1)) + x/(σ²+1). */
export function predictOriginal(
  cfg: ResolvedSchedulerConfig,
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
): Float32Array {
  checkSameSize(modelOutput, sample);
  const x0 = new Float32Array(sample.length);
  if (cfg.predictionType === 'epsilon') {
    for (let i = 0; i < x0.length; i++) x0[i] = f(sample[i] - f(sigma * modelOutput[i]));
  } else {
    const s2p1 = f(f(sigma * sigma) + 1);
    const cOut = f(-sigma / f(Math.sqrt(s2p1)));
    for (let i = 0; i < x0.length; i++) {
      x0[i] = f(f(modelOutput[i] * cOut) + f(sample[i] / s2p1));
    }
  }
  return x0;
}

export class EulerDiscreteScheduler implements Scheduler {
  readonly config: ResolvedSchedulerConfig;
  readonly useKarrasSigmas: boolean;
  readonly needsNoise = false;
  timesteps: readonly number[] = [];
  /** σ per step plus the final 0. */
  sigmas: Float32Array = new Float32Array(0);
  private readonly train: TrainSchedule;
  private readonly cursor = new StepCursor(() => this.timesteps);

  constructor(
    options: EulerOptions = {},
    readonly name = 'Euler',
  ) {
    this.config = resolveConfig(options, 'linspace');
    this.useKarrasSigmas = options.useKarrasSigmas ?? false;
    this.train = trainSchedule(this.config);
  }

  get initNoiseSigma(): number {
    return eulerInitNoiseSigma(this.sigmas, this.config);
  }

  setTimesteps(numInferenceSteps: number): void {
    const s = eulerSchedule(this.config, this.train, numInferenceSteps, this.useKarrasSigmas);
    this.timesteps = Object.freeze(s.timesteps);
    this.sigmas = s.sigmas;
    this.cursor.reset();
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    return scaleBySigma(sample, this.sigmas[this.cursor.current(timestep)]);
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    options: StepOptions = {},
  ): StepOutput {
    const i = this.cursor.current(timestep);
    const sigma = this.sigmas[i];
    // diffusers draws churn noise on every step even when churn is 0 and then ignores it; we
    // draw and drop it too, so a shared generator stays on the same stream as there.
    options.rng?.randn([sample.length]);
    // 1. compute predicted original sample (x_0) from the model output
    const x0 = predictOriginal(this.config, modelOutput, sample, sigma);
    // 2. convert to an ODE derivative d = (x − x0)/σ and take one Euler step to σ_{i+1}
    const dt = f(this.sigmas[i + 1] - sigma);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      const derivative = f(f(sample[k] - x0[k]) / sigma);
      prev[k] = f(sample[k] + f(derivative * dt));
    }
    this.cursor.advance();
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
