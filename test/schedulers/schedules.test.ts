// Training schedule and per-sampler timesteps/sigmas against diffusers 0.27.2 (fixtures §2e).
import { describe, expect, it } from 'vitest';
import {
  SD15_NOISE_SCHEDULE,
  trainSchedule,
  type DdimScheduler,
  type TimestepSpacing,
} from '../../core/schedulers/index.js';
import {
  floats,
  loadSchedules,
  loadTensors,
  maxAbsDiff,
  maxRelDiff,
  schedulerFor,
} from './fixtures.js';

const fixture = loadSchedules();
const entries = Object.entries(fixture.schedules);

describe('SD1.5 training schedule', () => {
  it('betas, alphas_cumprod and train sigmas are bit-exact in float32', async () => {
    const ref = await loadTensors('scheduler/sd15_train_schedule.safetensors');
    const s = trainSchedule(SD15_NOISE_SCHEDULE);
    expect(s.betas).toEqual(floats(ref, 'betas'));
    expect(s.alphasCumprod).toEqual(floats(ref, 'alphas_cumprod'));
    expect(s.sigmas).toEqual(floats(ref, 'train_sigmas'));
    expect(s.sigmas[0]).toBeCloseTo(0.0291675, 6);
    expect(s.sigmas[999]).toBeCloseTo(14.614645, 5);
  });
});

describe('sampler schedules', () => {
  it('covers all 54 fixture schedules', () => {
    expect(entries).toHaveLength(54);
  });

  it.each(entries)('%s', (key, ref) => {
    const [config, spacing, steps] = key.split('/');
    const s = schedulerFor(config, spacing as TimestepSpacing);
    s.setTimesteps(Number(steps));
    expect(s.timesteps).toHaveLength(ref.timesteps.length);
    if (config === 'euler_karras') {
      // diffusers inverts σ → t through numpy's float32 log; exact to ~1e-4 only (README §2e).
      expect(maxAbsDiff(s.timesteps, ref.timesteps)).toBeLessThan(1e-4);
    } else {
      expect(s.timesteps).toEqual(ref.timesteps);
    }
    if (ref.timesteps_dtype === 'int64') expect(s.timesteps.every(Number.isInteger)).toBe(true);
    if (ref.sigmas) {
      const sigmas = (s as unknown as { sigmas: Float32Array }).sigmas;
      expect(maxRelDiff(sigmas, ref.sigmas)).toBeLessThanOrEqual(1e-6);
    }
    expect(Math.abs(s.initNoiseSigma - ref.init_noise_sigma)).toBeLessThanOrEqual(
      1e-6 * ref.init_noise_sigma,
    );
    if (ref.prev_timesteps) {
      const ddim = s as DdimScheduler;
      expect(s.timesteps.map((t) => ddim.prevTimestep(t))).toEqual(ref.prev_timesteps);
    }
  });
});
