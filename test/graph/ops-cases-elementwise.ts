// Elementwise op cases: broadcasting binaries, unary math, comparisons/logic, Where, Cast, Clip…
import type { GraphBuilder, Value } from '../../core/graph/builder.js';
import * as ops from '../../core/graph/ops.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../core/graph/tensor-data.js';
import type { OpCase } from './ops-harness.js';
import {
  cumsum,
  elementwise,
  erf,
  gelu,
  geluTanh,
  map,
  roundEven,
  sigmoid,
  trilu,
} from './reference.js';

type UnaryFn = (g: GraphBuilder, x: Value) => Value;
/** ORT's CPU EP has no float64 kernel for these. */
const NO_FP64: Partial<OpCase> = { refused: ['float64'] };

const unary = (
  op:
    | 'Neg'
    | 'Abs'
    | 'Sign'
    | 'Exp'
    | 'Log'
    | 'Sqrt'
    | 'Reciprocal'
    | 'Sigmoid'
    | 'Tanh'
    | 'Relu'
    | 'Softplus'
    | 'Mish'
    | 'HardSwish'
    | 'Sin'
    | 'Cos'
    | 'Erf'
    | 'Floor'
    | 'Ceil'
    | 'Identity',
  f: (v: number) => number,
  extra: Partial<OpCase> = {},
  gen: 'normal' | 'positive' | 'unit' = 'normal',
): OpCase => ({
  name: op,
  inputs: { x: { shape: [2, 3, 4], gen } },
  build: (g, { x }) => (ops[op] as UnaryFn)(g, x),
  ref: ({ x }) => map(x, f),
  ...extra,
});

const binary = (
  op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow',
  f: (a: number, b: number) => number,
  a: number[],
  b: number[],
  gen: 'normal' | 'positive' = 'normal',
): OpCase => ({
  name: `${op} [${a}] ⊕ [${b}]`,
  inputs: { a: { shape: a }, b: { shape: b, gen } },
  build: (g, { a, b }) => ops[op](g, a, b),
  ref: ({ a, b }) => elementwise([a, b], f),
});

const compare = (
  op: 'Equal' | 'Less' | 'LessOrEqual' | 'Greater' | 'GreaterOrEqual',
  f: (a: number, b: number) => boolean,
): OpCase => ({
  name: op,
  // Small integers as floats, so equal values really occur.
  inputs: { a: { shape: [3, 4], gen: { int: [-2, 2] } }, b: { shape: [4], gen: { int: [-2, 2] } } },
  build: (g, { a, b }) => ops[op](g, a, b),
  ref: ({ a, b }) => elementwise([a, b], (x, y) => +f(x, y)),
});

const logic = (op: 'And' | 'Or' | 'Xor', f: (a: boolean, b: boolean) => boolean): OpCase => ({
  name: op,
  inputs: { a: { shape: [2, 5], dtype: 'bool' }, b: { shape: [1, 5], dtype: 'bool' } },
  build: (g, { a, b }) => ops[op](g, a, b),
  ref: ({ a, b }) => elementwise([a, b], (x, y) => +f(!!x, !!y)),
});

export const ELEMENTWISE_CASES: OpCase[] = [
  binary('Add', (a, b) => a + b, [2, 3, 4], [2, 3, 4]),
  binary('Add', (a, b) => a + b, [2, 1, 4], [3, 1]),
  binary('Add', (a, b) => a + b, [4], [2, 3, 4]),
  binary('Sub', (a, b) => a - b, [2, 3, 1], [1, 3, 5]),
  binary('Mul', (a, b) => a * b, [2, 3, 4], []),
  binary('Mul', (a, b) => a * b, [1, 4, 1, 1], [2, 4, 3, 3]),
  binary('Div', (a, b) => a / b, [3, 4], [4], 'positive'),
  binary('Pow', (a, b) => a ** b, [3, 4], [4], 'positive'),
  {
    name: 'Pow by scalar 2 (squared error)',
    inputs: { x: { shape: [2, 5] } },
    build: (g, { x }) => ops.Pow(g, x, 2),
    ref: ({ x }) => map(x, (v) => v * v),
  },
  {
    name: 'Mod fmod',
    inputs: { a: { shape: [2, 4] }, b: { shape: [4], gen: 'positive' } },
    build: (g, { a, b }) => ops.Mod(g, a, b, true),
    ref: ({ a, b }) => elementwise([a, b], (x, y) => x % y),
  },
  {
    name: 'Mod int64 (sign of divisor)',
    inputs: {
      a: { shape: [6], dtype: 'int64', gen: { values: [7, -7, 7, -7, 0, 5] } },
      b: { shape: [6], dtype: 'int64', gen: { values: [3, 3, -3, -3, 2, 5] } },
    },
    build: (g, { a, b }) => ops.Mod(g, a, b),
    ref: ({ a, b }) => elementwise([a, b], (x, y) => x - y * Math.floor(x / y)),
  },
  {
    name: 'Max/Min/Sum variadic with broadcast',
    inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, c: { shape: [2, 1] } },
    build: (g, { a, b, c }) => [ops.Max(g, a, b, c), ops.Min(g, a, b, c), ops.Sum(g, a, b, c)],
    ref: ({ a, b, c }) => [
      elementwise([a, b, c], Math.max),
      elementwise([a, b, c], Math.min),
      elementwise([a, b, c], (x, y, z) => x + y + z),
    ],
  },
  {
    name: 'Mean variadic with broadcast',
    inputs: { a: { shape: [2, 3] }, b: { shape: [3] }, c: { shape: [2, 1] } },
    build: (g, { a, b, c }) => ops.Mean(g, a, b, c),
    ref: ({ a, b, c }) => elementwise([a, b, c], (x, y, z) => (x + y + z) / 3),
    refused: ['float64'],
  },
  unary('Neg', (v) => -v),
  unary('Abs', Math.abs),
  unary('Sign', Math.sign),
  unary('Exp', Math.exp),
  unary('Log', Math.log, {}, 'positive'),
  unary('Sqrt', Math.sqrt, {}, 'positive'),
  unary('Reciprocal', (v) => 1 / v, {}, 'positive'),
  unary('Sigmoid', sigmoid),
  unary('Tanh', Math.tanh),
  unary('Relu', (v) => Math.max(v, 0)),
  unary('Softplus', (v) => Math.log1p(Math.exp(v)), NO_FP64),
  unary('Mish', (v) => v * Math.tanh(Math.log1p(Math.exp(v))), NO_FP64),
  unary('HardSwish', (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)), NO_FP64),
  unary('Sin', Math.sin),
  unary('Cos', Math.cos),
  unary('Erf', erf, NO_FP64),
  unary('Floor', Math.floor),
  unary('Ceil', Math.ceil),
  unary('Identity', (v) => v),
  {
    name: 'Round (half to even)',
    inputs: { x: { shape: [8], gen: { values: [0.5, 1.5, 2.5, -0.5, -1.5, 0.49, 2.51, -2.6] } } },
    build: (g, { x }) => ops.Round(g, x),
    ref: ({ x }) => map(x, roundEven),
  },
  {
    name: 'LeakyRelu alpha 0.2',
    inputs: { x: { shape: [3, 4] } },
    build: (g, { x }) => ops.LeakyRelu(g, x, 0.2),
    ref: ({ x }) => map(x, (v) => (v < 0 ? 0.2 * v : v)),
    refused: ['float64'],
  },
  {
    name: 'Elu alpha 0.5',
    inputs: { x: { shape: [3, 4] } },
    build: (g, { x }) => ops.Elu(g, x, 0.5),
    ref: ({ x }) => map(x, (v) => (v < 0 ? 0.5 * (Math.exp(v) - 1) : v)),
    refused: ['float64'],
  },
  {
    name: 'HardSigmoid',
    inputs: { x: { shape: [3, 4] } },
    build: (g, { x }) => ops.HardSigmoid(g, x, { alpha: 0.25, beta: 0.4 }),
    ref: ({ x }) => map(x, (v) => Math.max(0, Math.min(1, 0.25 * v + 0.4))),
    refused: ['float64'],
  },
  {
    name: 'Gelu exact',
    inputs: { x: { shape: [2, 6] } },
    build: (g, { x }) => ops.Gelu(g, x),
    ref: ({ x }) => map(x, gelu),
    refused: ['float64'],
  },
  {
    name: 'Gelu tanh',
    inputs: { x: { shape: [2, 6] } },
    build: (g, { x }) => ops.Gelu(g, x, 'tanh'),
    ref: ({ x }) => map(x, geluTanh),
    tol: { float64: 1e-7 }, // ORT's tanh approximation is accurate to ~1e-8
  },
  {
    name: 'QuickGELU x*sigmoid(1.702x) (CLIP)',
    inputs: { x: { shape: [2, 3, 8] } },
    build: (g, { x }) => ops.Mul(g, x, ops.Sigmoid(g, ops.Mul(g, x, 1.702))),
    ref: ({ x }) => map(x, (v) => v * sigmoid(1.702 * v)),
    // Optimisation level 'extended' fuses x·sigmoid(αx) into com.microsoft.QuickGelu: float32 only.
    refused: ['float64'],
  },
  {
    name: 'SiLU as Sigmoid*Mul (UNet)',
    inputs: { x: { shape: [1, 4, 3, 3] } },
    build: (g, { x }) => ops.Mul(g, x, ops.Sigmoid(g, x)),
    ref: ({ x }) => map(x, (v) => v * sigmoid(v)),
    // Optimisation level 'extended' fuses x·sigmoid(αx) into com.microsoft.QuickGelu: float32 only.
    refused: ['float64'],
  },
  {
    name: 'SiLU float64 with graph optimisation "basic" (no QuickGelu fusion)',
    inputs: { x: { shape: [2, 5] } },
    build: (g, { x }) => ops.Mul(g, x, ops.Sigmoid(g, x)),
    ref: ({ x }) => map(x, (v) => v * sigmoid(v)),
    session: { graphOptimizationLevel: 'basic' },
  },
  compare('Equal', (a, b) => a === b),
  compare('Less', (a, b) => a < b),
  compare('LessOrEqual', (a, b) => a <= b),
  compare('Greater', (a, b) => a > b),
  compare('GreaterOrEqual', (a, b) => a >= b),
  logic('And', (a, b) => a && b),
  logic('Or', (a, b) => a || b),
  logic('Xor', (a, b) => a !== b),
  {
    name: 'Not',
    inputs: { a: { shape: [7], dtype: 'bool' } },
    build: (g, { a }) => ops.Not(g, a),
    ref: ({ a }) => map(a, (v) => +!v),
  },
  {
    name: 'IsNaN / IsInf / IsInf positive-only',
    inputs: { x: { shape: [6], gen: { values: [NaN, Infinity, -Infinity, 0, 1.5, -2] } } },
    build: (g, { x }) => [
      ops.IsNaN(g, x),
      ops.IsInf(g, x),
      ops.IsInf(g, x, { detectNegative: false }),
    ],
    ref: ({ x }) => [
      map(x, (v) => +Number.isNaN(v)),
      map(x, (v) => +(Math.abs(v) === Infinity)),
      map(x, (v) => +(v === Infinity)),
    ],
  },
  {
    name: 'Where broadcast (causal mask fill)',
    inputs: { c: { shape: [4, 4], dtype: 'bool' }, a: { shape: [2, 1, 4, 4] }, b: { shape: [] } },
    build: (g, { c, a, b }) => ops.Where(g, c, a, b),
    ref: ({ c, a, b }) => elementwise([c, a, b], (m, x, y) => (m ? x : y)),
  },
  {
    name: 'Where with a number operand',
    inputs: { c: { shape: [3], dtype: 'bool' }, a: { shape: [2, 3] } },
    build: (g, { c, a }) => ops.Where(g, c, a, -1e4),
    ref: ({ c, a }) => elementwise([c, a], (m, x) => (m ? x : -1e4)),
  },
  {
    name: 'Clip min and max / min only',
    inputs: { x: { shape: [3, 5] } },
    build: (g, { x }) => [ops.Clip(g, x, -0.5, 0.5), ops.Clip(g, x, 0)],
    ref: ({ x }) => [
      map(x, (v) => Math.min(0.5, Math.max(-0.5, v))),
      map(x, (v) => Math.max(0, v)),
    ],
  },
  {
    name: 'Cast float → int64 (truncates) and → bool',
    inputs: { x: { shape: [6], gen: { values: [1.7, -1.7, 0, 2.5, -0.2, 3] } } },
    build: (g, { x }) => [ops.Cast(g, x, 'int64'), ops.Cast(g, x, 'bool')],
    ref: ({ x }) => [map(x, Math.trunc), map(x, (v) => +(v !== 0))],
  },
  {
    name: 'Cast round trip fp32 → fp16 → fp32 and CastLike',
    inputs: {
      x: { shape: [5], gen: { values: [1, 1.0009765625, 65504, 1e-8, -3.14159] } },
      like: { shape: [1], dtype: 'float64' },
    },
    build: (g, { x, like }) => [
      ops.Cast(g, ops.Cast(g, x, 'float16'), 'float32'),
      ops.CastLike(g, x, like),
    ],
    ref: ({ x }) => [map(x, (v) => float16BitsToFloat32(float32ToFloat16Bits(v))), x],
    skip: ['float16', 'float64'],
  },
  {
    name: 'Cast int64 → float',
    inputs: { x: { shape: [4], dtype: 'int64', gen: { int: [-100, 100] } } },
    build: (g, { x }) => ops.Cast(g, x, 'float32'),
    ref: ({ x }) => x,
  },
  {
    name: 'Trilu lower (causal mask) and upper k=1',
    inputs: { x: { shape: [2, 4, 5] } },
    build: (g, { x }) => [ops.Trilu(g, x, { upper: false }), ops.Trilu(g, x, { k: 1 })],
    ref: ({ x }) => [trilu(x, false), trilu(x, true, 1)],
  },
  {
    name: 'CumSum axis 1, and exclusive reverse',
    inputs: { x: { shape: [2, 5] } },
    build: (g, { x }) => [
      ops.CumSum(g, x, 1),
      ops.CumSum(g, x, -1, { exclusive: true, reverse: true }),
    ],
    ref: ({ x }) => [cumsum(x, 1), cumsum(x, -1, true, true)],
  },
  {
    name: 'Dropout (inference: identity)',
    inputs: { x: { shape: [2, 3] } },
    build: (g, { x }) => ops.Dropout(g, x),
    ref: ({ x }) => x,
  },
];
