// Gradient rules for Conv and ConvTranspose (any number of spatial dims, strides, pads,
// dilations, groups). Conv and ConvTranspose are each other's adjoint, so the input gradient of
// one is the other with the same weights; weight gradients are a convolution of the input with
// the output gradient, with the roles of stride and dilation swapped.
import type { GraphBuilder, Value } from '../builder.js';
import { attr, type Dim } from '../ir.js';
import type { GradContext, GradRule } from './context.js';
import { reduceSum, reshapeTo, transpose } from './emit.js';

interface Geometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin₀, begin₁, …, end₀, end₁, …] as ONNX writes them. */
  pads: number[];
  group: number;
}

/** The conv's geometry with auto_pad resolved into explicit pads (needs static sizes for SAME_*). */
function geometry(ctx: GradContext, w: Value, spatialIn: readonly Dim[]): Geometry {
  const n = w.shape.length - 2;
  const kernel = [...(ctx.ints('kernel_shape') ?? w.shape.slice(2))] as Dim[];
  if (!kernel.every((k): k is number => typeof k === 'number'))
    throw ctx.error('kernel size must be static');
  const strides = [...(ctx.ints('strides') ?? new Array<number>(n).fill(1))];
  const dilations = [...(ctx.ints('dilations') ?? new Array<number>(n).fill(1))];
  let pads = [...(ctx.ints('pads') ?? new Array<number>(2 * n).fill(0))];
  const autoPad = ctx.str('auto_pad', 'NOTSET');
  if (autoPad === 'VALID') pads = new Array<number>(2 * n).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    if (ctx.opType !== 'Conv') throw ctx.error(`auto_pad=${autoPad} is only handled for Conv`);
    pads = new Array<number>(2 * n).fill(0);
    spatialIn.forEach((d, i) => {
      if (typeof d !== 'number') throw ctx.error(`auto_pad=${autoPad} needs static spatial sizes`);
      const out = Math.ceil(d / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - d);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i];
    });
  } else if (autoPad !== 'NOTSET') {
    throw ctx.error(`auto_pad='${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  }
  return { kernel, strides, dilations, pads, group: ctx.int('group', 1) };
}

function convAttrs(geo: Geometry, extra: Record<string, number[]> = {}) {
  const out: Record<string, ReturnType<typeof attr.ints>> = {
    strides: attr.ints(geo.strides),
    dilations: attr.ints(geo.dilations),
    pads: attr.ints(geo.pads),
    kernel_shape: attr.ints(geo.kernel),
  };
  for (const [k, v] of Object.entries(extra)) out[k] = attr.ints(v);
  return { ...out, group: attr.int(geo.group) };
}

/** dBias: sum of the output gradient over every axis but the channel axis. */
function biasGrad(g: GraphBuilder, dy: Value): Value {
  return reduceSum(
    g,
    dy,
    dy.shape.flatMap((_, i) => (i === 1 ? [] : [i])),
    false,
  );
}

/**
 * Weight gradient of y = Conv(x, w; geo) given dy: for each group, correlate x with dy treating
 * the batch as the channel axis — Conv(xᵀ, dyᵀ) with stride and dilation swapped — then cut
 * the result down to the kernel size (a stride that does not divide the input leaves extra rows).
 * x: [N, C, …], dy: [N, M, …] → [M, C/G, …kernel].
 */
function weightGrad(g: GraphBuilder, x: Value, dy: Value, geo: Geometry, ctx: GradContext): Value {
  const n = x.shape.length - 2;
  const spatialAxes = Array.from({ length: n }, (_, i) => i + 2);
  const G = geo.group;
  const [N, C] = x.shape;
  let xt: Value;
  if (G === 1) xt = transpose(g, x, [1, 0, ...spatialAxes]);
  else {
    if (typeof C !== 'number') throw ctx.error('grouped convolution needs a static channel count');
    const split = reshapeTo(g, x, [N, G, C / G, ...x.shape.slice(2)], x);
    const moved = transpose(g, split, [2, 1, 0, ...spatialAxes.map((a) => a + 1)]);
    xt = reshapeTo(g, moved, [
      C / G,
      typeof N === 'number' ? G * N : `${G}*${N}`,
      ...x.shape.slice(2),
    ]);
  }
  const dyt = transpose(g, dy, [1, 0, ...spatialAxes]);
  let r = g.op('Conv', [xt, dyt], {
    strides: attr.ints(geo.dilations),
    dilations: attr.ints(geo.strides),
    pads: attr.ints(geo.pads),
    group: attr.int(G),
  });
  const got = r.shape.slice(2);
  if (got.some((d, i) => d !== geo.kernel[i])) {
    r = g.op('Slice', [
      r,
      g.ints(geo.kernel.map(() => 0)),
      g.ints(geo.kernel),
      g.ints(spatialAxes),
    ]);
  }
  return transpose(g, r, [1, 0, ...spatialAxes]);
}

export const gradConv: GradRule = (ctx) => {
  const { g, dy } = ctx;
  const [X, W, B] = [ctx.input(0), ctx.input(1), ctx.inputs[2]];
  const spatialIn = X.shape.slice(2);
  const geo = geometry(ctx, W, spatialIn);
  const n = spatialIn.length;
  let dX: Value | null = null;
  if (ctx.needs[0]) {
    // ConvTranspose maps the output size back to the input size only up to (size mod stride):
    // output_padding restores the rows the forward stride skipped.
    const outPad = spatialIn.map((d, i) => {
      const s = geo.strides[i];
      if (s === 1) return 0;
      const o = dy.shape[2 + i];
      if (typeof d !== 'number' || typeof o !== 'number') {
        throw ctx.error('a strided convolution needs static spatial sizes for its input gradient');
      }
      return (
        d -
        (s * (o - 1) + (geo.kernel[i] - 1) * geo.dilations[i] + 1 - geo.pads[i] - geo.pads[i + n])
      );
    });
    dX = g.op('ConvTranspose', [dy, W], convAttrs(geo, { output_padding: outPad }));
  }
  const dW = ctx.needs[1] ? weightGrad(g, X, dy, geo, ctx) : null;
  return [dX, dW, B && ctx.needs[2] ? biasGrad(g, dy) : null];
};

// y = ConvTranspose(x, w): x [N, Cin, …], w [Cin, Cout/G, …]. dx = Conv(dy, w) (same geometry);
// dw is the weight gradient of that Conv, with dy as its input and x as its output gradient.
export const gradConvTranspose: GradRule = (ctx) => {
  const { g, dy } = ctx;
  const [X, W, B] = [ctx.input(0), ctx.input(1), ctx.inputs[2]];
  if (ctx.ints('output_shape')) throw ctx.error('output_shape is not handled; give explicit pads');
  const geo = geometry(ctx, W, X.shape.slice(2));
  const dX = ctx.needs[0] ? g.op('Conv', [dy, W], convAttrs(geo)) : null;
  const dW = ctx.needs[1] ? weightGrad(g, dy, X, geo, ctx) : null;
  return [dX, dW, B && ctx.needs[2] ? biasGrad(g, dy) : null];
};
