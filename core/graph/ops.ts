// One small function per ONNX op, named exactly like the op (as tinygrad's ONNX front end does),
// with typed options in place of raw attributes. Each adds one node through the builder, so shape
// and dtype inference run as usual. Constant arguments (axes, shapes, scalars) become initializers
// the inference can read.
import type { Value } from './builder.js';
import { ONNX_DTYPE_CODE, type DType } from './dtype.js';
import { attr, type Attribute, type TensorData } from './ir.js';
import { tensorData } from './tensor-data.js';
import {
  attrs,
  operands,
  optBool,
  optFloat,
  optInt,
  optInts,
  optString,
  type G,
  type Operand,
} from './ops-util.js';

export type { IntsOrValue, Operand } from './ops-util.js';

const binary =
  (op: string) =>
  (g: G, a: Operand, b: Operand): Value =>
    g.op(op, operands(g, op, a, b));
const unary =
  (op: string) =>
  (g: G, x: Value): Value =>
    g.op(op, [x]);
const variadic =
  (op: string) =>
  (g: G, ...xs: Value[]): Value =>
    g.op(op, xs);

// ---------- elementwise ----------
export const Add = binary('Add');
export const Sub = binary('Sub');
export const Mul = binary('Mul');
export const Div = binary('Div');
export const Pow = binary('Pow');
export const Equal = binary('Equal');
export const Less = binary('Less');
export const LessOrEqual = binary('LessOrEqual');
export const Greater = binary('Greater');
export const GreaterOrEqual = binary('GreaterOrEqual');
export const And = binary('And');
export const Or = binary('Or');
export const Xor = binary('Xor');
export const Max = variadic('Max');
export const Min = variadic('Min');
export const Sum = variadic('Sum');
export const Mean = variadic('Mean');
export const Neg = unary('Neg');
export const Abs = unary('Abs');
export const Sign = unary('Sign');
export const Exp = unary('Exp');
export const Log = unary('Log');
export const Sqrt = unary('Sqrt');
export const Reciprocal = unary('Reciprocal');
export const Sigmoid = unary('Sigmoid');
export const HardSwish = unary('HardSwish');
export const Tanh = unary('Tanh');
export const Relu = unary('Relu');
export const Softplus = unary('Softplus');
export const Mish = unary('Mish');
export const Sin = unary('Sin');
export const Cos = unary('Cos');
export const Erf = unary('Erf');
export const Floor = unary('Floor');
export const Ceil = unary('Ceil');
export const Round = unary('Round');
export const Identity = unary('Identity');
export const Not = unary('Not');
export const IsNaN = unary('IsNaN');

/** `fmod` true: sign of the dividend (C fmod, required for floats); false: sign of the divisor. */
export function Mod(g: G, a: Operand, b: Operand, fmod = false): Value {
  return g.op('Mod', operands(g, 'Mod', a, b), attrs({ fmod: optBool(fmod) }));
}
export function LeakyRelu(g: G, x: Value, alpha = 0.01): Value {
  return g.op('LeakyRelu', [x], { alpha: attr.float(alpha) });
}
export function Elu(g: G, x: Value, alpha = 1): Value {
  return g.op('Elu', [x], { alpha: attr.float(alpha) });
}
export function HardSigmoid(g: G, x: Value, opts: { alpha?: number; beta?: number } = {}): Value {
  return g.op(
    'HardSigmoid',
    [x],
    attrs({ alpha: optFloat(opts.alpha), beta: optFloat(opts.beta) }),
  );
}
export function Gelu(g: G, x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
  return g.op('Gelu', [x], { approximate: attr.string(approximate) });
}
export function IsInf(
  g: G,
  x: Value,
  opts: { detectPositive?: boolean; detectNegative?: boolean } = {},
): Value {
  return g.op(
    'IsInf',
    [x],
    attrs({
      detect_positive: optBool(opts.detectPositive),
      detect_negative: optBool(opts.detectNegative),
    }),
  );
}
/** Bounds are scalars of x's dtype; omitted bounds leave that side open. */
export function Clip(g: G, x: Value, min?: Operand, max?: Operand): Value {
  const bound = (v: Operand | undefined) =>
    v === undefined ? null : typeof v === 'number' ? g.constant(v, x.dtype, []) : v;
  const ins = [x, bound(min), bound(max)];
  while (ins.length > 1 && ins[ins.length - 1] === null) ins.pop();
  return g.op('Clip', ins);
}
/** Inference-mode Dropout: the identity (no ratio or training_mode inputs). */
export function Dropout(g: G, x: Value): Value {
  return g.op('Dropout', [x]);
}
export function Cast(g: G, x: Value, to: DType): Value {
  return g.op('Cast', [x], { to: attr.int(ONNX_DTYPE_CODE[to]) });
}
export function CastLike(g: G, x: Value, like: Value): Value {
  return g.op('CastLike', [x, like]);
}
export function Where(g: G, cond: Value, a: Operand, b: Operand): Value {
  return g.op('Where', [cond, ...operands(g, 'Where', a, b)]);
}
/** Keeps the upper (default) or lower triangle of the last two dims, offset by diagonal k. */
export function Trilu(g: G, x: Value, opts: { upper?: boolean; k?: number } = {}): Value {
  const ins = opts.k === undefined ? [x] : [x, g.constant(opts.k, 'int64', [])];
  return g.op('Trilu', ins, attrs({ upper: optBool(opts.upper) }));
}
export function CumSum(
  g: G,
  x: Value,
  axis: number,
  opts: { exclusive?: boolean; reverse?: boolean } = {},
): Value {
  return g.op(
    'CumSum',
    [x, g.constant(axis, 'int64', [])],
    attrs({ exclusive: optBool(opts.exclusive), reverse: optBool(opts.reverse) }),
  );
}

// ---------- linear algebra, convolution, normalisation ----------
export const MatMul = (g: G, a: Value, b: Value): Value => g.op('MatMul', [a, b]);

export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}
/** alpha · A' · B' + beta · C with 2-D A, B (C broadcasts to [M, N]). */
export function Gemm(g: G, a: Value, b: Value, c?: Value | null, opts: GemmOptions = {}): Value {
  return g.op(
    'Gemm',
    c ? [a, b, c] : [a, b],
    attrs({
      alpha: optFloat(opts.alpha),
      beta: optFloat(opts.beta),
      transA: optBool(opts.transA),
      transB: optBool(opts.transB),
    }),
  );
}

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
export interface ConvOptions {
  strides?: readonly number[];
  /** [x1_begin, x2_begin, …, x1_end, x2_end]: asymmetric padding is two different halves. */
  pads?: readonly number[];
  dilations?: readonly number[];
  group?: number;
  kernelShape?: readonly number[];
  autoPad?: AutoPad;
}
function convAttrs(o: ConvOptions): Record<string, Attribute | undefined> {
  return {
    strides: optInts(o.strides),
    pads: optInts(o.pads),
    dilations: optInts(o.dilations),
    group: optInt(o.group),
    kernel_shape: optInts(o.kernelShape),
    auto_pad: optString(o.autoPad),
  };
}
/** x [N, C, …], w [M, C/group, k…], b [M]. */
export function Conv(g: G, x: Value, w: Value, b?: Value | null, opts: ConvOptions = {}): Value {
  return g.op('Conv', b ? [x, w, b] : [x, w], attrs(convAttrs(opts)));
}
export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: readonly number[];
  outputShape?: readonly number[];
}
/** x [N, C, …], w [C, M/group, k…], b [M]. */
export function ConvTranspose(
  g: G,
  x: Value,
  w: Value,
  b?: Value | null,
  opts: ConvTransposeOptions = {},
): Value {
  return g.op(
    'ConvTranspose',
    b ? [x, w, b] : [x, w],
    attrs({
      ...convAttrs(opts),
      output_padding: optInts(opts.outputPadding),
      output_shape: optInts(opts.outputShape),
    }),
  );
}
export interface GroupNormOptions {
  numGroups: number;
  epsilon?: number;
  /** Precision of the statistics (ONNX stash_type, default float32 even for float64 input). */
  stashType?: DType;
}
/** Opset 21 semantics: scale and bias are per channel [C]. */
export function GroupNormalization(
  g: G,
  x: Value,
  scale: Value,
  bias: Value,
  opts: GroupNormOptions,
): Value {
  return g.op(
    'GroupNormalization',
    [x, scale, bias],
    attrs({
      num_groups: attr.int(opts.numGroups),
      epsilon: optFloat(opts.epsilon),
      stash_type: opts.stashType && attr.int(ONNX_DTYPE_CODE[opts.stashType]),
    }),
  );
}
export function InstanceNormalization(
  g: G,
  x: Value,
  scale: Value,
  bias: Value,
  epsilon?: number,
): Value {
  return g.op('InstanceNormalization', [x, scale, bias], attrs({ epsilon: optFloat(epsilon) }));
}
export interface LayerNormOptions {
  /** First normalised axis; all later axes are normalised too (default -1). */
  axis?: number;
  epsilon?: number;
  /**
   * Precision of the statistics and of Mean/InvStdDev (ONNX stash_type, default float32). ORT's CPU
   * EP refuses float64 here; its float64 kernel already computes Y in float64.
   */
  stashType?: DType;
}
/** With `stats: true` also returns Mean and InvStdDev (stashType, shape of x with normalised dims 1). */
export function LayerNormalization(
  g: G,
  x: Value,
  scale: Value,
  bias: Value | null | undefined,
  opts: LayerNormOptions & { stats: true },
): [Value, Value, Value];
export function LayerNormalization(
  g: G,
  x: Value,
  scale: Value,
  bias?: Value | null,
  opts?: LayerNormOptions & { stats?: false },
): Value;
export function LayerNormalization(
  g: G,
  x: Value,
  scale: Value,
  bias?: Value | null,
  opts: LayerNormOptions & { stats?: boolean } = {},
): Value | [Value, Value, Value] {
  const a = attrs({
    axis: optInt(opts.axis),
    epsilon: optFloat(opts.epsilon),
    stash_type: opts.stashType && attr.int(ONNX_DTYPE_CODE[opts.stashType]),
  });
  const outs = g.node('LayerNormalization', bias ? [x, scale, bias] : [x, scale], a, {
    outputs: opts.stats ? 3 : 1,
  });
  return opts.stats ? [outs[0], outs[1], outs[2]] : outs[0];
}
export const Softmax = (g: G, x: Value, axis = -1): Value =>
  g.op('Softmax', [x], { axis: attr.int(axis) });
export const LogSoftmax = (g: G, x: Value, axis = -1): Value =>
  g.op('LogSoftmax', [x], { axis: attr.int(axis) });

// ---------- reductions (opset 18+: axes are an input) ----------
const reduction =
  (op: string) =>
  (
    g: G,
    x: Value,
    axes?: readonly number[],
    keepdims = true,
    opts: { noopWithEmptyAxes?: boolean } = {},
  ): Value =>
    g.op(
      op,
      axes === undefined ? [x] : [x, g.ints(axes)],
      attrs({
        keepdims: attr.int(keepdims ? 1 : 0),
        noop_with_empty_axes: optBool(opts.noopWithEmptyAxes),
      }),
    );
export const ReduceSum = reduction('ReduceSum');
export const ReduceMean = reduction('ReduceMean');
export const ReduceMax = reduction('ReduceMax');
export const ReduceMin = reduction('ReduceMin');
export const ReduceProd = reduction('ReduceProd');
export const ReduceSumSquare = reduction('ReduceSumSquare');
export const ReduceL2 = reduction('ReduceL2');
export const ReduceLogSumExp = reduction('ReduceLogSumExp');
export function ArgMax(
  g: G,
  x: Value,
  axis = 0,
  keepdims = true,
  selectLastIndex?: boolean,
): Value {
  return g.op(
    'ArgMax',
    [x],
    attrs({
      axis: attr.int(axis),
      keepdims: attr.int(keepdims ? 1 : 0),
      select_last_index: optBool(selectLastIndex),
    }),
  );
}
export function ArgMin(
  g: G,
  x: Value,
  axis = 0,
  keepdims = true,
  selectLastIndex?: boolean,
): Value {
  return g.op(
    'ArgMin',
    [x],
    attrs({
      axis: attr.int(axis),
      keepdims: attr.int(keepdims ? 1 : 0),
      select_last_index: optBool(selectLastIndex),
    }),
  );
}

export * from './ops-shape.js';

/** A Constant node (prefer `g.constant`, whose values shape inference can read). */
export function Constant(
  g: G,
  value: TensorData | { dtype: DType; shape: readonly number[]; values: readonly number[] },
): Value {
  const t = 'bytes' in value ? value : tensorData(value.dtype, value.shape, value.values);
  return g.op('Constant', [], { value: attr.tensor(t) });
}
