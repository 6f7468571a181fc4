// Reading image files safely: recognise the format by content, check the declared size against the
// limits before any pixel is decoded (decompression bombs), then hand sharp a bounded pipeline.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { Metadata, Sharp } from 'sharp';
import { decodeBmp, readBmpHeader } from './bmp.js';
import { ImageError } from './errors.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'bmp' | 'tiff';

/** File extensions the importer treats as images (lower case, with the dot). */
export const IMAGE_EXTENSIONS: Readonly<Record<string, ImageFormat>> = Object.freeze({
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.jpe': 'jpeg',
  '.jfif': 'jpeg',
  '.webp': 'webp',
  '.gif': 'gif',
  '.bmp': 'bmp',
  '.dib': 'bmp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
});

export interface ImageLimits {
  /** Most pixels (stored width × height) an image may declare. */
  maxPixels: number;
  /** Largest file read into memory. */
  maxFileBytes: number;
}

/** Pillow's decompression-bomb error threshold (2 × its 89.5 MP warning) and 512 MiB per file. */
export const DEFAULT_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxPixels: 178_956_970,
  maxFileBytes: 512 * 1024 * 1024,
});

export function sniffFormat(b: Uint8Array): ImageFormat | undefined {
  const at = (i: number, ...bytes: number[]) => bytes.every((v, k) => b[i + k] === v);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x42, 0x4d)) return 'bmp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  return undefined;
}

export interface ImageInfo {
  format: ImageFormat;
  /** Size as displayed: EXIF orientations 5–8 swap the stored sides. */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when absent). */
  orientation: number;
  hasAlpha: boolean;
}

const hex = (b: Uint8Array) =>
  Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');

function checkPixels(width: number, height: number, format: string, limits: ImageLimits): void {
  if (!(width > 0 && height > 0))
    throw new ImageError('corrupt', `${format} declares an invalid size ${width}×${height}`);
  if (width * height > limits.maxPixels)
    throw new ImageError(
      'too-large',
      `${format} declares ${width}×${height} = ${(width * height).toLocaleString('en')} px, over the ${limits.maxPixels.toLocaleString('en')} px limit`,
    );
}

/** Header-only look at an image: format, displayed size, orientation. Throws ImageError. */
export async function probeImage(
  bytes: Buffer,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<ImageInfo> {
  if (bytes.length === 0) throw new ImageError('empty', 'the file is empty (0 bytes)');
  const format = sniffFormat(bytes);
  if (!format)
    throw new ImageError(
      'corrupt',
      `content is not PNG, JPEG, WebP, GIF, BMP or TIFF (starts with ${hex(bytes)})`,
    );
  if (format === 'bmp') {
    const h = readBmpHeader(bytes);
    checkPixels(h.width, h.height, 'BMP', limits);
    return {
      format,
      width: h.width,
      height: h.height,
      orientation: 1,
      hasAlpha: h.bitsPerPixel === 32,
    };
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageError('corrupt', `${format} header does not decode: ${(err as Error).message}`);
  }
  const storedW = meta.width ?? 0;
  // Animated GIF/WebP: one frame's height; we import the first frame.
  const storedH = meta.pageHeight ?? meta.height ?? 0;
  checkPixels(storedW, storedH, format.toUpperCase(), limits);
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  return {
    format,
    width: swap ? storedH : storedW,
    height: swap ? storedW : storedH,
    orientation,
    hasAlpha: meta.hasAlpha === true,
  };
}

export type ImageSource = string | Buffer;

/**
 * A sharp pipeline over an image file or its bytes, first frame only, with the pixel limit
 * enforced by libvips too. BMP is decoded here (sharp cannot). Decode errors surface when the
 * pipeline runs (toBuffer), as sharp's own errors.
 */
export async function openImage(
  src: ImageSource,
  limits: ImageLimits = DEFAULT_LIMITS,
): Promise<Sharp> {
  const bytes = typeof src === 'string' ? await readFile(src) : src;
  if (sniffFormat(bytes) === 'bmp') {
    const raw = decodeBmp(bytes, limits.maxPixels);
    return sharp(raw.data, {
      raw: { width: raw.width, height: raw.height, channels: raw.channels },
    });
  }
  // failOn 'warning' (sharp's default, stated here on purpose): a truncated JPEG is only a libjpeg
  // warning and would otherwise decode with a grey lower half.
  return sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning', pages: 1 });
}
