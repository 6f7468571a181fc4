// Perceptual hashes and a sharpness score, all from one grey downscale of the upright image so
// a dataset is decoded once. Hashes are 64-bit, written as 16 hex digits (JSON- and SQLite-safe).
//   dHash: 9×8 grey, bit = (left < right) for the 8 neighbour pairs of each row (Krawetz).
//   pHash: 32×32 grey → 2-D DCT-II → the top-left 8×8 block; each AC coefficient above the
//          median of the 63 AC coefficients sets its bit. The DC bit is always 0 (it only says
//          "bright image" and would swamp the structure), so it never adds to a distance.
//   blur:  variance of the 3×3 Laplacian (0 1 0 / 1 -4 1 / 0 1 0) over the grey ≤512 px
//          downscale; edges give large responses, so lower = blurrier.
import sharp from 'sharp';
import type { ImageSource } from './decode.js';
import { normalizedImage, type PipelineOptions } from './image-pipeline.js';

/** 64-bit perceptual hash, 16 lower-case hex digits. */
export type PerceptualHash = string;

export interface GreyImage {
  /** One byte per pixel, row-major. */
  data: Uint8Array;
  width: number;
  height: number;
}

export interface ImageSignals {
  dHash: PerceptualHash;
  pHash: PerceptualHash;
  /** Laplacian variance on the ≤512 px grey downscale; lower = blurrier. */
  blur: number;
  /** Decoded upright size. */
  width: number;
  height: number;
}

/** Longest side of the grey working copy (the blur score is measured at this scale). */
export const SIGNAL_MAX_SIDE = 512;

/** Upright grey copy whose longest side is at most `maxSide` (never enlarged). */
export async function greyDownscale(
  src: ImageSource,
  maxSide = SIGNAL_MAX_SIDE,
  opts: PipelineOptions = {},
): Promise<GreyImage & { sourceWidth: number; sourceHeight: number }> {
  if (!Number.isInteger(maxSide) || maxSide < 32)
    throw new Error(`grey downscale side must be an integer ≥ 32, got ${maxSide}`);
  const img = await normalizedImage(src, opts);
  // Upright size: normalizedImage applied the EXIF rotation; a 90° orientation swaps the sides.
  const meta = await img.metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  const sourceWidth = (swap ? meta.height : meta.width) ?? 0;
  const sourceHeight = (swap ? meta.width : meta.height) ?? 0;
  const { data, info } = await img
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { ...oneChannel(data, info.width, info.height, info.channels), sourceWidth, sourceHeight };
}

function oneChannel(data: Uint8Array, width: number, height: number, channels: number): GreyImage {
  if (channels === 1) return { data, width, height };
  // sharp gives grey as 1 channel today; take the first if a build ever hands back more.
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * channels];
  return { data: out, width, height };
}

/** Exact resize of a grey image (area-averaging downscale by libvips). */
async function resizeGrey(img: GreyImage, width: number, height: number): Promise<GreyImage> {
  const { data, info } = await sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: 1 },
  })
    .resize(width, height, { fit: 'fill' })
    .greyscale() // raw 1-channel input otherwise comes back as 3 channels
    .raw()
    .toBuffer({ resolveWithObject: true });
  return oneChannel(data, info.width, info.height, info.channels);
}

function bitsToHex(bits: ArrayLike<number>): PerceptualHash {
  let hex = '';
  for (let i = 0; i < 64; i += 4)
    hex += ((bits[i] << 3) | (bits[i + 1] << 2) | (bits[i + 2] << 1) | bits[i + 3]).toString(16);
  return hex;
}

export async function dHashOf(grey: GreyImage): Promise<PerceptualHash> {
  const small = await resizeGrey(grey, 9, 8);
  const bits = new Uint8Array(64);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++)
      bits[y * 8 + x] = small.data[y * 9 + x] < small.data[y * 9 + x + 1] ? 1 : 0;
  return bitsToHex(bits);
}

const N = 32;
const K = 8;
// DCT-II basis cos(π (2x + 1) k / 2N) for the K lowest frequencies (scale factors do not change a
// median threshold within one image, so they are left out).
const BASIS: Float64Array = (() => {
  const b = new Float64Array(K * N);
  for (let k = 0; k < K; k++)
    for (let x = 0; x < N; x++) b[k * N + x] = Math.cos((Math.PI * (2 * x + 1) * k) / (2 * N));
  return b;
})();

/** The top-left K×K block of the 2-D DCT-II of an N×N image (separable: rows, then columns). */
export function lowDct(pixels: ArrayLike<number>): Float64Array {
  if (pixels.length !== N * N)
    throw new Error(`lowDct needs ${N}×${N} pixels, got ${pixels.length}`);
  const rows = new Float64Array(N * K); // rows[y][u]
  for (let y = 0; y < N; y++)
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += pixels[y * N + x] * BASIS[u * N + x];
      rows[y * K + u] = s;
    }
  const out = new Float64Array(K * K); // out[v][u]
  for (let v = 0; v < K; v++)
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y * K + u] * BASIS[v * N + y];
      out[v * K + u] = s;
    }
  return out;
}

export async function pHashOf(grey: GreyImage): Promise<PerceptualHash> {
  const small = await resizeGrey(grey, N, N);
  const dct = lowDct(small.data);
  const ac = Array.from(dct.subarray(1)).sort((a, b) => a - b);
  const median = ac[(ac.length - 1) / 2]; // 63 values: the 32nd
  const bits = new Uint8Array(64);
  for (let i = 1; i < 64; i++) bits[i] = dct[i] > median ? 1 : 0;
  return bitsToHex(bits);
}

/** Variance of the 3×3 Laplacian over the interior pixels (0 for images under 3×3). */
export function laplacianVariance(grey: GreyImage): number {
  const { data, width: w, height: h } = grey;
  if (w < 3 || h < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const v = data[i - w] + data[i + w] + data[i - 1] + data[i + 1] - 4 * data[i];
      sum += v;
      sumSq += v * v;
    }
  const n = (w - 2) * (h - 2);
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

/** dHash, pHash and blur score of one image, decoding it once. */
export async function imageSignals(
  src: ImageSource,
  opts: PipelineOptions = {},
): Promise<ImageSignals> {
  const grey = await greyDownscale(src, SIGNAL_MAX_SIDE, opts);
  const [dHash, pHash] = await Promise.all([dHashOf(grey), pHashOf(grey)]);
  return {
    dHash,
    pHash,
    blur: laplacianVariance(grey),
    width: grey.sourceWidth,
    height: grey.sourceHeight,
  };
}

export async function dHash(src: ImageSource, opts?: PipelineOptions): Promise<PerceptualHash> {
  return dHashOf(await greyDownscale(src, SIGNAL_MAX_SIDE, opts));
}

export async function pHash(src: ImageSource, opts?: PipelineOptions): Promise<PerceptualHash> {
  return pHashOf(await greyDownscale(src, SIGNAL_MAX_SIDE, opts));
}

const HEX = /^[0-9a-f]{16}$/;

/** The hash as two 32-bit halves [high, low]. */
export function hashWords(h: PerceptualHash): [number, number] {
  if (!HEX.test(h)) throw new Error(`perceptual hash must be 16 lower-case hex digits, got '${h}'`);
  return [parseInt(h.slice(0, 8), 16), parseInt(h.slice(8), 16)];
}

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Number of differing bits (0–64). */
export function hammingDistance(a: PerceptualHash, b: PerceptualHash): number {
  const [ah, al] = hashWords(a);
  const [bh, bl] = hashWords(b);
  return popcount32((ah ^ bh) >>> 0) + popcount32((al ^ bl) >>> 0);
}
