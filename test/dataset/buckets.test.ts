import { describe, expect, it } from 'vitest';
import {
  aspectRange,
  assignBucket,
  makeBuckets,
  planCoverCrop,
  type Bucket,
} from '../../core/dataset/index.js';

const key = (b: Bucket) => `${b.width}x${b.height}`;

/**
 * The documented rule restated as a search, independently of the implementation's arithmetic:
 * for each allowed width, the tallest step multiple that keeps the area within max and the side
 * within maxSide; plus the largest square; plus transposes.
 */
function referenceBuckets(res: number, minSide: number, maxSide: number, step: number): string[] {
  const area = res * res;
  const set = new Set<string>();
  let sq = 0;
  while ((sq + step) * (sq + step) <= area) sq += step;
  set.add(`${sq}x${sq}`);
  for (let w = minSide; w <= maxSide; w += step) {
    let h = 0;
    for (let c = step; c <= maxSide; c += step) if (w * c <= area) h = c;
    if (h >= minSide) {
      set.add(`${w}x${h}`);
      set.add(`${h}x${w}`);
    }
  }
  return [...set];
}

describe('makeBuckets (kohya make_bucket_resolutions)', () => {
  it('512: the 17 kohya buckets, sorted by (width, height)', () => {
    const got = makeBuckets({ resolution: 512 }).map(key);
    expect(got).toEqual([
      '256x832',
      '256x896',
      '256x960',
      '256x1024',
      '320x704',
      '320x768',
      '384x640',
      '448x576',
      '512x512',
      '576x448',
      '640x384',
      '704x320',
      '768x320',
      '832x256',
      '896x256',
      '960x256',
      '1024x256',
    ]);
  });

  it('matches the rule restated as a search for several settings', () => {
    for (const [res, min, max, step] of [
      [512, 256, 1024, 64],
      [768, 256, 1024, 64],
      [1024, 256, 2048, 64],
      [640, 320, 960, 32],
    ])
      expect(
        makeBuckets({ resolution: res, minSide: min, maxSide: max, step }).map(key).sort(),
        `${res} ${min}..${max} step ${step}`,
      ).toEqual(referenceBuckets(res, min, max, step).sort());
  });

  it('keeps every bucket within the area, the side limits and the step', () => {
    for (const b of makeBuckets({ resolution: 1024, maxSide: 2048 })) {
      expect(b.width * b.height).toBeLessThanOrEqual(1024 * 1024);
      expect(Math.min(b.width, b.height)).toBeGreaterThanOrEqual(256);
      expect(Math.max(b.width, b.height)).toBeLessThanOrEqual(2048);
      expect((b.width % 64) + (b.height % 64)).toBe(0);
    }
    expect(makeBuckets({ resolution: 1024, maxSide: 2048 }).map(key)).toContain('832x1216');
  });

  it('rejects inconsistent options, naming the value', () => {
    expect(() => makeBuckets({ resolution: 512, step: 0 })).toThrow(
      /step must be a positive integer, got 0/,
    );
    expect(() => makeBuckets({ resolution: 512, minSide: 2048 })).toThrow(
      /minSide 2048 is above maxSide 1024/,
    );
    expect(() => makeBuckets({ resolution: 1024, maxSide: 768 })).toThrow(
      /maxSide 768 must be at least/,
    );
  });
});

describe('assignBucket', () => {
  const buckets = makeBuckets({ resolution: 512 });
  const assign = (w: number, h: number) => key(assignBucket(w, h, buckets));

  it('square, portrait 2:3, 3:4, landscape 16:9', () => {
    expect(assign(1000, 1000)).toBe('512x512');
    expect(assign(2000, 3000)).toBe('384x640'); // 0.667 → 0.6 beats 0.778
    expect(assign(768, 1024)).toBe('448x576');
    expect(assign(1920, 1080)).toBe('640x384'); // 1.778 → 1.667 beats 2.2
  });

  it('an exact bucket size wins', () => {
    expect(assign(704, 320)).toBe('704x320');
  });

  it('extreme panoramas clamp to the widest / tallest bucket', () => {
    expect(assign(10000, 500)).toBe('1024x256');
    expect(assign(300, 9000)).toBe('256x1024');
    expect(aspectRange(buckets)).toEqual({ min: 0.25, max: 4 });
  });

  it('picks the closest ratio by brute force over many sizes', () => {
    for (let w = 100; w <= 3000; w += 137)
      for (let h = 100; h <= 3000; h += 211) {
        const b = assignBucket(w, h, buckets);
        const err = Math.abs(b.width / b.height - w / h);
        for (const o of buckets)
          expect(err).toBeLessThanOrEqual(Math.abs(o.width / o.height - w / h));
      }
  });
});

describe('planCoverCrop', () => {
  it('covers the bucket and centers the crop', () => {
    const p = planCoverCrop(1920, 1080, { width: 640, height: 384 });
    expect(p.resizedHeight).toBe(384);
    expect(p.resizedWidth).toBe(683);
    expect(p.left).toBe(21);
    expect(p.top).toBe(0);
    const q = planCoverCrop(300, 900, { width: 256, height: 1024 });
    expect([q.resizedWidth, q.resizedHeight, q.left, q.top]).toEqual([341, 1024, 42, 0]); // 300 × 1024/900 = 341.3;
  });
});
