// Finite-difference checks of MatMul/Gemm (float64) and Conv/ConvTranspose (float32: ORT CPU
// has no float64 convolution kernels) gradient rules.
import { describe, expect, it } from 'vitest';
import type { GraphBuilder, Value } from '../../core/graph/builder.js';
import { attr, type Attributes } from '../../core/graph/ir.js';
import { checkGradients, type FdCase } from './fd.js';

function matmul(a: number[], b: number[]): FdCase {
  return {
    name: `MatMul [${a}] × [${b}]`,
    dtype: 'float64',
    inputs: [
      { name: 'a', shape: a },
      { name: 'b', shape: b },
    ],
    build: (g, [x, y]) => g.op('MatMul', [x, y]),
  };
}

function gemm(transA: number, transB: number, c: number[] | null): FdCase {
  const [m, k, n] = [3, 4, 5];
  return {
    name: `Gemm transA=${transA} transB=${transB} C=${c ? `[${c}]` : 'none'}`,
    dtype: 'float64',
    inputs: [
      { name: 'a', shape: transA ? [k, m] : [m, k] },
      { name: 'b', shape: transB ? [n, k] : [k, n] },
      ...(c ? [{ name: 'c', shape: c }] : []),
    ],
    build: (g, [a, b, cc]) =>
      g.op('Gemm', cc ? [a, b, cc] : [a, b], {
        transA: attr.int(transA),
        transB: attr.int(transB),
        alpha: attr.float(0.7),
        beta: attr.float(1.3),
      }),
  };
}

function conv(
  name: string,
  x: number[],
  w: number[],
  attrs: Attributes,
  bias = true,
  op = 'Conv',
): FdCase {
  const channels = op === 'Conv' ? w[0] : w[1] * ((attrs.group?.value as number) ?? 1);
  return {
    name: `${op} ${name}: x [${x}] w [${w}]`,
    dtype: 'float32',
    inputs: [
      { name: 'x', shape: x },
      { name: 'w', shape: w },
      ...(bias ? [{ name: 'b', shape: [channels] }] : []),
    ],
    build: (g: GraphBuilder, xs: Value[]) => g.op(op, xs, attrs),
  };
}

const ints = attr.ints;

const cases: FdCase[] = [
  matmul([3, 4], [4, 5]),
  matmul([2, 3, 4], [2, 4, 5]),
  matmul([2, 1, 3, 4], [3, 4, 2]),
  matmul([2, 3, 4], [4, 5]),
  matmul([3, 4], [2, 4, 5]),
  matmul([4], [4, 5]),
  matmul([2, 3, 4], [4]),
  matmul([4], [4]),
  matmul([4], [2, 4, 3]),
  gemm(0, 0, [5]),
  gemm(0, 1, [3, 5]),
  gemm(1, 0, [3, 1]),
  gemm(1, 1, []),
  gemm(0, 0, null),
  conv('3×3 pad 1', [2, 3, 5, 5], [4, 3, 3, 3], { pads: ints([1, 1, 1, 1]) }),
  conv('stride 2, odd size 7', [1, 2, 7, 7], [3, 2, 3, 3], {
    strides: ints([2, 2]),
    pads: ints([1, 1, 1, 1]),
  }),
  conv('stride 2, even size 8', [1, 2, 8, 8], [3, 2, 3, 3], {
    strides: ints([2, 2]),
    pads: ints([1, 1, 1, 1]),
  }),
  conv(
    'stride 2 kernel 2 no pad, size 7',
    [1, 2, 7, 7],
    [2, 2, 2, 2],
    { strides: ints([2, 2]) },
    false,
  ),
  conv('stride 3 rectangular', [1, 2, 8, 7], [2, 2, 3, 2], {
    strides: ints([3, 2]),
    pads: ints([1, 0, 0, 1]),
  }),
  conv('dilation 2', [1, 2, 7, 7], [2, 2, 3, 3], {
    dilations: ints([2, 2]),
    pads: ints([2, 2, 2, 2]),
  }),
  conv('dilation 2 stride 2', [1, 2, 9, 9], [2, 2, 3, 3], {
    dilations: ints([2, 2]),
    strides: ints([2, 2]),
  }),
  conv('groups 2, asymmetric pads, stride 2', [2, 4, 5, 5], [6, 2, 3, 3], {
    group: attr.int(2),
    strides: ints([2, 2]),
    pads: ints([0, 1, 1, 0]),
  }),
  conv('depthwise', [1, 3, 6, 6], [3, 1, 3, 3], { group: attr.int(3), pads: ints([1, 1, 1, 1]) }),
  conv('1×1', [2, 4, 3, 3], [5, 4, 1, 1], {}),
  conv('1-D stride 2', [2, 3, 9], [2, 3, 3], { strides: ints([2]) }),
  conv('auto_pad SAME_UPPER stride 2', [1, 2, 7, 7], [2, 2, 3, 3], {
    auto_pad: attr.string('SAME_UPPER'),
    strides: ints([2, 2]),
  }),
  conv(
    'stride 2 pad 1 output_padding 1',
    [1, 3, 4, 4],
    [3, 2, 3, 3],
    {
      strides: ints([2, 2]),
      pads: ints([1, 1, 1, 1]),
      output_padding: ints([1, 1]),
    },
    true,
    'ConvTranspose',
  ),
  conv(
    'groups 2 dilation 2',
    [1, 4, 3, 3],
    [4, 1, 3, 3],
    {
      group: attr.int(2),
      dilations: ints([2, 2]),
      strides: ints([2, 2]),
    },
    true,
    'ConvTranspose',
  ),
  conv(
    '4×4 stride 2 (upsampler)',
    [2, 2, 3, 3],
    [2, 3, 4, 4],
    {
      strides: ints([2, 2]),
      pads: ints([1, 1, 1, 1]),
    },
    false,
    'ConvTranspose',
  ),
];

describe('linear algebra and convolution gradient rules vs finite differences', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const r = await checkGradients(c);
      expect(r.failures).toEqual([]);
      expect(r.maxAbsGrad).toBeGreaterThan(0);
    });
  }
});
