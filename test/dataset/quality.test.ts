import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  captionReport,
  countPieces,
  hammingDistance,
  imageSignals,
  lowDct,
  makeBuckets,
  nearDuplicateGroups,
  pHash,
  dHash,
  pickKeeper,
  qualityReport,
  splitTags,
  type ImageSignals,
  type QualityImage,
  type QualityProgress,
} from '../../core/dataset/index.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded scene: a gradient, rectangles and discs in random colours, and a little noise (RGB). */
function scene(width: number, height: number, seed: number): Buffer {
  const rnd = mulberry32(seed);
  const c0 = [rnd() * 255, rnd() * 255, rnd() * 255];
  const c1 = [rnd() * 255, rnd() * 255, rnd() * 255];
  const angle = rnd() * Math.PI * 2;
  const shapes = Array.from({ length: 9 }, () => ({
    disc: rnd() < 0.5,
    x: rnd() * width,
    y: rnd() * height,
    w: (0.1 + rnd() * 0.3) * width,
    h: (0.1 + rnd() * 0.3) * height,
    colour: [rnd() * 255, rnd() * 255, rnd() * 255],
  }));
  const out = Buffer.alloc(width * height * 3);
  const [dx, dy] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const t = 0.5 + 0.5 * ((x / width - 0.5) * dx + (y / height - 0.5) * dy);
      let px = c0.map((v, c) => v + (c1[c] - v) * t);
      for (const s of shapes) {
        const inside = s.disc
          ? ((x - s.x) / (s.w / 2)) ** 2 + ((y - s.y) / (s.h / 2)) ** 2 <= 1
          : Math.abs(x - s.x) <= s.w / 2 && Math.abs(y - s.y) <= s.h / 2;
        if (inside) px = s.colour;
      }
      const noise = (rnd() - 0.5) * 8;
      for (let c = 0; c < 3; c++)
        out[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(px[c] + noise)));
    }
  return out;
}

const raw = (width: number, height: number, seed: number) =>
  sharp(scene(width, height, seed), { raw: { width, height, channels: 3 } });

let dir = '';
const files: Record<string, string> = {};
const sizes: Record<string, [number, number]> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'quality-'));
  const put = async (name: string, bytes: Promise<Buffer>) => {
    files[name] = path.join(dir, name);
    writeFileSync(files[name], await bytes);
    const m = await sharp(files[name]).metadata();
    sizes[name] = [m.width ?? 0, m.height ?? 0];
  };
  const original = await raw(512, 384, 1).png().toBuffer();
  await put('a.png', Promise.resolve(original));
  // The same picture resized and re-encoded as a lossy JPEG.
  await put('a-copy.jpg', sharp(original).resize(384, 288).jpeg({ quality: 70 }).toBuffer());
  await put('b.png', raw(512, 384, 2).png().toBuffer());
  await put('c.png', raw(448, 448, 3).png().toBuffer());
  await put('small.png', raw(120, 100, 4).png().toBuffer());
  await put('wide.png', raw(1600, 300, 5).png().toBuffer());
  await put('soft.png', raw(512, 512, 6).blur(4).png().toBuffer());
  await put('a-soft.png', sharp(original).blur(3).png().toBuffer());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('perceptual hashes', () => {
  it('lowDct matches the DCT-II formula', () => {
    const rnd = mulberry32(9);
    const px = Array.from({ length: 1024 }, () => Math.floor(rnd() * 256));
    const got = lowDct(px);
    for (const [u, v] of [
      [0, 0],
      [1, 0],
      [3, 5],
      [7, 7],
    ]) {
      let s = 0;
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++)
          s +=
            px[y * 32 + x] *
            Math.cos((Math.PI * (2 * x + 1) * u) / 64) *
            Math.cos((Math.PI * (2 * y + 1) * v) / 64);
      expect(got[v * 8 + u]).toBeCloseTo(s, 6);
    }
  });

  it('hammingDistance counts differing bits and rejects malformed hashes', () => {
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64);
    expect(hammingDistance('8000000000000001', '0000000000000000')).toBe(2);
    expect(hammingDistance('0123456789abcdef', '0123456789abcdef')).toBe(0);
    expect(() => hammingDistance('xyz', '0000000000000000')).toThrow(/16 lower-case hex/);
  });

  it('finds a resized, re-encoded (JPEG q=70) copy and not a different image', async () => {
    const [a, copy, b, c] = await Promise.all(
      ['a.png', 'a-copy.jpg', 'b.png', 'c.png'].map((f) => pHash(files[f])),
    );
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(hammingDistance(a, copy)).toBeLessThanOrEqual(4);
    expect(hammingDistance(a, b)).toBeGreaterThan(14);
    expect(hammingDistance(a, c)).toBeGreaterThan(14);
    const [da, dcopy, db] = await Promise.all(
      ['a.png', 'a-copy.jpg', 'b.png'].map((f) => dHash(files[f])),
    );
    expect(hammingDistance(da, dcopy)).toBeLessThanOrEqual(6);
    expect(hammingDistance(da, db)).toBeGreaterThan(14);
  });

  it('a blurred copy scores far below the sharp image', async () => {
    const [sharpSig, softSig] = await Promise.all([
      imageSignals(files['a.png']),
      imageSignals(files['a-soft.png']),
    ]);
    expect(sharpSig).toMatchObject({ width: 512, height: 384 });
    expect(softSig.blur).toBeLessThan(sharpSig.blur / 4);
  });
});

describe('duplicate grouping', () => {
  it('groups transitively and leaves distant hashes alone', () => {
    const groups = nearDuplicateGroups(
      ['0000000000000000', '000000000000000f', '00000000000000ff', 'ffffffffffffffff'],
      4,
    );
    // 0 ~ 1 (4 bits), 1 ~ 2 (4 bits), 0 and 2 are 8 apart but joined through 1.
    expect(groups).toEqual([[0, 1, 2]]);
    expect(() => nearDuplicateGroups([], 65)).toThrow(/0\.\.64/);
  });

  it('keeps the largest, then the sharpest among similar sizes', () => {
    expect(
      pickKeeper([
        { area: 100, blur: 50 },
        { area: 400, blur: 1 },
      ]),
    ).toBe(1);
    expect(
      pickKeeper([
        { area: 400, blur: 5 },
        { area: 380, blur: 9 },
        { area: 100, blur: 99 },
      ]),
    ).toBe(1);
  });
});

describe('captions', () => {
  it('counts tag frequency (trimmed, lower-cased, once per image) and per-image tags', () => {
    const r = captionReport([
      { id: 1, caption: 'Cat, outdoors ,  cat, sky' },
      { id: 2, caption: 'cat, indoors' },
      { id: 3, caption: '   ' },
      { id: 4, caption: null },
      { id: 5, caption: 'SKY,, cat' },
    ]);
    expect(r.tagFrequency).toEqual([
      { tag: 'cat', count: 3 },
      { tag: 'sky', count: 2 },
      { tag: 'indoors', count: 1 },
      { tag: 'outdoors', count: 1 },
    ]);
    expect(r.empty).toEqual([3, 4]);
    expect(r.perImage.map((e) => [e.id, e.tags])).toEqual([
      [1, 3],
      [2, 2],
      [5, 2],
    ]);
    expect(r.stats).toMatchObject({ images: 5, captioned: 3, uniqueTags: 4 });
    expect(r.stats.tags).toEqual({ min: 2, max: 3, mean: 7 / 3, median: 2 });
    expect(r.perImage[1].chars).toBe('cat, indoors'.length);
    expect(splitTags(' A ,b,, ')).toEqual(['a', 'b']);
  });

  it('counts tokens and lists captions over the limit', () => {
    expect(countPieces('a cat, 2024!!')).toBe(8); // a · cat · , · 2 · 0 · 2 · 4 · !!
    const r = captionReport(
      [
        { id: 'x', caption: 'one two three' },
        { id: 'y', caption: 'one two three four five' },
      ],
      { tokenLimit: 4 },
    );
    expect(r.overLimit).toEqual([{ id: 'y', tokens: 5 }]);
    const custom = captionReport([{ id: 'x', caption: 'abc' }], {
      countTokens: (t) => t.length * 2,
    });
    expect(custom.perImage[0].tokens).toBe(6);
    expect(() => captionReport([], { tokenLimit: 0 })).toThrow(/tokenLimit/);
  });
});

describe('qualityReport', () => {
  const rows = (): QualityImage<string>[] =>
    Object.keys(files)
      .filter((f) => f !== 'a-soft.png')
      .map((f) => ({
        id: f,
        path: files[f],
        width: sizes[f][0],
        height: sizes[f][1],
        caption: f === 'b.png' ? null : `photo, ${f.split('.')[0]}, shapes`,
      }));

  it('flags duplicates, small, wide and blurry images and suggests what to exclude', async () => {
    const events: QualityProgress[] = [];
    const r = await qualityReport(rows(), {
      buckets: makeBuckets({ resolution: 512 }), // sides 256..1024, aspect 0.25..4
      onProgress: (p) => events.push(p),
    });
    expect(r.duplicates).toHaveLength(1);
    expect(r.duplicates[0]).toMatchObject({ keep: 'a.png', drop: ['a-copy.jpg'] });
    expect(r.duplicates[0].distance).toBeLessThanOrEqual(4);
    expect(r.tooSmall.map((e) => e.id)).toEqual(['small.png']);
    expect(r.tooSmall[0].minSide).toBe(256);
    expect(r.aspectOutliers.map((e) => e.id)).toEqual(['wide.png']);
    expect(r.blurry.map((e) => e.id)).toEqual(['soft.png']);
    expect(r.unreadable).toEqual([]);
    expect(r.captions.empty).toEqual(['b.png']);
    expect(r.captions.tagFrequency.slice(0, 2)).toEqual([
      { tag: 'photo', count: 6 },
      { tag: 'shapes', count: 6 },
    ]);
    const byId = Object.fromEntries(r.suggestions.map((s) => [s.id, s]));
    expect(byId['a-copy.jpg']).toMatchObject({ action: 'exclude', issues: ['duplicate'] });
    expect(byId['a-copy.jpg'].reasons[0]).toMatch(/near-duplicate of a\.png/);
    expect(byId['a.png']).toMatchObject({ action: 'keep', issues: ['duplicate-keep'] });
    expect(byId['small.png']).toMatchObject({ action: 'exclude', issues: ['too-small'] });
    expect(byId['wide.png']).toMatchObject({ action: 'exclude', issues: ['aspect-outlier'] });
    expect(byId['soft.png']).toMatchObject({ action: 'exclude', issues: ['blurry'] });
    expect(byId['b.png']).toMatchObject({ action: 'keep', issues: ['empty-caption'] });
    expect(byId['c.png']).toBeUndefined();
    // progress: analyze counts up to the total, and the last event says done
    const analyze = events.filter((e) => e.stage === 'analyze').map((e) => e.done);
    expect(analyze).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(events.at(-1)).toEqual({ stage: 'done', done: 7, total: 7 });
  });

  it('keeps the sharp image of a blurred duplicate pair and reuses given signals', async () => {
    const sig = async (f: string) => imageSignals(files[f]);
    const [a, soft] = await Promise.all([sig('a.png'), sig('a-soft.png')]);
    expect(hammingDistance(a.pHash, soft.pHash)).toBeLessThanOrEqual(6);
    const mk = (id: string, s: ImageSignals): QualityImage<string> => ({
      id,
      path: path.join(dir, 'missing', id), // never read: the signals are given
      width: 512,
      height: 384,
      caption: 'x',
      signals: s,
    });
    const r = await qualityReport([mk('soft', soft), mk('sharp', a)]);
    expect(r.duplicates).toEqual([
      {
        keep: 'sharp',
        drop: ['soft'],
        distance: expect.any(Number),
        distances: [expect.any(Number)],
      },
    ]);
    expect(r.unreadable).toEqual([]);
  });

  it('lists files that do not decode as unreadable', async () => {
    const bad = path.join(dir, 'bad.png');
    writeFileSync(bad, Buffer.from('not an image'));
    const r = await qualityReport([
      { id: 'bad', path: bad, width: 512, height: 512, caption: 'x' },
    ]);
    expect(r.unreadable.map((u) => u.id)).toEqual(['bad']);
    expect(r.suggestions[0]).toMatchObject({
      id: 'bad',
      action: 'exclude',
      issues: ['unreadable'],
    });
  });

  it('cancels: an aborted signal rejects with its reason and stops decoding', async () => {
    const pre = new AbortController();
    pre.abort(new Error('stop now'));
    await expect(qualityReport(rows(), { signal: pre.signal })).rejects.toThrow('stop now');
    const ctl = new AbortController();
    let analyzed = 0;
    const run = qualityReport(rows(), {
      signal: ctl.signal,
      concurrency: 1,
      onProgress: (p) => {
        if (p.stage === 'analyze') analyzed = p.done;
        if (p.done === 2) ctl.abort(new Error('user cancelled'));
      },
    });
    await expect(run).rejects.toThrow('user cancelled');
    expect(analyzed).toBe(2);
  });

  it('rejects bad options and repeated ids, naming the value', async () => {
    const one = rows().slice(0, 1);
    await expect(qualityReport(one, { duplicateThreshold: 70 })).rejects.toThrow(/0\.\.64, got 70/);
    await expect(qualityReport(one, { concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(qualityReport([...one, ...one])).rejects.toThrow(/duplicate image id 'a\.png'/);
  });
});
