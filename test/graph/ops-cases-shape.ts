// Data-movement op cases: reshapes, slicing, gathers/scatters, Expand/Tile/Pad, shape ops.
import * as ops from '../../core/graph/ops.js';
import { tensorData } from '../../core/graph/tensor-data.js';
import type { OpCase } from './ops-harness.js';
import {
  concat,
  expand,
  gather,
  gatherElements,
  gatherND,
  pad,
  range,
  reshape,
  scatterElements,
  scatterND,
  slice,
  split,
  T,
  tile,
  transpose,
} from './reference.js';

export const SHAPE_CASES: OpCase[] = [
  {
    name: 'Reshape with 0 and -1',
    inputs: { x: { shape: [2, 3, 4] } },
    build: (g, { x }) => ops.Reshape(g, x, [0, -1, 2]),
    ref: ({ x }) => reshape(x, [2, 6, 2]),
  },
  {
    name: 'Reshape symbolic batch: [b, 6, 4] → [0, -1, 2] keeps b and resolves 12',
    inputs: { x: { shape: [3, 6, 4], decl: ['b', 6, 4] } },
    build: (g, { x }) => ops.Reshape(g, x, [0, -1, 2]),
    ref: ({ x }) => reshape(x, [3, 12, 2]),
  },
  {
    name: 'Reshape heads split/merge [b, L, 8] → [b, L, 2, 4] → [b·L, 8]',
    inputs: { x: { shape: [2, 3, 8], decl: ['b', 'L', 8] } },
    build: (g, { x }) => ops.Reshape(g, ops.Reshape(g, x, [0, 0, 2, 4]), [-1, 8]),
    ref: ({ x }) => reshape(x, [6, 8]),
  },
  {
    name: 'Transpose perm and default reverse',
    inputs: { x: { shape: [2, 3, 4] } },
    build: (g, { x }) => [ops.Transpose(g, x, [0, 2, 1]), ops.Transpose(g, x)],
    ref: ({ x }) => [transpose(x, [0, 2, 1]), transpose(x)],
  },
  {
    name: 'Flatten axis 1, 0 and -1',
    inputs: { x: { shape: [2, 3, 4] } },
    build: (g, { x }) => [ops.Flatten(g, x), ops.Flatten(g, x, 0), ops.Flatten(g, x, -1)],
    ref: ({ x }) => [reshape(x, [2, 12]), reshape(x, [1, 24]), reshape(x, [6, 4])],
  },
  {
    name: 'Squeeze axes [-1] and all ones; Unsqueeze [0, -1]',
    inputs: { x: { shape: [1, 3, 1] } },
    build: (g, { x }) => [ops.Squeeze(g, x, [-1]), ops.Squeeze(g, x), ops.Unsqueeze(g, x, [0, -1])],
    ref: ({ x }) => [reshape(x, [1, 3]), reshape(x, [3]), reshape(x, [1, 1, 3, 1, 1])],
  },
  {
    name: 'Concat 3 inputs axis -1 (UNet skip connection on channels: axis 1)',
    inputs: {
      a: { shape: [2, 2, 3] },
      b: { shape: [2, 2, 1] },
      c: { shape: [2, 2, 2] },
      d: { shape: [2, 3, 3] },
    },
    build: (g, { a, b, c, d }) => [ops.Concat(g, [a, b, c], -1), ops.Concat(g, [a, d], 1)],
    ref: ({ a, b, c, d }) => [concat([a, b, c], -1), concat([a, d], 1)],
  },
  {
    name: 'Split sizes [1, 3, 2] axis -1',
    inputs: { x: { shape: [2, 6] } },
    build: (g, { x }) => ops.Split(g, x, [1, 3, 2], -1),
    ref: ({ x }) => split(x, [1, 3, 2], -1),
  },
  {
    name: 'Split GEGLU halves (num_outputs 2) and uneven num_outputs 3 of 7',
    inputs: { x: { shape: [2, 3, 8] }, y: { shape: [7, 2] } },
    build: (g, { x, y }) => [...ops.Split(g, x, 2, -1), ...ops.Split(g, y, 3, 0)],
    ref: ({ x, y }) => [...split(x, [4, 4], -1), ...split(y, [3, 3, 1], 0)],
  },
  {
    name: 'Slice negative start/end',
    inputs: { x: { shape: [4, 6] } },
    build: (g, { x }) => ops.Slice(g, x, [-3], [-1], [1]),
    ref: ({ x }) => slice(x, [-3], [-1], [1]),
  },
  {
    name: 'Slice steps 2 on two axes, ends past the edge',
    inputs: { x: { shape: [5, 7] } },
    build: (g, { x }) => ops.Slice(g, x, [0, 1], [100, 7], [0, 1], [2, 3]),
    ref: ({ x }) => slice(x, [0, 1], [100, 7], [0, 1], [2, 3]),
  },
  {
    name: 'Slice negative step: reverse ([::-1]) and [-2:0:-2]',
    inputs: { x: { shape: [3, 6] } },
    build: (g, { x }) => [
      ops.Slice(g, x, [-1], [-Infinity], [1], [-1]),
      ops.Slice(g, x, [-2], [0], [-1], [-2]),
    ],
    ref: ({ x }) => [slice(x, [-1], [-1e9], [1], [-1]), slice(x, [-2], [0], [-1], [-2])],
  },
  {
    name: 'Slice start clamped below 0 with negative step, and an empty result',
    inputs: { x: { shape: [5] } },
    build: (g, { x }) => [ops.Slice(g, x, [-10], [-100], [0], [-1]), ops.Slice(g, x, [3], [1])],
    ref: ({ x }) => [slice(x, [-10], [-100], [0], [-1]), slice(x, [3], [1])],
  },
  {
    name: 'Gather token embedding [vocab, dim] by ids [b, L] (CLIP)',
    inputs: { w: { shape: [10, 4] }, ids: { shape: [2, 3], dtype: 'int64', gen: { int: [0, 9] } } },
    build: (g, { w, ids }) => ops.Gather(g, w, ids),
    ref: ({ w, ids }) => gather(w, ids, 0),
  },
  {
    name: 'Gather negative indices axis 1, and a scalar index (EOS pooling)',
    inputs: {
      x: { shape: [2, 5, 3] },
      idx: { shape: [2], dtype: 'int64', gen: { values: [-1, 2] } },
    },
    build: (g, { x, idx }) => [
      ops.Gather(g, x, idx, 1),
      ops.Gather(g, x, 4, 1),
      ops.Gather(g, x, [0, 0, 1], -1),
    ],
    ref: ({ x, idx }) => [
      gather(x, idx, 1),
      gather(x, T([], [4]), 1),
      gather(x, T([3], [0, 0, 1]), 2),
    ],
  },
  {
    name: 'GatherElements axis 1',
    inputs: { x: { shape: [3, 4] }, idx: { shape: [3, 2], dtype: 'int64', gen: { int: [-4, 3] } } },
    build: (g, { x, idx }) => ops.GatherElements(g, x, idx, 1),
    ref: ({ x, idx }) => gatherElements(x, idx, 1),
  },
  {
    name: 'GatherND rows of a matrix',
    inputs: {
      x: { shape: [4, 3] },
      idx: { shape: [2, 1], dtype: 'int64', gen: { values: [3, 1] } },
    },
    build: (g, { x, idx }) => ops.GatherND(g, x, idx),
    ref: ({ x, idx }) => gatherND(x, idx),
  },
  {
    name: 'ScatterElements replace and add with duplicate indices',
    inputs: {
      x: { shape: [3, 4] },
      idx: { shape: [3, 2], dtype: 'int64', gen: { values: [0, 1, 3, 3, 2, 0] } },
      u: { shape: [3, 2] },
    },
    build: (g, { x, idx, u }) => [
      ops.ScatterElements(g, x, ops.Slice(g, idx, [0], [1], [1]), ops.Slice(g, u, [0], [1], [1]), {
        axis: 1,
      }),
      ops.ScatterElements(g, x, idx, u, { axis: 1, reduction: 'add' }),
    ],
    ref: ({ x, idx, u }) => [
      scatterElements(x, slice(idx, [0], [1], [1]), slice(u, [0], [1], [1]), 1),
      scatterElements(x, idx, u, 1, 'add'),
    ],
    refused: ['float16'], // at run time: no float16 kernel for reduction 'add'
  },
  {
    name: 'ScatterND add with repeated rows (embedding gradient)',
    inputs: {
      x: { shape: [5, 3] },
      idx: { shape: [4, 1], dtype: 'int64', gen: { values: [1, 3, 1, 0] } },
      u: { shape: [4, 3] },
    },
    build: (g, { x, idx, u }) => ops.ScatterND(g, x, idx, u, 'add'),
    ref: ({ x, idx, u }) => scatterND(x, idx, u, 'add'),
    refused: ['float16'], // at run time: no float16 kernel for reduction 'add'
  },
  {
    name: 'Expand bidirectional [3, 1] to [2, 1, 4] (and a dim of 1 in the target)',
    inputs: { x: { shape: [3, 1] } },
    build: (g, { x }) => ops.Expand(g, x, [2, 1, 4]),
    ref: ({ x }) => expand(x, [2, 1, 4]),
  },
  {
    name: 'Tile [2, 3] × [2, 2]',
    inputs: { x: { shape: [2, 3] } },
    build: (g, { x }) => ops.Tile(g, x, [2, 2]),
    ref: ({ x }) => tile(x, [2, 2]),
  },
  {
    name: 'Pad constant value on spatial axes; asymmetric (0,1,0,1) zero pad',
    inputs: { x: { shape: [1, 2, 3, 3] } },
    build: (g, { x }) => [
      ops.Pad(g, x, [1, 2, 0, 1], { value: -1.5, axes: [2, 3] }),
      ops.Pad(g, x, [0, 0, 0, 0, 0, 0, 1, 1]),
    ],
    ref: ({ x }) => [
      pad(x, [1, 2, 0, 1], 'constant', -1.5, [2, 3]),
      pad(x, [0, 0, 0, 0, 0, 0, 1, 1]),
    ],
  },
  {
    name: 'Pad reflect, edge, wrap',
    inputs: { x: { shape: [2, 4] } },
    build: (g, { x }) => [
      ops.Pad(g, x, [0, 2, 0, 3], { mode: 'reflect' }),
      ops.Pad(g, x, [1, 1, 1, 1], { mode: 'edge' }),
      ops.Pad(g, x, [0, 1, 0, 2], { mode: 'wrap' }),
    ],
    ref: ({ x }) => [
      pad(x, [0, 2, 0, 3], 'reflect'),
      pad(x, [1, 1, 1, 1], 'edge'),
      pad(x, [0, 1, 0, 2], 'wrap'),
    ],
  },
  {
    name: 'Shape, Shape start/end, Size',
    inputs: { x: { shape: [2, 3, 4, 5] } },
    build: (g, { x }) => [ops.Shape(g, x), ops.Shape(g, x, 1, -1), ops.Size(g, x)],
    ref: () => [T([4], [2, 3, 4, 5]), T([2], [3, 4]), T([], [120])],
  },
  {
    name: 'ConstantOfShape float zeros from a Shape, and int64 ones from a constant',
    inputs: { x: { shape: [2, 3] } },
    build: (g, { x }) => [
      ops.Add(g, x, ops.ConstantOfShape(g, ops.Shape(g, x), 0, x.dtype)),
      ops.ConstantOfShape(g, [2, 2], 1, 'int64'),
    ],
    ref: ({ x }) => [x, T([2, 2], [1, 1, 1, 1])],
  },
  {
    name: 'Constant node',
    inputs: { x: { shape: [3] } },
    build: (g, { x }) => ops.Add(g, x, ops.Constant(g, tensorData(x.dtype, [3], [1, 2, 3]))),
    ref: ({ x }) =>
      T(
        [3],
        x.data.map((v, i) => v + i + 1),
      ),
  },
  {
    name: 'Range int64 and float (ONNX Range has no float16)',
    inputs: { x: { shape: [1] } },
    build: (g, { x }) => [ops.Range(g, 0, 5), ops.Range(g, 1, -2, -0.5, x.dtype)],
    ref: () => [range(0, 5, 1), range(1, -2, -0.5)],
    skip: ['float16'],
  },
  {
    name: 'Identity passes any dtype through',
    inputs: { x: { shape: [3], dtype: 'int64', gen: { int: [0, 9] } } },
    build: (g, { x }) => ops.Identity(g, x),
    ref: ({ x }) => x,
  },
];
