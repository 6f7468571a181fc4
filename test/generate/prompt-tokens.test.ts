import { beforeAll, describe, expect, it } from 'vitest';
import {
  applyEmphasis,
  encodePrompt,
  parsePrompt,
  weightedTokens,
} from '../../core/generate/prompt/index.js';
import { ClipTokenizer } from '../../core/models/index.js';

let tok: ClipTokenizer;
beforeAll(async () => {
  tok = await ClipTokenizer.sd1();
});

const tokens = (text: string) => weightedTokens(parsePrompt(text), tok);

describe('weightedTokens', () => {
  it('gives one 77-id chunk with a weight per id for a short prompt', () => {
    const r = tokens('a photo of a (red:1.5) [car]');
    expect(r.ids).toHaveLength(1);
    expect(r.ids[0]).toHaveLength(77);
    expect(r.weights[0]).toHaveLength(77);
    // Same ids as the unweighted prompt: brackets and weights never reach the tokenizer.
    expect(r.ids[0]).toEqual(tok.encodeForModel('a photo of a red car'));
    const n = tok.encode('a photo of a').length;
    expect(r.tokenCount).toBe(n + 2);
    expect(r.weights[0].slice(0, n + 3)).toEqual([1, 1, 1, 1, 1, 1.5, 1 / 1.1]);
    expect(r.weights[0].slice(n + 3).every((w) => w === 1)).toBe(true);
  });

  it('tokenizes each weighted run on its own, as A1111 does', () => {
    const r = tokens('(red)car');
    const split = [...tok.encode('red'), ...tok.encode('car')];
    expect(r.ids[0].slice(1, 1 + split.length)).toEqual(split);
    // "red" ends a word on its own, so the ids differ from the joined text's.
    expect(split).not.toEqual(tok.encode('redcar'));
    expect(r.weights[0].slice(1, 3)).toEqual([1.1, 1]);
  });

  it('starts a new chunk at BREAK, padding the one before', () => {
    const r = tokens('a cat BREAK (a dog:1.3)');
    expect(r.ids).toHaveLength(2);
    expect(r.ids[0]).toEqual(tok.encodeForModel('a cat'));
    expect(r.ids[1]).toEqual(tok.encodeForModel('a dog'));
    expect(r.weights[1].slice(0, 4)).toEqual([1, 1.3, 1.3, 1]);
  });

  it('chunks a prompt longer than 75 tokens, keeping each token and its weight', () => {
    const words = Array.from({ length: 100 }, (_, i) => `word${i}`);
    const text = words.map((w, i) => (i % 10 === 0 ? `(${w}:1.4)` : w)).join(' ');
    const r = tokens(text);
    const flatIds = r.ids.flatMap((c) => c.slice(1, 76)).filter((id) => id !== tok.padId);
    expect(r.ids.length).toBeGreaterThanOrEqual(2);
    for (const c of r.ids) {
      expect(c).toHaveLength(77);
      expect(c[0]).toBe(tok.bosId);
      expect(c[76]).toBe(tok.eosId);
    }
    expect(flatIds).toEqual(tok.encode(words.join(' ')));
    expect(r.tokenCount).toBe(flatIds.length);
    const heavy = r.weights.flatMap((w) => w).filter((w) => w === 1.4).length;
    expect(heavy).toBe(
      words.filter((_, i) => i % 10 === 0).reduce((n, w) => n + tok.encode(w).length, 0),
    );
  });

  it('leaves LoRA tags out of the tokens and hands them back', () => {
    const r = encodePrompt('<lora:style:0.7> a cat', tok);
    expect(r.ids[0]).toEqual(tok.encodeForModel('a cat'));
    expect(r.parsed.loras).toEqual([
      { name: 'style', multiplier: 0.7, unetMultiplier: 0.7, tag: 'lora' },
    ]);
  });

  it('gives one empty chunk for an empty prompt', () => {
    const r = tokens('');
    expect(r.ids).toEqual([tok.encodeForModel('')]);
    expect(r.tokenCount).toBe(0);
  });

  it('handles a 10 000-token prompt in bounded time', () => {
    const unit = '(masterpiece:1.2), best quality, [blurry], ((detailed eyes)), red hair, ';
    const text = unit.repeat(780);
    const t = performance.now();
    const r = tokens(text);
    const ms = performance.now() - t;
    console.log(
      `weightedTokens: ${r.tokenCount} tokens → ${r.ids.length} chunks in ${ms.toFixed(0)} ms`,
    );
    expect(r.tokenCount).toBeGreaterThanOrEqual(10_000);
    expect(r.ids.length).toBeGreaterThanOrEqual(Math.ceil(r.tokenCount / 75));
    expect(r.ids.every((c) => c.length === 77)).toBe(true);
    expect(ms).toBeLessThan(5000);
  });
});

describe('applyEmphasis', () => {
  it('scales rows by their weight, then restores the mean (A1111 "Original")', () => {
    const z = Float32Array.of(1, 2, 3, 4, 5, 6); // 3 tokens × 2
    const before = z.reduce((a, b) => a + b) / z.length; // 3.5
    applyEmphasis(z, [1, 2, 0.5], 2);
    // Weighted: [1, 2, 6, 8, 2.5, 3] (mean 22.5/6 = 3.75), rescaled by 3.5/3.75.
    const k = 3.5 / 3.75;
    const expected = [1, 2, 6, 8, 2.5, 3].map((v) => v * k);
    expected.forEach((v, i) => expect(z[i]).toBeCloseTo(v, 5));
    expect(z.reduce((a, b) => a + b) / z.length).toBeCloseTo(before, 5);
  });

  it('only scales rows with normalize: false ("No norm")', () => {
    const z = Float32Array.of(1, 2, 3, 4);
    applyEmphasis(z, [2, 1], 2, { normalize: false });
    expect(Array.from(z)).toEqual([2, 4, 3, 4]);
  });

  it('is the identity for all-1 weights and skips the rescale when the weighted mean is 0', () => {
    const z = Float32Array.of(0.5, -1, 2, 7);
    applyEmphasis(z, [1, 1], 2);
    expect(Array.from(z)).toEqual([0.5, -1, 2, 7]);
    const zero = Float32Array.of(1, 2);
    applyEmphasis(zero, [0], 2);
    expect(Array.from(zero)).toEqual([0, 0]);
  });

  it('rejects a hidden buffer whose size does not match the weights', () => {
    expect(() => applyEmphasis(new Float32Array(10), [1, 1, 1], 3)).toThrow(
      /10 values, expected 3 tokens × 3 = 9/,
    );
    expect(() => applyEmphasis(new Float32Array(0), [], 0)).toThrow(/hiddenSize/);
  });
});
