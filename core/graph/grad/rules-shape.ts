// Gradient rules for data-movement ops: each moves the output gradient back to where the input
// elements came from (and sums where one input element fed several outputs).
import type { GraphBuilder, Value } from '../builder.js';
import { sliceLength } from '../infer.js';
import { attr, isStaticShape, type Dim } from '../ir.js';
import { tensorData } from '../tensor-data.js';
import { unbroadcast } from './broadcast.js';
import type { GradRule } from './context.js';
import {
  inversePerm,
  normAxes,
  reduceSum,
  reshapeTo,
  squeeze,
  transpose,
  unsqueeze,
  upcast,
  zerosLike,
} from './emit.js';

export const gradReshape: GradRule = (ctx) => [
  ctx.needs[0] ? reshapeTo(ctx.g, ctx.dy, ctx.input(0).shape, ctx.input(0)) : null,
  null,
];

export const gradTranspose: GradRule = (ctx) => {
  const x = ctx.input(0);
  const perm = ctx.ints('perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  return [ctx.needs[0] ? transpose(ctx.g, ctx.dy, inversePerm(perm)) : null];
};

export const gradSqueeze: GradRule = (ctx) => {
  const x = ctx.input(0);
  const given = ctx.inputs[1] ? ctx.requireConstant(1, 'axes') : undefined;
  const axes = given
    ? normAxes(given, x.shape.length, 'Squeeze')
    : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  return [
    ctx.needs[0]
      ? unsqueeze(
          ctx.g,
          ctx.dy,
          [...axes].sort((a, b) => a - b),
        )
      : null,
    null,
  ];
};

export const gradUnsqueeze: GradRule = (ctx) => {
  const axes = normAxes(ctx.requireConstant(1, 'axes'), ctx.y.shape.length, 'Unsqueeze');
  return [ctx.needs[0] ? squeeze(ctx.g, ctx.dy, axes) : null, null];
};

export const gradConcat: GradRule = (ctx) => {
  const { g } = ctx;
  const rank = ctx.y.shape.length;
  const axis = normAxes([ctx.int('axis', 0)], rank, 'Concat')[0];
  const xs = ctx.inputs.map((v) => v as Value);
  const sizes = xs.map((v) => v.shape[axis]);
  if (!sizes.every((d): d is number => typeof d === 'number')) {
    throw ctx.error(
      `the concatenated sizes [${sizes.join(', ')}] along axis ${axis} must be static`,
    );
  }
  const parts = g.node(
    'Split',
    [ctx.dy, g.ints(sizes)],
    { axis: attr.int(axis) },
    { outputs: xs.length },
  );
  return parts.map((p, i) => (ctx.needs[i] ? p : null));
};

export const gradSplit: GradRule = (ctx) => {
  const { g } = ctx;
  const axis = normAxes([ctx.int('axis', 0)], ctx.input(0).shape.length, 'Split')[0];
  const parts = ctx.grads.map((d, i) => d ?? zerosLike(g, ctx.outputs[i]));
  return [ctx.needs[0] ? g.op('Concat', parts, { axis: attr.int(axis) }) : null, null];
};

// Slice: put dy back where it came from. A step s > 1 interleaves s−1 zeros after each element
// (unsqueeze, pad, merge); a negative step reverses dy first; one Pad places the result.
export const gradSlice: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { g } = ctx;
  const x = ctx.input(0);
  const starts = ctx.requireConstant(1, 'starts');
  const ends = ctx.requireConstant(2, 'ends');
  const axes = normAxes(ctx.constant(3) ?? starts.map((_, i) => i), x.shape.length, 'Slice');
  const steps = ctx.constant(4) ?? starts.map(() => 1);
  let d = ctx.dy;
  const padAxes: number[] = [];
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i];
    const size = x.shape[a];
    if (typeof size !== 'number') throw ctx.error(`sliced axis ${a} must have a static size`);
    const n = sliceLength(size, starts[i], ends[i], steps[i]);
    if (n === 0) return [zerosLike(g, x)];
    const s0 = starts[i] < 0 ? starts[i] + size : starts[i];
    let step = steps[i];
    let first = step > 0 ? Math.min(Math.max(s0, 0), size) : Math.min(Math.max(s0, -1), size - 1);
    if (step < 0) {
      d = g.op('Slice', [
        d,
        g.ints([-1]),
        g.ints([-Number.MAX_SAFE_INTEGER]),
        g.ints([a]),
        g.ints([-1]),
      ]);
      first += (n - 1) * step;
      step = -step;
    }
    let len = n;
    if (step > 1) {
      const spread = g.op('Pad', [
        unsqueeze(g, d, [a + 1]),
        g.ints([0, step - 1]),
        null,
        g.ints([a + 1]),
      ]);
      const merged: Dim[] = [...d.shape];
      merged[a] = n * step;
      d = reshapeTo(g, spread, merged);
      len = Math.min(n * step, size - first);
      if (len < n * step) d = g.op('Slice', [d, g.ints([0]), g.ints([len]), g.ints([a])]);
    }
    padAxes.push(a);
    before.push(first);
    after.push(size - first - len);
  }
  return [g.op('Pad', [d, g.ints([...before, ...after]), null, g.ints(padAxes)])];
};

// Pad (constant mode): the gradient is the un-padded window of dy.
export const gradPad: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const x = ctx.input(0);
  const mode = ctx.str('mode', 'constant');
  if (mode !== 'constant') throw ctx.error(`mode='${mode}' is not handled (only 'constant')`);
  const pads = ctx.requireConstant(1, 'pads');
  const axes = normAxes(ctx.constant(3) ?? x.shape.map((_, i) => i), x.shape.length, 'Pad');
  const k = axes.length;
  if (pads.some((p) => p < 0))
    throw ctx.error(`negative pads [${pads.join(', ')}] are not handled`);
  const ends = axes.map((a, i) => {
    const size = x.shape[a];
    if (typeof size === 'number') return pads[i] + size;
    if (pads[k + i] === 0) return Number.MAX_SAFE_INTEGER;
    throw ctx.error(`padded axis ${a} must have a static size`);
  });
  return [
    ctx.g.op('Slice', [ctx.dy, ctx.g.ints(pads.slice(0, k)), ctx.g.ints(ends), ctx.g.ints(axes)]),
  ];
};

/** Indices < 0 count from the end of axis `a` of x; scatter implementations differ on them. */
function wrapNegative(g: GraphBuilder, idx: Value, x: Value, a: number): Value {
  const d = x.shape[a];
  const n =
    typeof d === 'number'
      ? g.constant(d, 'int64', [])
      : squeeze(g, g.op('Gather', [g.op('Shape', [x]), g.ints([a])]), [0]);
  return g.op('Where', [
    g.op('Less', [idx, g.constant(0, 'int64', [])]),
    g.op('Add', [idx, n]),
    idx,
  ]);
}

// Gather (embeddings): scatter-add dy rows into zeros with ScatterND(reduction='add'), which ORT
// CPU runs for float32/float64 (not float16, so 16-bit gradients accumulate in float32 — also
// the better precision for an embedding table). Duplicate indices sum, as they must.
export const gradGather: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null, null];
  const { g } = ctx;
  const x = ctx.input(0);
  let idx = ctx.input(1);
  const rank = x.shape.length;
  const a = normAxes([ctx.int('axis', 0)], rank, 'Gather')[0];
  const q = idx.shape.length;
  const rest = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  // dy: x[:a] ++ idx ++ x[a+1:] → idx ++ x[:a] ++ x[a+1:] (the updates layout ScatterND wants)
  const updates = upcast(
    g,
    transpose(g, ctx.dy, [...rest(a, a + q), ...rest(0, a), ...rest(a + q, rank - 1 + q)]),
  );
  const tablePerm = [a, ...rest(0, a), ...rest(a + 1, rank)];
  const tableShape = tablePerm.map((p) => x.shape[p]);
  const known = ctx.constant(1);
  idx = g.cast(idx, 'int64');
  if (!known || known.some((v) => v < 0)) {
    idx = wrapNegative(g, idx, x, a);
  }
  const zeros = isStaticShape(tableShape)
    ? g.op('ConstantOfShape', [g.ints(tableShape)], {
        value: attr.tensor(tensorData(updates.dtype, [1], [0])),
      })
    : zerosLike(g, transpose(g, x, tablePerm), updates.dtype);
  const summed = g.op('ScatterND', [zeros, unsqueeze(g, idx, [q]), updates], {
    reduction: attr.string('add'),
  });
  return [g.cast(transpose(g, summed, inversePerm(tablePerm)), x.dtype), null];
};

export const gradExpand: GradRule = (ctx) => [
  ctx.needs[0]
    ? unbroadcast(ctx.g, ctx.dy, ctx.y.shape, ctx.input(0), `Expand '${ctx.node.name}'`)
    : null,
  null,
];

// Tile: view dy as [r₀, d₀, r₁, d₁, …] and sum the repeat axes.
export const gradTile: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null, null];
  const x = ctx.input(0);
  const reps = ctx.requireConstant(1, 'repeats');
  if (!isStaticShape(x.shape)) throw ctx.error('Tile gradient needs a static input shape');
  const dims = x.shape.flatMap((d, i) => [reps[i], d]);
  const split = ctx.g.op('Reshape', [ctx.dy, ctx.g.ints(dims)]);
  return [
    reduceSum(
      ctx.g,
      split,
      dims.flatMap((_, i) => (i % 2 === 0 ? [i] : [])),
      false,
    ),
    null,
  ];
};

// CumSum: each input element feeds every later output, so dx is the cumulative sum of dy the
// other way round (same exclusivity).
export const gradCumSum: GradRule = (ctx) => [
  ctx.needs[0]
    ? ctx.g.op('CumSum', [ctx.dy, ctx.input(1)], {
        exclusive: attr.int(ctx.int('exclusive', 0)),
        reverse: attr.int(1 - ctx.int('reverse', 0)),
      })
    : null,
  null,
];

// GatherElements: scatter-add dy back to the gathered positions (ScatterElements, 'add').
export const gradGatherElements: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null, null];
  const { g } = ctx;
  const x = ctx.input(0);
  const axis = normAxes([ctx.int('axis', 0)], x.shape.length, 'GatherElements')[0];
  let idx = g.cast(ctx.input(1), 'int64');
  const known = ctx.constant(1);
  if (!known || known.some((v) => v < 0)) {
    idx = wrapNegative(g, idx, x, axis);
  }
  const updates = upcast(g, ctx.dy);
  const summed = g.op('ScatterElements', [zerosLike(g, x, updates.dtype), idx, updates], {
    axis: attr.int(axis),
    reduction: attr.string('add'),
  });
  return [g.cast(summed, x.dtype), null];
};
