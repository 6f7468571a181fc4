// Learning-rate schedules with the formulas of diffusers' / transformers' get_scheduler (the
// LambdaLR multipliers kohya uses). `step` is the 0-based index of the optimizer step about to
// run: LambdaLR applies lr_lambda(0) to the first step, so with warmup the first step has lr 0.

export type LrSchedulerName =
  'constant' | 'constant_with_warmup' | 'linear' | 'cosine' | 'cosine_with_restarts' | 'polynomial';

export const LR_SCHEDULERS: readonly LrSchedulerName[] = [
  'constant',
  'constant_with_warmup',
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
];

export interface LrScheduleOptions {
  name: LrSchedulerName;
  /** The base learning rate (the multiplier's 1). */
  lr: number;
  /** Warmup steps (linear from 0); default 0. */
  warmupSteps?: number;
  /** Total optimizer steps; needed by every schedule that decays. */
  totalSteps?: number;
  /**
   * cosine: number of full cosine waves, default 0.5 (one half-wave: a single decay to 0);
   * cosine_with_restarts: number of hard restarts, default 1.
   */
  numCycles?: number;
  /** polynomial: power (default 1) and final lr (default 1e-7). */
  power?: number;
  lrEnd?: number;
}

function warmup(step: number, warmupSteps: number): number | undefined {
  return step < warmupSteps ? step / Math.max(1, warmupSteps) : undefined;
}

/** The learning-rate multiplier at `step` (LambdaLR's lr_lambda). */
export function lrMultiplier(o: LrScheduleOptions, step: number): number {
  if (!Number.isInteger(step) || step < 0)
    throw new Error(`LR schedule step must be an integer ≥ 0, got ${step}`);
  const w = o.warmupSteps ?? 0;
  if (!Number.isInteger(w) || w < 0)
    throw new Error(`warmup steps must be an integer ≥ 0, got ${w}`);
  if (!LR_SCHEDULERS.includes(o.name))
    throw new Error(`unknown LR scheduler '${String(o.name)}'; valid: ${LR_SCHEDULERS.join(', ')}`);
  if (o.name === 'constant') return 1;
  const inWarmup = warmup(step, w);
  if (inWarmup !== undefined) return inWarmup;
  if (o.name === 'constant_with_warmup') return 1;
  const total = o.totalSteps;
  if (total === undefined || !Number.isInteger(total) || total < 1)
    throw new Error(
      `LR scheduler '${o.name}' needs totalSteps (an integer ≥ 1), got ${String(total)}`,
    );
  const progress = (step - w) / Math.max(1, total - w);
  switch (o.name) {
    case 'linear':
      return Math.max(0, (total - step) / Math.max(1, total - w));
    case 'cosine': {
      const cycles = o.numCycles ?? 0.5;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
    }
    case 'cosine_with_restarts': {
      const cycles = o.numCycles ?? 1;
      if (progress >= 1) return 0;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((cycles * progress) % 1))));
    }
    case 'polynomial': {
      const power = o.power ?? 1;
      const lrEnd = o.lrEnd ?? 1e-7;
      if (!(o.lr > lrEnd))
        throw new Error(`polynomial schedule: lrEnd (${lrEnd}) must be smaller than lr (${o.lr})`);
      if (step > total) return lrEnd / o.lr;
      const remaining = 1 - (step - w) / Math.max(1, total - w);
      return ((o.lr - lrEnd) * remaining ** power + lrEnd) / o.lr;
    }
  }
}

/** The learning rate at `step`. */
export function learningRateAt(o: LrScheduleOptions, step: number): number {
  return o.lr * lrMultiplier(o, step);
}
