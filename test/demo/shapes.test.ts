import { describe, expect, it } from 'vitest';
import {
  BASE_COLORS,
  BASE_SHAPES,
  renderShape,
  renderShapeSet,
  rgbToChw,
  shapeStats,
  type ShapeKind,
} from '../../core/demo/index.js';

describe('procedural shapes', () => {
  it('captions every (shape, colour, background) combination with colour ≠ background', () => {
    const set = renderShapeSet({
      size: 32,
      seed: 1,
      shapes: BASE_SHAPES,
      colors: BASE_COLORS,
      backgrounds: BASE_COLORS,
      perCombination: 1,
    });
    expect(set).toHaveLength(3 * 6 * 5);
    expect(new Set(set.map((s) => s.caption)).size).toBe(90);
    expect(set.every((s) => s.spec.color !== s.spec.background)).toBe(true);
    expect(set[0].caption).toBe('a red circle on a green background');
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const o = {
      size: 32,
      shapes: ['circle'] as ShapeKind[],
      colors: BASE_COLORS,
      backgrounds: BASE_COLORS,
      perCombination: 2,
    };
    const a = renderShapeSet({ ...o, seed: 5 });
    const b = renderShapeSet({ ...o, seed: 5 });
    const c = renderShapeSet({ ...o, seed: 6 });
    expect(Buffer.from(a[3].rgb).equals(Buffer.from(b[3].rgb))).toBe(true);
    expect(Buffer.from(a[3].rgb).equals(Buffer.from(c[3].rgb))).toBe(false);
  });

  it('maps RGB bytes to CHW in [−1, 1]', () => {
    const rgb = new Uint8Array([0, 255, 51, 255, 0, 0]);
    const chw = rgbToChw(rgb, 1);
    expect(chw[0]).toBe(-1);
    expect(chw[1]).toBe(1);
    expect(chw[2]).toBeCloseTo(51 / 127.5 - 1, 6);
  });
});

describe('shapeStats', () => {
  const spec = (shape: ShapeKind) => ({
    shape,
    color: 'yellow' as const,
    background: 'blue' as const,
    cx: 32,
    cy: 32,
    radius: 20,
    rotation: 0.2,
  });

  it.each([
    ['circle', 'circle'],
    ['square', 'square'],
    ['triangle', 'triangle'],
  ] as const)('recognises a drawn %s, its colour and its background', (shape, want) => {
    const s = shapeStats(renderShape(spec(shape), 64), 64);
    expect(s.shape).toBe(want);
    expect(s.color).toBe('yellow');
    expect(s.background).toBe('blue');
  });

  it('reports no foreground on a plain image', () => {
    const rgb = new Uint8Array(64 * 64 * 3).fill(240);
    const s = shapeStats(rgb, 64);
    expect(s.background).toBe('white');
    expect(s.color).toBeUndefined();
    expect(s.shape).toBeUndefined();
  });

  it('tells pink from red', () => {
    const s = shapeStats(renderShape({ ...spec('star'), color: 'pink' }, 64), 64);
    expect(s.color).toBe('pink');
  });
});
