// Timestep grids and sigma schedules, computed the way diffusers 0.27 does with numpy (float64,
// then cast): spacings, interpolated sigmas, Karras sigmas and sigma → timestep inversion.

/** `np.linspace(start, stop, num)` in float64: `i·step + start`, the last value set to `stop`. */
export function npLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** `np.arange(start, stop, step)` in float64: numpy fills with the delta of its first two values. */
export function npArange(start: number, stop: number, step: number): Float64Array {
  const num = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(num);
  const delta = start + step - start;
  for (let i = 0; i < num; i++) out[i] = i === 0 ? start : start + i * delta;
  return out;
}

/** numpy's `round`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** 'linspace': `linspace(0, T−1, count)` reversed (fractional). */
export function linspaceTimesteps(numTrain: number, count: number): Float64Array {
  return npLinspace(0, numTrain - 1, count).reverse();
}

/** 'leading': `arange(count)·(T div count)` reversed, plus the steps offset. */
export function leadingTimesteps(numTrain: number, count: number, offset: number): Float64Array {
  const ratio = Math.floor(numTrain / count);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = (count - 1 - i) * ratio + offset;
  return out;
}

/** 'trailing': `round(arange(T, 0, −T/n)) − 1`. */
export function trailingTimesteps(numTrain: number, n: number): Float64Array {
  return npArange(numTrain, 0, -numTrain / n).map((t) => roundHalfEven(t) - 1);
}

/** `np.interp(t, arange(T), trainSigmas)` in float64. */
export function interpSigmas(
  timesteps: ArrayLike<number>,
  trainSigmas: Float32Array,
): Float64Array {
  const last = trainSigmas.length - 1;
  const out = new Float64Array(timesteps.length);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    if (t <= 0) out[i] = trainSigmas[0];
    else if (t >= last) out[i] = trainSigmas[last];
    else {
      const j = Math.floor(t);
      out[i] =
        t === j ? trainSigmas[j] : (trainSigmas[j + 1] - trainSigmas[j]) * (t - j) + trainSigmas[j];
    }
  }
  return out;
}

/** Karras et al. (2022) ρ-spacing between σmax and σmin, `n` values, float64. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7): Float64Array {
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, n).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/**
 * The fractional training timestep whose log-sigma is `ln σ`, by linear interpolation between
 * the two neighbouring entries of the (increasing) float32 `logSigmas`.
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // The last index whose log-sigma is ≤ ln σ (0 if none), kept below the end.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low];
  const hi = logSigmas[low + 1];
  // numpy subtracts the two float32 entries in float32.
  const w = Math.min(1, Math.max(0, (lo - logSigma) / Math.fround(lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

/** Index of `timestep` in the schedule as diffusers picks it (the 2nd match if repeated). */
export function indexForTimestep(timesteps: readonly number[], timestep: number): number {
  const hits: number[] = [];
  timesteps.forEach((t, i) => {
    if (t === timestep) hits.push(i);
  });
  if (hits.length === 0) {
    throw new Error(
      `timestep ${timestep} is not in this schedule; timesteps: ${timesteps.join(', ')}`,
    );
  }
  return hits.length > 1 ? hits[1] : hits[0];
}

/**
 * Walks the schedule one model call at a time, as diffusers' `step_index`: the first call finds
 * its place by timestep (so a loop may start part-way, as img2img does); later calls advance.
 */
export class StepCursor {
  private index: number | null = null;

  constructor(private readonly timesteps: () => readonly number[]) {}

  reset(): void {
    this.index = null;
  }

  /** The index for a call at `timestep`; throws if the caller's timestep is off schedule. */
  current(timestep: number): number {
    const ts = this.timesteps();
    if (ts.length === 0) throw new Error('no schedule yet: call setTimesteps(n) first');
    if (this.index === null) this.index = indexForTimestep(ts, timestep);
    if (this.index >= ts.length) {
      throw new Error(`the schedule's ${ts.length} steps are done; call setTimesteps again`);
    }
    if (ts[this.index] !== timestep) {
      throw new Error(
        `step ${this.index} expects timestep ${ts[this.index]}, got ${timestep} ` +
          '(steps must follow the schedule in order)',
      );
    }
    return this.index;
  }

  advance(): void {
    if (this.index !== null) this.index += 1;
  }
}
