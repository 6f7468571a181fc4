// Public surface of the graph engine. Each module adds its exports here.
export * from './dtype.js';
export * from './ir.js';
export * from './tensor-data.js';
export { GraphBuilder, DEFAULT_OPSET, type Value, type NodeOptions } from './builder.js';
export { INFER, inferOp, broadcastShapes, type InferContext, type InferFn } from './infer.js';
export * as ops from './ops.js';
export { countFlops, FLOP_RULES, type FlopCount, type NodeFlops } from './flops.js';
export {
  grad,
  GRAD_RULES,
  GradContext,
  broadcastAxes,
  unbroadcast,
  type GradOptions,
  type GradRule,
  type BroadcastAxes,
} from './grad/index.js';
export {
  masterParam,
  toCompute,
  scaledGrad,
  overflowFlag,
  computeDTypeFor,
  COMPUTE_DTYPES,
  type ComputeDType,
  type MasterParam,
  type ScaledGradients,
} from './mixed-precision.js';
