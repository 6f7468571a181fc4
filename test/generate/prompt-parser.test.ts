import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BREAK,
  MAX_NESTING,
  parseAttention,
  parsePrompt,
  PromptSyntaxError,
  type WeightedText,
} from '../../core/generate/prompt/index.js';

const flat = (text: string) =>
  parseAttention(text).map((x) => (x === BREAK ? 'BREAK' : [x.text, x.weight]));
const parts = (text: string) =>
  parsePrompt(text).segments.map((p) => p.map((s) => [s.text, s.weight]));

describe('parseAttention: A1111 emphasis semantics', () => {
  // The examples (and exact floats) from the docstring of A1111's parse_prompt_attention.
  it('reproduces the A1111 docstring examples exactly', () => {
    expect(flat('normal text')).toEqual([['normal text', 1]]);
    expect(flat('an (important) word')).toEqual([
      ['an ', 1],
      ['important', 1.1],
      [' word', 1],
    ]);
    expect(flat('(unbalanced')).toEqual([['unbalanced', 1.1]]);
    expect(flat('\\(literal\\]')).toEqual([['(literal]', 1]]);
    expect(flat('(unnecessary)(parens)')).toEqual([['unnecessaryparens', 1.1]]);
    expect(flat('a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).')).toEqual([
      ['a ', 1],
      ['house', 1.5730000000000004],
      [' ', 1.1],
      ['on', 1],
      [' a ', 1.1],
      ['hill', 0.55],
      [', sun, ', 1.1],
      ['sky', 1.4641000000000006],
      ['.', 1.1],
    ]);
  });

  it('weighs (word:1.2), (word), [word], ((a)) and (a:1.5) [b]', () => {
    expect(flat('(word:1.2)')).toEqual([['word', 1.2]]);
    expect(flat('(word)')).toEqual([['word', 1.1]]);
    expect(flat('[word]')).toEqual([['word', 1 / 1.1]]);
    expect(flat('((a))')).toEqual([['a', 1.1 * 1.1]]);
    expect(flat('[[a]]')).toEqual([['a', 1 / 1.1 / 1.1]]);
    expect(flat('(a:1.5) [b]')).toEqual([
      ['a', 1.5],
      [' ', 1],
      ['b', 1 / 1.1],
    ]);
    expect(flat('((a:0.5))')).toEqual([['a', 0.5 * 1.1]]);
    expect(flat('(a: 1.5 )')).toEqual([['a', 1.5]]);
    expect(flat('(a:-1) (b:0) (c:.5) (d:2.)')).toEqual([
      ['a', -1],
      [' ', 1],
      ['b', 0],
      [' ', 1],
      ['c', 0.5],
      [' ', 1],
      ['d', 2],
    ]);
  });

  it('keeps escaped brackets and backslashes literal, drops a lone backslash', () => {
    expect(flat('\\(a\\) \\[b\\]')).toEqual([['(a) [b]', 1]]);
    expect(flat('(\\(x\\))')).toEqual([['(x)', 1.1]]);
    expect(flat('a\\\\b')).toEqual([['a\\b', 1]]);
    expect(flat('a\\b')).toEqual([['ab', 1]]);
    expect(flat('end\\')).toEqual([['end', 1]]);
  });

  it('tolerates unbalanced brackets the way A1111 does', () => {
    expect(flat('a) b] c')).toEqual([['a) b] c', 1]]);
    expect(flat('((a)')).toEqual([['a', 1.1 * 1.1]]);
    expect(flat('[a')).toEqual([['a', 1 / 1.1]]);
    expect(flat('x (a]')).toEqual([
      ['x ', 1],
      ['a]', 1.1],
    ]);
    // Round and square brackets keep separate stacks, so interleaving is allowed.
    expect(flat('(a [b) c]')).toEqual([
      ['a ', 1.1],
      ['b', 1.1 / 1.1],
      [' c', 1 / 1.1],
    ]);
    expect(flat('((((')).toEqual([]);
    expect(flat('')).toEqual([]);
  });

  it('treats a weight that is not [+-]?[.\\d]+ as text, like A1111', () => {
    expect(flat('(a:abc)')).toEqual([['a:abc', 1.1]]);
    expect(flat('(a:1e309)')).toEqual([['a:1e309', 1.1]]);
    expect(flat('a:1.2) b')).toEqual([['a:1.2) b', 1]]);
    expect(flat('time: 12:30')).toEqual([['time: 12:30', 1]]);
  });

  it('rejects weights that are not numbers or not finite, naming them', () => {
    expect(() => flat('(a:1.2.3)')).toThrow(PromptSyntaxError);
    expect(() => flat('(a:1.2.3)')).toThrow(/"1\.2\.3".*not a number/);
    expect(() => flat('(a:.)')).toThrow(/not a number/);
    const huge = '9'.repeat(400);
    expect(() => flat(`(a:${huge})`)).toThrow(/too large/);
    // Finite factors whose product overflows.
    const big = '9'.repeat(200);
    expect(() => flat(`((a:${big}):${big})`)).toThrow(/"a".*Infinity.*finite/);
  });

  it('merges adjacent runs with equal weights', () => {
    expect(flat('a (b:1) c')).toEqual([['a b c', 1]]);
    expect(flat('(a)(b) [c][d]')).toEqual([
      ['ab', 1.1],
      [' ', 1],
      ['cd', 1 / 1.1],
    ]);
  });
});

describe('parsePrompt: BREAK', () => {
  it('splits on BREAK as a separate uppercase word, eating the spaces around it', () => {
    expect(parts('a cat BREAK a dog')).toEqual([[['a cat', 1]], [['a dog', 1]]]);
    expect(parts('a, BREAK, b')).toEqual([[['a,', 1]], [[', b', 1]]]);
    expect(parts('aBREAK b')).toEqual([[['aBREAK b', 1]]]);
    expect(parts('a BREAKS b')).toEqual([[['a BREAKS b', 1]]]);
    expect(parts('a break b')).toEqual([[['a break b', 1]]]);
    // Python's \b is Unicode-aware: é is a word character there too.
    expect(parts('éBREAK b')).toEqual([[['éBREAK b', 1]]]);
    expect(parts('BREAK x')).toEqual([[], [['x', 1]]]);
    expect(parts('a BREAK BREAK b')).toEqual([[['a', 1]], [], [['b', 1]]]);
    expect(parts('(a:1.2), b BREAK [c]')).toEqual([
      [
        ['a', 1.2],
        [', b', 1],
      ],
      [['c', 1 / 1.1]],
    ]);
  });

  it('breaks inside brackets too (A1111 would encode the word there by accident)', () => {
    expect(parts('(a BREAK b)')).toEqual([[['a', 1.1]], [['b', 1.1]]]);
  });

  it('never merges runs across a BREAK', () => {
    const p = parsePrompt('a BREAK b').segments;
    expect(p).toHaveLength(2);
    expect(p.flat().map((s) => s.text)).toEqual(['a', 'b']);
  });
});

describe('parsePrompt: LoRA and other extra-network tags', () => {
  it('extracts <lora:…> with and without multipliers and removes the tags', () => {
    const p = parsePrompt('a <lora:foo:0.8> cat, <lora:bar> (red:1.2) <lora:baz:0.8:0.5>');
    expect(p.loras).toEqual([
      { name: 'foo', multiplier: 0.8, unetMultiplier: 0.8, tag: 'lora' },
      { name: 'bar', multiplier: 1, unetMultiplier: 1, tag: 'lora' },
      { name: 'baz', multiplier: 0.8, unetMultiplier: 0.5, tag: 'lora' },
    ]);
    expect(p.segments).toEqual([
      [
        { text: 'a  cat,  ', weight: 1 },
        { text: 'red', weight: 1.2 },
        { text: ' ', weight: 1 },
      ],
    ]);
  });

  it('reads <lyco:…>, named te=/unet=/dyn= arguments and names with spaces', () => {
    const p = parsePrompt(
      '<lyco:my style v2:0.6> <lora:x:te=0.3:unet=0.9:dyn=16> <lora:y:0.5:0.7:8>',
    );
    expect(p.loras).toEqual([
      { name: 'my style v2', multiplier: 0.6, unetMultiplier: 0.6, tag: 'lyco' },
      { name: 'x', multiplier: 0.3, unetMultiplier: 0.9, dynDim: 16, tag: 'lora' },
      { name: 'y', multiplier: 0.5, unetMultiplier: 0.7, dynDim: 8, tag: 'lora' },
    ]);
    expect(parsePrompt('<lora:neg:-0.5>').loras[0].multiplier).toBe(-0.5);
    expect(parsePrompt('<lora:sci:1e-1>').loras[0].multiplier).toBeCloseTo(0.1, 15);
  });

  it('removes other tags (hypernet …) and keeps them apart; an incomplete tag is text', () => {
    const p = parsePrompt('cat <hypernet:anime:0.5> <lora> <lora:>');
    expect(p.extraNetworks).toEqual([{ type: 'hypernet', args: ['anime', '0.5'] }]);
    expect(p.loras).toEqual([]);
    expect(p.segments).toEqual([[{ text: 'cat  <lora> <lora:>', weight: 1 }]]);
  });

  it('removes tags inside brackets and across a BREAK without disturbing the rest', () => {
    const p = parsePrompt('(a <lora:x:0.5>) BREAK <lora:y:2> b');
    expect(p.loras.map((l) => [l.name, l.multiplier])).toEqual([
      ['x', 0.5],
      ['y', 2],
    ]);
    // The BREAK pattern eats the spaces the removed tag leaves next to it.
    expect(p.segments).toEqual([[{ text: 'a ', weight: 1.1 }], [{ text: 'b', weight: 1 }]]);
  });

  it('rejects multipliers that are not finite numbers, naming the tag', () => {
    expect(() => parsePrompt('<lora:x:abc>')).toThrow(/multiplier "abc" in "<lora:x:abc>"/);
    expect(() => parsePrompt('<lora:x:inf>')).toThrow(PromptSyntaxError);
    expect(() => parsePrompt('<lora:x:1e400>')).toThrow(/not finite/);
    expect(() => parsePrompt('<lora:x:0.5:>')).toThrow(/unet multiplier/);
    expect(() => parsePrompt('<lora:x:dyn=a>')).toThrow(/dyn/);
    expect(() => parsePrompt('<lora: :1>')).toThrow(/names no network/);
  });
});

describe('parsePrompt: robustness', () => {
  const ALPHABET = '()[]:\\ ,.<>=-+0123456789aBREAKlorayc\n'.split('');
  const promptArb = fc
    .array(fc.constantFrom(...ALPHABET), { maxLength: 200 })
    .map((cs) => cs.join(''));

  it('on any input either parses to finite, non-empty, merged runs or throws PromptSyntaxError', () => {
    fc.assert(
      fc.property(promptArb, (text) => {
        let parsed;
        try {
          parsed = parsePrompt(text);
        } catch (e) {
          expect(e).toBeInstanceOf(PromptSyntaxError);
          return;
        }
        for (const part of parsed.segments) {
          part.forEach((run: WeightedText, i) => {
            expect(run.text).not.toBe('');
            expect(Number.isFinite(run.weight)).toBe(true);
            if (i > 0) expect(run.weight).not.toBe(part[i - 1].weight);
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('returns plain text unchanged with weight 1', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (s) => {
        const text = s.replace(/[()[\]:\\<]|BREAK/g, '');
        expect(parts(text)).toEqual(text === '' ? [[]] : [[[text, 1]]]);
      }),
    );
  });

  it('parses a 10 000-token prompt and a deeply nested adversarial one in bounded time', () => {
    const unit = '(masterpiece:1.2), best quality, [blurry], ((detailed eyes)), red hair, ';
    // 13 CLIP tokens per unit → 10 140 tokens (counted in prompt-tokens.test.ts).
    const long = unit.repeat(780);
    let t = performance.now();
    const p = parsePrompt(long);
    const longMs = performance.now() - t;
    // Per unit: masterpiece | , best quality, | blurry | , | detailed eyes | , red hair,
    expect(p.segments[0]).toHaveLength(780 * 6);

    // The worst case allowed: MAX_NESTING − 1 brackets open around 16 000 runs, every close
    // multiplying all of them.
    const depth = MAX_NESTING - 1;
    const nested = '('.repeat(depth) + 'x [y] '.repeat(8000) + ')'.repeat(depth);
    t = performance.now();
    const q = parseAttention(nested);
    const nestedMs = performance.now() - t;
    expect(q).toHaveLength(16001); // "x ", then "y" and " x " alternating, then " "
    const y = (q[1] as WeightedText).weight;
    expect(Math.abs(y / (1.1 ** depth / 1.1) - 1)).toBeLessThan(1e-9);
    console.log(
      `parse: 10k-token prompt ${longMs.toFixed(1)} ms, 16 000 runs under ${depth} brackets ${nestedMs.toFixed(1)} ms`,
    );
    expect(longMs).toBeLessThan(1000);
    expect(nestedMs).toBeLessThan(3000);
  });

  it('rejects more than MAX_NESTING open brackets, naming the offset', () => {
    expect(parseAttention('('.repeat(MAX_NESTING) + 'a')).toHaveLength(1);
    expect(() => parseAttention('a ' + '['.repeat(MAX_NESTING + 1))).toThrow(
      new RegExp(`more than ${MAX_NESTING} brackets are open at offset ${MAX_NESTING + 2}`),
    );
    // Closed brackets do not count.
    expect(parseAttention('(a) '.repeat(5 * MAX_NESTING))).toHaveLength(2 * 5 * MAX_NESTING);
  });
});
