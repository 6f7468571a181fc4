// Malformed text inputs: A1111 "parameters" in PNG text chunks (mutated chunks, zTXt bombs,
// garbage infotext) through readPngText + parseInfotext, and prompts (unbalanced brackets, huge
// weights, deep nesting, 10 000-token prompts) through the prompt parser and CLIP chunking.
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import { crc32, getPngText, PngFormatError, writePngText } from '../../../core/formats/index.js';
import {
  encodePrompt,
  parseInfotext,
  PromptSyntaxError,
  type Infotext,
} from '../../../core/generate/index.js';
import { ClipTokenizer } from '../../../core/models/index.js';
import { FuzzRun, type FuzzStats } from './fuzz-stats.js';

const GOOD_INFOTEXT =
  'a (red:1.2) fox, <lora:tiny:0.8>\nNegative prompt: blurry\n' +
  'Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 42, Size: 512x512, ' +
  'Model hash: abcdef0123, Lora hashes: "tiny: 0123456789ab", Clip skip: 2';

const infotextText = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  // A real infotext with pieces cut, doubled or replaced.
  fc
    .tuple(fc.nat(GOOD_INFOTEXT.length), fc.nat(GOOD_INFOTEXT.length), fc.string({ maxLength: 40 }))
    .map(
      ([a, b, ins]) =>
        GOOD_INFOTEXT.slice(0, Math.min(a, b)) + ins + GOOD_INFOTEXT.slice(Math.max(a, b)),
    ),
  fc.constantFrom(
    'Steps: 1e400, Seed: -99999999999999999999999, Size: 0x0, CFG scale: NaN',
    'Steps: 20, Size: 99999999x99999999, Seed: 4294967296, Sampler: "unterminated',
    `Lora hashes: "${'a: 1, '.repeat(5000)}", Steps: 1, Seed: 1`,
    `${'x'.repeat(200_000)}\nSteps: 1, Seed: 1, Size: 8x8`,
    `${'Negative prompt: \n'.repeat(2000)}Steps: 1, Seed: 1, Size: 8x8`,
    'Steps: 20, Sampler: Euler, Seed: 1, Hires upscale: 2, Hires steps: -1, Denoising strength: 9',
  ),
);

type PngCase =
  | { m: 'text'; text: string }
  | { m: 'bytes'; text: string; edits: [number, number][] }
  | { m: 'cut'; at: number }
  | { m: 'bomb'; mib: number };

const pngCases: fc.Arbitrary<PngCase> = fc.oneof(
  fc.record({ m: fc.constant('text' as const), text: infotextText }),
  fc.record({
    m: fc.constant('bytes' as const),
    text: infotextText,
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({ m: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ m: fc.constant('bomb' as const), mib: fc.constantFrom(17, 64) }),
);

/** A PNG holding a zTXt "parameters" chunk that inflates to `mib` MiB (a zip bomb). */
const bombs = new Map<number, Buffer>();
function zipBombPng(png: Uint8Array, mib: number): Uint8Array {
  let body = bombs.get(mib);
  if (!body) {
    body = deflateSync(Buffer.alloc(mib * 1024 * 1024, 0x41), { level: 9 });
    bombs.set(mib, body);
  }
  const kw = new TextEncoder().encode('parameters');
  const data = new Uint8Array(kw.length + 2 + body.length);
  data.set(kw);
  data.set(body, kw.length + 2); // NUL separator, compression method 0
  const chunk = new Uint8Array(12 + data.length);
  const dv = new DataView(chunk.buffer);
  dv.setUint32(0, data.length);
  chunk.set(new TextEncoder().encode('zTXt'), 4);
  chunk.set(data, 8);
  // CRC over type + data, as png-text writes it.
  dv.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)) >>> 0);
  const iend = png.length - 12;
  const out = new Uint8Array(png.length + chunk.length);
  out.set(png.subarray(0, iend));
  out.set(chunk, iend);
  out.set(png.subarray(iend), iend + chunk.length);
  return out;
}

function checkInfotext(p: Infotext): string | undefined {
  if (typeof p.prompt !== 'string' || typeof p.negativePrompt !== 'string')
    return 'prompt is not text';
  return undefined;
}

/** PNG parameters: write, mutate, read back, parse. */
export async function fuzzPngParameters(numRuns: number, seed: number): Promise<FuzzStats> {
  const run = new FuzzRun('PNG parameters → readPngText + parseInfotext', [PngFormatError]);
  const png = new Uint8Array(
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  );
  const withGood = writePngText(png, [{ keyword: 'parameters', text: GOOD_INFOTEXT }]);
  let i = 0;
  for (const c of fc.sample(pngCases, { seed, numRuns })) {
    let bytes: Uint8Array;
    if (c.m === 'text' || c.m === 'bytes') {
      bytes = writePngText(png, { parameters: c.text });
      if (c.m === 'bytes') {
        bytes = bytes.slice();
        for (const [at, v] of c.edits) bytes[33 + (at % (bytes.length - 33))] = v;
      }
    } else if (c.m === 'cut') bytes = withGood.subarray(0, Math.floor(withGood.length * c.at));
    else bytes = zipBombPng(png, c.mib);
    await run.case(
      `png #${i++} ${JSON.stringify(c).slice(0, 120)}`,
      () => {
        const text = getPngText(bytes, 'parameters');
        return text === undefined ? undefined : parseInfotext(text);
      },
      (p) => (p ? checkInfotext(p) : undefined),
    );
  }
  return run.finish();
}

const promptAtom = fc.constantFrom(
  '(',
  ')',
  '[',
  ']',
  ':',
  '\\',
  '\\(',
  '\\)',
  ' ',
  ',',
  'red',
  'fox',
  'BREAK',
  ' BREAK ',
  ':1.5)',
  ':1e308)',
  ':-1e308)',
  ':99999999999999999999999)',
  ':0)',
  ':-0.5)',
  ':.)',
  ':+.)',
  '<lora:tiny:0.8>',
  '<lora:',
  '<lora:x:1e999>',
  '<hypernet:a:b>',
  '>',
  'é',
  '🦊',
  '\u0000',
);

const prompts = fc.oneof(
  fc.array(promptAtom, { maxLength: 60 }).map((a) => a.join('')),
  fc.string({ maxLength: 200 }),
  fc.nat(3000).map((n) => '('.repeat(n) + 'deep' + ')'.repeat(n >> 1)),
  fc.nat(3000).map((n) => '['.repeat(n) + 'deep'),
  fc.constantFrom(
    Array.from({ length: 10_000 }, (_, k) => `w${k % 97}`).join(' '),
    Array.from({ length: 10_000 }, () => '(red:1.1)').join(','),
    '(a:1e308)'.repeat(50) + '('.repeat(999) + 'x:1e308' + ')'.repeat(999),
    'BREAK '.repeat(5000),
  ),
);

/** Prompts through parsePrompt + tokenizer chunking; weights must stay finite. */
export async function fuzzPrompts(numRuns: number, seed: number): Promise<FuzzStats> {
  // 10 000-token prompts build large (short-lived) arrays: a higher cap, still bounded.
  const run = new FuzzRun('prompts → parsePrompt + CLIP chunks', [PromptSyntaxError], {
    caseMs: 3000,
    memoryCapMiB: 384,
  });
  const tok = await ClipTokenizer.sd1();
  let i = 0;
  for (const p of fc.sample(prompts, { seed, numRuns })) {
    await run.case(
      `prompt #${i++} (${p.length} chars) ${JSON.stringify(p.slice(0, 80))}`,
      () => encodePrompt(p, tok),
      (r) => {
        if (r.ids.length === 0) return 'no chunk';
        for (let k = 0; k < r.ids.length; k++) {
          if (r.ids[k].length !== 77 || r.weights[k].length !== 77)
            return `chunk ${k} is not 77 ids`;
          const w = r.weights[k].find((x) => !Number.isFinite(x));
          if (w !== undefined) return `non-finite weight ${w} in chunk ${k}`;
        }
        for (const l of r.parsed.loras)
          if (!Number.isFinite(l.multiplier))
            return `LoRA ${l.name} with multiplier ${l.multiplier}`;
        return undefined;
      },
    );
  }
  return run.finish();
}
