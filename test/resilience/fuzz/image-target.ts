// Corrupt images through the dataset's decode path (probe + the sharp pipeline) and through a
// real folder import: truncated PNG/JPEG/WebP/BMP/GIF, flipped bytes, bogus declared sizes (zero,
// negative, 2^31), and decompression bombs (tiny files that declare or really hold far more
// pixels than the limit). Each case: decoded pixels of the declared size, or a clear refusal.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import { crc32 } from '../../../core/formats/index.js';
import {
  decodeRgb,
  ImageError,
  importFolder,
  probeImage,
  SKIP_REASONS,
} from '../../../core/dataset/index.js';
import { FuzzRun, type FuzzStats } from './fuzz-stats.js';

type Kind = 'png' | 'jpeg' | 'webp' | 'gif' | 'bmp';
const KINDS: Kind[] = ['png', 'jpeg', 'webp', 'gif', 'bmp'];
// What the decode cases allow: 4 MP (the bombs below are 9 MP real, 10^10 declared).
const LIMITS = { maxPixels: 4_000_000, maxFileBytes: 8 * 1024 * 1024 };

function bmp24(w: number, h: number): Buffer {
  const row = Math.ceil((w * 3) / 4) * 4;
  const b = Buffer.alloc(54 + row * h);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(h, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(row * h, 34);
  for (let i = 54; i < b.length; i++) b[i] = (i * 7) & 255;
  return b;
}

export async function seedImages(): Promise<Record<Kind, Buffer>> {
  const px = Buffer.alloc(24 * 16 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 13) & 255;
  const base = () => sharp(px, { raw: { width: 24, height: 16, channels: 3 } });
  return {
    png: await base().png().toBuffer(),
    jpeg: await base().jpeg().toBuffer(),
    webp: await base().webp().toBuffer(),
    gif: await base().gif().toBuffer(),
    bmp: bmp24(24, 16),
  };
}

/** A PNG whose IHDR declares w×h (CRC fixed or not) over the seed's real data. */
function pngWithSize(png: Buffer, w: number, h: number, fixCrc: boolean): Buffer {
  const b = Buffer.from(png);
  b.writeUInt32BE(w >>> 0, 16);
  b.writeUInt32BE(h >>> 0, 20);
  if (fixCrc) b.writeUInt32BE(crc32(b.subarray(12, 29)) >>> 0, 29);
  return b;
}

/** Patch the first SOF marker's height/width of a JPEG. */
function jpegWithSize(jpg: Buffer, w: number, h: number): Buffer {
  const b = Buffer.from(jpg);
  for (let i = 2; i + 9 < b.length; i++)
    if (b[i] === 0xff && b[i + 1] >= 0xc0 && b[i + 1] <= 0xc2) {
      b.writeUInt16BE(h & 0xffff, i + 5);
      b.writeUInt16BE(w & 0xffff, i + 7);
      break;
    }
  return b;
}

type ImageCase =
  | { m: 'truncate'; kind: Kind; at: number }
  | { m: 'flip'; kind: Kind; edits: [number, number][] }
  | { m: 'size'; kind: Kind; w: number; h: number; fixCrc: boolean }
  | { m: 'bomb' }
  | { m: 'random'; bytes: Uint8Array };

const dims = fc.oneof(
  fc.constantFrom(0, 1, 65535, 65536, 100_000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.integer({ min: -5, max: 70_000 }),
);

export const imageCases: fc.Arbitrary<ImageCase> = fc.oneof(
  fc.record({
    m: fc.constant('truncate' as const),
    kind: fc.constantFrom(...KINDS),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    m: fc.constant('flip' as const),
    kind: fc.constantFrom(...KINDS),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
  }),
  fc.record({
    m: fc.constant('size' as const),
    kind: fc.constantFrom(...KINDS),
    w: dims,
    h: dims,
    fixCrc: fc.boolean(),
  }),
  fc.record({ m: fc.constant('bomb' as const) }),
  fc.record({ m: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
);

export function buildCase(c: ImageCase, seeds: Record<Kind, Buffer>, bomb: Buffer): Buffer {
  switch (c.m) {
    case 'truncate':
      return seeds[c.kind].subarray(0, Math.floor(seeds[c.kind].length * c.at));
    case 'flip': {
      const b = Buffer.from(seeds[c.kind]);
      for (const [i, v] of c.edits) b[i % b.length] = v;
      return b;
    }
    case 'size':
      if (c.kind === 'png') return pngWithSize(seeds.png, c.w, c.h, c.fixCrc);
      if (c.kind === 'jpeg') return jpegWithSize(seeds.jpeg, c.w, c.h);
      if (c.kind === 'bmp') {
        const b = Buffer.from(seeds.bmp);
        b.writeInt32LE(c.w | 0, 18);
        b.writeInt32LE(c.h | 0, 22);
        return b;
      }
      if (c.kind === 'gif') {
        const b = Buffer.from(seeds.gif);
        b.writeUInt16LE(c.w & 0xffff, 6);
        b.writeUInt16LE(c.h & 0xffff, 8);
        return b;
      }
      {
        // WebP lossy: the VP8 frame header's 14-bit sizes at offset 26.
        const b = Buffer.from(seeds.webp);
        b.writeUInt16LE(c.w & 0x3fff, 26);
        b.writeUInt16LE(c.h & 0x3fff, 28);
        return b;
      }
    case 'bomb':
      return bomb;
    case 'random':
      return Buffer.from(c.bytes);
  }
}

const SHARP_CLEAR = (e: Error) =>
  /vips|sharp|Input buffer|image|decode|corrupt|truncat|premature|unsupported|JPEG|PNG|WebP|GIF|header|pixel|memory|read/i.test(
    e.message,
  );

/** Decode cases through probe + the pipeline (decodeRgb), with a 4 MP limit. */
export async function fuzzImageDecode(numRuns: number, seed: number): Promise<FuzzStats> {
  const run = new FuzzRun('images → probe + decode', [ImageError]);
  const seeds = await seedImages();
  // 3000×3000 of one colour: a few KB of PNG, 27 MB of pixels — over the 4 MP limit.
  const bomb = await sharp({
    create: { width: 3000, height: 3000, channels: 3, background: '#808080' },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
  let i = 0;
  for (const c of fc.sample(imageCases, { seed, numRuns })) {
    const bytes = buildCase(c, seeds, bomb);
    await run.case(
      `image #${i++} ${JSON.stringify(c).slice(0, 120)}`,
      async () => {
        const info = await probeImage(bytes, LIMITS);
        const img = await decodeRgb(bytes, { limits: LIMITS });
        return { info, img };
      },
      ({ info, img }) => {
        if (img.width * img.height > LIMITS.maxPixels)
          return `decoded ${img.width}×${img.height} past the limit`;
        if (img.data.length !== img.width * img.height * 3) return 'pixel buffer of the wrong size';
        if (info.width !== img.width || info.height !== img.height)
          return `probe said ${info.width}×${info.height}, decode gave ${img.width}×${img.height}`;
        return undefined;
      },
      SHARP_CLEAR,
    );
  }
  return run.finish();
}

/** A folder of corrupt files through importFolder: each imported or skipped with a reason. */
export async function fuzzImageImport(
  dir: string,
  numFiles: number,
  seed: number,
): Promise<FuzzStats> {
  const run = new FuzzRun('images → importFolder', [ImageError]);
  const seeds = await seedImages();
  const bomb = pngWithSize(seeds.png, 100_000, 100_000, true);
  const src = join(dir, 'import-src');
  await mkdir(src, { recursive: true });
  const cases = fc.sample(imageCases, { seed, numRuns: numFiles });
  const ext: Record<Kind, string> = {
    png: 'png',
    jpeg: 'jpg',
    webp: 'webp',
    gif: 'gif',
    bmp: 'bmp',
  };
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const e = 'kind' in c ? ext[c.kind] : 'png';
    await writeFile(join(src, `f${String(i).padStart(3, '0')}.${e}`), buildCase(c, seeds, bomb));
  }
  const t0 = performance.now();
  const r = await importFolder(src, join(dir, 'import-work'), { limits: LIMITS });
  const perFileMs = (performance.now() - t0) / numFiles;
  // One case per file: imported within the limit, or skipped with a stable reason and a message.
  for (let i = 0; i < numFiles; i++) {
    const rel = `f${String(i).padStart(3, '0')}.`;
    const img = r.images.find((x) => x.relPath.startsWith(rel));
    const skip = r.skipped.find((x) => x.relPath.startsWith(rel));
    await run.case(
      `import ${rel} ${JSON.stringify(cases[i]).slice(0, 100)} (${perFileMs.toFixed(0)} ms/file)`,
      () => {
        if (skip && !img) {
          if (!SKIP_REASONS.includes(skip.reason)) return `unknown skip reason ${skip.reason}`;
          throw new ImageError(skip.reason, skip.message);
        }
        if (!img || skip) return 'neither imported nor skipped exactly once';
        if (img.width * img.height > LIMITS.maxPixels)
          return `imported ${img.width}×${img.height} past the limit`;
        return undefined;
      },
      (bad) => bad,
    );
  }
  return run.finish();
}
