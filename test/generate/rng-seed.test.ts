// Seed resolution, the RNG source table, and the float32 FMA the randn recipe relies on.
import { describe, expect, it } from 'vitest';
import {
  MAX_RANDOM_SEED,
  RNG_SOURCES,
  RNG_SOURCE_NAMES,
  createRng,
  resolveSeed,
} from '../../core/generate/rng/index.js';
import { fma32, logf32, sincosf32 } from '../../core/generate/rng/float32-math.js';

describe('resolveSeed', () => {
  it('keeps an explicit seed', () => {
    expect(resolveSeed(0)).toEqual({ seed: 0, random: false });
    expect(resolveSeed(4294967295)).toEqual({ seed: 4294967295, random: false });
  });

  it('picks and reports a random seed for −1, in A1111’s range', () => {
    const words = [0xffffffff, 0xfffffffe, 1234];
    expect(resolveSeed(-1, () => words.shift()!)).toEqual({ seed: 1234, random: true });
    for (let i = 0; i < 20; i++) {
      const r = resolveSeed(-1);
      expect(r.random).toBe(true);
      expect(Number.isInteger(r.seed) && r.seed >= 0 && r.seed <= MAX_RANDOM_SEED).toBe(true);
    }
  });

  it('refuses other negative, fractional and unsafe seeds', () => {
    for (const bad of [-2, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => resolveSeed(bad)).toThrow(`bad seed ${bad}: use −1 for a random seed`);
    }
  });
});

describe('RNG sources', () => {
  it('lists the sources and rejects unknown ones by name', () => {
    expect(RNG_SOURCE_NAMES).toEqual(['cpu']);
    expect(Object.isFrozen(RNG_SOURCES)).toBe(true);
    expect(() => createRng('nv', 1)).toThrow('unknown RNG source "nv"; valid: cpu');
    const rng = createRng('cpu', 5);
    expect(rng.source).toBe('cpu');
    expect(rng.seed).toBe(5);
  });
});

describe('float32 helpers', () => {
  const f = Math.fround;

  it('fma32 rounds once where float64-then-float32 would round twice', () => {
    // a² = 1 + 2^-11 + 2^-24 is a float32 tie; the tiny c decides the direction.
    const a = f(1 + 2 ** -12);
    const c = 2 ** -70;
    expect(f(a * a + c)).toBe(f(1 + 2 ** -11)); // double rounding: the tie went to even
    expect(fma32(a, a, c)).toBe(f(1 + 2 ** -11 + 2 ** -23));
    expect(fma32(a, a, -c)).toBe(f(1 + 2 ** -11));
    expect(fma32(-a, a, c)).toBe(-f(1 + 2 ** -11));
    expect(fma32(f(1.5), f(2), f(0.25))).toBe(3.25);
  });

  it('logf32 and sincosf32 stay within a few float32 ulps of the true values', () => {
    const sc = new Float64Array(2);
    for (let i = 1; i <= 1000; i++) {
      const u = f(i / 1000);
      expect(Math.abs(logf32(u) - Math.log(u))).toBeLessThan(4e-7 * Math.max(1, -Math.log(u)));
      const theta = f(2 * Math.PI * u);
      sincosf32(theta, sc);
      expect(Math.abs(sc[0] - Math.sin(theta))).toBeLessThan(3e-7);
      expect(Math.abs(sc[1] - Math.cos(theta))).toBeLessThan(3e-7);
    }
  });
});
