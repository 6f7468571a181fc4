import fc from 'fast-check';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPngText, readPngText, writePngText } from '../../core/formats/index.js';
import {
  formatInfotext,
  parseInfotext,
  type GenerationParams,
} from '../../core/generate/infotext.js';

const FULL: GenerationParams = {
  prompt: 'masterpiece, (a cat:1.2) on a [red] sofa, <lora:catstyle:0.8>',
  negativePrompt: 'lowres, bad anatomy',
  steps: 20,
  sampler: 'DPM++ 2M',
  scheduleType: 'Karras',
  cfgScale: 7,
  seed: 123456789,
  width: 512,
  height: 768,
  modelHash: 'e6bb9ea85b',
  model: 'v1-5-pruned-emaonly',
  clipSkip: 2,
  loraHashes: [{ name: 'catstyle', hash: '8a6f5e4d3c2b' }],
  version: 'LoRA Studio 0.1.0',
};

describe('formatInfotext', () => {
  it("writes A1111's layout, key order and quoting", () => {
    expect(formatInfotext(FULL)).toBe(
      'masterpiece, (a cat:1.2) on a [red] sofa, <lora:catstyle:0.8>\n' +
        'Negative prompt: lowres, bad anatomy\n' +
        'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 123456789, ' +
        'Size: 512x768, Model hash: e6bb9ea85b, Model: v1-5-pruned-emaonly, Clip skip: 2, ' +
        'Lora hashes: "catstyle: 8a6f5e4d3c2b", Version: LoRA Studio 0.1.0',
    );
  });

  it('omits an empty negative prompt, Clip skip 1 and a variation seed without strength', () => {
    expect(
      formatInfotext({
        prompt: 'a dog',
        negativePrompt: '',
        steps: 30,
        seed: 1,
        clipSkip: 1,
        variationSeed: 5,
      }),
    ).toBe('a dog\nSteps: 30, Seed: 1');
    expect(
      formatInfotext({
        prompt: 'a',
        seed: 1,
        variationSeed: 5,
        variationSeedStrength: 0.25,
        denoisingStrength: 0.7,
      }),
    ).toBe('a\nSeed: 1, Variation seed: 5, Variation seed strength: 0.25, Denoising strength: 0.7');
  });

  it('JSON-quotes values with commas, colons or newlines and strips : and , from LoRA names', () => {
    const text = formatInfotext({
      prompt: 'p',
      steps: 1,
      model: 'anime, v2: final',
      loraHashes: [
        { name: 'a:b', hash: '111' },
        { name: 'c,d', hash: '222' },
      ],
      extra: { 'Hires prompt': 'line 1\nline "2"', Note: 'plain' },
    });
    expect(text).toBe(
      'p\nSteps: 1, Model: "anime, v2: final", Hires prompt: "line 1\\nline \\"2\\"", Note: plain, ' +
        'Lora hashes: "ab: 111, cd: 222"',
    );
  });

  it("puts A1111's fixed extra keys in their place and extension keys before Lora hashes", () => {
    const text = formatInfotext({
      prompt: 'p',
      steps: 20,
      seed: 3,
      clipSkip: 2,
      loraHashes: [{ name: 'x', hash: 'h' }],
      version: 'v1',
      extra: {
        'Hires upscale': 2,
        RNG: 'CPU',
        'Face restoration': 'CodeFormer',
        Tiling: true,
        User: 'me',
      },
    });
    expect(text).toBe(
      'p\nSteps: 20, Seed: 3, Face restoration: CodeFormer, Clip skip: 2, RNG: CPU, Tiling: True, ' +
        'Hires upscale: 2, Lora hashes: "x: h", Version: v1, User: me',
    );
  });

  it('refuses keys that cannot be read back and keys that have their own field', () => {
    expect(() => formatInfotext({ prompt: 'p', extra: { 'a:b': 'x' } })).toThrow(
      /cannot be read back/,
    );
    expect(() => formatInfotext({ prompt: 'p', extra: { x: 'x' } })).toThrow(/cannot be read back/);
    expect(() => formatInfotext({ prompt: 'p', extra: { Seed: 1 } })).toThrow(/own field/);
    expect(() => formatInfotext({ prompt: 'p', width: 512 })).toThrow(/both width and height/);
    expect(() => formatInfotext({ prompt: 'p', cfgScale: NaN })).toThrow(
      /CFG scale must be finite/,
    );
  });
});

describe('parseInfotext: A1111 infotexts written from the documented format', () => {
  it('reads the classic example from A1111’s own docstring', () => {
    const info = parseInfotext(
      "girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy makeup, by Alphonse Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), detailed, intricate\n" +
        'Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured, poorly drawn face, mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), messy drawing\n' +
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b',
    );
    expect(info).toEqual({
      prompt:
        "girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy makeup, by Alphonse Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), detailed, intricate",
      negativePrompt:
        'ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured, poorly drawn face, mutation, mutated, (extra_limb), (ugly), (poorly drawn hands), messy drawing',
      steps: 20,
      sampler: 'Euler a',
      cfgScale: 7,
      seed: 965400086,
      width: 512,
      height: 512,
      modelHash: '45dee52b',
      clipSkip: 1,
      extra: {},
    });
  });

  it('reads a 1.10-style text with multi-line prompts, hires fix, ADetailer and hashes', () => {
    const text = [
      'masterpiece, best quality, 1girl, solo,',
      '  (detailed eyes:1.3), <lora:add_detail:0.6>  ',
      'BREAK cherry blossoms',
      'Negative prompt: (worst quality, low quality:1.4),',
      'easynegative',
      'Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 2847519, ' +
        'Size: 512x768, Model hash: 7f96a1a9ca, Model: anything-v5, VAE hash: 735e4c3a44, ' +
        'VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.45, Clip skip: 2, ' +
        'ADetailer model: face_yolov8n.pt, ADetailer prompt: "smile, blue eyes", ' +
        'ADetailer confidence: 0.3, ADetailer version: 24.1.2, Hires upscale: 2, Hires steps: 15, ' +
        'Hires upscaler: R-ESRGAN 4x+ Anime6B, Lora hashes: "add_detail: 7c6bad76eb54", ' +
        'TI hashes: "easynegative: c74b4e810b03", Version: v1.10.1',
    ].join('\n');
    expect(parseInfotext(text)).toEqual({
      prompt:
        'masterpiece, best quality, 1girl, solo,\n(detailed eyes:1.3), <lora:add_detail:0.6>\nBREAK cherry blossoms',
      negativePrompt: '(worst quality, low quality:1.4),\neasynegative',
      steps: 28,
      sampler: 'DPM++ 2M',
      scheduleType: 'Karras',
      cfgScale: 6.5,
      seed: 2847519,
      width: 512,
      height: 768,
      modelHash: '7f96a1a9ca',
      model: 'anything-v5',
      vaeHash: '735e4c3a44',
      vae: 'vae-ft-mse-840000-ema-pruned.safetensors',
      denoisingStrength: 0.45,
      clipSkip: 2,
      loraHashes: [{ name: 'add_detail', hash: '7c6bad76eb54' }],
      version: 'v1.10.1',
      extra: {
        'ADetailer model': 'face_yolov8n.pt',
        'ADetailer prompt': 'smile, blue eyes',
        'ADetailer confidence': '0.3',
        'ADetailer version': '24.1.2',
        'Hires upscale': '2',
        'Hires steps': '15',
        'Hires upscaler': 'R-ESRGAN 4x+ Anime6B',
        'TI hashes': 'easynegative: c74b4e810b03',
      },
    });
  });

  it('splits a pre-1.9 sampler name into sampler and schedule', () => {
    const info = parseInfotext('a\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1');
    expect([info.sampler, info.scheduleType]).toEqual(['DPM++ 2M', 'Karras']);
    const modern = parseInfotext(
      'a\nSteps: 20, Sampler: DPM++ SDE Karras, Schedule type: Automatic, Seed: 1',
    );
    expect([modern.sampler, modern.scheduleType]).toEqual(['DPM++ SDE Karras', 'Automatic']);
  });

  it('handles a missing negative prompt, a text without parameters, and an empty text', () => {
    expect(parseInfotext('a cat\nSteps: 10, Seed: 5, Size: 64x64')).toMatchObject({
      prompt: 'a cat',
      negativePrompt: '',
      steps: 10,
      width: 64,
    });
    // Fewer than 3 pairs on the last line: it is prompt text (A1111's rule).
    expect(parseInfotext('line one\nstyle: anime, mood: calm')).toEqual({
      prompt: 'line one\nstyle: anime, mood: calm',
      negativePrompt: '',
      clipSkip: 1,
      extra: {},
    });
    expect(parseInfotext('')).toEqual({ prompt: '', negativePrompt: '', clipSkip: 1, extra: {} });
    expect(
      parseInfotext('Negative prompt:\nblurry\nSteps: 1, Seed: 2, CFG scale: 3'),
    ).toMatchObject({
      prompt: '',
      negativePrompt: 'blurry',
    });
  });

  it('keeps values that do not parse as their type in extra instead of dropping them', () => {
    const info = parseInfotext(
      'p\nSteps: many, Seed: 12, Size: 512 by 512, CFG scale: 1e400, Lora hashes: "oops", Clip skip: 2',
    );
    expect(info.steps).toBeUndefined();
    expect(info.seed).toBe(12);
    expect(info.clipSkip).toBe(2);
    expect(info.extra).toEqual({
      Steps: 'many',
      Size: '512 by 512',
      'CFG scale': '1e400',
      'Lora hashes': 'oops',
    });
  });

  it('reads quoted values with escapes and keeps a malformed quote as written', () => {
    const info = parseInfotext(
      'p\nSteps: 1, Seed: 2, Hires prompt: "a \\"cat\\",\\nb", Broken: "abc, Model: m',
    );
    expect(info.extra['Hires prompt']).toBe('a "cat",\nb');
    expect(info.extra.Broken).toBe('"abc');
    expect(info.model).toBe('m');
  });
});

describe('round trip: format → PNG → read → parse', () => {
  let png: Uint8Array;
  beforeAll(async () => {
    png = new Uint8Array(
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } })
        .png()
        .toBuffer(),
    );
  });

  const roundTrip = (params: GenerationParams) => {
    const file = writePngText(png, { parameters: formatInfotext(params) });
    return parseInfotext(getPngText(file, 'parameters')!);
  };

  it('gives back every field, through tEXt for Latin-1 and iTXt otherwise', () => {
    const params = {
      ...FULL,
      prompt: 'line one, (cat:1.3)\nline two: café',
      negativePrompt: 'blurry\nugly',
      variationSeed: 99,
      variationSeedStrength: 0.3,
      denoisingStrength: 0.55,
      vae: 'kl-f8, "ema"',
      vaeHash: 'abcdef0123',
      extra: {
        'Hires upscale': '2',
        'ADetailer prompt': 'smile, "happy"',
        'Seed resize from': '512x512',
      },
    };
    expect(roundTrip(params)).toEqual(params);
    const file = writePngText(png, { parameters: formatInfotext(params) });
    expect(readPngText(file)[0].kind).toBe('tEXt');

    const jp = { ...params, prompt: '桜の木の下の猫, (かわいい:1.2) 🐱' };
    expect(roundTrip(jp)).toEqual(jp);
    expect(readPngText(writePngText(png, { parameters: formatInfotext(jp) }))[0].kind).toBe('iTXt');
  });

  it('holds for random prompts and values (property)', () => {
    const chars = fc.constantFrom(...Array.from('ab Z,:()[]"\\\n\té猫🐱<>=-.0123456789'));
    const text = fc.array(chars, { maxLength: 40 }).map((a) => a.join(''));
    // A1111 trims each prompt line and reads a line starting "Negative prompt:" as the negative.
    const promptText = text.map((t) =>
      t
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .join('\n')
        .replace(/^Negative prompt:/gm, ''),
    );
    const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,12}[A-Za-z0-9]$/);
    const params = fc.record({
      prompt: promptText.filter((p) => p !== ''),
      negativePrompt: promptText,
      steps: fc.integer({ min: 1, max: 150 }),
      sampler: fc.constantFrom('Euler a', 'Euler', 'DPM++ 2M', 'DDIM', 'UniPC'),
      cfgScale: fc.double({ min: 1, max: 30, noNaN: true }),
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      width: fc.integer({ min: 64, max: 2048 }),
      height: fc.integer({ min: 64, max: 2048 }),
      model: text,
      clipSkip: fc.integer({ min: 1, max: 12 }),
      loraHashes: fc.array(fc.record({ name: word, hash: fc.stringMatching(/^[0-9a-f]{10}$/) }), {
        minLength: 1,
        maxLength: 3,
      }),
      extra: fc.dictionary(
        fc
          .stringMatching(/^[A-Za-z][A-Za-z0-9 _/-]{0,12}[A-Za-z0-9]$/)
          .filter((k) => !['Steps', 'Sampler', 'Seed', 'Model', 'Size', 'Version'].includes(k)),
        text,
        { maxKeys: 3 },
      ),
    });
    fc.assert(
      fc.property(params, (p) => {
        const back = roundTrip(p);
        const { extra, model, ...rest } = back;
        expect(rest).toEqual(
          Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'extra' && k !== 'model')),
        );
        expect(model).toBe(p.model);
        expect(extra).toEqual(p.extra);
      }),
      { numRuns: 200 },
    );
  });
});
