// Shape and dtype inference, one function per ONNX op type (opset 21). The builder calls these as
// nodes are added, so rules (autodiff, FLOP counting) can reason about shapes at build time.
// Elementwise ops and reductions live here; see infer-nn.ts and infer-shape.ts for the rest.
import { dtypeFromOnnxCode, isFloatDType } from './dtype.js';
import { NN_INFER } from './infer-nn.js';
import { SHAPE_INFER } from './infer-shape.js';
import {
  broadcastAll,
  broadcastShapes,
  constInput,
  input,
  intAttr,
  normAxis,
  same,
  sameDType,
  type InferContext,
  type InferFn,
  type InferredOutput,
} from './infer-util.js';

export * from './infer-util.js';
export { sliceLength } from './infer-shape.js';

function reduce(ctx: InferContext, axes: readonly number[] | undefined): InferredOutput[] {
  const x = input(ctx, 0);
  const keep = intAttr(ctx, 'keepdims', 1) === 1;
  const noopEmpty = intAttr(ctx, 'noop_with_empty_axes', 0) === 1;
  const rank = x.shape.length;
  const all = axes === undefined || axes.length === 0;
  if (all && noopEmpty) return same(ctx);
  const set = new Set(
    all ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, rank, ctx.opType)),
  );
  const shape = x.shape.flatMap((d, i) => (!set.has(i) ? [d] : keep ? [1] : []));
  return [{ dtype: x.dtype, shape }];
}

// Opset ≥ 18 reductions take axes as an optional second input.
const reduceWithAxesInput: InferFn = (ctx) => {
  const axes = constInput(ctx, 1, 'axes');
  if (ctx.inputs[1] && !axes)
    throw new Error(`${ctx.opType}: axes (input 1) must be a small constant`);
  return reduce(ctx, axes);
};

function requireFloat(fn: InferFn): InferFn {
  return (ctx) => {
    const x = input(ctx, 0);
    if (!isFloatDType(x.dtype))
      throw new Error(`${ctx.opType}: needs a float input, got ${x.dtype}`);
    return fn(ctx);
  };
}

function requireBool(fn: InferFn): InferFn {
  return (ctx) => {
    const bad = ctx.inputs.find((v) => v && v.dtype !== 'bool');
    if (bad) throw new Error(`${ctx.opType}: inputs must be bool, '${bad.name}' is ${bad.dtype}`);
    return fn(ctx);
  };
}

const cast: InferFn = (ctx) => [
  { dtype: dtypeFromOnnxCode(intAttr(ctx, 'to')), shape: [...input(ctx, 0).shape] },
];

const where: InferFn = (ctx) => {
  const [c, a, b] = [input(ctx, 0), input(ctx, 1), input(ctx, 2)];
  if (c.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${c.dtype}`);
  const dtype = sameDType(ctx, [a, b]);
  return [
    { dtype, shape: broadcastShapes(broadcastShapes(c.shape, a.shape, 'Where'), b.shape, 'Where') },
  ];
};

const pow: InferFn = (ctx) => {
  const [x, y] = [input(ctx, 0), input(ctx, 1)];
  return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, y.shape, 'Pow') }];
};

/** Clip's min/max are optional scalars of the input's type. */
const clip: InferFn = (ctx) => {
  const x = input(ctx, 0);
  sameDType(ctx, ctx.inputs);
  for (const v of ctx.inputs.slice(1)) {
    if (v && v.shape.length !== 0)
      throw new Error(`Clip: min/max must be scalars, '${v.name}' is [${v.shape.join(', ')}]`);
  }
  return [{ dtype: x.dtype, shape: [...x.shape] }];
};

const dropout: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const outs: InferredOutput[] = [{ dtype: x.dtype, shape: [...x.shape] }];
  if (ctx.nOutputs > 1) outs.push({ dtype: 'bool', shape: [...x.shape] });
  return outs;
};

const comparison: InferFn = (ctx) => broadcastAll(ctx, 'bool');
const unaryBool: InferFn = (ctx) => [{ dtype: 'bool', shape: [...input(ctx, 0).shape] }];
const trilu: InferFn = (ctx) => {
  const x = input(ctx, 0);
  if (x.shape.length < 2) throw new Error(`Trilu: input must have rank ≥ 2, got ${x.shape.length}`);
  return same(ctx);
};
const cumsum: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const axis = constInput(ctx, 1, 'axis');
  if (axis) normAxis(axis[0], x.shape.length, 'CumSum');
  return same(ctx);
};

const floatUnary = requireFloat(same);

const ELEMENTWISE: Readonly<Record<string, InferFn>> = {
  Add: broadcastAll,
  Sub: broadcastAll,
  Mul: broadcastAll,
  Div: broadcastAll,
  Mod: broadcastAll,
  Pow: pow,
  Max: broadcastAll,
  Min: broadcastAll,
  Sum: broadcastAll,
  Mean: broadcastAll,
  Equal: comparison,
  Less: comparison,
  LessOrEqual: comparison,
  Greater: comparison,
  GreaterOrEqual: comparison,
  And: requireBool(comparison),
  Or: requireBool(comparison),
  Xor: requireBool(comparison),
  Not: requireBool(same),
  IsNaN: requireFloat(unaryBool),
  IsInf: requireFloat(unaryBool),
  Where: where,
  Neg: same,
  Abs: same,
  Sign: same,
  Exp: floatUnary,
  Log: floatUnary,
  Sqrt: floatUnary,
  Reciprocal: floatUnary,
  Sigmoid: floatUnary,
  HardSigmoid: floatUnary,
  HardSwish: floatUnary,
  Tanh: floatUnary,
  Relu: same,
  LeakyRelu: floatUnary,
  Elu: floatUnary,
  Softplus: floatUnary,
  Mish: floatUnary,
  Sin: floatUnary,
  Cos: floatUnary,
  Erf: floatUnary,
  Gelu: floatUnary,
  Floor: floatUnary,
  Ceil: floatUnary,
  Round: floatUnary,
  Identity: same,
  Clip: clip,
  Dropout: dropout,
  Cast: cast,
  CastLike: (ctx) => [{ dtype: input(ctx, 1).dtype, shape: [...input(ctx, 0).shape] }],
  Trilu: trilu,
  CumSum: cumsum,
};

const REDUCTIONS: Readonly<Record<string, InferFn>> = {
  ReduceSum: reduceWithAxesInput,
  ReduceMean: reduceWithAxesInput,
  ReduceMax: reduceWithAxesInput,
  ReduceMin: reduceWithAxesInput,
  ReduceProd: reduceWithAxesInput,
  ReduceSumSquare: reduceWithAxesInput,
  ReduceL2: reduceWithAxesInput,
  ReduceLogSumExp: reduceWithAxesInput,
};

export const INFER: Readonly<Record<string, InferFn>> = Object.freeze({
  ...ELEMENTWISE,
  ...NN_INFER,
  ...REDUCTIONS,
  ...SHAPE_INFER,
});

export function inferOp(ctx: InferContext): InferredOutput[] {
  const fn = INFER[ctx.opType];
  if (!fn) {
    throw new Error(
      `no shape inference for op '${ctx.opType}'; known ops: ${Object.keys(INFER).sort().join(', ')}`,
    );
  }
  const outs = fn(ctx);
  if (outs.length < ctx.nOutputs) {
    throw new Error(`${ctx.opType}: asked for ${ctx.nOutputs} outputs, the op has ${outs.length}`);
  }
  return outs;
}
