// The "default output format" setting: the pipeline writes PNGs (A1111 `parameters` text in a
// tEXt chunk); for webp/jpeg the image is re-encoded and the same text goes into EXIF
// UserComment (where A1111 and Forge read it from JPEG/WebP), then the PNG is removed. libvips
// writes that tag as ASCII (it transliterates other characters), so a text with non-ASCII
// characters also gets an exact `<stem>.txt` sidecar (A1111's "text file next to every image").
import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import type { GeneratedImage } from '../generate/index.js';

export const IMAGE_OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type ImageOutputFormat = (typeof IMAGE_OUTPUT_FORMATS)[number];

const EXTENSION: Readonly<Record<ImageOutputFormat, string>> = Object.freeze({
  png: '.png',
  jpeg: '.jpg',
  webp: '.webp',
});

/** Re-encodes a generated PNG as `format` (png: unchanged) with its infotext in EXIF. */
export async function convertOutputImage(
  image: GeneratedImage,
  format: ImageOutputFormat,
): Promise<GeneratedImage> {
  if (!(format in EXTENSION))
    throw new RangeError(`format: "${format}" (valid: ${IMAGE_OUTPUT_FORMATS.join(', ')})`);
  if (format === 'png') return image;
  const png = await readFile(image.path);
  const exif = { IFD2: { UserComment: image.infotext } };
  const pipeline = sharp(png).withExif(exif);
  const bytes = await (
    format === 'webp' ? pipeline.webp({ quality: 90 }) : pipeline.jpeg({ quality: 92 })
  ).toBuffer();
  const target = image.path.slice(0, -extname(image.path).length) + EXTENSION[format];
  const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, bytes, { flag: 'wx' });
  await rename(tmp, target);
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(image.infotext))
    await writeFile(image.path.slice(0, -extname(image.path).length) + '.txt', image.infotext);
  await unlink(image.path);
  return { ...image, path: target };
}

/** The EXIF UserComment text of a JPEG/WebP written by convertOutputImage, if any. */
export async function readUserComment(bytes: Uint8Array): Promise<string | undefined> {
  const { exif } = await sharp(bytes).metadata();
  if (!exif) return undefined;
  // EXIF UserComment: an 8-byte charset code, then the text (ASCII / UTF-8 as libvips writes).
  const text = exif.toString('latin1');
  const at = text.indexOf('ASCII\0\0\0');
  if (at < 0) return undefined;
  const end = exif.indexOf(0, at + 8);
  return exif.subarray(at + 8, end < 0 ? exif.length : end).toString('utf8');
}
