// Procedural "coloured shapes" images, captioned by construction ("a red circle on a blue
// background"). They train the built-in demo base model and make the sample LoRA dataset, so a
// fresh machine can show the whole product without downloading anything. Everything here is
// deterministic for a seed.

/** Named colours (sRGB 0–255). The base model learns the first six; pink is the LoRA's concept. */
export const SHAPE_COLORS = Object.freeze({
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [240, 210, 40],
  white: [240, 240, 240],
  black: [25, 25, 25],
  pink: [245, 110, 200],
} as const satisfies Record<string, readonly [number, number, number]>);

export type ShapeColor = keyof typeof SHAPE_COLORS;
export type ShapeKind = 'circle' | 'square' | 'triangle' | 'star';

/** What the base model is trained on (the LoRA demo teaches the rest). */
export const BASE_COLORS: readonly ShapeColor[] = [
  'red',
  'green',
  'blue',
  'yellow',
  'white',
  'black',
];
export const BASE_SHAPES: readonly ShapeKind[] = ['circle', 'square', 'triangle'];

export interface ShapeSpec {
  readonly shape: ShapeKind;
  readonly color: ShapeColor;
  readonly background: ShapeColor;
  /** Centre in pixels and circumradius in pixels. */
  readonly cx: number;
  readonly cy: number;
  readonly radius: number;
  /** Rotation in radians (circles ignore it). */
  readonly rotation: number;
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same dataset everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shapeCaption(s: Pick<ShapeSpec, 'shape' | 'color' | 'background'>): string {
  return `a ${s.color} ${s.shape} on a ${s.background} background`;
}

function polygon(s: ShapeSpec): [number, number][] {
  const pts: [number, number][] = [];
  const at = (r: number, a: number) =>
    pts.push([s.cx + r * Math.cos(a + s.rotation), s.cy + r * Math.sin(a + s.rotation)]);
  if (s.shape === 'square')
    for (let i = 0; i < 4; i++) at(s.radius, Math.PI / 4 + (i * Math.PI) / 2);
  else if (s.shape === 'triangle')
    for (let i = 0; i < 3; i++) at(s.radius, -Math.PI / 2 + (i * 2 * Math.PI) / 3);
  else if (s.shape === 'star')
    for (let i = 0; i < 10; i++)
      at(i % 2 ? s.radius * 0.45 : s.radius, -Math.PI / 2 + (i * Math.PI) / 5);
  return pts;
}

/** Even-odd point-in-polygon test. */
function insidePolygon(pts: readonly [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const SUPERSAMPLE = 4;

/**
 * Render one image: RGB bytes [size·size·3], edges anti-aliased by 4×4 supersampling. `rgb`
 * overrides the named colours (the VAE learns from arbitrary colours).
 */
export function renderShape(
  s: ShapeSpec,
  size: number,
  rgb?: { fg: readonly number[]; bg: readonly number[] },
): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const fg = rgb?.fg ?? SHAPE_COLORS[s.color];
  const bg = rgb?.bg ?? SHAPE_COLORS[s.background];
  const pts = s.shape === 'circle' ? [] : polygon(s);
  const r2 = s.radius * s.radius;
  const inside = (x: number, y: number) =>
    s.shape === 'circle' ? (x - s.cx) ** 2 + (y - s.cy) ** 2 <= r2 : insidePolygon(pts, x, y);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let hits = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++)
        for (let sx = 0; sx < SUPERSAMPLE; sx++)
          if (inside(x + (sx + 0.5) / SUPERSAMPLE, y + (sy + 0.5) / SUPERSAMPLE)) hits++;
      const a = hits / (SUPERSAMPLE * SUPERSAMPLE);
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(fg[c] * a + bg[c] * (1 - a));
    }
  }
  return out;
}

export interface ShapeSetOptions {
  size: number;
  seed: number;
  shapes: readonly ShapeKind[];
  colors: readonly ShapeColor[];
  backgrounds: readonly ShapeColor[];
  /** Images per (shape, colour, background) combination. */
  perCombination: number;
}

export interface ShapeImage {
  readonly spec: ShapeSpec;
  readonly caption: string;
  readonly rgb: Uint8Array;
}

/** Every combination (colour ≠ background) `perCombination` times, with jittered place, size and angle. */
export function shapeSpecs(o: Omit<ShapeSetOptions, 'size'> & { size: number }): ShapeSpec[] {
  const next = mulberry32(o.seed);
  const specs: ShapeSpec[] = [];
  for (const shape of o.shapes)
    for (const color of o.colors)
      for (const background of o.backgrounds) {
        if (color === background) continue;
        for (let k = 0; k < o.perCombination; k++) {
          const radius = o.size * (0.26 + 0.1 * next());
          specs.push({
            shape,
            color,
            background,
            cx: o.size / 2 + (next() - 0.5) * o.size * 0.16,
            cy: o.size / 2 + (next() - 0.5) * o.size * 0.16,
            radius,
            rotation: (next() - 0.5) * 0.5,
          });
        }
      }
  return specs;
}

export function renderShapeSet(o: ShapeSetOptions): ShapeImage[] {
  return shapeSpecs(o).map((spec) => ({
    spec,
    caption: shapeCaption(spec),
    rgb: renderShape(spec, o.size),
  }));
}

/**
 * Shapes of every kind in uniformly random colours: what the VAE trains on, so that it can encode
 * colours and shapes the base model was never taught (the LoRA's pink stars).
 */
export function renderRandomColorSet(o: {
  size: number;
  seed: number;
  count: number;
}): Uint8Array[] {
  const next = mulberry32(o.seed);
  const kinds: ShapeKind[] = ['circle', 'square', 'triangle', 'star'];
  const out: Uint8Array[] = [];
  for (let i = 0; i < o.count; i++) {
    const colour = () => [0, 1, 2].map(() => Math.floor(next() * 256));
    const spec: ShapeSpec = {
      shape: kinds[Math.floor(next() * kinds.length)],
      color: 'red',
      background: 'blue',
      cx: o.size / 2 + (next() - 0.5) * o.size * 0.4,
      cy: o.size / 2 + (next() - 0.5) * o.size * 0.4,
      radius: o.size * (0.15 + 0.25 * next()),
      rotation: next() * Math.PI,
    };
    out.push(renderShape(spec, o.size, { fg: colour(), bg: colour() }));
  }
  return out;
}

/** RGB bytes → float32 CHW in [−1, 1] (what the VAE encoder takes). */
export function rgbToChw(
  rgb: Uint8Array,
  size: number,
  out = new Float32Array(3 * size * size),
): Float32Array {
  const n = size * size;
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++) out[c * n + i] = rgb[i * 3 + c] / 127.5 - 1;
  return out;
}
