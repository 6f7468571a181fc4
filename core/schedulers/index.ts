// Public surface of core/schedulers: the samplers by their A1111 names, and the math under them.
import { DdimScheduler, type DdimOptions } from './ddim.js';
import { DpmSolverMultistepScheduler } from './dpmpp-2m.js';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral.js';
import { EulerDiscreteScheduler } from './euler.js';
import type { Scheduler } from './types.js';

/** Options any sampler accepts; `eta` matters to DDIM only. */
export type SamplerOptions = DdimOptions;

/** A1111 sampler name → factory (each with the SD1.5 config unless options say otherwise). */
export const SAMPLERS = Object.freeze({
  Euler: (o: SamplerOptions = {}): Scheduler => new EulerDiscreteScheduler(o, 'Euler'),
  'Euler a': (o: SamplerOptions = {}): Scheduler =>
    new EulerAncestralDiscreteScheduler(o, 'Euler a'),
  'DPM++ 2M': (o: SamplerOptions = {}): Scheduler =>
    new DpmSolverMultistepScheduler({ ...o, useKarrasSigmas: false }, 'DPM++ 2M'),
  'DPM++ 2M Karras': (o: SamplerOptions = {}): Scheduler =>
    new DpmSolverMultistepScheduler({ ...o, useKarrasSigmas: true }, 'DPM++ 2M Karras'),
  DDIM: (o: SamplerOptions = {}): Scheduler => new DdimScheduler(o, 'DDIM'),
});

export type SamplerName = keyof typeof SAMPLERS;
export const SAMPLER_NAMES = Object.freeze(Object.keys(SAMPLERS) as SamplerName[]);

export function isSamplerName(name: string): name is SamplerName {
  return Object.hasOwn(SAMPLERS, name);
}

/** A fresh scheduler for an A1111 sampler name; unknown names list the valid ones. */
export function createScheduler(name: string, options: SamplerOptions = {}): Scheduler {
  if (!isSamplerName(name)) {
    throw new Error(`unknown sampler "${name}"; valid: ${SAMPLER_NAMES.join(', ')}`);
  }
  return SAMPLERS[name](options);
}

export { EulerDiscreteScheduler, type EulerOptions } from './euler.js';
export { EulerAncestralDiscreteScheduler } from './euler-ancestral.js';
export { DpmSolverMultistepScheduler, type DpmSolverOptions } from './dpmpp-2m.js';
export { DdimScheduler, type DdimOptions } from './ddim.js';
export { makeBetas, torchLinspaceF32, trainSchedule, type TrainSchedule } from './betas.js';
export { interpSigmas, karrasSigmas, sigmaToT } from './sigmas.js';
export {
  BETA_SCHEDULES,
  PREDICTION_TYPES,
  SD15_NOISE_SCHEDULE,
  SD15_STEPS_OFFSET,
  TIMESTEP_SPACINGS,
  type BetaSchedule,
  type NoiseScheduleConfig,
  type NoiseSource,
  type PredictionType,
  type ResolvedSchedulerConfig,
  type Scheduler,
  type SchedulerOptions,
  type StepOptions,
  type StepOutput,
  type TimestepSpacing,
} from './types.js';
