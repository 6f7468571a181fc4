// Sampler behaviour beyond the fixtures: the name table, option checks, noise use, and
// v-prediction (which the fixtures do not cover) checked for consistency with epsilon.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/generate/rng/index.js';
import {
  DdimScheduler,
  DpmSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  SAMPLERS,
  SAMPLER_NAMES,
  createScheduler,
  trainSchedule,
  type NoiseSource,
  type PredictionType,
  type Scheduler,
} from '../../core/schedulers/index.js';

/** A noise source that counts its draws. */
function countingRng(seed = 1): NoiseSource & { sizes: number[] } {
  const inner = createRng('cpu', seed);
  const sizes: number[] = [];
  return {
    sizes,
    randn(shape) {
      sizes.push(shape.reduce((a, b) => a * b, 1));
      return inner.randn(shape);
    },
  };
}

function run(s: Scheduler, steps: number, rng?: NoiseSource): Float32Array {
  s.setTimesteps(steps);
  let x: Float32Array = createRng('cpu', 3)
    .randn([2, 4, 4])
    .map((v) => Math.fround(v * s.initNoiseSigma));
  const eps = createRng('cpu', 4).randn([2, 4, 4]);
  for (const t of s.timesteps) {
    s.scaleModelInput(x, t);
    x = s.step(eps, t, x, { rng }).prevSample;
  }
  return x;
}

describe('sampler table', () => {
  it('has the A1111 names and is frozen', () => {
    expect(SAMPLER_NAMES).toEqual(['Euler', 'Euler a', 'DPM++ 2M', 'DPM++ 2M Karras', 'DDIM']);
    expect(Object.isFrozen(SAMPLERS)).toBe(true);
    for (const name of SAMPLER_NAMES) expect(createScheduler(name).name).toBe(name);
  });

  it('rejects an unknown name, listing the valid ones', () => {
    expect(() => createScheduler('Euler A')).toThrow(
      'unknown sampler "Euler A"; valid: Euler, Euler a, DPM++ 2M, DPM++ 2M Karras, DDIM',
    );
  });

  it('maps names to the right algorithms', () => {
    expect(createScheduler('Euler')).toBeInstanceOf(EulerDiscreteScheduler);
    expect(createScheduler('Euler a')).toBeInstanceOf(EulerAncestralDiscreteScheduler);
    const karras = createScheduler('DPM++ 2M Karras') as DpmSolverMultistepScheduler;
    expect(karras.useKarrasSigmas).toBe(true);
    expect((createScheduler('DPM++ 2M') as DpmSolverMultistepScheduler).useKarrasSigmas).toBe(
      false,
    );
    expect(createScheduler('DDIM').config.timestepSpacing).toBe('leading');
    expect(createScheduler('Euler').config.timestepSpacing).toBe('linspace');
  });
});

describe('option and call checks', () => {
  it('names bad options and their valid values', () => {
    expect(() => createScheduler('Euler', { predictionType: 'sample' as PredictionType })).toThrow(
      'unknown prediction type "sample"; valid: epsilon, v_prediction',
    );
    expect(() => createScheduler('DDIM', { timestepSpacing: 'uniform' as 'linspace' })).toThrow(
      'unknown timestep spacing "uniform"; valid: linspace, leading, trailing',
    );
    expect(() => createScheduler('DDIM', { eta: -1 })).toThrow('eta must be ≥ 0');
  });

  it('refuses bad step counts and off-schedule calls', () => {
    const s = createScheduler('Euler');
    const x = new Float32Array(4);
    expect(() => s.step(x, 999, x)).toThrow('call setTimesteps(n) first');
    expect(() => s.setTimesteps(0)).toThrow('integer in [1, 1000], got 0');
    expect(() => s.setTimesteps(2.5)).toThrow('got 2.5');
    s.setTimesteps(4);
    expect(() => s.scaleModelInput(x, 500)).toThrow('timestep 500 is not in this schedule');
    s.step(x, 999, x);
    expect(() => s.step(x, 333, x)).toThrow('step 1 expects timestep 666, got 333');
    expect(() => s.step(new Float32Array(3), 666, x)).toThrow('3 values but the sample has 4');
  });

  it('can start part-way through the schedule (img2img)', () => {
    const s = createScheduler('DPM++ 2M Karras');
    s.setTimesteps(4);
    const x = new Float32Array(4).fill(1);
    expect(() => s.step(x, s.timesteps[2], x)).not.toThrow();
    expect(() => s.step(x, s.timesteps[3], x)).not.toThrow();
  });
});

describe('noise use', () => {
  it('Euler a needs an rng and draws one latent-sized block per step', () => {
    expect(() => run(createScheduler('Euler a'), 3)).toThrow('needs options.rng');
    const rng = countingRng();
    run(createScheduler('Euler a'), 3, rng);
    expect(rng.sizes).toEqual([32, 32, 32]);
  });

  it('Euler draws and discards like diffusers, without changing the result', () => {
    const rng = countingRng();
    const withRng = run(createScheduler('Euler'), 3, rng);
    expect(rng.sizes).toEqual([32, 32, 32]);
    expect(withRng).toEqual(run(createScheduler('Euler'), 3));
  });

  it('DPM++ 2M and DDIM (eta 0) draw nothing; DDIM eta > 0 does', () => {
    const rng = countingRng();
    run(createScheduler('DPM++ 2M'), 3, rng);
    run(createScheduler('DDIM'), 3, rng);
    expect(rng.sizes).toEqual([]);
    expect(() => run(createScheduler('DDIM', { eta: 1 }), 3)).toThrow('needs options.rng');
    const a = run(createScheduler('DDIM', { eta: 1 }), 3, rng);
    expect(rng.sizes).toEqual([32, 32, 32]);
    expect(a).not.toEqual(run(createScheduler('DDIM'), 3));
  });

  it('the same seed gives the same Euler a trajectory, another seed a different one', () => {
    const a = run(createScheduler('Euler a'), 5, createRng('cpu', 7));
    expect(run(createScheduler('Euler a'), 5, createRng('cpu', 7))).toEqual(a);
    expect(run(createScheduler('Euler a'), 5, createRng('cpu', 8))).not.toEqual(a);
  });
});

/**
 * Drives two schedulers of one kind, one fed ε and one fed v, where both predictions encode the
 * same clean latents x0* for the sample each one currently holds. The trajectories must agree,
 * and every predOriginalSample must be x0*.
 */
function vPredictionMatches(make: (p: PredictionType) => Scheduler, steps: number): number {
  const eps = make('epsilon');
  const vpred = make('v_prediction');
  eps.setTimesteps(steps);
  vpred.setTimesteps(steps);
  const target = createRng('cpu', 11).randn([64]);
  const start = createRng('cpu', 12)
    .randn([64])
    .map((v) => Math.fround(v * eps.initNoiseSigma));
  let xe: Float32Array = start;
  let xv: Float32Array = start.slice();
  const rngE = createRng('cpu', 13);
  const rngV = createRng('cpu', 13);
  let worst = 0;
  for (const t of eps.timesteps) {
    // x = a·x0 + b·ε and v = a'·ε − b'·x0, with the coefficients of this sampler's space.
    const [a, b, av, bv] = coefficients(eps, t);
    const epsOut = xe.map((x, i) => (x - a * target[i]) / b);
    const vOut = xv.map((x, i) => av * ((x - a * target[i]) / b) - bv * target[i]);
    const oe = eps.step(epsOut, t, xe, { rng: rngE });
    const ov = vpred.step(vOut, t, xv, { rng: rngV });
    for (let i = 0; i < 64; i++) {
      worst = Math.max(worst, Math.abs(oe.predOriginalSample[i] - target[i]));
      worst = Math.max(worst, Math.abs(ov.predOriginalSample[i] - target[i]));
    }
    xe = oe.prevSample;
    xv = ov.prevSample;
  }
  for (let i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(xe[i] - xv[i]));
  return worst;
}

/** [a, b] with sample = a·x0 + b·ε, and [α, σ] with v = α·ε − σ·x0, for timestep t. */
function coefficients(s: Scheduler, t: number): [number, number, number, number] {
  const i = s.timesteps.indexOf(t);
  if (s instanceof DdimScheduler) {
    const ac = trainSchedule(s.config).alphasCumprod[t];
    return [Math.sqrt(ac), Math.sqrt(1 - ac), Math.sqrt(ac), Math.sqrt(1 - ac)];
  }
  const sigma = (s as EulerDiscreteScheduler | DpmSolverMultistepScheduler).sigmas[i];
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  // Euler-family latents live in σ-space (x = x0 + σε); DPM's are the unscaled αx0 + σαε.
  if (s instanceof DpmSolverMultistepScheduler) return [alpha, sigma * alpha, alpha, sigma * alpha];
  return [1, sigma, alpha, sigma * alpha];
}

describe('v-prediction', () => {
  it.each(SAMPLER_NAMES)('%s: ε and v encoding the same x0 give the same trajectory', (name) => {
    const err = vPredictionMatches((p) => createScheduler(name, { predictionType: p }), 6);
    expect(err).toBeLessThan(2e-5); // measured ≤ 4.3e-6
  });
});
