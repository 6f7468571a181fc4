// Finite-difference checks of the data-movement gradient rules (float64; Resize in float32,
// which ORT CPU has no float64 kernel for).
import { describe, expect, it } from 'vitest';
import type { GraphBuilder, Value } from '../../core/graph/builder.js';
import { attr } from '../../core/graph/ir.js';
import { checkGradients, type FdCase } from './fd.js';

function one(
  name: string,
  shape: number[],
  build: (g: GraphBuilder, x: Value) => Value | Value[],
): FdCase {
  return { name, dtype: 'float64', inputs: [{ name: 'x', shape }], build: (g, [x]) => build(g, x) };
}

const slice = (
  g: GraphBuilder,
  x: Value,
  starts: number[],
  ends: number[],
  axes: number[],
  steps?: number[],
) =>
  g.op('Slice', [x, g.ints(starts), g.ints(ends), g.ints(axes), ...(steps ? [g.ints(steps)] : [])]);

const resize = (scales: number[], modes: Record<string, string> = {}): FdCase => ({
  name: `Resize nearest ×[${scales}] ${JSON.stringify(modes)}`,
  dtype: 'float32',
  inputs: [{ name: 'x', shape: [1, 2, 3, 4] }],
  build: (g, [x]) =>
    g.op('Resize', [x, null, g.constant(scales, 'float32', [4])], {
      mode: attr.string('nearest'),
      ...Object.fromEntries(Object.entries(modes).map(([k, v]) => [k, attr.string(v)])),
    }),
});

const cases: FdCase[] = [
  one('Reshape [2,3,4] → [4,-1]', [2, 3, 4], (g, x) => g.op('Reshape', [x, g.ints([4, -1])])),
  one('Flatten axis 2', [2, 3, 2, 2], (g, x) => g.op('Flatten', [x], { axis: attr.int(2) })),
  one('Transpose perm [2,0,1] and default', [2, 3, 4], (g, x) => [
    g.op('Transpose', [x], { perm: attr.ints([2, 0, 1]) }),
    g.op('Transpose', [x]),
  ]),
  one('Squeeze with and without axes', [1, 3, 1, 2], (g, x) => [
    g.op('Squeeze', [x, g.ints([2])]),
    g.op('Squeeze', [x]),
  ]),
  one('Unsqueeze axes [0, -1]', [3, 2], (g, x) => g.op('Unsqueeze', [x, g.ints([0, -1])])),
  {
    name: 'Concat of three inputs along axis 1',
    dtype: 'float64',
    inputs: [
      { name: 'a', shape: [2, 1, 3] },
      { name: 'b', shape: [2, 4, 3] },
      { name: 'c', shape: [2, 2, 3] },
    ],
    build: (g, xs) => g.op('Concat', xs, { axis: attr.int(1) }),
  },
  one('Split uneven, one part unused', [2, 7], (g, x) => {
    const parts = g.node('Split', [x, g.ints([2, 4, 1])], { axis: attr.int(1) }, { outputs: 3 });
    return [parts[0], parts[2]];
  }),
  one('Slice step 1 with negative start and clamped end', [4, 6], (g, x) =>
    slice(g, x, [1, -4], [3, 100], [0, 1]),
  ),
  one('Slice step 2 and 3', [7, 8], (g, x) => slice(g, x, [1, 0], [7, 8], [0, 1], [2, 3])),
  one('Slice negative steps', [6, 5], (g, x) => slice(g, x, [-1, 4], [-100, 0], [0, 1], [-2, -1])),
  one('Slice step 2 whose last block overhangs', [2, 5], (g, x) => slice(g, x, [0], [5], [1], [2])),
  one('Pad constant on two axes', [2, 3], (g, x) =>
    g.op('Pad', [x, g.ints([1, 0, 2, 3])], { mode: attr.string('constant') }),
  ),
  one('Gather axis 0 with repeated indices (embedding)', [5, 3], (g, x) =>
    g.op('Gather', [x, g.constant([0, 3, 3, 1, 0, 3], 'int64', [2, 3])]),
  ),
  one('Gather axis 1 with negative indices', [2, 4, 3], (g, x) =>
    g.op('Gather', [x, g.constant([-1, 0, 3], 'int64', [3])], { axis: attr.int(1) }),
  ),
  one('Gather int32 scalar index', [4, 3], (g, x) =>
    g.op('Gather', [x, g.constant(2, 'int32', [])]),
  ),
  one('Expand [3,1] → [2,3,4]', [3, 1], (g, x) => g.op('Expand', [x, g.ints([2, 3, 4])])),
  one('Tile [2,3] × [2,1] and ×[1,3]', [2, 3], (g, x) => [
    g.op('Tile', [x, g.ints([2, 1])]),
    g.op('Tile', [x, g.ints([1, 3])]),
  ]),
  one('CumSum axis 1, plain and reverse exclusive', [2, 5], (g, x) => [
    g.op('CumSum', [x, g.constant(1, 'int64', [])]),
    g.op('CumSum', [x, g.constant(-1, 'int64', [])], {
      reverse: attr.int(1),
      exclusive: attr.int(1),
    }),
  ]),
  one('GatherElements axis 1 with repeats and a negative index', [2, 4], (g, x) =>
    g.op('GatherElements', [x, g.constant([0, 3, 3, -1, 2, 2, 1, 0], 'int64', [2, 4])], {
      axis: attr.int(1),
    }),
  ),
  resize([1, 1, 2, 2]),
  resize([1, 1, 3, 2], { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }),
  resize([1, 1, 2, 1], { coordinate_transformation_mode: 'pytorch_half_pixel' }),
  {
    name: 'Resize nearest by sizes',
    dtype: 'float32',
    inputs: [{ name: 'x', shape: [1, 1, 2, 3] }],
    build: (g, [x]) =>
      g.op('Resize', [x, null, null, g.ints([1, 1, 4, 6])], { mode: attr.string('nearest') }),
  },
];

describe('data-movement gradient rules vs finite differences', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await checkGradients(c);
      expect(r.failures).toEqual([]);
      expect(r.maxAbsGrad).toBeGreaterThan(0);
    });
  }
});
