// Malformed A1111 PNG parameters and prompts (unbalanced brackets, huge weights, 10 000 tokens).
import { describe, expect, it } from 'vitest';
import { fuzzPngParameters, fuzzPrompts } from './fuzz/text-target.js';
import { FUZZ_SEED } from './seeds.js';

describe('fuzzed PNG parameters and prompts', () => {
  it('300 malformed PNG parameters: parsed or refused with a clear error, zTXt bombs capped', async () => {
    const s = await fuzzPngParameters(300, FUZZ_SEED);
    console.log(`PNG parameters fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(300);
    expect(s.results).toBeGreaterThan(50);
    expect(s.clearErrors).toBeGreaterThan(5);
  }, 60_000);

  it('300 malformed prompts: 77-id chunks with finite weights, or a clear error', async () => {
    const s = await fuzzPrompts(300, FUZZ_SEED);
    console.log(`prompt fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(300);
    expect(s.results).toBeGreaterThan(100);
  }, 60_000);
});
