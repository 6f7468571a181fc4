// THE gradient rule table, keyed by ONNX op type (tinygrad style: one line per op). A rule gets
// the node, its input/output values and output gradients, and returns one gradient per input
// (null where there is none or nobody needs it). Rules emit standard ONNX ops only.
//
// Composite ops with hand rules (instead of being built from primitives and differentiated
// piecewise): LayerNormalization, GroupNormalization, InstanceNormalization (statistics
// recomputed once, dx in one formula), Softmax (dx = y·(dy − Σ dy·y), only y kept),
// LogSoftmax, Gelu (closed-form derivative).
//
// Attention, softmax(Q·Kᵀ·s)·V, is differentiated as its parts (MatMul, Mul, Softmax, MatMul):
// the backward pass keeps the [B·H, Sq, Sk] probabilities P from the forward pass and builds
// three more tensors of that size (dP = dO·Vᵀ, dP·P, dS), i.e. up to 4× the attention matrix in
// memory and 4 extra batched GEMMs (dV = Pᵀ·dO, dP, dQ = dS·K, dK = dSᵀ·Q) — about twice the
// forward FLOPs. At SD 64×64 self-attention (4096² per head) that matrix dominates memory;
// a fused (flash-style) rule would need a contrib op, which the no-com.microsoft rule excludes.
import type { GradRule } from './context.js';
import * as conv from './rules-conv.js';
import * as ew from './rules-elementwise.js';
import * as linalg from './rules-linalg.js';
import * as norm from './rules-norm.js';
import * as red from './rules-reduce.js';
import { gradResize } from './rules-resize.js';
import * as shape from './rules-shape.js';

export const GRAD_RULES: Readonly<Record<string, GradRule>> = Object.freeze({
  // elementwise arithmetic
  Add: ew.gradAdd,
  Sub: ew.gradSub,
  Mul: ew.gradMul,
  Div: ew.gradDiv,
  Pow: ew.gradPow,
  Neg: ew.gradNeg,
  Sum: ew.gradSum,
  Mean: ew.gradMean,
  Max: ew.gradMaxMin,
  Min: ew.gradMaxMin,
  Where: ew.gradWhere,
  Clip: ew.gradClip,
  // elementwise functions
  Sqrt: ew.gradSqrt,
  Exp: ew.gradExp,
  Log: ew.gradLog,
  Reciprocal: ew.gradReciprocal,
  Sigmoid: ew.gradSigmoid,
  Tanh: ew.gradTanh,
  Relu: ew.gradRelu,
  LeakyRelu: ew.gradLeakyRelu,
  Erf: ew.gradErf,
  Gelu: ew.gradGelu,
  Sin: ew.gradSin,
  Cos: ew.gradCos,
  Softplus: ew.gradSoftplus,
  Abs: ew.gradAbs,
  Sign: ew.gradZero,
  Floor: ew.gradZero,
  Ceil: ew.gradZero,
  Round: ew.gradZero,
  Identity: ew.gradIdentity,
  Cast: ew.gradCast,
  Trilu: ew.gradTrilu,
  CastLike: ew.gradCastLike,
  Elu: ew.gradElu,
  HardSigmoid: ew.gradHardSigmoid,
  HardSwish: ew.gradHardSwish,
  Mish: ew.gradMish,
  // linear algebra and convolutions
  MatMul: linalg.gradMatMul,
  Gemm: linalg.gradGemm,
  Conv: conv.gradConv,
  ConvTranspose: conv.gradConvTranspose,
  // reductions, softmax
  ReduceSum: red.gradReduceSum,
  ReduceMean: red.gradReduceMean,
  ReduceMax: red.gradReduceMaxMin,
  ReduceMin: red.gradReduceMaxMin,
  ReduceSumSquare: red.gradReduceSumSquare,
  ReduceL2: red.gradReduceL2,
  ReduceLogSumExp: red.gradReduceLogSumExp,
  Softmax: red.gradSoftmax,
  LogSoftmax: red.gradLogSoftmax,
  // normalisation (hand rules)
  LayerNormalization: norm.gradLayerNormalization,
  GroupNormalization: norm.gradGroupNormalization,
  InstanceNormalization: norm.gradInstanceNormalization,
  // data movement
  Reshape: shape.gradReshape,
  Flatten: shape.gradReshape,
  Transpose: shape.gradTranspose,
  Squeeze: shape.gradSqueeze,
  Unsqueeze: shape.gradUnsqueeze,
  Concat: shape.gradConcat,
  Split: shape.gradSplit,
  Slice: shape.gradSlice,
  Pad: shape.gradPad,
  Gather: shape.gradGather,
  Expand: shape.gradExpand,
  Tile: shape.gradTile,
  GatherElements: shape.gradGatherElements,
  CumSum: shape.gradCumSum,
  Resize: gradResize,
});
