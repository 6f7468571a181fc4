// ≥ 200 corrupt images (truncated, flipped bytes, bogus sizes, decompression bombs) through the
// dataset's decode path and a real folder import.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fuzzImageDecode, fuzzImageImport } from './fuzz/image-target.js';
import { FUZZ_SEED } from './seeds.js';

describe('fuzzed images through decode and import', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('200 corrupt images: decoded within the pixel limit or refused with a clear error', async () => {
    const s = await fuzzImageDecode(200, FUZZ_SEED);
    console.log(`image decode fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(200);
    expect(s.results).toBeGreaterThan(5);
    expect(s.clearErrors).toBeGreaterThan(50);
  }, 60_000);

  it('a folder of 40 corrupt files imports each or skips it with a stable reason', async () => {
    const s = await fuzzImageImport(dir, 40, FUZZ_SEED + 1);
    console.log(`image import fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(40);
    expect(s.clearErrors).toBeGreaterThan(5);
  }, 60_000);
});
