// Shared types and option handling of the samplers. Schedulers are pure math over Float32Array
// latents (row-major, any shape); they know nothing about models or runtimes.

export type PredictionType = 'epsilon' | 'v_prediction';
export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';
export type BetaSchedule = 'scaled_linear' | 'linear';

export const PREDICTION_TYPES: readonly PredictionType[] = Object.freeze([
  'epsilon',
  'v_prediction',
]);
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = Object.freeze([
  'linspace',
  'leading',
  'trailing',
]);
export const BETA_SCHEDULES: readonly BetaSchedule[] = Object.freeze(['scaled_linear', 'linear']);

/** The training noise schedule (diffusers' `num_train_timesteps`, `beta_*`). */
export interface NoiseScheduleConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
}

/** What a caller may change; everything defaults to the SD1.5 scheduler config. */
export interface SchedulerOptions extends Partial<NoiseScheduleConfig> {
  /** 'epsilon' for SD1.5, 'v_prediction' for SD2.x-v style checkpoints. */
  readonly predictionType?: PredictionType;
  /** Defaults per sampler as in diffusers: 'leading' for DDIM, 'linspace' for the others. */
  readonly timestepSpacing?: TimestepSpacing;
  readonly stepsOffset?: number;
}

/** SD1.5's `scheduler_config.json` (scaled_linear 0.00085 → 0.012, steps_offset 1). */
export const SD15_NOISE_SCHEDULE: NoiseScheduleConfig = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
});
export const SD15_STEPS_OFFSET = 1;

/** Anything that yields N(0, 1) float32 noise (core/generate/rng's `Rng` fits). */
export interface NoiseSource {
  randn(shape: readonly number[]): Float32Array;
}

export interface StepOptions {
  /** Noise for stochastic samplers (Euler a, DDIM with eta > 0); Euler draws and discards. */
  readonly rng?: NoiseSource;
}

export interface StepOutput {
  /** x_{t−1}: the latents for the next step. */
  readonly prevSample: Float32Array;
  /** The model's estimate of the clean latents at this step (for previews). */
  readonly predOriginalSample: Float32Array;
}

/** The interface every sampler implements, shaped like a diffusers scheduler. */
export interface Scheduler {
  /** The A1111 name it was created under, or its class-like name. */
  readonly name: string;
  readonly config: ResolvedSchedulerConfig;
  /** Timesteps to call the model with, in order (fractional for the Euler family). */
  readonly timesteps: readonly number[];
  /** What the initial N(0, 1) noise is multiplied by. */
  readonly initNoiseSigma: number;
  /** Whether `step` needs `options.rng`. */
  readonly needsNoise: boolean;
  setTimesteps(numInferenceSteps: number): void;
  /** The model input for `sample` at `timestep` (a new array; identity-scaled for DPM/DDIM). */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    options?: StepOptions,
  ): StepOutput;
}

export interface ResolvedSchedulerConfig extends NoiseScheduleConfig {
  readonly predictionType: PredictionType;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
}

function oneOf<T extends string>(what: string, value: string, valid: readonly T[]): T {
  if (!(valid as readonly string[]).includes(value)) {
    throw new Error(`unknown ${what} "${value}"; valid: ${valid.join(', ')}`);
  }
  return value as T;
}

/** Fill defaults and validate; errors name the bad value and the valid ones. */
export function resolveConfig(
  options: SchedulerOptions,
  defaultSpacing: TimestepSpacing,
): ResolvedSchedulerConfig {
  const cfg: ResolvedSchedulerConfig = {
    numTrainTimesteps: options.numTrainTimesteps ?? SD15_NOISE_SCHEDULE.numTrainTimesteps,
    betaStart: options.betaStart ?? SD15_NOISE_SCHEDULE.betaStart,
    betaEnd: options.betaEnd ?? SD15_NOISE_SCHEDULE.betaEnd,
    betaSchedule: oneOf(
      'beta schedule',
      options.betaSchedule ?? SD15_NOISE_SCHEDULE.betaSchedule,
      BETA_SCHEDULES,
    ),
    predictionType: oneOf('prediction type', options.predictionType ?? 'epsilon', PREDICTION_TYPES),
    timestepSpacing: oneOf(
      'timestep spacing',
      options.timestepSpacing ?? defaultSpacing,
      TIMESTEP_SPACINGS,
    ),
    stepsOffset: options.stepsOffset ?? SD15_STEPS_OFFSET,
  };
  if (!Number.isInteger(cfg.numTrainTimesteps) || cfg.numTrainTimesteps < 2) {
    throw new Error(`numTrainTimesteps must be an integer ≥ 2, got ${cfg.numTrainTimesteps}`);
  }
  if (!(cfg.betaStart > 0 && cfg.betaEnd < 1 && cfg.betaStart <= cfg.betaEnd)) {
    throw new Error(`need 0 < betaStart ≤ betaEnd < 1, got ${cfg.betaStart} → ${cfg.betaEnd}`);
  }
  if (!Number.isInteger(cfg.stepsOffset) || cfg.stepsOffset < 0) {
    throw new Error(`stepsOffset must be an integer ≥ 0, got ${cfg.stepsOffset}`);
  }
  return Object.freeze(cfg);
}

/** Validates a step count against the training schedule. */
export function checkStepCount(n: number, cfg: NoiseScheduleConfig): void {
  if (!Number.isInteger(n) || n < 1 || n > cfg.numTrainTimesteps) {
    throw new Error(
      `numInferenceSteps must be an integer in [1, ${cfg.numTrainTimesteps}], got ${n}`,
    );
  }
}

/** Model output and sample must have the same element count. */
export function checkSameSize(modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new Error(
      `model output has ${modelOutput.length} values but the sample has ${sample.length}`,
    );
  }
}
