// Public surface of the graph engine. Each module adds its exports here.
export * from './dtype.js';
export * from './ir.js';
export * from './tensor-data.js';
export { GraphBuilder, DEFAULT_OPSET, type Value, type NodeOptions } from './builder.js';
export { INFER, inferOp, broadcastShapes, type InferContext, type InferFn } from './infer.js';
