// Malformed API requests through the real loopback server.
import { describe, expect, it } from 'vitest';
import { fuzzApi } from './fuzz/api-target.js';
import { FUZZ_SEED } from './seeds.js';

describe('fuzzed API requests', () => {
  it('300 malformed requests: each a contract error envelope (never 500), server still serving', async () => {
    const s = await fuzzApi(300, FUZZ_SEED);
    console.log(`API fuzz: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(301);
  }, 90_000);
});
