// Finite-difference checks of the elementwise gradient rules, broadcasting included. float64
// where ORT CPU has float64 kernels; float32 (central differences, relative tolerance) where it
// does not (Erf, Gelu, Softplus, LeakyRelu).
import { describe, expect, it } from 'vitest';
import { attr } from '../../core/graph/ir.js';
import { tensorData } from '../../core/graph/tensor-data.js';
import {
  awayFromZero,
  checkGradients,
  distinct,
  uniform,
  type FdCase,
  type FdInput,
} from './fd.js';

const positive = uniform(0.3, 2);

function unary(op: string, dtype: FdCase['dtype'], init?: FdInput['init'], attrs = {}): FdCase {
  return {
    name: `${op}${Object.keys(attrs).length ? ' ' + JSON.stringify(attrs) : ''} (${dtype})`,
    dtype,
    inputs: [{ name: 'x', shape: [2, 3, 4], init }],
    build: (g, [x]) => g.op(op, [x], attrs),
  };
}

function binary(
  op: string,
  a: number[],
  b: number[],
  init?: FdInput['init'],
  initB = init,
): FdCase {
  return {
    name: `${op} [${a}] ∘ [${b}]`,
    dtype: 'float64',
    inputs: [
      { name: 'a', shape: a, init },
      { name: 'b', shape: b, init: initB },
    ],
    build: (g, [x, y]) => g.op(op, [x, y]),
  };
}

const cases: FdCase[] = [
  // broadcasting arithmetic
  binary('Add', [2, 3, 4, 5], [5]),
  binary('Add', [2, 3, 4, 5], [1, 3, 1, 1]),
  binary('Sub', [3, 1], [2, 1, 4]),
  binary('Mul', [2, 3], []),
  binary('Mul', [1, 3, 1, 1], [2, 3, 2, 2]),
  binary('Div', [2, 3, 4], [3, 1], awayFromZero(0.5, 1.5)),
  binary('Pow', [2, 3], [3], positive),
  binary('Max', [2, 3, 4], [3, 4], distinct(), distinct(0.07, 0.013)),
  binary('Min', [4], [2, 3, 4], distinct(), distinct(0.07, 0.013)),
  {
    name: 'Min of three inputs with ties broken to the first',
    dtype: 'float64',
    inputs: [
      { name: 'a', shape: [2, 3], init: distinct() },
      { name: 'b', shape: [3], init: distinct(0.07, 0.013) },
      { name: 'c', shape: [2, 1], init: distinct(0.11, 0.029) },
    ],
    build: (g, xs) => g.op('Min', xs),
  },
  ...(['float64', 'float32'] as const).map((dtype): FdCase => ({
    // ORT CPU has no float64 Mean kernel
    name: `${dtype === 'float64' ? 'Sum' : 'Mean'} (variadic, broadcast)`,
    dtype,
    inputs: [
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [3] },
      { name: 'c', shape: [2, 1] },
    ],
    build: (g, xs) => g.op(dtype === 'float64' ? 'Sum' : 'Mean', xs),
  })),
  {
    name: 'Pow with constant exponents 2, 3, 0.5, -1.5, 0',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [2, 3], init: positive }],
    build: (g, [x]) =>
      [2, 3, 0.5, -1.5, 0].map((p) => g.op('Pow', [x, g.constant(p, 'float64', [])])),
  },
  {
    name: 'Where (condition constant, branches broadcast)',
    dtype: 'float64',
    inputs: [
      { name: 'a', shape: [2, 3] },
      { name: 'b', shape: [3] },
    ],
    build: (g, [a, b]) => {
      const cond = g.initializer(
        'cond',
        'bool',
        [2, 3],
        tensorData('bool', [2, 3], [1, 0, 1, 0, 0, 1]).bytes,
      );
      return g.op('Where', [cond, a, b]);
    },
  },
  {
    name: 'Clip with min/max inputs',
    dtype: 'float64',
    inputs: [
      { name: 'x', shape: [3, 4], init: distinct(0.13) },
      { name: 'lo', shape: [], init: () => [-0.31] },
      { name: 'hi', shape: [], init: () => [0.42] },
    ],
    build: (g, [x, lo, hi]) => g.op('Clip', [x, lo, hi]),
  },
  // unary functions
  unary('Neg', 'float64'),
  unary('Sqrt', 'float64', positive),
  unary('Exp', 'float64'),
  unary('Log', 'float64', positive),
  unary('Reciprocal', 'float64', awayFromZero(0.5, 1.5)),
  unary('Sigmoid', 'float64'),
  unary('Tanh', 'float64'),
  unary('Relu', 'float64', awayFromZero()),
  unary('Sin', 'float64'),
  unary('Cos', 'float64'),
  unary('Abs', 'float64', awayFromZero()),
  unary('Identity', 'float64'),
  unary('Softplus', 'float32'),
  unary('LeakyRelu', 'float32', awayFromZero(), { alpha: attr.float(0.2) }),
  unary('Erf', 'float32', uniform(-2, 2)),
  unary('Gelu', 'float32', uniform(-3, 3)),
  unary('Gelu', 'float32', uniform(-3, 3), { approximate: attr.string('tanh') }),
  unary('Trilu', 'float64', undefined, { upper: attr.int(0) }),
  {
    name: 'Sign passes no gradient (x·sign(x) = |x|)',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [5], init: awayFromZero() }],
    build: (g, [x]) => g.op('Mul', [x, g.op('Sign', [x])]),
  },
  ...['Floor', 'Ceil', 'Round'].map((op): FdCase => ({
    name: `${op} passes no gradient (x·${op.toLowerCase()}(3x))`,
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [6], init: distinct(0.1, 0.0137) }],
    build: (g, [x]) => g.op('Mul', [x, g.op(op, [g.op('Mul', [x, g.constant(3, 'float64', [])])])]),
  })),
  unary('Elu', 'float32', awayFromZero(), { alpha: attr.float(0.7) }),
  unary('HardSigmoid', 'float32', uniform(-4, 4), {
    alpha: attr.float(0.25),
    beta: attr.float(0.4),
  }),
  unary('HardSwish', 'float32', uniform(-4.5, 4.5)),
  unary('Mish', 'float32', uniform(-3, 3)),
  {
    name: 'CastLike float64 → float32',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [2, 3] }],
    build: (g, [x]) =>
      g.cast(g.op('Exp', [g.op('CastLike', [x, g.constant(0, 'float32', [])])]), 'float64'),
    eps: 1e-3,
    rtol: 1e-3,
    atol: 1e-4,
  },
  {
    name: 'Cast float64 → float32 → float64 round trip',
    dtype: 'float64',
    inputs: [{ name: 'x', shape: [2, 3] }],
    build: (g, [x]) => g.cast(g.op('Tanh', [g.cast(x, 'float32')]), 'float64'),
    eps: 1e-3,
    rtol: 1e-3,
    atol: 1e-4,
  },
];

describe('elementwise gradient rules vs finite differences', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await checkGradients(c);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxAbsGrad).toBeGreaterThan(0);
    });
  }
});
