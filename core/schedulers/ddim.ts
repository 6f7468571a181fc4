// DDIM (Song et al. 2020) = diffusers' DDIMScheduler = A1111 "DDIM". Works in ᾱ-space on
// integer timesteps; eta = 0 is deterministic, eta > 0 adds noise (needs options.rng).
import { trainSchedule, type TrainSchedule } from './betas.js';
import { leadingTimesteps, linspaceTimesteps, roundHalfEven, trailingTimesteps } from './sigmas.js';
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

export interface DdimOptions extends SchedulerOptions {
  /** Weight of the added noise: 0 = DDIM, 1 = DDPM-like. */
  readonly eta?: number;
}

export class DdimScheduler implements Scheduler {
  readonly config: ResolvedSchedulerConfig;
  readonly eta: number;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  private readonly train: TrainSchedule;
  private numInferenceSteps = 0;

  constructor(
    options: DdimOptions = {},
    readonly name = 'DDIM',
  ) {
    this.config = resolveConfig(options, 'leading');
    this.eta = options.eta ?? 0;
    if (!(this.eta >= 0)) throw new Error(`DDIM eta must be ≥ 0, got ${options.eta}`);
    this.train = trainSchedule(this.config);
  }

  get needsNoise(): boolean {
    return this.eta > 0;
  }

  setTimesteps(numInferenceSteps: number): void {
    const cfg = this.config;
    checkStepCount(numInferenceSteps, cfg);
    const T = cfg.numTrainTimesteps;
    let raw: Float64Array;
    if (cfg.timestepSpacing === 'linspace') raw = linspaceTimesteps(T, numInferenceSteps);
    else if (cfg.timestepSpacing === 'leading') {
      raw = leadingTimesteps(T, numInferenceSteps, cfg.stepsOffset);
    } else raw = trailingTimesteps(T, numInferenceSteps);
    this.timesteps = Object.freeze(Array.from(raw, roundHalfEven));
    this.numInferenceSteps = numInferenceSteps;
  }

  /** The timestep the step from `t` lands on: always t − T div n, whatever the spacing. */
  prevTimestep(timestep: number): number {
    return timestep - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps);
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    this.checkTimestep(timestep);
    return sample.slice();
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    options: StepOptions = {},
  ): StepOutput {
    checkSameSize(modelOutput, sample);
    this.checkTimestep(timestep);
    // 1. get previous step value (= t − T div n); below 0 it is ᾱ_0 (set_alpha_to_one false)
    const ac = this.train.alphasCumprod;
    const prevT = this.prevTimestep(timestep);
    const alphaProd = ac[timestep];
    const alphaProdPrev = prevT >= 0 ? ac[prevT] : ac[0];
    const betaProd = f(1 - alphaProd);
    const sqrtA = f(Math.sqrt(alphaProd));
    const sqrtB = f(Math.sqrt(betaProd));
    // 2. compute predicted original sample and predicted noise
    const n = sample.length;
    const x0 = new Float32Array(n);
    const eps = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      if (this.config.predictionType === 'epsilon') {
        x0[k] = f(f(x - f(sqrtB * m)) / sqrtA);
        eps[k] = m;
      } else {
        x0[k] = f(f(sqrtA * x) - f(sqrtB * m));
        eps[k] = f(f(sqrtA * m) + f(sqrtB * x));
      }
    }
    // 3. σ_t = eta·√variance, variance = (1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev)
    const betaProdPrev = f(1 - alphaProdPrev);
    const variance = f(f(betaProdPrev / betaProd) * f(1 - f(alphaProd / alphaProdPrev)));
    const std = f(this.eta * f(Math.sqrt(variance)));
    // 4. x_{t−1} = √ᾱ_prev·x0 + √(1 − ᾱ_prev − σ_t²)·ε (+ σ_t·noise)
    const dirCoef = f(Math.sqrt(f(betaProdPrev - f(std * std))));
    const sqrtAPrev = f(Math.sqrt(alphaProdPrev));
    const prev = new Float32Array(n);
    for (let k = 0; k < n; k++) prev[k] = f(f(sqrtAPrev * x0[k]) + f(dirCoef * eps[k]));
    if (this.eta > 0) {
      if (!options.rng) throw new Error(`${this.name} with eta ${this.eta} needs options.rng`);
      const noise = options.rng.randn([n]);
      for (let k = 0; k < n; k++) prev[k] = f(prev[k] + f(std * noise[k]));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  private checkTimestep(timestep: number): void {
    if (this.numInferenceSteps === 0) {
      throw new Error('no schedule yet: call setTimesteps(n) first');
    }
    if (!Number.isInteger(timestep) || timestep < 0 || timestep >= this.config.numTrainTimesteps) {
      throw new Error(
        `DDIM timestep must be an integer in [0, ${this.config.numTrainTimesteps - 1}], got ${timestep}`,
      );
    }
  }
}
