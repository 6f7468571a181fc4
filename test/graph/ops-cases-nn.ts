// Compute op cases: MatMul/Gemm, convolutions, normalisations, Softmax, Resize, reductions, and a
// few model-shaped compositions (attention, MSE loss, timestep embedding).
import * as ops from '../../core/graph/ops.js';
import type { OpCase } from './ops-harness.js';
import {
  argReduce,
  concat,
  elementwise,
  map,
  mean,
  reduce,
  sum,
  transpose,
  type RefTensor,
} from './reference.js';
import {
  conv,
  convTranspose,
  gemm,
  groupNorm,
  instanceNorm,
  layerNorm,
  matmul,
  resizeLinear,
  resizeNearest,
  softmax,
  type RefConvOptions,
} from './reference-nn.js';

/** ORT's CPU EP has no float64 Conv/ConvTranspose/Resize kernels (see DESIGN.md). */
const NO_FP64 = ['float64'] as const;

const convCase = (
  name: string,
  x: number[],
  w: number[],
  o: RefConvOptions & { bias?: boolean; autoPad?: 'SAME_UPPER' },
): OpCase => ({
  name: `Conv ${name}`,
  inputs: { x: { shape: x }, w: { shape: w }, ...(o.bias ? { b: { shape: [w[0]] } } : {}) },
  build: (g, v) => ops.Conv(g, v.x, v.w, v.b, o),
  ref: (v) => conv(v.x, v.w, v.b, o),
  refused: [...NO_FP64],
});

const convTCase = (
  name: string,
  x: number[],
  w: number[],
  o: RefConvOptions & { bias?: boolean },
): OpCase => ({
  name: `ConvTranspose ${name}`,
  inputs: {
    x: { shape: x },
    w: { shape: w },
    ...(o.bias ? { b: { shape: [w[1] * (o.group ?? 1)] } } : {}),
  },
  build: (g, v) => ops.ConvTranspose(g, v.x, v.w, v.b, o),
  ref: (v) => convTranspose(v.x, v.w, v.b, o),
  refused: [...NO_FP64],
});

type ReduceOp =
  | 'ReduceSum'
  | 'ReduceMean'
  | 'ReduceMax'
  | 'ReduceMin'
  | 'ReduceProd'
  | 'ReduceSumSquare'
  | 'ReduceL2'
  | 'ReduceLogSumExp';
const reduceCase = (
  op: ReduceOp,
  fold: (v: number[]) => number,
  axes: number[] | undefined,
  keepdims: boolean,
): OpCase => ({
  name: `${op} axes ${axes ? `[${axes}]` : 'all'} keepdims ${+keepdims}`,
  inputs: { x: { shape: [2, 3, 4], gen: op === 'ReduceProd' ? 'positive' : 'normal' } },
  build: (g, { x }) => ops[op](g, x, axes, keepdims),
  ref: ({ x }) => reduce(x, axes, keepdims, fold),
});

export const NN_CASES: OpCase[] = [
  {
    name: 'MatMul 2-D',
    inputs: { a: { shape: [3, 5] }, b: { shape: [5, 4] } },
    build: (g, { a, b }) => ops.MatMul(g, a, b),
    ref: ({ a, b }) => matmul(a, b),
  },
  {
    name: 'MatMul batch broadcast [2,1,3,5]×[4,5,2]',
    inputs: { a: { shape: [2, 1, 3, 5] }, b: { shape: [4, 5, 2] } },
    build: (g, { a, b }) => ops.MatMul(g, a, b),
    ref: ({ a, b }) => matmul(a, b),
  },
  {
    name: 'MatMul activations × weight [2,7,6]×[6,3] (Linear)',
    inputs: { a: { shape: [2, 7, 6] }, b: { shape: [6, 3] } },
    build: (g, { a, b }) => ops.MatMul(g, a, b),
    ref: ({ a, b }) => matmul(a, b),
  },
  {
    name: 'MatMul 1-D operands',
    inputs: { a: { shape: [5] }, b: { shape: [2, 5, 3] }, c: { shape: [4, 5] }, d: { shape: [5] } },
    build: (g, { a, b, c, d }) => [ops.MatMul(g, a, b), ops.MatMul(g, c, d), ops.MatMul(g, a, d)],
    ref: ({ a, b, c, d }) => [matmul(a, b), matmul(c, d), matmul(a, d)],
  },
  {
    name: 'Gemm with bias row',
    inputs: { a: { shape: [3, 4] }, b: { shape: [4, 5] }, c: { shape: [5] } },
    build: (g, { a, b, c }) => ops.Gemm(g, a, b, c),
    ref: ({ a, b, c }) => gemm(a, b, c),
  },
  {
    name: 'Gemm transA transB alpha beta',
    inputs: { a: { shape: [4, 3] }, b: { shape: [5, 4] }, c: { shape: [3, 1] } },
    build: (g, { a, b, c }) =>
      ops.Gemm(g, a, b, c, { transA: true, transB: true, alpha: 0.5, beta: 2 }),
    ref: ({ a, b, c }) => gemm(a, b, c, { transA: true, transB: true, alpha: 0.5, beta: 2 }),
  },
  convCase('3×3 pad 1 with bias', [1, 3, 5, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1], bias: true }),
  convCase('stride 2 asymmetric pads (0,0,1,1) (UNet downsample)', [2, 2, 6, 6], [3, 2, 3, 3], {
    strides: [2, 2],
    pads: [0, 0, 1, 1],
  }),
  convCase('stride 2 pad 1 odd size', [1, 2, 7, 5], [2, 2, 3, 3], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    bias: true,
  }),
  convCase('groups 2', [1, 4, 4, 4], [6, 2, 3, 3], { pads: [1, 1, 1, 1], group: 2, bias: true }),
  convCase('depthwise (group = C)', [1, 3, 4, 4], [3, 1, 3, 3], { group: 3 }),
  convCase('1×1 (proj_in)', [2, 4, 3, 3], [5, 4, 1, 1], { bias: true }),
  convCase('dilation 2', [1, 2, 7, 7], [2, 2, 3, 3], { dilations: [2, 2], pads: [2, 2, 2, 2] }),
  convCase('1-D', [2, 3, 9], [4, 3, 3], { strides: [2], pads: [1, 0] }),
  {
    name: 'Conv auto_pad SAME_UPPER stride 2',
    inputs: { x: { shape: [1, 2, 5, 5] }, w: { shape: [2, 2, 3, 3] } },
    build: (g, { x, w }) => ops.Conv(g, x, w, null, { autoPad: 'SAME_UPPER', strides: [2, 2] }),
    // SAME_UPPER: total pad = (out-1)·s + k − in = 2, split evenly → pads 1/1.
    ref: ({ x, w }) => conv(x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1] }),
    refused: [...NO_FP64],
  },
  convTCase('stride 2 k4 pad 1', [1, 3, 3, 3], [3, 2, 4, 4], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    bias: true,
  }),
  convTCase('stride 2 k3 pad 1 output_padding 1', [2, 2, 3, 4], [2, 3, 3, 3], {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    outputPadding: [1, 1],
  }),
  convTCase('groups 2 asymmetric pads', [1, 4, 3, 3], [4, 1, 3, 3], {
    group: 2,
    pads: [0, 1, 1, 0],
    bias: true,
  }),
  {
    name: 'GroupNormalization 4 groups of 2 channels, eps 1e-6 (opset 21, per-channel affine)',
    inputs: { x: { shape: [2, 8, 3, 3] }, s: { shape: [8] }, b: { shape: [8] } },
    build: (g, { x, s, b }) => ops.GroupNormalization(g, x, s, b, { numGroups: 4, epsilon: 1e-6 }),
    ref: ({ x, s, b }) => groupNorm(x, s, b, 4, 1e-6),
    tol: { float16: 3e-2, float64: 1e-6 }, // statistics in float32 (stash_type default) even for float64
  },
  {
    name: 'GroupNormalization float64 with stash_type float64',
    inputs: { x: { shape: [2, 4, 3] }, s: { shape: [4] }, b: { shape: [4] } },
    build: (g, { x, s, b }) =>
      ops.GroupNormalization(g, x, s, b, { numGroups: 2, stashType: 'float64' }),
    ref: ({ x, s, b }) => groupNorm(x, s, b, 2),
    skip: ['float32', 'float16'],
  },
  {
    name: 'GroupNormalization 1 group over a sequence [N, C, L]',
    inputs: { x: { shape: [1, 4, 6] }, s: { shape: [4] }, b: { shape: [4] } },
    build: (g, { x, s, b }) => ops.GroupNormalization(g, x, s, b, { numGroups: 1 }),
    ref: ({ x, s, b }) => groupNorm(x, s, b, 1),
    tol: { float16: 3e-2, float64: 1e-6 },
  },
  {
    name: 'InstanceNormalization',
    inputs: { x: { shape: [2, 3, 4, 2] }, s: { shape: [3] }, b: { shape: [3] } },
    build: (g, { x, s, b }) => ops.InstanceNormalization(g, x, s, b, 1e-5),
    ref: ({ x, s, b }) => instanceNorm(x, s, b),
    refused: ['float64'],
    tol: { float16: 3e-2 },
  },
  {
    name: 'LayerNormalization last axis with bias',
    inputs: { x: { shape: [2, 3, 8] }, s: { shape: [8] }, b: { shape: [8] } },
    build: (g, { x, s, b }) => ops.LayerNormalization(g, x, s, b),
    ref: ({ x, s, b }) => layerNorm(x, s, b)[0],
    tol: { float16: 3e-2 },
  },
  {
    name: 'LayerNormalization axis -2 without bias, with Mean/InvStdDev',
    inputs: { x: { shape: [2, 3, 4] }, s: { shape: [3, 4] } },
    build: (g, { x, s }) =>
      ops.LayerNormalization(g, x, s, null, { axis: -2, epsilon: 1e-3, stats: true }),
    ref: ({ x, s }) => layerNorm(x, s, undefined, -2, 1e-3),
    tol: { float16: 3e-2, float64: 1e-6 }, // Mean/InvStdDev are float32 (stash_type default)
  },
  {
    // Valid ONNX, but ORT registers LayerNormalization only with float32 statistics.
    name: 'LayerNormalization float64 with stash_type float64 statistics',
    inputs: { x: { shape: [3, 5] }, s: { shape: [5] }, b: { shape: [5] } },
    build: (g, { x, s, b }) =>
      ops.LayerNormalization(g, x, s, b, { stashType: 'float64', stats: true }),
    ref: ({ x, s, b }) => layerNorm(x, s, b),
    skip: ['float32', 'float16'],
    refused: ['float64'],
  },
  {
    name: 'Softmax last axis',
    inputs: { x: { shape: [2, 3, 5] } },
    build: (g, { x }) => ops.Softmax(g, x),
    ref: ({ x }) => softmax(x),
  },
  {
    name: 'Softmax axis 1',
    inputs: { x: { shape: [2, 4, 3] } },
    build: (g, { x }) => ops.Softmax(g, x, 1),
    ref: ({ x }) => softmax(x, 1),
  },
  {
    name: 'LogSoftmax',
    inputs: { x: { shape: [3, 6] } },
    build: (g, { x }) => ops.LogSoftmax(g, x),
    ref: ({ x }) => softmax(x, -1, true),
  },
  {
    name: 'Resize nearest ×2 (UNet/VAE upsample)',
    inputs: { x: { shape: [1, 2, 3, 4] } },
    build: (g, { x }) => ops.Resize(g, x, { scales: [1, 1, 2, 2] }),
    ref: ({ x }) => resizeNearest(x, [1, 1, 2, 2]),
    refused: [...NO_FP64],
  },
  {
    name: 'Resize nearest ×1.5 by scales (floor of dst/scale)',
    inputs: { x: { shape: [1, 1, 4, 4] } },
    build: (g, { x }) => ops.Resize(g, x, { scales: [1, 1, 1.5, 1.5] }),
    ref: ({ x }) => resizeNearest(x, [1, 1, 1.5, 1.5]),
    refused: [...NO_FP64],
  },
  {
    name: 'Resize nearest by sizes over axes [2, 3]',
    inputs: { x: { shape: [2, 1, 3, 3] } },
    build: (g, { x }) => ops.Resize(g, x, { sizes: [6, 6], axes: [2, 3] }),
    ref: ({ x }) => resizeNearest(x, [1, 1, 2, 2]),
    refused: [...NO_FP64],
  },
  {
    name: 'Resize linear ×2 half_pixel (bilinear, align_corners=False)',
    inputs: { x: { shape: [1, 2, 3, 3] } },
    build: (g, { x }) => ops.Resize(g, x, { scales: [1, 1, 2, 2], mode: 'linear' }),
    ref: ({ x }) => resizeLinear(x, [1, 1, 2, 2]),
    refused: [...NO_FP64],
  },
  reduceCase('ReduceSum', sum, [1], true),
  reduceCase('ReduceSum', sum, [0, 2], false),
  reduceCase('ReduceSum', sum, undefined, false),
  reduceCase('ReduceMean', mean, [-1], true),
  reduceCase('ReduceMean', mean, [1, 2], false),
  reduceCase('ReduceMean', mean, undefined, true),
  reduceCase('ReduceMax', (v) => Math.max(...v), [2], false),
  reduceCase('ReduceMin', (v) => Math.min(...v), [0], true),
  reduceCase('ReduceProd', (v) => v.reduce((p, a) => p * a, 1), [1], false),
  reduceCase('ReduceSumSquare', (v) => sum(v.map((a) => a * a)), [-2, -1], true),
  reduceCase('ReduceL2', (v) => Math.sqrt(sum(v.map((a) => a * a))), [2], false),
  reduceCase('ReduceLogSumExp', (v) => Math.log(sum(v.map(Math.exp))), [1], true),
  {
    name: 'ReduceSum noop_with_empty_axes',
    inputs: { x: { shape: [2, 3] } },
    build: (g, { x }) => ops.ReduceSum(g, x, [], true, { noopWithEmptyAxes: true }),
    ref: ({ x }) => x,
  },
  {
    name: 'ArgMax axis 1 keepdims / ArgMin axis -1 no keepdims',
    inputs: { x: { shape: [3, 4, 2] } },
    build: (g, { x }) => [ops.ArgMax(g, x, 1), ops.ArgMin(g, x, -1, false)],
    ref: ({ x }) => [
      argReduce(x, 1, true, (a, b) => a > b),
      argReduce(x, -1, false, (a, b) => a < b),
    ],
  },
  {
    name: 'attention: softmax(Q·Kᵀ/√d)·V',
    inputs: { q: { shape: [2, 5, 4] }, k: { shape: [2, 6, 4] }, v: { shape: [2, 6, 3] } },
    build: (g, { q, k, v }) => {
      const s = ops.Mul(g, ops.MatMul(g, q, ops.Transpose(g, k, [0, 2, 1])), 0.5);
      return ops.MatMul(g, ops.Softmax(g, s), v);
    },
    ref: ({ q, k, v }) =>
      matmul(softmax(map(matmul(q, transpose(k, [0, 2, 1])), (a) => a * 0.5)), v),
    tol: { float16: 2e-2 },
  },
  {
    name: 'MSE loss: ReduceMean((a − b)²)',
    inputs: { a: { shape: [2, 4, 3, 3] }, b: { shape: [2, 4, 3, 3] } },
    build: (g, { a, b }) => ops.ReduceMean(g, ops.Pow(g, ops.Sub(g, a, b), 2), undefined, false),
    ref: ({ a, b }) =>
      reduce(
        elementwise([a, b], (x, y) => (x - y) ** 2),
        undefined,
        false,
        mean,
      ),
  },
  {
    name: 'timestep embedding: Exp, Sin, Cos, Concat',
    inputs: {
      t: { shape: [2, 1], gen: { values: [1, 999] } },
      f: { shape: [1, 4], gen: { values: [0, -1, -2, -3] } },
    },
    build: (g, { t, f }) => {
      const arg = ops.Mul(g, t, ops.Exp(g, f));
      return ops.Concat(g, [ops.Cos(g, arg), ops.Sin(g, arg)], -1);
    },
    ref: ({ t, f }) => {
      const arg: RefTensor = elementwise([t, f], (a, b) => a * Math.exp(b));
      return concat([map(arg, Math.cos), map(arg, Math.sin)], -1);
    },
    skip: ['float16'], // 999 rad in fp16 has no useful precision
    tol: { float32: 1e-4 }, // sin/cos of ~999 rad amplify the fp32 rounding of the argument
  },
];
