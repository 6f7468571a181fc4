// Small emission helpers shared by the gradient rules. Every helper emits standard ONNX ops
// only (domain ''), so a backward pass runs on every execution provider.
import type { GraphBuilder, Value } from '../builder.js';
import type { DType } from '../dtype.js';
import { attr, isStaticShape, type Dim, type Shape } from '../ir.js';
import { tensorData } from '../tensor-data.js';

export const add = (g: GraphBuilder, a: Value, b: Value): Value => g.op('Add', [a, b]);
export const sub = (g: GraphBuilder, a: Value, b: Value): Value => g.op('Sub', [a, b]);
export const mul = (g: GraphBuilder, a: Value, b: Value): Value => g.op('Mul', [a, b]);
export const div = (g: GraphBuilder, a: Value, b: Value): Value => g.op('Div', [a, b]);
export const neg = (g: GraphBuilder, a: Value): Value => g.op('Neg', [a]);

/** A rank-0 constant in the dtype of the tensor it will meet (ONNX never mixes dtypes). */
export function scalar(g: GraphBuilder, value: number, dtype: DType): Value {
  return g.constant(value, dtype, []);
}

/** `x * value` with the scalar in x's dtype; multiplying by 1 emits nothing. */
export function scale(g: GraphBuilder, x: Value, value: number): Value {
  return value === 1 ? x : mul(g, x, scalar(g, value, x.dtype));
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function reduceSum(
  g: GraphBuilder,
  x: Value,
  axes: readonly number[],
  keepdims: boolean,
): Value {
  if (axes.length === 0) return x;
  return g.op('ReduceSum', [x, g.ints([...axes])], { keepdims: attr.int(keepdims ? 1 : 0) });
}

export function reduceMean(
  g: GraphBuilder,
  x: Value,
  axes: readonly number[],
  keepdims: boolean,
): Value {
  if (axes.length === 0) return x;
  return g.op('ReduceMean', [x, g.ints([...axes])], { keepdims: attr.int(keepdims ? 1 : 0) });
}

export function unsqueeze(g: GraphBuilder, x: Value, axes: readonly number[]): Value {
  return axes.length ? g.op('Unsqueeze', [x, g.ints([...axes])]) : x;
}

export function squeeze(g: GraphBuilder, x: Value, axes: readonly number[]): Value {
  return axes.length ? g.op('Squeeze', [x, g.ints([...axes])]) : x;
}

export function transpose(g: GraphBuilder, x: Value, perm: readonly number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  return g.op('Transpose', [x], { perm: attr.ints(perm) });
}

/** Swap the last two axes (the matrix transpose of a batched matrix). */
export function transposeLast2(g: GraphBuilder, x: Value): Value {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(g, x, perm);
}

export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * A Reshape target for `shape` given the tensor `x` being reshaped: numbers stay, a symbol at
 * the same position in x becomes 0 (copy), one other symbol may become -1; beyond that the
 * target must come from the graph at run time (undefined).
 */
function reshapeTarget(x: Shape, shape: Shape): number[] | undefined {
  let minus = false;
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d === 'number') out.push(d);
    else if (x[i] === d) out.push(0);
    else if (!minus) {
      minus = true;
      out.push(-1);
    } else return undefined;
  }
  // A literal 0 dim would be read as "copy"; such tensors are empty and never need this.
  return out;
}

/** Reshape `x` to `shape`; `like` (a value of that shape) supplies a run-time shape if needed. */
export function reshapeTo(g: GraphBuilder, x: Value, shape: Shape, like?: Value): Value {
  if (sameShape(x.shape, shape)) return x;
  const target = reshapeTarget(x.shape, shape);
  if (target) return g.op('Reshape', [x, g.ints(target)]);
  if (!like)
    throw new Error(
      `cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}] without a run-time shape`,
    );
  return g.op('Reshape', [x, g.op('Shape', [like])]);
}

/** The shape of `like` as an int64 tensor: a constant when static, else a Shape node. */
export function shapeOf(g: GraphBuilder, like: Value): Value {
  return isStaticShape(like.shape) ? g.ints(like.shape) : g.op('Shape', [like]);
}

/** Broadcast `x` up to the shape of `like` (x's dims are 1 or equal). */
export function expandLike(g: GraphBuilder, x: Value, like: Value): Value {
  if (sameShape(x.shape, like.shape)) return x;
  return g.op('Expand', [x, shapeOf(g, like)]);
}

/** A tensor of zeros shaped like `like`, in `dtype` (default like's dtype). */
export function zerosLike(g: GraphBuilder, like: Value, dtype: DType = like.dtype): Value {
  return g.op('ConstantOfShape', [shapeOf(g, like)], {
    value: attr.tensor(tensorData(dtype, [1], [0])),
  });
}

/** Static size of the dims, or undefined when any is symbolic. */
export function staticProduct(dims: readonly Dim[]): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return undefined;
    p *= d;
  }
  return p;
}

/** Normalise possibly negative axes against a rank. */
export function normAxes(axes: readonly number[], rank: number, op: string): number[] {
  return axes.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank) throw new Error(`${op}: axis ${a} out of range for rank ${rank}`);
    return n;
  });
}

/** x in float32 when it is a 16-bit float: normalisation statistics lose too much in fp16. */
export function upcast(g: GraphBuilder, x: Value): Value {
  return x.dtype === 'float16' || x.dtype === 'bfloat16' ? g.cast(x, 'float32') : x;
}
