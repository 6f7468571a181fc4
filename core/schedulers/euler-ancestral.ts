// Euler ancestral sampler = diffusers' EulerAncestralDiscreteScheduler = A1111 "Euler a".
// Each step goes deterministically down to σ_down and adds fresh noise of size σ_up, with
// σ_down² + σ_up² = σ_{i+1}². The noise is one randn of the latent's size per step, drawn
// after the deterministic part, which is where diffusers draws it from its generator.
import { trainSchedule, type TrainSchedule } from './betas.js';
import { eulerInitNoiseSigma, eulerSchedule, predictOriginal, scaleBySigma } from './euler.js';
import { StepCursor } from './sigmas.js';
import {
  resolveConfig,
  type ResolvedSchedulerConfig,
  type Scheduler,
  type SchedulerOptions,
  type StepOptions,
  type StepOutput,
} from './types.js';

const f = Math.fround;

export class EulerAncestralDiscreteScheduler implements Scheduler {
  readonly config: ResolvedSchedulerConfig;
  readonly needsNoise = true;
  timesteps: readonly number[] = [];
  /** σ per step plus the final 0. */
  sigmas: Float32Array = new Float32Array(0);
  private readonly train: TrainSchedule;
  private readonly cursor = new StepCursor(() => this.timesteps);

  constructor(
    options: SchedulerOptions = {},
    readonly name = 'Euler a',
  ) {
    this.config = resolveConfig(options, 'linspace');
    this.train = trainSchedule(this.config);
  }

  get initNoiseSigma(): number {
    return eulerInitNoiseSigma(this.sigmas, this.config);
  }

  setTimesteps(numInferenceSteps: number): void {
    const s = eulerSchedule(this.config, this.train, numInferenceSteps, false);
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
    const rng = options.rng;
    if (!rng) throw new Error(`${this.name} is stochastic: step() needs options.rng`);
    const i = this.cursor.current(timestep);
    const sigma = this.sigmas[i];
    // 1. compute predicted original sample (x_0) from the model output
    const x0 = predictOriginal(this.config, modelOutput, sample, sigma);
    // 2. split the next sigma into a deterministic part σ_down and a noise part σ_up
    const from2 = f(sigma * sigma);
    const to2 = f(this.sigmas[i + 1] * this.sigmas[i + 1]);
    const sigmaUp = f(Math.sqrt(f(f(to2 * f(from2 - to2)) / from2)));
    const sigmaDown = f(Math.sqrt(f(to2 - f(sigmaUp * sigmaUp))));
    // 3. Euler step down to σ_down
    const dt = f(sigmaDown - sigma);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      const derivative = f(f(sample[k] - x0[k]) / sigma);
      prev[k] = f(sample[k] + f(derivative * dt));
    }
    // 4. add fresh noise of size σ_up (drawn every step, also the last where σ_up = 0)
    const noise = rng.randn([sample.length]);
    for (let k = 0; k < prev.length; k++) prev[k] = f(prev[k] + f(noise[k] * sigmaUp));
    this.cursor.advance();
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
