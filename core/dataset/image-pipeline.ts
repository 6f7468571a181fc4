// From a user's image file to what training and the UI need: upright (EXIF orientation applied),
// sRGB, alpha flattened onto a chosen background, resized to its bucket (cover + crop), and
// small thumbnails. All through sharp; BMP comes in through our decoder (decode.ts).
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import type { Bucket } from './buckets.js';
import { DEFAULT_LIMITS, openImage, type ImageLimits, type ImageSource } from './decode.js';

export type Background = string | { r: number; g: number; b: number };

export interface PipelineOptions {
  /** What transparent pixels become (CSS colour or RGB), default white. */
  background?: Background;
  limits?: ImageLimits;
}

/**
 * How the bucket crop picks its window after the cover resize. 'center' matches kohya; 'attention'
 * (sharp: the region with the most luminance frequency, saturation and skin tone) and 'entropy'
 * keep the subject of off-center compositions.
 */
export type CropMode = 'center' | 'attention' | 'entropy';
export const CROP_MODES: readonly CropMode[] = ['center', 'attention', 'entropy'];

export interface BucketImageOptions extends PipelineOptions {
  crop?: CropMode;
  /** 'png' bytes, or 'raw' interleaved RGB (what a latent cache feeds the VAE). Default 'png'. */
  format?: 'png' | 'raw';
}

export interface PixelImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

export const DEFAULT_BACKGROUND: Background = '#ffffff';

/** Upright, sRGB, 3 channels (alpha flattened onto the background). */
export async function normalizedImage(
  src: ImageSource,
  opts: PipelineOptions = {},
): Promise<Sharp> {
  const img = await openImage(src, opts.limits ?? DEFAULT_LIMITS);
  return img
    .rotate() // no angle: apply the EXIF orientation, then drop the tag
    .flatten({ background: opts.background ?? DEFAULT_BACKGROUND })
    .toColourspace('srgb');
}

/** Decoded upright sRGB pixels, 3 channels. */
export async function decodeRgb(src: ImageSource, opts: PipelineOptions = {}): Promise<PixelImage> {
  const { data, info } = await (
    await normalizedImage(src, opts)
  )
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function position(crop: CropMode): string | number {
  switch (crop) {
    case 'center':
      return 'centre';
    case 'attention':
      return sharp.strategy.attention;
    case 'entropy':
      return sharp.strategy.entropy;
    default:
      throw new Error(`unknown crop mode '${String(crop)}'; valid: ${CROP_MODES.join(', ')}`);
  }
}

/** Resize to cover the bucket and crop to it exactly. */
export async function resizeToBucket(
  src: ImageSource,
  bucket: Bucket,
  opts: BucketImageOptions = {},
): Promise<PixelImage> {
  const format = opts.format ?? 'png';
  if (format !== 'png' && format !== 'raw')
    throw new Error(`unknown bucket image format '${String(format)}'; valid: png, raw`);
  const img = (await normalizedImage(src, opts)).removeAlpha().resize(bucket.width, bucket.height, {
    fit: 'cover',
    position: position(opts.crop ?? 'center'),
  });
  const { data, info } = await (format === 'png' ? img.png() : img.raw()).toBuffer({
    resolveWithObject: true,
  });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

export interface ThumbnailOptions {
  /** Longest side in pixels (default 256); smaller images are not enlarged. */
  size?: number;
  /** WebP quality 1–100 (default 80). */
  quality?: number;
  limits?: ImageLimits;
}

/** A WebP thumbnail, upright, sRGB; alpha kept so the UI can show a checkerboard behind it. */
export async function makeThumbnail(
  src: ImageSource | Sharp,
  opts: ThumbnailOptions = {},
): Promise<{ data: Buffer; width: number; height: number }> {
  const size = opts.size ?? 256;
  if (!Number.isInteger(size) || size < 8 || size > 4096)
    throw new Error(`thumbnail size must be an integer in 8..4096, got ${size}`);
  const img =
    typeof src === 'string' || Buffer.isBuffer(src)
      ? await openImage(src, opts.limits ?? DEFAULT_LIMITS)
      : src;
  const { data, info } = await img
    .rotate()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: opts.quality ?? 80 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * A lossless PNG working copy for formats the rest of the app should not have to special-case
 * (BMP, GIF first frame, TIFF first page): upright, 8-bit sRGB, alpha kept.
 */
export async function toWorkingPng(src: ImageSource, limits?: ImageLimits): Promise<Buffer> {
  return (await openImage(src, limits ?? DEFAULT_LIMITS))
    .rotate()
    .toColourspace('srgb')
    .png({ compressionLevel: 6 })
    .toBuffer();
}
