// DPM-Solver++(2M) (Lu et al. 2022) = diffusers' DPMSolverMultistepScheduler with
// algorithm 'dpmsolver++', solver order 2, midpoint, lower-order final step and a final sigma
// of 0 = A1111 "DPM++ 2M" / "DPM++ 2M Karras". A data-prediction multistep ODE solver in
// λ = ln(α/σ): first order on the first and last step, second order in between. The model sees
// the latents unscaled; no noise is drawn.
import { trainSchedule, type TrainSchedule } from './betas.js';
import {
  StepCursor,
  interpSigmas,
  karrasSigmas,
  leadingTimesteps,
  linspaceTimesteps,
  roundHalfEven,
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

export interface DpmSolverOptions extends SchedulerOptions {
  /** Karras sigmas over the full training range (then the spacing has no effect). */
  readonly useKarrasSigmas?: boolean;
}

/** α_t = 1/√(σ²+1), σ_t = σ·α_t, λ = ln α_t − ln σ_t, all float32 like torch's 0-d tensors. */
function alphaSigmaLambda(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = f(1 / f(Math.sqrt(f(f(sigma * sigma) + 1))));
  const sigmaT = f(sigma * alpha);
  return { alpha, sigmaT, lambda: f(f(Math.log(alpha)) - f(Math.log(sigmaT))) };
}

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly config: ResolvedSchedulerConfig;
  readonly useKarrasSigmas: boolean;
  readonly needsNoise = false;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  /** σ per step plus the final 0. */
  sigmas: Float32Array = new Float32Array(0);
  private readonly train: TrainSchedule;
  private readonly cursor = new StepCursor(() => this.timesteps);
  /** The previous step's x0 estimate (the "2M" memory). */
  private previousX0: Float32Array | null = null;
  private lowerOrderNums = 0;

  constructor(
    options: DpmSolverOptions = {},
    readonly name = options.useKarrasSigmas ? 'DPM++ 2M Karras' : 'DPM++ 2M',
  ) {
    this.config = resolveConfig(options, 'linspace');
    this.useKarrasSigmas = options.useKarrasSigmas ?? false;
    this.train = trainSchedule(this.config);
  }

  setTimesteps(numInferenceSteps: number): void {
    const cfg = this.config;
    const n = numInferenceSteps;
    checkStepCount(n, cfg);
    const T = cfg.numTrainTimesteps;
    // 1. Integer timesteps: linspace/leading lay n+1 points and drop the last (t = 0 side).
    let raw: Float64Array;
    if (cfg.timestepSpacing === 'linspace') raw = linspaceTimesteps(T, n + 1).subarray(0, n);
    else if (cfg.timestepSpacing === 'leading') {
      raw = leadingTimesteps(T, n + 1, 0)
        .subarray(0, n)
        .map((t) => t + cfg.stepsOffset);
    } else raw = trailingTimesteps(T, n);
    let timesteps = Array.from(raw, roundHalfEven);
    // 2. Sigmas: interpolated at the timesteps, or Karras over [σ_train(0), σ_train(T−1)] with
    //    the timesteps recovered (rounded) from them.
    let sigmas: Float64Array;
    if (this.useKarrasSigmas) {
      sigmas = karrasSigmas(this.train.sigmas[0], this.train.sigmas[T - 1], n);
      timesteps = Array.from(sigmas, (s) => roundHalfEven(sigmaToT(s, this.train.logSigmas)));
    } else {
      sigmas = interpSigmas(timesteps, this.train.sigmas);
    }
    // 3. Final sigma 0 ('zero' final_sigmas_type).
    this.sigmas = new Float32Array(n + 1);
    this.sigmas.set(sigmas);
    this.timesteps = Object.freeze(timesteps);
    this.cursor.reset();
    this.previousX0 = null;
    this.lowerOrderNums = 0;
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    this.cursor.current(timestep);
    return sample.slice();
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    _options: StepOptions = {},
  ): StepOutput {
    checkSameSize(modelOutput, sample);
    const i = this.cursor.current(timestep);
    const last = i === this.timesteps.length - 1;
    // 1. convert the model output to a data prediction x0
    const s0 = alphaSigmaLambda(this.sigmas[i]);
    const x0 = new Float32Array(sample.length);
    for (let k = 0; k < x0.length; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      x0[k] =
        this.config.predictionType === 'epsilon'
          ? f(f(x - f(s0.sigmaT * m)) / s0.alpha)
          : f(f(s0.alpha * x) - f(s0.sigmaT * m));
    }
    // 2. the step from σ_i to σ_{i+1}: x ← (σ_t/σ_s)·x − α_t(e^{−h} − 1)·D
    const t = alphaSigmaLambda(this.sigmas[i + 1]);
    const h = f(t.lambda - s0.lambda);
    const ratio = f(t.sigmaT / s0.sigmaT);
    const coef = f(t.alpha * f(f(Math.exp(-h)) - 1));
    const prev = new Float32Array(sample.length);
    const older = this.previousX0;
    if (this.lowerOrderNums < 1 || last || older === null) {
      // 3a. first order (DPM-Solver++ 1 = DDIM in λ): D = x0
      for (let k = 0; k < prev.length; k++) {
        prev[k] = f(f(ratio * sample[k]) - f(coef * x0[k]));
      }
    } else {
      // 3b. second order, midpoint: D0 = x0_i, D1 = (x0_i − x0_{i−1})/r with r = h_{i−1}/h
      const sPrev = alphaSigmaLambda(this.sigmas[i - 1]);
      const r0 = f(f(s0.lambda - sPrev.lambda) / h);
      const invR0 = f(1 / r0);
      const halfCoef = f(0.5 * coef);
      for (let k = 0; k < prev.length; k++) {
        const d1 = f(invR0 * f(x0[k] - older[k]));
        prev[k] = f(f(f(ratio * sample[k]) - f(coef * x0[k])) - f(halfCoef * d1));
      }
    }
    this.previousX0 = x0;
    if (this.lowerOrderNums < 2) this.lowerOrderNums += 1;
    this.cursor.advance();
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
