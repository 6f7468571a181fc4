// Gradient rules for reductions (axes as input, opset ≥ 18) and softmax-like ops.
import type { Value } from '../builder.js';
import { attr } from '../ir.js';
import type { GradContext, GradRule } from './context.js';
import {
  div,
  expandLike,
  mul,
  normAxes,
  reduceSum,
  scalar,
  scale,
  staticProduct,
  sub,
  unsqueeze,
} from './emit.js';

interface Reduction {
  /** Normalised, sorted axes that were reduced ([] means nothing was: a no-op). */
  axes: number[];
  /** Re-insert the reduced axes of an output-shaped value so it broadcasts against x. */
  keep(v: Value): Value;
}

function reduction(ctx: GradContext): Reduction {
  const x = ctx.input(0);
  const rank = x.shape.length;
  let axes = ctx.inputs[1] ? ctx.requireConstant(1, 'axes') : [];
  if (axes.length === 0) axes = ctx.int('noop_with_empty_axes', 0) ? [] : x.shape.map((_, i) => i);
  const sorted = [...new Set(normAxes(axes, rank, ctx.opType))].sort((a, b) => a - b);
  const keepdims = ctx.int('keepdims', 1) === 1;
  return { axes: sorted, keep: (v) => (keepdims ? v : unsqueeze(ctx.g, v, sorted)) };
}

export const gradReduceSum: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { keep } = reduction(ctx);
  return [expandLike(ctx.g, keep(ctx.dy), ctx.input(0))];
};

export const gradReduceMean: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { g } = ctx;
  const x = ctx.input(0);
  const { axes, keep } = reduction(ctx);
  const n = staticProduct(axes.map((a) => x.shape[a]));
  let share: Value;
  if (n !== undefined) share = scale(g, keep(ctx.dy), 1 / n);
  else {
    // symbolic dims: count the reduced elements at run time
    const dims = g.op('Gather', [g.op('Shape', [x]), g.ints(axes)]);
    const count = g.cast(g.op('ReduceProd', [dims], { keepdims: attr.int(0) }), x.dtype);
    share = div(g, keep(ctx.dy), count);
  }
  return [expandLike(g, share, x)];
};

// ReduceMax/ReduceMin: ties share the gradient equally (like PyTorch's amax/amin).
export const gradReduceMaxMin: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { g } = ctx;
  const x = ctx.input(0);
  const { axes, keep } = reduction(ctx);
  const mask = g.op('Equal', [x, keep(ctx.y)]);
  const count = reduceSum(g, g.cast(mask, x.dtype), axes, true);
  return [g.op('Where', [mask, div(g, keep(ctx.dy), count), scalar(g, 0, x.dtype)])];
};

export const gradReduceSumSquare: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const x = ctx.input(0);
  return [mul(ctx.g, scale(ctx.g, x, 2), reduction(ctx).keep(ctx.dy))];
};

export const gradReduceL2: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { keep } = reduction(ctx);
  return [mul(ctx.g, ctx.input(0), div(ctx.g, keep(ctx.dy), keep(ctx.y)))];
};

export const gradReduceLogSumExp: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { keep } = reduction(ctx);
  const p = ctx.g.op('Exp', [sub(ctx.g, ctx.input(0), keep(ctx.y))]);
  return [mul(ctx.g, p, keep(ctx.dy))];
};

function softmaxAxis(ctx: GradContext): number {
  if (ctx.g.opset < 13)
    throw ctx.error(`opset ${ctx.g.opset} coerces to 2-D; only opset ≥ 13 semantics are handled`);
  return normAxes([ctx.int('axis', -1)], ctx.input(0).shape.length, ctx.opType)[0];
}

// Hand rule: dx = y ⊙ (dy − Σ_axis dy ⊙ y); needs only y, not the exponentials again.
export const gradSoftmax: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { g, y, dy } = ctx;
  const dot = reduceSum(g, mul(g, dy, y), [softmaxAxis(ctx)], true);
  return [mul(g, y, sub(g, dy, dot))];
};

// y = x − logΣexp(x): dx = dy − exp(y) ⊙ Σ_axis dy
export const gradLogSoftmax: GradRule = (ctx) => {
  if (!ctx.needs[0]) return [null];
  const { g, y, dy } = ctx;
  const total = reduceSum(g, dy, [softmaxAxis(ctx)], true);
  return [sub(g, dy, mul(g, g.op('Exp', [y]), total))];
};
