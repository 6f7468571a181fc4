// Finite-difference checks of reductions, softmax and the normalisation hand rules (float64
// except InstanceNormalization, which ORT CPU only runs in float32).
import { describe, expect, it } from 'vitest';
import type { GraphBuilder, Value } from '../../core/graph/builder.js';
import { attr, type Attributes } from '../../core/graph/ir.js';
import { checkGradients, distinct, uniform, type FdCase } from './fd.js';

function reduce(
  op: string,
  axes: number[] | null,
  keepdims: number,
  init = uniform(-1, 1),
): FdCase {
  return {
    name: `${op} axes=${axes ? `[${axes}]` : 'all'} keepdims=${keepdims}`,
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [2, 3, 4], init }],
    build: (g, [x]) => g.op(op, axes ? [x, g.ints(axes)] : [x], { keepdims: attr.int(keepdims) }),
  };
}

function withParams(
  op: string,
  dtype: FdCase['dtype'],
  x: number[],
  params: number[][],
  attrs: Attributes,
  label = '',
): FdCase {
  return {
    name: `${op}${label} x [${x}] params ${params.map((p) => `[${p}]`).join(' ')} (${dtype})`,
    dtype,
    inputs: [
      { name: 'x', shape: x, init: uniform(-2, 2) },
      ...params.map((shape, i) => ({
        name: i === 0 ? 'scale' : 'bias',
        shape,
        init: uniform(0.5, 1.5),
      })),
    ],
    build: (g: GraphBuilder, xs: Value[]) => g.op(op, xs, attrs),
  };
}

const f64Stats = { stash_type: attr.int(11) };

const cases: FdCase[] = [
  reduce('ReduceSum', [1], 0),
  reduce('ReduceSum', [0, 2], 1),
  reduce('ReduceSum', null, 0),
  reduce('ReduceMean', [-1], 0),
  reduce('ReduceMean', [0, 1], 1),
  reduce('ReduceMax', [1], 0, distinct()),
  reduce('ReduceMin', [2], 1, distinct()),
  reduce('ReduceSumSquare', [1, 2], 0),
  reduce('ReduceL2', [2], 1),
  reduce('ReduceLogSumExp', [1], 0),
  {
    name: 'ReduceMax with ties shares the gradient',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [4] }],
    // max(x, x) is the same value twice: each copy gets half of dy, in total dy
    build: (g, [x]) =>
      g.op('ReduceMax', [g.op('Concat', [x, x], { axis: attr.int(0) }), g.ints([0])], {
        keepdims: attr.int(0),
      }),
  },
  {
    name: 'Softmax axis -1 and axis 1',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [2, 3, 4], init: uniform(-2, 2) }],
    build: (g, [x]) => [g.op('Softmax', [x]), g.op('Softmax', [x], { axis: attr.int(1) })],
  },
  {
    name: 'LogSoftmax axis -1 and axis 0',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [3, 5], init: uniform(-2, 2) }],
    build: (g, [x]) => [g.op('LogSoftmax', [x]), g.op('LogSoftmax', [x], { axis: attr.int(0) })],
  },
  {
    name: 'attention softmax(Q·Kᵀ·s)·V',
    dtype: 'float64',
    inputs: [
      { name: 'q', shape: [2, 3, 4] },
      { name: 'k', shape: [2, 5, 4] },
      { name: 'v', shape: [2, 5, 4] },
    ],
    build: (g, [q, k, v]) => {
      const scores = g.op('MatMul', [q, g.op('Transpose', [k], { perm: attr.ints([0, 2, 1]) })]);
      const p = g.op('Softmax', [g.op('Mul', [scores, g.constant(0.5, 'float64', [])])]);
      return g.op('MatMul', [p, v]);
    },
  },
  withParams('LayerNormalization', 'float64', [2, 3, 5], [[5], [5]], { epsilon: attr.float(1e-5) }),
  withParams(
    'LayerNormalization',
    'float64',
    [2, 3, 4],
    [
      [3, 4],
      [3, 4],
    ],
    { axis: attr.int(1) },
    ' axis=1',
  ),
  withParams('LayerNormalization', 'float64', [4, 6], [[6]], {}, ' no bias'),
  // GroupNormalization-21 is a function op that ORT runs in float32 unless stash_type says double
  withParams('GroupNormalization', 'float64', [2, 4, 3, 3], [[4], [4]], {
    num_groups: attr.int(2),
    ...f64Stats,
  }),
  withParams('GroupNormalization', 'float64', [1, 6, 5], [[6], [6]], {
    num_groups: attr.int(3),
    epsilon: attr.float(1e-3),
    ...f64Stats,
  }),
  withParams(
    'GroupNormalization',
    'float64',
    [2, 3, 2, 2],
    [[3], [3]],
    { num_groups: attr.int(1), ...f64Stats },
    ' (one group)',
  ),
  withParams(
    'GroupNormalization',
    'float32',
    [2, 4, 3, 3],
    [[4], [4]],
    { num_groups: attr.int(2) },
    ' stash float32',
  ),
  withParams('InstanceNormalization', 'float32', [2, 3, 4, 4], [[3], [3]], {}),
];

describe('reduction, softmax and normalisation gradient rules vs finite differences', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await checkGradients(c);
      expect(r.failures).toEqual([]);
      expect(r.maxAbsGrad).toBeGreaterThan(0);
    });
  }
});
