// Hand rules for the normalisation ops. Each recomputes the statistics (mean, 1/σ) from x in
// one pass instead of differentiating the primitive chain, which would keep ~6 activation-sized
// intermediates alive; 16-bit inputs are upcast to float32 like the ops' own stash_type=1.
import type { GraphBuilder, Value } from '../builder.js';
import { unbroadcast } from './broadcast.js';
import type { GradContext, GradRule } from './context.js';
import {
  add,
  mul,
  reduceMean,
  reduceSum,
  reshapeTo,
  scalar,
  sub,
  unsqueeze,
  upcast,
} from './emit.js';

interface Stats {
  /** (x − μ)/σ, shaped like x. */
  xhat: Value;
  /** 1/σ, with the normalised axes kept as 1s. */
  rstd: Value;
}

function stats(g: GraphBuilder, x: Value, axes: readonly number[], eps: number): Stats {
  const centred = sub(g, x, reduceMean(g, x, axes, true));
  const variance = reduceMean(g, mul(g, centred, centred), axes, true);
  const rstd = g.op('Reciprocal', [g.op('Sqrt', [add(g, variance, scalar(g, eps, x.dtype))])]);
  return { xhat: mul(g, centred, rstd), rstd };
}

/** dx = (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) over the normalised axes, where ĝ = dL/dx̂. */
function normInputGrad(g: GraphBuilder, s: Stats, gHat: Value, axes: readonly number[]): Value {
  const m1 = reduceMean(g, gHat, axes, true);
  const m2 = reduceMean(g, mul(g, gHat, s.xhat), axes, true);
  return mul(g, s.rstd, sub(g, sub(g, gHat, m1), mul(g, s.xhat, m2)));
}

function noStatGrads(ctx: GradContext): void {
  if (ctx.grads.slice(1).some((d) => d !== null)) {
    throw ctx.error('gradients through the Mean/InvStdDev outputs are not supported');
  }
}

const back = (g: GraphBuilder, v: Value, like: Value): Value => g.cast(v, like.dtype);

// LayerNormalization(X, Scale, B?): normalises over axes [axis, rank); Scale/B broadcast there.
export const gradLayerNormalization: GradRule = (ctx) => {
  noStatGrads(ctx);
  const { g } = ctx;
  const [X, S, B] = [ctx.input(0), ctx.input(1), ctx.inputs[2]];
  const rank = X.shape.length;
  const axis = ctx.int('axis', -1) < 0 ? ctx.int('axis', -1) + rank : ctx.int('axis', -1);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const x = upcast(g, X);
  const dy = upcast(g, ctx.dy);
  const s = stats(g, x, axes, ctx.float('epsilon', 1e-5));
  const what = `LayerNormalization '${ctx.node.name}'`;
  return [
    ctx.needs[0] ? back(g, normInputGrad(g, s, mul(g, dy, upcast(g, S)), axes), X) : null,
    ctx.needs[1]
      ? back(g, unbroadcast(g, mul(g, dy, s.xhat), X.shape, upcast(g, S), what), S)
      : null,
    B && ctx.needs[2] ? back(g, unbroadcast(g, dy, X.shape, upcast(g, B), what), B) : null,
  ];
};

/** Per-channel [C] parameter reshaped to [C, 1, …] so it broadcasts against [N, C, …]. */
function perChannel(g: GraphBuilder, p: Value, rank: number): Value {
  return unsqueeze(
    g,
    p,
    Array.from({ length: rank - 2 }, (_, i) => i + 1),
  );
}

/** Sum over every axis but the channel axis 1 (dScale from dy·x̂, dBias from dy). */
function channelSum(g: GraphBuilder, v: Value): Value {
  const axes = [0, ...Array.from({ length: v.shape.length - 2 }, (_, i) => i + 2)];
  return reduceSum(g, v, axes, false);
}

// GroupNormalization (opset 21: scale/bias per channel): statistics over [C/G, spatial] per group,
// computed on a [N, G, C/G·spatial] view.
export const gradGroupNormalization: GradRule = (ctx) => {
  noStatGrads(ctx);
  const { g } = ctx;
  if (g.opset < 21)
    throw ctx.error(`opset ${g.opset} has per-group scale/bias; only opset ≥ 21 is handled`);
  const [X, S, B] = [ctx.input(0), ctx.input(1), ctx.input(2)];
  const groups = ctx.int('num_groups', 0);
  const rank = X.shape.length;
  const x = upcast(g, X);
  const dy = upcast(g, ctx.dy);
  const xg = g.op('Reshape', [x, g.ints([0, groups, -1])]);
  const s = stats(g, xg, [2], ctx.float('epsilon', 1e-5));
  let dx: Value | null = null;
  if (ctx.needs[0]) {
    const gHat = g.op('Reshape', [
      mul(g, dy, perChannel(g, upcast(g, S), rank)),
      g.ints([0, groups, -1]),
    ]);
    dx = back(g, reshapeTo(g, normInputGrad(g, s, gHat, [2]), x.shape, x), X);
  }
  const dScale = () => back(g, channelSum(g, mul(g, dy, reshapeTo(g, s.xhat, x.shape, x))), S);
  return [dx, ctx.needs[1] ? dScale() : null, ctx.needs[2] ? back(g, channelSum(g, dy), B) : null];
};

// InstanceNormalization: statistics per (n, c) over the spatial axes.
export const gradInstanceNormalization: GradRule = (ctx) => {
  const { g } = ctx;
  const [X, S, B] = [ctx.input(0), ctx.input(1), ctx.input(2)];
  const rank = X.shape.length;
  const axes = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  const x = upcast(g, X);
  const dy = upcast(g, ctx.dy);
  const s = stats(g, x, axes, ctx.float('epsilon', 1e-5));
  return [
    ctx.needs[0]
      ? back(g, normInputGrad(g, s, mul(g, dy, perChannel(g, upcast(g, S), rank)), axes), X)
      : null,
    ctx.needs[1] ? back(g, channelSum(g, mul(g, dy, s.xhat)), S) : null,
    ctx.needs[2] ? back(g, channelSum(g, dy), B) : null,
  ];
};
