// Shape and dtype inference, one function per ONNX op type. The builder calls these as nodes
// are added, so rules (autodiff, FLOP counting) can reason about shapes at build time.
import { dtypeFromOnnxCode as dtypeOfCode, type DType } from './dtype.js';
import type { Attributes, Dim, Shape, ValueInfo } from './ir.js';

export interface InferContext {
  readonly opType: string;
  readonly inputs: readonly (ValueInfo | undefined)[];
  readonly attrs: Attributes;
  readonly nOutputs: number;
  /** Values of a constant (initializer with inline data) input, or undefined if not constant. */
  constant(index: number): number[] | undefined;
  /** A fresh symbolic dimension for sizes only known at run time. */
  fresh(): string;
}

export interface InferredOutput {
  dtype: DType;
  shape: Dim[];
}

export type InferFn = (ctx: InferContext) => InferredOutput[];

// ---------- attribute and input helpers ----------

export function intAttr(ctx: InferContext, name: string, fallback?: number): number {
  const a = ctx.attrs[name];
  if (a === undefined) {
    if (fallback === undefined) throw new Error(`${ctx.opType}: missing attribute '${name}'`);
    return fallback;
  }
  if (a.type !== 'int') throw new Error(`${ctx.opType}: attribute '${name}' must be int, got ${a.type}`);
  return a.value;
}

export function intsAttr(ctx: InferContext, name: string): readonly number[] | undefined {
  const a = ctx.attrs[name];
  if (a === undefined) return undefined;
  if (a.type !== 'ints') throw new Error(`${ctx.opType}: attribute '${name}' must be ints, got ${a.type}`);
  return a.value;
}

export function input(ctx: InferContext, i: number): ValueInfo {
  const v = ctx.inputs[i];
  if (!v) throw new Error(`${ctx.opType}: input ${i} is required`);
  return v;
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcasting of two shapes; symbolic dims are kept when they must match. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === 1) out.push(db);
    else if (db === 1 || da === db) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new Error(`${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    } else out.push(typeof da === 'number' ? da : db);
  }
  return out;
}

function same(ctx: InferContext): InferredOutput[] {
  const x = input(ctx, 0);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
}

function broadcastAll(ctx: InferContext, dtype?: DType): InferredOutput[] {
  const present = ctx.inputs.filter((v): v is ValueInfo => !!v);
  let shape: Dim[] = [...present[0].shape];
  for (const v of present.slice(1)) shape = broadcastShapes(shape, v.shape, ctx.opType);
  return [{ dtype: dtype ?? present[0].dtype, shape }];
}

function reduce(ctx: InferContext, axes: readonly number[] | undefined): InferredOutput[] {
  const x = input(ctx, 0);
  const keep = intAttr(ctx, 'keepdims', 1) === 1;
  const noopEmpty = intAttr(ctx, 'noop_with_empty_axes', 0) === 1;
  const rank = x.shape.length;
  const all = axes === undefined || axes.length === 0;
  if (all && noopEmpty) return same(ctx);
  const set = new Set(all ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, rank, ctx.opType)));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!set.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

// Opset ≥ 18 reductions take axes as an optional second input.
const reduceWithAxesInput: InferFn = (ctx) => {
  if (ctx.inputs[1] && !ctx.constant(1)) {
    throw new Error(`${ctx.opType}: axes must be a constant so shapes can be inferred`);
  }
  return reduce(ctx, ctx.constant(1));
};

function convOutDim(
  d: Dim,
  k: number,
  stride: number,
  padBegin: number,
  padEnd: number,
  dilation: number,
  ctx: InferContext,
): Dim {
  if (typeof d !== 'number') return ctx.fresh();
  return Math.floor((d + padBegin + padEnd - dilation * (k - 1) - 1) / stride) + 1;
}

const conv: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1);
  const spatial = x.shape.length - 2;
  const kernel = intsAttr(ctx, 'kernel_shape') ?? w.shape.slice(2).map(Number);
  const strides = intsAttr(ctx, 'strides') ?? new Array(spatial).fill(1);
  const dil = intsAttr(ctx, 'dilations') ?? new Array(spatial).fill(1);
  const pads = intsAttr(ctx, 'pads') ?? new Array(spatial * 2).fill(0);
  const shape: Dim[] = [x.shape[0], w.shape[0]];
  for (let i = 0; i < spatial; i++) {
    shape.push(convOutDim(x.shape[2 + i], kernel[i], strides[i], pads[i], pads[i + spatial], dil[i], ctx));
  }
  return [{ dtype: x.dtype, shape }];
};

const convTranspose: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1);
  const group = intAttr(ctx, 'group', 1);
  const spatial = x.shape.length - 2;
  const kernel = intsAttr(ctx, 'kernel_shape') ?? w.shape.slice(2).map(Number);
  const strides = intsAttr(ctx, 'strides') ?? new Array(spatial).fill(1);
  const dil = intsAttr(ctx, 'dilations') ?? new Array(spatial).fill(1);
  const pads = intsAttr(ctx, 'pads') ?? new Array(spatial * 2).fill(0);
  const outPad = intsAttr(ctx, 'output_padding') ?? new Array(spatial).fill(0);
  const cout = typeof w.shape[1] === 'number' ? w.shape[1] * group : w.shape[1];
  const shape: Dim[] = [x.shape[0], cout];
  for (let i = 0; i < spatial; i++) {
    const d = x.shape[2 + i];
    shape.push(
      typeof d === 'number'
        ? strides[i] * (d - 1) + outPad[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + spatial]
        : ctx.fresh(),
    );
  }
  return [{ dtype: x.dtype, shape }];
};

const matmul: InferFn = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const k1 = as[as.length - 1];
  const k2 = bs[bs.length - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new Error(`MatMul: inner dimensions differ: [${a.shape.join(', ')}] × [${b.shape.join(', ')}]`);
  }
  const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2), 'MatMul');
  const shape: Dim[] = [...batch];
  if (a.shape.length !== 1) shape.push(as[as.length - 2]);
  if (b.shape.length !== 1) shape.push(bs[bs.length - 1]);
  return [{ dtype: a.dtype, shape }];
};

const gemm: InferFn = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  const m = intAttr(ctx, 'transA', 0) ? a.shape[1] : a.shape[0];
  const n = intAttr(ctx, 'transB', 0) ? b.shape[0] : b.shape[1];
  return [{ dtype: a.dtype, shape: [m, n] }];
};

const reshape: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const target = ctx.constant(1);
  if (!target) {
    const s = ctx.inputs[1]?.shape[0];
    const rank = typeof s === 'number' ? s : 0;
    return [{ dtype: x.dtype, shape: Array.from({ length: rank }, () => ctx.fresh()) }];
  }
  const allowZero = intAttr(ctx, 'allowzero', 0) === 1;
  const shape: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
  const minus = shape.indexOf(-1);
  if (minus >= 0) {
    const known = shape.filter((_, i) => i !== minus);
    if (x.shape.every((d) => typeof d === 'number') && known.every((d) => typeof d === 'number')) {
      const total = (x.shape as number[]).reduce((p, d) => p * d, 1);
      const rest = (known as number[]).reduce((p, d) => p * d, 1);
      if (total % rest !== 0) {
        throw new Error(`Reshape: cannot reshape [${x.shape.join(', ')}] to [${target.join(', ')}]`);
      }
      shape[minus] = total / rest;
    } else shape[minus] = ctx.fresh();
  } else if (x.shape.every((d) => typeof d === 'number') && shape.every((d) => typeof d === 'number')) {
    const a = (x.shape as number[]).reduce((p, d) => p * d, 1);
    const b = (shape as number[]).reduce((p, d) => p * d, 1);
    if (a !== b) throw new Error(`Reshape: cannot reshape [${x.shape.join(', ')}] to [${target.join(', ')}]`);
  }
  return [{ dtype: x.dtype, shape }];
};

const transpose: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const perm = intsAttr(ctx, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  if (perm.length !== x.shape.length) {
    throw new Error(`Transpose: perm [${perm.join(', ')}] does not match rank ${x.shape.length}`);
  }
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
};

const concat: InferFn = (ctx) => {
  const xs = ctx.inputs.filter((v): v is ValueInfo => !!v);
  const rank = xs[0].shape.length;
  const axis = normAxis(intAttr(ctx, 'axis'), rank, 'Concat');
  const shape: Dim[] = [...xs[0].shape];
  let total: Dim = 0;
  for (const v of xs) {
    const d = v.shape[axis];
    total = typeof total === 'number' && typeof d === 'number' ? total + d : ctx.fresh();
  }
  shape[axis] = total;
  return [{ dtype: xs[0].dtype, shape }];
};

const split: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axis = normAxis(intAttr(ctx, 'axis', 0), x.shape.length, 'Split');
  let sizes = ctx.constant(1);
  const d = x.shape[axis];
  if (!sizes) {
    if (typeof d !== 'number' || d % ctx.nOutputs !== 0) {
      throw new Error(`Split: dimension ${String(d)} does not split evenly into ${ctx.nOutputs}`);
    }
    sizes = new Array(ctx.nOutputs).fill(d / ctx.nOutputs);
  }
  if (sizes.length !== ctx.nOutputs) {
    throw new Error(`Split: ${sizes.length} sizes for ${ctx.nOutputs} outputs`);
  }
  return sizes.map((s) => {
    const shape: Dim[] = [...x.shape];
    shape[axis] = s;
    return { dtype: x.dtype, shape };
  });
};

const slice: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const starts = ctx.constant(1);
  const ends = ctx.constant(2);
  if (!starts || !ends) throw new Error('Slice: starts and ends must be constants');
  const axes = ctx.constant(3) ?? starts.map((_, i) => i);
  const steps = ctx.constant(4) ?? starts.map(() => 1);
  const shape: Dim[] = [...x.shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, x.shape.length, 'Slice');
    const d = x.shape[a];
    if (typeof d !== 'number') {
      shape[a] = ctx.fresh();
      return;
    }
    const step = steps[i];
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[i] < 0 ? starts[i] + d : starts[i];
    let e = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      shape[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = clamp(s, -1, d - 1);
      e = clamp(e, -1, d - 1);
      shape[a] = Math.max(0, Math.ceil((s - e) / -step));
    }
  });
  return [{ dtype: x.dtype, shape }];
};

const squeeze: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axes = ctx.constant(1);
  const set = new Set(
    axes
      ? axes.map((a) => normAxis(a, x.shape.length, 'Squeeze'))
      : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])),
  );
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !set.has(i)) }];
};

const unsqueeze: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axes = ctx.constant(1);
  if (!axes) throw new Error('Unsqueeze: axes must be a constant');
  const rank = x.shape.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, rank, 'Unsqueeze')));
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : x.shape[j++]);
  return [{ dtype: x.dtype, shape }];
};

const gather: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const idx = input(ctx, 1);
  const axis = normAxis(intAttr(ctx, 'axis', 0), x.shape.length, 'Gather');
  return [
    { dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] },
  ];
};

const expand: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const target = ctx.constant(1);
  if (!target) throw new Error('Expand: shape must be a constant');
  return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, target, 'Expand') }];
};

const resize: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const scales = ctx.constant(2);
  const sizes = ctx.constant(3);
  if (sizes) return [{ dtype: x.dtype, shape: sizes }];
  if (!scales) throw new Error('Resize: scales or sizes must be a constant');
  return [
    {
      dtype: x.dtype,
      shape: x.shape.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales[i]) : ctx.fresh())),
    },
  ];
};

const cast: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const to = intAttr(ctx, 'to');
  return [{ dtype: dtypeOfCode(to), shape: [...x.shape] }];
};

const shapeOp: InferFn = (ctx) => [{ dtype: 'int64', shape: [input(ctx, 0).shape.length] }];

const constantOfShape: InferFn = (ctx) => {
  const shape = ctx.constant(0);
  if (!shape) throw new Error('ConstantOfShape: shape must be a constant');
  const v = ctx.attrs.value;
  const dtype = v && v.type === 'tensor' ? v.value.dtype : 'float32';
  return [{ dtype, shape }];
};

const where: InferFn = (ctx) => {
  const [c, a, b] = [input(ctx, 0), input(ctx, 1), input(ctx, 2)];
  return [{ dtype: a.dtype, shape: broadcastShapes(broadcastShapes(c.shape, a.shape), b.shape, 'Where') }];
};

const flatten: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axis = normAxis(intAttr(ctx, 'axis', 1), x.shape.length + 1, 'Flatten');
  const prod = (ds: Shape): Dim =>
    ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, d) => p * d, 1) : ctx.fresh();
  return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))] }];
};

const tile: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const reps = ctx.constant(1);
  if (!reps) throw new Error('Tile: repeats must be a constant');
  return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i] : ctx.fresh())) }];
};

const pad: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const pads = ctx.constant(1);
  if (!pads) throw new Error('Pad: pads must be a constant');
  const axes = ctx.constant(3) ?? x.shape.map((_, i) => i);
  const shape: Dim[] = [...x.shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, x.shape.length, 'Pad');
    const d = shape[a];
    shape[a] = typeof d === 'number' ? d + pads[i] + pads[i + axes.length] : ctx.fresh();
  });
  return [{ dtype: x.dtype, shape }];
};

const layerNorm: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const outs: InferredOutput[] = [{ dtype: x.dtype, shape: [...x.shape] }];
  const axis = normAxis(intAttr(ctx, 'axis', -1), x.shape.length, 'LayerNormalization');
  const stat: Dim[] = x.shape.map((d, i) => (i < axis ? d : 1));
  for (let i = 1; i < ctx.nOutputs; i++) outs.push({ dtype: 'float32', shape: stat });
  return outs;
};

const comparison: InferFn = (ctx) => broadcastAll(ctx, 'bool');
const unaryBool: InferFn = (ctx) => [{ dtype: 'bool', shape: [...input(ctx, 0).shape] }];

export const INFER: Readonly<Record<string, InferFn>> = Object.freeze({
  // elementwise
  Add: broadcastAll,
  Sub: broadcastAll,
  Mul: broadcastAll,
  Div: broadcastAll,
  Pow: (ctx) => broadcastAll(ctx, input(ctx, 0).dtype),
  Max: broadcastAll,
  Min: broadcastAll,
  Sum: broadcastAll,
  Mean: broadcastAll,
  Equal: comparison,
  Less: comparison,
  LessOrEqual: comparison,
  Greater: comparison,
  GreaterOrEqual: comparison,
  And: comparison,
  Or: comparison,
  Not: same,
  IsNaN: unaryBool,
  IsInf: unaryBool,
  Where: where,
  Neg: same,
  Abs: same,
  Sign: same,
  Exp: same,
  Log: same,
  Sqrt: same,
  Reciprocal: same,
  Sigmoid: same,
  Tanh: same,
  Relu: same,
  LeakyRelu: same,
  Softplus: same,
  Sin: same,
  Cos: same,
  Erf: same,
  Gelu: same,
  Floor: same,
  Ceil: same,
  Round: same,
  Identity: same,
  Clip: same,
  Dropout: (ctx) => same(ctx),
  Cast: cast,
  CastLike: (ctx) => [{ dtype: input(ctx, 1).dtype, shape: [...input(ctx, 0).shape] }],
  // linear algebra and convolutions
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
  ConvTranspose: convTranspose,
  // normalisation and activations over axes
  GroupNormalization: same,
  InstanceNormalization: same,
  LayerNormalization: layerNorm,
  Softmax: same,
  LogSoftmax: same,
  // reductions
  ReduceSum: reduceWithAxesInput,
  ReduceMean: reduceWithAxesInput,
  ReduceMax: reduceWithAxesInput,
  ReduceMin: reduceWithAxesInput,
  ReduceProd: reduceWithAxesInput,
  ReduceSumSquare: reduceWithAxesInput,
  ReduceL2: reduceWithAxesInput,
  // shape manipulation
  Reshape: reshape,
  Transpose: transpose,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Resize: resize,
  Shape: shapeOp,
  ConstantOfShape: constantOfShape,
  Trilu: same,
});

export function inferOp(ctx: InferContext): InferredOutput[] {
  const fn = INFER[ctx.opType];
  if (!fn) {
    throw new Error(
      `no shape inference for op '${ctx.opType}'; known ops: ${Object.keys(INFER).sort().join(', ')}`,
    );
  }
  return fn(ctx);
}
