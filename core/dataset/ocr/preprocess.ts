// Input of the PaddleOCR DB text detector (PP-OCRv4 det), as PaddleOCR's own inference prepares it
// (tools/infer/predict_det.py: DetResizeForTest + NormalizeImage + ToCHWImage):
//   - longest side capped at `limitSide` (960, limit_type 'max'; never enlarged), each side then
//     rounded to a multiple of 32 (at least 32) — the network downsamples 32×; aspect is kept up
//     to that rounding, the image is stretched to exactly that size (no padding);
//   - x / 255, minus mean [0.485, 0.456, 0.406], over std [0.229, 0.224, 0.225], applied in the
//     channel order of an OpenCV image, i.e. B, G, R — the model was trained that way;
//   - NCHW float32, batch 1.

export const DET_MEAN = [0.485, 0.456, 0.406] as const;
export const DET_STD = [0.229, 0.224, 0.225] as const;

export function detInputSize(
  width: number,
  height: number,
  limitSide = 960,
): { width: number; height: number } {
  if (!(width > 0 && height > 0))
    throw new Error(`detector input: invalid size ${width}×${height}`);
  if (!(limitSide >= 32)) throw new Error(`detector limitSide must be ≥ 32, got ${limitSide}`);
  const ratio = Math.max(width, height) > limitSide ? limitSide / Math.max(width, height) : 1;
  const round32 = (v: number) => Math.max(Math.round(Math.trunc(v * ratio) / 32) * 32, 32);
  return { width: round32(width), height: round32(height) };
}

/** Interleaved RGB bytes (already at the input size) → normalised BGR planes, NCHW float32. */
export function toDetTensor(rgb: Uint8Array, width: number, height: number): Float32Array {
  const hw = width * height;
  if (rgb.length !== hw * 3)
    throw new Error(
      `detector input: expected ${hw * 3} RGB bytes for ${width}×${height}, got ${rgb.length}`,
    );
  const out = new Float32Array(hw * 3);
  // Plane k holds BGR channel k, i.e. RGB channel 2 - k.
  const scale = DET_MEAN.map((_, k) => 1 / (255 * DET_STD[k]));
  const shift = DET_MEAN.map((m, k) => m / DET_STD[k]);
  for (let i = 0; i < hw; i++) {
    const p = i * 3;
    out[i] = rgb[p + 2] * scale[0] - shift[0];
    out[hw + i] = rgb[p + 1] * scale[1] - shift[1];
    out[2 * hw + i] = rgb[p] * scale[2] - shift[2];
  }
  return out;
}
