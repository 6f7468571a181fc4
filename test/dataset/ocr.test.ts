import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  coveredRatio,
  ctcGreedyDecode,
  DET_MEAN,
  DET_STD,
  detInputSize,
  findTextBoxes,
  TextDetector,
  toDetTensor,
} from '../../core/dataset/index.js';
import { photoPixels, svg } from './helpers.js';

describe('detector pre-processing', () => {
  it('caps the longest side at 960 and rounds both sides to multiples of 32', () => {
    expect(detInputSize(1920, 1080)).toEqual({ width: 960, height: 544 }); // 540 → 544
    expect(detInputSize(100, 50)).toEqual({ width: 96, height: 64 }); // never enlarged
    expect(detInputSize(10, 10)).toEqual({ width: 32, height: 32 });
    expect(detInputSize(3000, 600, 640)).toEqual({ width: 640, height: 128 });
    expect(() => detInputSize(0, 5)).toThrow(/invalid size 0×5/);
  });

  it('normalises with ImageNet mean/std in B, G, R plane order, NCHW', () => {
    // One pure red pixel and one pure blue pixel.
    const t = toDetTensor(Uint8Array.from([255, 0, 0, 0, 0, 255]), 2, 1);
    const norm = (v: number, k: number) => (v / 255 - DET_MEAN[k]) / DET_STD[k];
    const want = [norm(0, 0), norm(255, 0), norm(0, 1), norm(0, 1), norm(255, 2), norm(0, 2)];
    want.forEach((w, i) => expect(t[i]).toBeCloseTo(w, 5));
    expect(() => toDetTensor(new Uint8Array(5), 2, 1)).toThrow(/expected 6 RGB bytes/);
  });
});

describe('detector post-processing', () => {
  const W = 100;
  const H = 60;
  const fill = (m: Float32Array, x: number, y: number, w: number, h: number, v: number) => {
    for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) m[j * W + i] = v;
  };

  it('keeps confident regions, drops weak and thin ones, and unclips the kernel', () => {
    const m = new Float32Array(W * H);
    fill(m, 10, 10, 20, 10, 0.9); // text kernel
    fill(m, 50, 30, 30, 6, 0.8); // another
    fill(m, 10, 40, 20, 10, 0.45); // above 0.3 but mean below 0.6
    fill(m, 60, 5, 30, 2, 0.95); // thinner than 3 px
    const boxes = findTextBoxes(m, W, H);
    expect(boxes).toHaveLength(2);
    // 20×10 kernel: D = 200 × 1.5 / 60 = 5 on each side.
    const a = boxes.find((b) => b.score > 0.85)!;
    expect([a.x, a.y, a.width, a.height]).toEqual([5, 5, 30, 20]);
    expect(a.score).toBeCloseTo(0.9, 5);
    const raw = findTextBoxes(m, W, H, { unclipRatio: 0 });
    expect(raw.map((b) => [b.x, b.y, b.width, b.height])).toContainEqual([10, 10, 20, 10]);
    expect(findTextBoxes(m, W, H, { boxThreshold: 0.4 })).toHaveLength(3);
  });

  it('joins diagonal neighbours into one region (8-connectivity)', () => {
    const m = new Float32Array(W * H);
    for (let k = 0; k < 8; k++) fill(m, 10 + k * 2, 10 + k * 2, 2, 2, 1);
    const boxes = findTextBoxes(m, W, H, { unclipRatio: 0 });
    expect(boxes).toHaveLength(1);
    expect([boxes[0].width, boxes[0].height]).toEqual([16, 16]);
  });

  it('measures the union of boxes, overlaps once', () => {
    const b = (x: number, y: number, width: number, height: number) => ({
      x,
      y,
      width,
      height,
      score: 1,
    });
    expect(coveredRatio([b(0, 0, 10, 10)], 100, 10)).toBeCloseTo(0.1, 10);
    expect(coveredRatio([b(0, 0, 10, 10), b(5, 0, 10, 10)], 100, 10)).toBeCloseTo(0.15, 10);
    expect(coveredRatio([], 100, 10)).toBe(0);
  });
});

describe('CTC greedy decoding', () => {
  it('merges repeats, drops blanks, maps past-the-dictionary to space, averages the kept', () => {
    const dict = ['a', 'b'];
    // classes: 0 blank, 1 'a', 2 'b', 3 space. Steps: a a blank a b space b
    const best = [1, 1, 0, 1, 2, 3, 2];
    const p = [0.9, 0.7, 0.99, 0.8, 0.6, 0.5, 0.4];
    const probs = new Float32Array(best.length * 4);
    best.forEach((k, t) => {
      probs.fill((1 - p[t]) / 3, t * 4, t * 4 + 4);
      probs[t * 4 + k] = p[t];
    });
    const r = ctcGreedyDecode(probs, best.length, 4, dict);
    expect(r.text).toBe('aab b');
    expect(r.score).toBeCloseTo((0.9 + 0.8 + 0.6 + 0.5 + 0.4) / 5, 6);
    expect(
      ctcGreedyDecode(
        new Float32Array(8).fill(0).map((_, i) => (i % 4 === 0 ? 1 : 0)),
        2,
        4,
        dict,
      ),
    ).toEqual({ text: '', score: 0 });
    expect(() => ctcGreedyDecode(new Float32Array(7), 2, 4, dict)).toThrow(/expected 2×4/);
  });
});

// Letters drawn as strokes, so this part needs no font (CI images may have none).
const GLYPHS: Record<string, string> = {
  A: 'M0 10L3 0L6 10M1 6H5',
  D: 'M0 0H4L6 3V7L4 10H0Z',
  E: 'M6 0H0V10H6M0 5H5',
  H: 'M0 0V10M0 5H6M6 0V10',
  I: 'M3 0V10M1 0H5M1 10H5',
  L: 'M0 0V10H6',
  N: 'M0 10V0L6 10V0',
  O: 'M0 0H6V10H0Z',
  R: 'M0 10V0H5L6 2L5 5H0M3 5L6 10',
  S: 'M6 0H0V5H6V10H0',
  T: 'M0 0H6M3 0V10',
  W: 'M0 0L1.5 10L3 4L4.5 10L6 0',
};
function strokeText(text: string, x: number, y: number, size: number, colour: string, width = 1.4) {
  const s = size / 10;
  return [...text]
    .map((ch, i) =>
      GLYPHS[ch]
        ? `<path transform="translate(${x + i * 8.5 * s} ${y}) scale(${s})" d="${GLYPHS[ch]}" fill="none" stroke="${colour}" stroke-width="${width}" stroke-linecap="round"/>`
        : '',
    )
    .join('');
}

const W = 320;
const H = 240;
const page = (bg: string, body: string) =>
  svg(W, H, `<rect width="${W}" height="${H}" fill="${bg}"/>${body}`);
const GRADIENT =
  '<defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="#236"/><stop offset="1" stop-color="#d95"/></linearGradient></defs><rect width="320" height="240" fill="url(#g)"/>';

const TEXT_IMAGES: Record<string, Buffer> = {
  'black on white, two lines': page(
    '#fff',
    strokeText('HELLO WORLD', 20, 40, 20, '#000') + strokeText('TRAIN', 20, 120, 30, '#333'),
  ),
  'yellow caption on dark blue': page('#246', strokeText('SALE', 180, 200, 16, '#ff0')),
  'small corner watermark': page('#9ab', strokeText('LOREN', 230, 220, 10, '#fff', 1.6)),
  'signature over a gradient': svg(
    W,
    H,
    GRADIENT + strokeText('ANDREW', 190, 205, 12, '#fff', 1.5),
  ),
};
const FONT_IMAGES: Record<string, Buffer> = {
  'font text, sans': page(
    '#fff',
    '<text x="16" y="60" font-family="DejaVu Sans, Liberation Sans, sans-serif" font-size="28" fill="#111">Hello, world</text>',
  ),
  'font text, watermark': svg(
    W,
    H,
    GRADIENT +
      '<text x="170" y="225" font-family="sans-serif" font-size="14" fill="#fff">@artist_name</text>',
  ),
};

// Flat-colour shapes that the detector alone takes for a big glyph (found by a seeded search over
// random scenes like the ones bench/dataset.ts draws); recognition reads no text in them.
const GLYPH_LIKE = svg(
  320,
  320,
  '<rect width="320" height="320" fill="hsl(65,70%,46%)"/><circle cx="113" cy="255" r="49" fill="hsl(218,53%,47%)"/><circle cx="119" cy="174" r="60" fill="hsl(340,84%,40%)"/><circle cx="241" cy="223" r="27" fill="hsl(51,49%,65%)"/><circle cx="99" cy="111" r="67" fill="hsl(307,48%,41%)"/><rect x="20" y="169" width="78" height="39" fill="hsl(80,40%,30%)"/><circle cx="104" cy="62" r="44" fill="hsl(178,52%,48%)"/><circle cx="237" cy="181" r="35" fill="hsl(92,50%,32%)"/><circle cx="3" cy="303" r="68" fill="hsl(67,65%,49%)"/><rect x="280" y="12" width="60" height="30" fill="hsl(261,54%,55%)"/><circle cx="253" cy="108" r="28" fill="hsl(358,40%,74%)"/>',
);

async function plainImages(): Promise<Record<string, Buffer>> {
  const checker = Array.from({ length: 12 * 16 }, (_, i) => {
    const x = i % 16;
    const y = Math.floor(i / 16);
    return `<rect x="${x * 20}" y="${y * 20}" width="20" height="20" fill="${(x + y) % 2 ? '#000' : '#fff'}"/>`;
  }).join('');
  const noise = Buffer.alloc(W * H * 3);
  let seed = 12345;
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    noise[i] = seed >>> 24;
  }
  return {
    gradient: svg(W, H, GRADIENT),
    shapes: page(
      '#eee',
      '<circle cx="90" cy="90" r="60" fill="#c33"/><rect x="180" y="120" width="100" height="100" fill="#36c"/><polygon points="30,230 110,140 150,230" fill="#3a3"/>',
    ),
    stripes: page(
      '#fff',
      Array.from(
        { length: 12 },
        (_, i) => `<rect y="${i * 20}" width="320" height="8" fill="#222"/>`,
      ).join(''),
    ),
    checkerboard: svg(W, H, checker),
    'bar chart without labels': page(
      '#ddd',
      Array.from(
        { length: 10 },
        (_, i) =>
          `<rect x="${20 + i * 28}" y="${200 - i * 15}" width="18" height="${i * 15 + 10}" fill="#48c"/>`,
      ).join(''),
    ),
    'photo-like': await sharp(photoPixels(W, H, 3), { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer(),
    noise: await sharp(noise, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer(),
  };
}

/** librsvg draws <text> only if fontconfig finds a font: count dark pixels to know. */
async function fontsAvailable(): Promise<boolean> {
  const { data } = await sharp(FONT_IMAGES['font text, sans'])
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return data.some((v) => v < 100);
}

describe('TextDetector (PP-OCRv4 det + rec, CPU)', () => {
  let det: TextDetector;
  let detOnly: TextDetector;
  let hasFonts = false;
  beforeAll(async () => {
    det = await TextDetector.create();
    detOnly = await TextDetector.create({ verify: false });
    hasFonts = await fontsAvailable();
  });
  afterAll(async () => {
    await det?.release();
    await detOnly?.release();
  });

  it('flags every image with text, with boxes where the text is', async () => {
    expect(det.executionProvider).toBe('cpu');
    for (const [name, s] of Object.entries(TEXT_IMAGES)) {
      const r = await det.detect(await sharp(s).png().toBuffer());
      expect(r.flagged, `${name}: ratio ${r.textAreaRatio}`).toBe(true);
      expect([r.width, r.height, r.inputWidth, r.inputHeight]).toEqual([W, H, 320, 256]);
    }
    // The corner watermark's box is in the corner, in image pixels.
    const r = await det.detect(await sharp(TEXT_IMAGES['small corner watermark']).png().toBuffer());
    expect(r.boxes.length).toBeGreaterThanOrEqual(1);
    const b = r.boxes[0];
    expect(b.x).toBeGreaterThan(215);
    expect(b.y).toBeGreaterThan(205);
    expect(b.x + b.width).toBeLessThanOrEqual(W);
    expect(b.y + b.height).toBeLessThanOrEqual(H);
    expect(r.textAreaRatio).toBeLessThan(0.05);
  });

  it('flags no image without text', async () => {
    for (const [name, img] of Object.entries(await plainImages())) {
      const r = await det.detect(await sharp(img).png().toBuffer());
      expect(r.flagged, `${name}: ratio ${r.textAreaRatio}, ${r.boxes.length} boxes`).toBe(false);
    }
  });

  it('flags text set in a real font (when librsvg has one)', async (ctx) => {
    if (!hasFonts) ctx.skip('fontconfig has no font: <text> renders nothing here');
    for (const [name, s] of Object.entries(FONT_IMAGES)) {
      const r = await det.detect(await sharp(s).png().toBuffer());
      expect(r.flagged, `${name}: ratio ${r.textAreaRatio}`).toBe(true);
    }
  });

  it('confirmed boxes carry what the recognizer read', async () => {
    const r = await det.detect(
      await sharp(TEXT_IMAGES['black on white, two lines']).png().toBuffer(),
    );
    expect(r.boxes.map((b) => b.text)).toContain('TRAIN');
    for (const b of r.boxes) expect(b.textScore).toBeGreaterThanOrEqual(0.5);
  });

  it('recognition rejects what the detector alone takes for text', async () => {
    const png = await sharp(GLYPH_LIKE).png().toBuffer();
    const alone = await detOnly.detect(png);
    expect(alone.flagged).toBe(true);
    expect(alone.textAreaRatio).toBeGreaterThan(0.1);
    const verified = await det.detect(png);
    expect(verified.detectedBoxes).toBeGreaterThanOrEqual(1);
    expect(verified.detectedAreaRatio).toBeCloseTo(alone.textAreaRatio, 6);
    expect(verified.boxes).toEqual([]);
    expect(verified.flagged).toBe(false);
  });

  it('the flag threshold is configurable', async () => {
    const png = await sharp(TEXT_IMAGES['small corner watermark']).png().toBuffer();
    const r = await det.detect(png);
    expect((await det.detect(png, { flagRatio: r.textAreaRatio + 0.001 })).flagged).toBe(false);
    expect((await det.detect(png, { flagRatio: r.textAreaRatio })).flagged).toBe(true);
  });
});
