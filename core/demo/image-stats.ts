// Simple image statistics that tell whether a generated image shows what its prompt asked for:
// background = the median colour of the border, foreground = the pixels far from it, their
// colour matched to the named palette, and the shape told apart by how much of its enclosing
// circle it fills. Drawn 64-px shapes (edge pixels count): circle 0.92–0.94, square 0.68–0.73,
// triangle and star 0.47–0.49; the demo model's softer corners: circle 0.98–1, square 0.80–0.85,
// triangle 0.62–0.64. Hence the cuts at 0.9 and 0.66.
import { SHAPE_COLORS, type ShapeColor } from './shapes.js';

export interface ShapeStats {
  readonly background: ShapeColor;
  readonly color: ShapeColor | undefined;
  /** Foreground pixels / all pixels. */
  readonly coverage: number;
  /** Foreground area / (π · r²), r = 99th-percentile distance of foreground pixels from their centroid. */
  readonly roundness: number;
  readonly shape: 'circle' | 'square' | 'triangle' | undefined;
  /** Mean RGB of the foreground (or of the whole image when there is none). */
  readonly foregroundMean: readonly [number, number, number];
}

const dist2 = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;

export function nearestColor(
  rgb: ArrayLike<number>,
  palette: readonly ShapeColor[] = Object.keys(SHAPE_COLORS) as ShapeColor[],
): ShapeColor {
  let best = palette[0];
  for (const c of palette)
    if (dist2(rgb, SHAPE_COLORS[c]) < dist2(rgb, SHAPE_COLORS[best])) best = c;
  return best;
}

function median(values: number[]): number {
  values.sort((a, b) => a - b);
  return values[values.length >> 1];
}

/** Statistics of an RGB image [size·size·3]. */
export function shapeStats(rgb: Uint8Array, size: number): ShapeStats {
  const border: number[][] = [[], [], []];
  for (let i = 0; i < size; i++)
    for (const [x, y] of [
      [i, 0],
      [i, size - 1],
      [0, i],
      [size - 1, i],
    ] as const)
      for (let c = 0; c < 3; c++) border[c].push(rgb[(y * size + x) * 3 + c]);
  const bg = border.map(median);
  const fg: number[] = [];
  const sum = [0, 0, 0];
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      if (dist2([rgb[o], rgb[o + 1], rgb[o + 2]], bg) > 80 ** 2) {
        fg.push(x, y);
        for (let c = 0; c < 3; c++) sum[c] += rgb[o + c];
        cx += x;
        cy += y;
      }
    }
  const n = fg.length / 2;
  const background = nearestColor(bg);
  if (n < size * size * 0.02) {
    const all = [0, 1, 2].map((c) => {
      let s = 0;
      for (let i = c; i < rgb.length; i += 3) s += rgb[i];
      return s / (size * size);
    }) as [number, number, number];
    return {
      background,
      color: undefined,
      coverage: n / (size * size),
      roundness: 0,
      shape: undefined,
      foregroundMean: all,
    };
  }
  cx /= n;
  cy /= n;
  const d: number[] = [];
  for (let i = 0; i < fg.length; i += 2) d.push(Math.hypot(fg[i] - cx + 0.5, fg[i + 1] - cy + 0.5));
  d.sort((a, b) => a - b);
  const r = d[Math.floor((d.length - 1) * 0.99)] + 0.5;
  const roundness = n / (Math.PI * r * r);
  const mean = sum.map((s) => s / n) as [number, number, number];
  return {
    background,
    color: nearestColor(mean),
    coverage: n / (size * size),
    roundness,
    shape: roundness > 0.9 ? 'circle' : roundness > 0.66 ? 'square' : 'triangle',
    foregroundMean: mean,
  };
}

const PALETTE = Object.keys(SHAPE_COLORS) as ShapeColor[];

/** Fraction of pixels nearest to each palette colour (SHAPE_COLORS order): an image's colour mix. */
export function paletteHistogram(rgb: Uint8Array): number[] {
  const h: number[] = PALETTE.map(() => 0);
  const n = rgb.length / 3;
  for (let i = 0; i < rgb.length; i += 3)
    h[PALETTE.indexOf(nearestColor([rgb[i], rgb[i + 1], rgb[i + 2]], PALETTE))] += 1 / n;
  return h;
}

/** Total-variation distance of two histograms: 0 = the same colour mix, 1 = nothing shared. */
export function histogramDistance(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length)
    throw new Error(`histograms differ in length: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / 2;
}
