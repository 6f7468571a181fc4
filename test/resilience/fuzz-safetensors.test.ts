// ≥ 1000 mutated safetensors files (checkpoint- and LoRA-shaped) through the real loaders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fuzzCheckpoints, fuzzLoras } from './fuzz/safetensors-target.js';

import { FUZZ_SEED } from './seeds.js';

describe('fuzzed safetensors through the checkpoint loader and the LoRA converter', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('300 mutated checkpoints: each loads or is refused with a clear error', async () => {
    const s = await fuzzCheckpoints(dir, 300, FUZZ_SEED);
    console.log(`checkpoint fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(300);
    // Both outcomes occur, so the mutations neither all break nor all miss the loader.
    expect(s.results).toBeGreaterThan(3);
    expect(s.clearErrors).toBeGreaterThan(100);
  }, 60_000);

  it('800 mutated LoRAs: each converts to finite weights or is refused with a clear error', async () => {
    const s = await fuzzLoras(800, FUZZ_SEED);
    console.log(`LoRA fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(800);
    expect(s.results).toBeGreaterThan(10);
    expect(s.clearErrors).toBeGreaterThan(100);
  }, 60_000);
});
