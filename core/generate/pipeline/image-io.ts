// Pixels in and out of the pipeline: VAE output → PNG bytes (sharp), an init image → VAE input,
// the cheap latent → RGB preview, and host-tensor dtype helpers.
import sharp from 'sharp';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../graph/index.js';
import type { HostTensor } from '../../onnx/index.js';

/** A float output as float32 (fp16 sessions return Uint16Array bits). */
export function floatData(t: HostTensor): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  if (t.dtype === 'float16') return Float32Array.from(t.data as Uint16Array, float16BitsToFloat32);
  throw new Error(`expected a float tensor, got ${t.dtype} [${t.shape.join(', ')}]`);
}

/** A float32 array as a feed of the session's compute dtype. */
export function floatFeed(
  data: Float32Array,
  shape: readonly number[],
  dtype: 'float32' | 'float16',
): HostTensor {
  if (dtype === 'float32') return { dtype, shape, data };
  return { dtype, shape, data: Uint16Array.from(data, float32ToFloat16Bits) };
}

/**
 * One image of a VAE output [B, 3, H, W] (≈ [−1, 1]) as PNG bytes: clamp(x/2 + 0.5, 0, 1),
 * × 255, rounded (diffusers' numpy_to_pil), interleaved RGB.
 */
export async function imageToPng(
  decoded: Float32Array,
  index: number,
  width: number,
  height: number,
): Promise<Uint8Array> {
  const plane = width * height;
  const base = index * 3 * plane;
  if (decoded.length < base + 3 * plane)
    throw new Error(`decoded batch has no image ${index} of ${width}×${height}`);
  const rgb = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const src = base + c * plane;
    for (let i = 0; i < plane; i++) {
      const v = Math.min(1, Math.max(0, Math.fround(Math.fround(decoded[src + i] / 2) + 0.5)));
      rgb[i * 3 + c] = Math.round(v * 255);
    }
  }
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * PNG/JPEG/WebP bytes → VAE input [1, 3, height, width] in [−1, 1] (2·x/255 − 1, as diffusers'
 * image processor). The picture is stretched to the size (A1111's "Just resize"); an alpha
 * channel is dropped, as PIL's convert('RGB') does.
 */
export async function initImageTensor(
  bytes: Uint8Array,
  width: number,
  height: number,
): Promise<Float32Array> {
  let raw: Buffer;
  try {
    raw = await sharp(bytes)
      .rotate() // honour EXIF orientation, as the user sees the picture
      .resize(width, height, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  } catch (e) {
    throw new Error(`initImage is not an image sharp can read (${(e as Error).message})`, {
      cause: e,
    });
  }
  const plane = width * height;
  if (raw.length !== 3 * plane)
    throw new Error(`init image decoded to ${raw.length} bytes, expected ${3 * plane} (RGB)`);
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++)
    for (let c = 0; c < 3; c++)
      out[c * plane + i] = Math.fround(Math.fround(raw[i * 3 + c] / 255) * 2 - 1);
  return out;
}

// A1111's "Approx cheap" preview for SD1.x: a fixed linear map from the 4 latent channels (at
// UNet scale) to RGB in about [−1, 1]. Rows are latent channels, columns R, G, B.
const SD1_LATENT_RGB: readonly (readonly [number, number, number])[] = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

/**
 * A small preview PNG (latent size: 1/8 of the image per side) of one image of a latent batch
 * [B, 4, h, w], e.g. the sampler's current estimate of the clean latents.
 */
export async function latentPreviewPng(
  latents: Float32Array,
  index: number,
  h: number,
  w: number,
): Promise<Uint8Array> {
  const plane = h * w;
  const channels = SD1_LATENT_RGB.length;
  const base = index * channels * plane;
  const rgb = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let l = 0; l < channels; l++) v += latents[base + l * plane + i] * SD1_LATENT_RGB[l][c];
      rgb[i * 3 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
  }
  const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
