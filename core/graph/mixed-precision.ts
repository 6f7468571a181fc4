// Mixed precision for training graphs: the model computes in a build-time dtype (float16 on GPU
// EPs, float32 on CPU) while the trained parameters stay float32 "masters" fed as graph inputs,
// the loss is float32, and the backward pass is seeded with a float32 loss scale so small fp16
// gradients do not flush to zero. The graph hands back unscaled float32 gradients and a bool
// `overflow` the optimizer uses to skip the step and lower the scale (dynamic loss scaling).
import type { GraphBuilder, Value } from './builder.js';
import { grad } from './grad/index.js';
import { attr, shapeToString, type Shape } from './ir.js';

export type ComputeDType = 'float32' | 'float16' | 'bfloat16';

export const COMPUTE_DTYPES: readonly ComputeDType[] = Object.freeze([
  'float32',
  'float16',
  'bfloat16',
]);

/** The usual compute dtype for an execution provider: fp16 on GPUs, fp32 on the CPU EP. */
export function computeDTypeFor(provider: string): ComputeDType {
  return provider === 'cpu' ? 'float32' : 'float16';
}

export interface MasterParam {
  /** The float32 graph input the optimizer owns and feeds each step. */
  readonly master: Value;
  /** The same parameter cast to the compute dtype, for use inside the model. */
  readonly value: Value;
}

export interface ScaledGradients {
  /** The float32 scalar input [] that seeds the backward pass. */
  readonly lossScale: Value;
  /** dLoss/dmaster in float32, already divided by the loss scale. */
  readonly grads: Value[];
  /** bool [] — true when any gradient holds an inf or NaN (skip the step, lower the scale). */
  readonly overflow: Value;
}

function checkCompute(dtype: string): ComputeDType {
  if (!(COMPUTE_DTYPES as readonly string[]).includes(dtype)) {
    throw new Error(`compute dtype '${dtype}' is not one of ${COMPUTE_DTYPES.join(', ')}`);
  }
  return dtype as ComputeDType;
}

/** A trainable parameter: float32 master input, cast once to the compute dtype. */
export function masterParam(
  g: GraphBuilder,
  name: string,
  shape: Shape,
  computeDType: ComputeDType,
): MasterParam {
  const master = g.input(name, 'float32', shape);
  return { master, value: g.cast(master, checkCompute(computeDType)) };
}

/** Cast a value into the compute dtype (a no-op when it already is). */
export function toCompute(g: GraphBuilder, v: Value, computeDType: ComputeDType): Value {
  return g.cast(v, checkCompute(computeDType));
}

/**
 * Backward pass with loss scaling: seed = loss_scale (a float32 scalar input), gradients with
 * respect to the float32 masters come back through the Cast rule as float32, get checked for
 * overflow and are divided by the scale.
 */
export function scaledGrad(
  g: GraphBuilder,
  loss: Value,
  masters: readonly Value[],
  opts: { lossScaleName?: string } = {},
): ScaledGradients {
  if (loss.dtype !== 'float32' || loss.shape.length !== 0) {
    throw new Error(
      `scaledGrad: the loss must be a float32 scalar (cast before reducing), got '${loss.name}' ` +
        `${loss.dtype}${shapeToString(loss.shape)}`,
    );
  }
  const bad = masters.find((m) => m.dtype !== 'float32');
  if (bad)
    throw new Error(`scaledGrad: master parameter '${bad.name}' must be float32, got ${bad.dtype}`);
  const lossScale = g.input(opts.lossScaleName ?? 'loss_scale', 'float32', []);
  const scaled = grad(g, loss, masters, { seed: lossScale });
  return g.scope('loss_scale', () => {
    const overflow = overflowFlag(g, scaled);
    const inv = g.op('Reciprocal', [lossScale]);
    return { lossScale, grads: scaled.map((d) => g.op('Mul', [d, inv])), overflow };
  });
}

/**
 * bool [] — whether any element of any value is inf or NaN. Uses Σ(v·0): exactly 0 when every
 * element is finite and NaN otherwise (inf·0 and NaN·0 are NaN), so one float reduction per
 * tensor and a single IsNaN replace a full-size bool mask per tensor (IsInf ∨ IsNaN), and only
 * float kernels that every EP has are needed.
 */
export function overflowFlag(g: GraphBuilder, values: readonly Value[]): Value {
  if (values.length === 0) throw new Error('overflowFlag: no values to check');
  const probes = values.map((v) => {
    const zero = g.constant(0, v.dtype, []);
    const s = g.op('ReduceSum', [g.op('Mul', [v, zero])], { keepdims: attr.int(0) });
    return g.cast(s, 'float32');
  });
  const total = probes.length === 1 ? probes[0] : g.op('Sum', probes);
  return g.op('IsNaN', [total]);
}
