// Shape inference for data-movement ops: reshapes, slicing, gathers/scatters, padding, shape ops.
import { type DType } from './dtype.js';
import type { Dim, Shape, ValueInfo } from './ir.js';
import {
  broadcastShapes,
  constInput,
  dimProduct,
  input,
  intAttr,
  intsAttr,
  normAxis,
  sameDType,
  shapeInput,
  type InferContext,
  type InferFn,
} from './infer-util.js';

/** Numeric product and the multiset of symbolic names of some dims. */
function factor(dims: Shape): { num: number; syms: string[] } {
  let num = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') num *= d;
    else syms.push(d);
  }
  return { num, syms: syms.sort() };
}

/** Removes `sub` from `from` (multisets); undefined if `sub` is not contained. */
function minusSyms(from: readonly string[], sub: readonly string[]): string[] | undefined {
  const rest = [...from];
  for (const s of sub) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return rest;
}

const reshape: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const target = shapeInput(ctx, 1);
  if (!target) {
    const s = input(ctx, 1).shape[0];
    if (typeof s !== 'number')
      throw new Error('Reshape: the rank of a run-time shape input must be static');
    return [{ dtype: x.dtype, shape: Array.from({ length: s }, () => ctx.fresh()) }];
  }
  const bad = () =>
    new Error(`Reshape: cannot reshape [${x.shape.join(', ')}] to [${target.join(', ')}]`);
  const allowZero = intAttr(ctx, 'allowzero', 0) === 1;
  const nums = target.filter((d): d is number => typeof d === 'number');
  if (nums.some((d) => d < -1) || nums.filter((d) => d === -1).length > 1) throw bad();
  const shape: Dim[] = target.map((d, i) => {
    if (d !== 0 || allowZero) return d;
    if (i >= x.shape.length) throw bad();
    return x.shape[i];
  });
  const total = factor(x.shape);
  const minus = shape.indexOf(-1);
  // Symbolic dims that appear on both sides cancel, so [b, 77, 768] → [0, -1, 64] still resolves.
  const known = factor(shape.filter((_, i) => i !== minus));
  const rest = minusSyms(total.syms, known.syms);
  if (minus >= 0) {
    if (rest && rest.length === 0) {
      if (known.num === 0 || total.num % known.num !== 0) throw bad();
      shape[minus] = total.num / known.num;
    } else if (rest && rest.length === 1 && known.num === total.num) shape[minus] = rest[0];
    else shape[minus] = ctx.fresh();
  } else if (rest && rest.length === 0 && known.num !== total.num) {
    throw bad();
  }
  return [{ dtype: x.dtype, shape }];
};

const transpose: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  const perm = intsAttr(ctx, 'perm') ?? x.shape.map((_, i) => rank - 1 - i);
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== rank || sorted.some((p, i) => p !== i)) {
    throw new Error(`Transpose: perm [${perm.join(', ')}] is not a permutation of 0..${rank - 1}`);
  }
  return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
};

const flatten: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  const raw = intAttr(ctx, 'axis', 1);
  const axis = raw < 0 ? raw + rank : raw; // axis may equal rank (everything in the first dim)
  if (axis < 0 || axis > rank)
    throw new Error(`Flatten: axis ${raw} out of range for rank ${rank}`);
  return [
    {
      dtype: x.dtype,
      shape: [dimProduct(ctx, x.shape.slice(0, axis)), dimProduct(ctx, x.shape.slice(axis))],
    },
  ];
};

const squeeze: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axes = constInput(ctx, 1, 'axes');
  if (ctx.inputs[1] && !axes) throw new Error('Squeeze: axes (input 1) must be a small constant');
  const set = new Set(
    axes
      ? axes.map((a) => normAxis(a, x.shape.length, 'Squeeze'))
      : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])),
  );
  for (const a of set) {
    const d = x.shape[a];
    if (typeof d === 'number' && d !== 1)
      throw new Error(`Squeeze: axis ${a} has size ${d}, not 1`);
  }
  return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !set.has(i)) }];
};

const unsqueeze: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axes = constInput(ctx, 1, 'axes', true);
  const rank = x.shape.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, rank, 'Unsqueeze')));
  if (set.size !== axes.length) throw new Error(`Unsqueeze: repeated axes [${axes.join(', ')}]`);
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : x.shape[j++]);
  return [{ dtype: x.dtype, shape }];
};

const concat: InferFn = (ctx) => {
  const xs = ctx.inputs.filter((v): v is ValueInfo => !!v);
  const dtype = sameDType(ctx, xs);
  const rank = xs[0].shape.length;
  const axis = normAxis(intAttr(ctx, 'axis'), rank, 'Concat');
  const shape: Dim[] = [...xs[0].shape];
  let total: Dim = 0;
  for (const v of xs) {
    const mismatch =
      v.shape.length !== rank ||
      v.shape.some(
        (d, i) =>
          i !== axis && typeof d === 'number' && typeof shape[i] === 'number' && d !== shape[i],
      );
    if (mismatch) {
      throw new Error(
        `Concat: shapes ${xs.map((u) => `[${u.shape.join(', ')}]`).join(' ')} differ off axis ${axis}`,
      );
    }
    const d = v.shape[axis];
    total = typeof total === 'number' && typeof d === 'number' ? total + d : ctx.fresh();
  }
  shape[axis] = total;
  return [{ dtype, shape }];
};

const split: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axis = normAxis(intAttr(ctx, 'axis', 0), x.shape.length, 'Split');
  const d = x.shape[axis];
  let sizes: Dim[] | undefined = constInput(ctx, 1, 'split');
  if (ctx.inputs[1] && !sizes)
    throw new Error('Split: split sizes (input 1) must be a small constant');
  if (!sizes) {
    const n = intAttr(ctx, 'num_outputs', ctx.nOutputs);
    if (n !== ctx.nOutputs)
      throw new Error(`Split: num_outputs ${n} but the node has ${ctx.nOutputs} outputs`);
    if (typeof d !== 'number') sizes = Array.from({ length: n }, () => ctx.fresh());
    else {
      // Opset 18: chunks of ceil(d / n); the last one takes what is left.
      const chunk = Math.ceil(d / n);
      sizes = Array.from({ length: n }, (_, i) => (i < n - 1 ? chunk : d - chunk * (n - 1)));
      if ((sizes[n - 1] as number) < 0)
        throw new Error(`Split: ${d} elements do not make ${n} chunks`);
    }
  } else if (typeof d === 'number' && (sizes as number[]).reduce((p, s) => p + s, 0) !== d) {
    throw new Error(`Split: sizes [${sizes.join(', ')}] do not add up to dimension ${d}`);
  }
  if (sizes.length !== ctx.nOutputs)
    throw new Error(`Split: ${sizes.length} sizes for ${ctx.nOutputs} outputs`);
  return sizes.map((s) => {
    const shape: Dim[] = [...x.shape];
    shape[axis] = s;
    return { dtype: x.dtype, shape };
  });
};

/** Number of elements a Slice keeps along one dim of size d (ONNX clamping rules). */
export function sliceLength(d: number, start: number, end: number, step: number): number {
  if (step === 0) throw new Error('Slice: steps must not be 0');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const s = start < 0 ? start + d : start;
  const e = end < 0 ? end + d : end;
  if (step > 0) return Math.max(0, Math.ceil((clamp(e, 0, d) - clamp(s, 0, d)) / step));
  return Math.max(0, Math.ceil((clamp(s, 0, d - 1) - clamp(e, -1, d - 1)) / -step));
}

const slice: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const starts = constInput(ctx, 1, 'starts', true);
  const ends = constInput(ctx, 2, 'ends', true);
  const axes = constInput(ctx, 3, 'axes') ?? starts.map((_, i) => i);
  const steps = constInput(ctx, 4, 'steps') ?? starts.map(() => 1);
  if (
    ends.length !== starts.length ||
    axes.length !== starts.length ||
    steps.length !== starts.length
  ) {
    throw new Error(
      `Slice: starts, ends, axes and steps need equal lengths, got ${starts.length}, ${ends.length}, ${axes.length}, ${steps.length}`,
    );
  }
  const shape: Dim[] = [...x.shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, x.shape.length, 'Slice');
    const d = x.shape[a];
    shape[a] = typeof d === 'number' ? sliceLength(d, starts[i], ends[i], steps[i]) : ctx.fresh();
  });
  return [{ dtype: x.dtype, shape }];
};

function checkIndices(ctx: InferContext, idx: ValueInfo): void {
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') {
    throw new Error(`${ctx.opType}: indices must be int64 or int32, got ${idx.dtype}`);
  }
}

const gather: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const idx = input(ctx, 1);
  checkIndices(ctx, idx);
  const axis = normAxis(intAttr(ctx, 'axis', 0), x.shape.length, 'Gather');
  return [
    {
      dtype: x.dtype,
      shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)],
    },
  ];
};

const gatherElements: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const idx = input(ctx, 1);
  checkIndices(ctx, idx);
  normAxis(intAttr(ctx, 'axis', 0), x.shape.length, ctx.opType);
  if (idx.shape.length !== x.shape.length)
    throw new Error(`${ctx.opType}: indices rank must equal data rank`);
  return [{ dtype: x.dtype, shape: [...idx.shape] }];
};

const gatherND: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const idx = input(ctx, 1);
  checkIndices(ctx, idx);
  const b = intAttr(ctx, 'batch_dims', 0);
  const k = idx.shape[idx.shape.length - 1];
  if (typeof k !== 'number') throw new Error('GatherND: the last indices dim must be static');
  return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(b + k)] }];
};

const scatter: InferFn = (ctx) => {
  const x = input(ctx, 0);
  checkIndices(ctx, input(ctx, 1));
  sameDType(ctx, [x, input(ctx, 2)]);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
};

/** Ops whose int shape/repeats input may be run-time data: known rank, fresh dims. */
function runtimeShape(ctx: InferContext, i: number): Dim[] {
  const n = input(ctx, i).shape[0];
  if (typeof n !== 'number')
    throw new Error(`${ctx.opType}: the length of input ${i} must be static`);
  return Array.from({ length: n }, () => ctx.fresh());
}

const expand: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const target = shapeInput(ctx, 1) ?? runtimeShape(ctx, 1);
  return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, target, 'Expand') }];
};

const tile: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const reps = ctx.constant(1);
  if (!reps) return [{ dtype: x.dtype, shape: x.shape.map(() => ctx.fresh()) }];
  if (reps.length !== x.shape.length)
    throw new Error(`Tile: ${reps.length} repeats for rank ${x.shape.length}`);
  return [
    {
      dtype: x.dtype,
      shape: x.shape.map((d, i) =>
        reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i] : ctx.fresh(),
      ),
    },
  ];
};

const pad: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const pads = constInput(ctx, 1, 'pads', true);
  const axes = (constInput(ctx, 3, 'axes') ?? x.shape.map((_, i) => i)).map((a) =>
    normAxis(a, x.shape.length, 'Pad'),
  );
  if (pads.length !== axes.length * 2)
    throw new Error(`Pad: ${pads.length} pads for ${axes.length} axes (need 2 per axis)`);
  const shape: Dim[] = [...x.shape];
  axes.forEach((a, i) => {
    const d = shape[a];
    const p = pads[i] + pads[i + axes.length];
    shape[a] = p === 0 ? d : typeof d === 'number' ? d + p : ctx.fresh();
  });
  return [{ dtype: x.dtype, shape }];
};

const shapeOp: InferFn = (ctx) => {
  const r = input(ctx, 0).shape.length;
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = norm(intAttr(ctx, 'start', 0));
  const end = norm(intAttr(ctx, 'end', r));
  return [{ dtype: 'int64', shape: [Math.max(0, end - start)] }];
};

function valueDType(ctx: InferContext): DType {
  const v = ctx.attrs.value;
  if (v === undefined) return 'float32';
  if (v.type !== 'tensor')
    throw new Error(`${ctx.opType}: attribute 'value' must be a tensor, got ${v.type}`);
  return v.value.dtype;
}

const constantOfShape: InferFn = (ctx) => [
  { dtype: valueDType(ctx), shape: shapeInput(ctx, 0) ?? runtimeShape(ctx, 0) },
];

const constantOp: InferFn = (ctx) => {
  const a = Object.entries(ctx.attrs);
  if (a.length !== 1)
    throw new Error(
      `Constant: needs exactly one value attribute, got ${a.map(([k]) => k).join(', ') || 'none'}`,
    );
  const [name, v] = a[0];
  if (v.type === 'tensor') return [{ dtype: v.value.dtype, shape: [...v.value.shape] }];
  if (name === 'value_float') return [{ dtype: 'float32', shape: [] }];
  if (name === 'value_int') return [{ dtype: 'int64', shape: [] }];
  if (name === 'value_floats' && v.type === 'floats')
    return [{ dtype: 'float32', shape: [v.value.length] }];
  if (name === 'value_ints' && v.type === 'ints')
    return [{ dtype: 'int64', shape: [v.value.length] }];
  throw new Error(
    `Constant: attribute '${name}' is not supported; valid: value, value_float(s), value_int(s)`,
  );
};

const RANGE_DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'int64'];
const range: InferFn = (ctx) => {
  const dtype = sameDType(ctx, ctx.inputs);
  if (!RANGE_DTYPES.includes(dtype))
    throw new Error(`Range: dtype ${dtype} is not valid; valid: ${RANGE_DTYPES.join(', ')}`);
  const [start, limit, delta] = [ctx.constant(0), ctx.constant(1), ctx.constant(2)];
  if (!start || !limit || !delta) return [{ dtype, shape: [ctx.fresh()] }];
  if (delta[0] === 0) throw new Error('Range: delta must not be 0');
  return [{ dtype, shape: [Math.max(0, Math.ceil((limit[0] - start[0]) / delta[0]))] }];
};

const argReduce: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axis = normAxis(intAttr(ctx, 'axis', 0), x.shape.length, ctx.opType);
  const keep = intAttr(ctx, 'keepdims', 1) === 1;
  const shape = x.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : []));
  return [{ dtype: 'int64', shape }];
};

export const SHAPE_INFER: Readonly<Record<string, InferFn>> = {
  Reshape: reshape,
  Transpose: transpose,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  ScatterElements: scatter,
  ScatterND: scatter,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Shape: shapeOp,
  Size: () => [{ dtype: 'int64', shape: [] }],
  ConstantOfShape: constantOfShape,
  Constant: constantOp,
  Range: range,
  ArgMax: argReduce,
  ArgMin: argReduce,
};
