// The demo's sample dataset: a concept the base model has never seen — pink stars — drawn at
// 128×128 on every background the base model knows, captioned kohya-style (`name.txt` beside
// each image, in a `N_name` repeats folder). One extra image carries a text watermark, so the
// demo shows the OCR filter excluding it.
import sharp from 'sharp';
import { mkdir, rm, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BASE_COLORS, mulberry32, renderShape, shapeCaption, type ShapeSpec } from './shapes.js';

export const SAMPLE_CONCEPT = Object.freeze({
  shape: 'star',
  color: 'pink',
  folder: '10_pink_star',
  /** Images per background colour. */
  perBackground: 5,
  size: 128,
});

export function sampleSpecs(seed = 7): ShapeSpec[] {
  const next = mulberry32(seed);
  const s = SAMPLE_CONCEPT.size;
  const specs: ShapeSpec[] = [];
  for (const background of BASE_COLORS)
    for (let k = 0; k < SAMPLE_CONCEPT.perBackground; k++)
      specs.push({
        shape: 'star',
        color: 'pink',
        background,
        cx: s / 2 + (next() - 0.5) * s * 0.16,
        cy: s / 2 + (next() - 0.5) * s * 0.16,
        radius: s * (0.3 + 0.08 * next()),
        rotation: (next() - 0.5) * 0.5,
      });
  return specs;
}

const png = (rgb: Uint8Array, size: number) =>
  sharp(Buffer.from(rgb), { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toBuffer();

/** Writes the sample dataset under `dir` (replaced whole). Returns the image count. */
export async function writeSampleDataset(dir: string): Promise<number> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const sub = join(tmp, SAMPLE_CONCEPT.folder);
  await mkdir(sub, { recursive: true });
  const specs = sampleSpecs();
  const s = SAMPLE_CONCEPT.size;
  for (const [i, spec] of specs.entries()) {
    const name = `star_${String(i + 1).padStart(2, '0')}`;
    await writeFile(join(sub, `${name}.png`), await png(renderShape(spec, s), s));
    await writeFile(join(sub, `${name}.txt`), `${shapeCaption(spec)}\n`);
  }
  // A watermarked copy of the first image: the OCR filter should flag it.
  const marked = await sharp(await png(renderShape(specs[0], s), s))
    .composite([
      {
        input: Buffer.from(
          `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}"><text x="8" y="${s - 14}" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="22" fill="#ffffff" stroke="#000000" stroke-width="1">SAMPLE</text></svg>`,
        ),
      },
    ])
    .png({ compressionLevel: 9 })
    .toBuffer();
  await writeFile(join(sub, 'star_watermarked.png'), marked);
  await writeFile(join(sub, 'star_watermarked.txt'), `${shapeCaption(specs[0])}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return specs.length + 1;
}
