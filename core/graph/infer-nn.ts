// Shape inference for the compute-heavy ops: matrix products, convolutions, normalisations, Resize.
import { dtypeFromOnnxCode, ONNX_DTYPE_CODE } from './dtype.js';
import type { Dim, Shape } from './ir.js';
import {
  broadcastShapes,
  constInput,
  input,
  intAttr,
  intsAttr,
  normAxis,
  sameDType,
  stringAttr,
  type InferContext,
  type InferFn,
  type InferredOutput,
} from './infer-util.js';

const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'];

interface ConvGeometry {
  spatial: number;
  kernel: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  autoPad: string;
  group: number;
}

function convGeometry(ctx: InferContext, xShape: Shape, wShape: Shape): ConvGeometry {
  const spatial = xShape.length - 2;
  if (spatial < 1)
    throw new Error(`${ctx.opType}: input must be [N, C, ...spatial], got rank ${xShape.length}`);
  if (wShape.length !== xShape.length) {
    throw new Error(
      `${ctx.opType}: weight rank ${wShape.length} differs from input rank ${xShape.length}`,
    );
  }
  const kernel = intsAttr(ctx, 'kernel_shape') ?? wShape.slice(2).map(Number);
  if (kernel.some((k) => !Number.isInteger(k))) {
    throw new Error(
      `${ctx.opType}: kernel size must be static, weight shape is [${wShape.join(', ')}]`,
    );
  }
  const ones = new Array<number>(spatial).fill(1);
  const geo = {
    spatial,
    kernel,
    strides: intsAttr(ctx, 'strides') ?? ones,
    dilations: intsAttr(ctx, 'dilations') ?? ones,
    pads: intsAttr(ctx, 'pads') ?? new Array<number>(spatial * 2).fill(0),
    autoPad: stringAttr(ctx, 'auto_pad', 'NOTSET'),
    group: intAttr(ctx, 'group', 1),
  };
  if (!AUTO_PADS.includes(geo.autoPad)) {
    throw new Error(
      `${ctx.opType}: auto_pad '${geo.autoPad}' is not valid; valid: ${AUTO_PADS.join(', ')}`,
    );
  }
  for (const [name, v, n] of [
    ['kernel_shape', geo.kernel, spatial],
    ['strides', geo.strides, spatial],
    ['dilations', geo.dilations, spatial],
    ['pads', geo.pads, spatial * 2],
  ] as const) {
    if (v.length !== n)
      throw new Error(`${ctx.opType}: ${name} needs ${n} values, got [${v.join(', ')}]`);
  }
  return geo;
}

const conv: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1);
  const dtype = sameDType(ctx, ctx.inputs);
  const g = convGeometry(ctx, x.shape, w.shape);
  const [cin, wcin, cout] = [x.shape[1], w.shape[1], w.shape[0]];
  if (typeof cin === 'number' && typeof wcin === 'number' && cin !== wcin * g.group) {
    throw new Error(
      `Conv: input has ${cin} channels but weight expects ${wcin} × group ${g.group}`,
    );
  }
  if (typeof cout === 'number' && cout % g.group !== 0) {
    throw new Error(`Conv: ${cout} output channels do not split into group ${g.group}`);
  }
  const shape: Dim[] = [x.shape[0], cout];
  for (let i = 0; i < g.spatial; i++) {
    const d = x.shape[2 + i];
    const s = g.strides[i];
    const span = g.dilations[i] * (g.kernel[i] - 1) + 1;
    const same =
      g.autoPad.startsWith('SAME') ||
      (g.autoPad === 'NOTSET' && g.pads[i] + g.pads[i + g.spatial] === span - 1);
    // A symbolic size survives a size-preserving conv (stride 1, "same" padding): 3×3 pad 1 keeps 'h'.
    if (typeof d !== 'number') shape.push(s === 1 && same ? d : ctx.fresh());
    else if (g.autoPad === 'SAME_UPPER' || g.autoPad === 'SAME_LOWER') shape.push(Math.ceil(d / s));
    else if (g.autoPad === 'VALID') shape.push(Math.floor((d - span) / s) + 1);
    else shape.push(Math.floor((d + g.pads[i] + g.pads[i + g.spatial] - span) / s) + 1);
  }
  return [{ dtype, shape }];
};

const convTranspose: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const w = input(ctx, 1);
  const dtype = sameDType(ctx, ctx.inputs);
  const g = convGeometry(ctx, x.shape, w.shape);
  const outPad = intsAttr(ctx, 'output_padding') ?? new Array<number>(g.spatial).fill(0);
  const outShape = intsAttr(ctx, 'output_shape');
  const [cin, wcin] = [x.shape[1], w.shape[0]];
  if (typeof cin === 'number' && typeof wcin === 'number' && cin !== wcin) {
    throw new Error(
      `ConvTranspose: input has ${cin} channels but weight [C_in, C_out/group, …] has ${wcin}`,
    );
  }
  const cout = typeof w.shape[1] === 'number' ? w.shape[1] * g.group : ctx.fresh();
  const shape: Dim[] = [x.shape[0], cout];
  for (let i = 0; i < g.spatial; i++) {
    const d = x.shape[2 + i];
    const s = g.strides[i];
    if (outShape) shape.push(outShape[outShape.length - g.spatial + i]);
    else if (typeof d !== 'number') shape.push(ctx.fresh());
    else if (g.autoPad === 'SAME_UPPER' || g.autoPad === 'SAME_LOWER') shape.push(d * s);
    else {
      const span = g.dilations[i] * (g.kernel[i] - 1) + 1;
      const pads = g.autoPad === 'VALID' ? 0 : g.pads[i] + g.pads[i + g.spatial];
      shape.push(s * (d - 1) + outPad[i] + span - pads);
    }
  }
  return [{ dtype, shape }];
};

const matmul: InferFn = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  const dtype = sameDType(ctx, ctx.inputs);
  if (a.shape.length === 0 || b.shape.length === 0)
    throw new Error('MatMul: operands must have rank ≥ 1');
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const k1 = as[as.length - 1];
  const k2 = bs[bs.length - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new Error(
      `MatMul: inner dimensions differ: [${a.shape.join(', ')}] × [${b.shape.join(', ')}]`,
    );
  }
  const shape: Dim[] = broadcastShapes(as.slice(0, -2), bs.slice(0, -2), 'MatMul');
  if (a.shape.length !== 1) shape.push(as[as.length - 2]);
  if (b.shape.length !== 1) shape.push(bs[bs.length - 1]);
  return [{ dtype, shape }];
};

const gemm: InferFn = (ctx) => {
  const a = input(ctx, 0);
  const b = input(ctx, 1);
  const dtype = sameDType(ctx, ctx.inputs);
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw new Error(
      `Gemm: operands must be 2-D, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  const ta = intAttr(ctx, 'transA', 0) === 1;
  const tb = intAttr(ctx, 'transB', 0) === 1;
  const [m, ka] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
    throw new Error(
      `Gemm: inner dimensions differ (${ka} vs ${kb}) with transA=${+ta} transB=${+tb}`,
    );
  }
  const c = ctx.inputs[2];
  if (c) broadcastShapes([m, n], c.shape, 'Gemm bias');
  return [{ dtype, shape: [m, n] }];
};

/** Scale/bias of per-channel normalisations must be [C]. */
function checkChannelParams(ctx: InferContext, channels: Dim, from: number): void {
  for (let i = from; i < ctx.inputs.length; i++) {
    const p = ctx.inputs[i];
    if (!p) continue;
    const ok =
      p.shape.length === 1 &&
      (typeof channels !== 'number' || typeof p.shape[0] !== 'number' || p.shape[0] === channels);
    if (!ok) {
      throw new Error(
        `${ctx.opType}: input ${i} ('${p.name}') must have shape [${channels}], got [${p.shape.join(', ')}]`,
      );
    }
  }
}

const groupNorm: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const dtype = sameDType(ctx, ctx.inputs);
  const groups = intAttr(ctx, 'num_groups');
  const c = x.shape[1];
  if (x.shape.length < 2)
    throw new Error(`GroupNormalization: input must be [N, C, ...], got rank ${x.shape.length}`);
  if (typeof c === 'number' && c % groups !== 0) {
    throw new Error(`GroupNormalization: ${c} channels do not divide into num_groups ${groups}`);
  }
  // Opset 21 semantics: scale and bias are per channel (opset 18 had them per group).
  checkChannelParams(ctx, c, 1);
  return [{ dtype, shape: [...x.shape] }];
};

const instanceNorm: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const dtype = sameDType(ctx, ctx.inputs);
  checkChannelParams(ctx, x.shape[1], 1);
  return [{ dtype, shape: [...x.shape] }];
};

const layerNorm: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const dtype = sameDType(ctx, ctx.inputs);
  const axis = normAxis(intAttr(ctx, 'axis', -1), x.shape.length, 'LayerNormalization');
  for (const i of [1, 2]) {
    const p = ctx.inputs[i];
    if (p) broadcastShapes(x.shape.slice(axis), p.shape, `LayerNormalization input ${i}`);
  }
  const outs: InferredOutput[] = [{ dtype, shape: [...x.shape] }];
  // Mean and InvStdDev have the stash_type dtype (float32 by default) whatever the input dtype.
  const stash = dtypeFromOnnxCode(intAttr(ctx, 'stash_type', ONNX_DTYPE_CODE.float32));
  const stat: Dim[] = x.shape.map((d, i) => (i < axis ? d : 1));
  for (let i = 1; i < ctx.nOutputs; i++) outs.push({ dtype: stash, shape: [...stat] });
  return outs;
};

const softmax: InferFn = (ctx) => {
  const x = input(ctx, 0);
  normAxis(intAttr(ctx, 'axis', -1), x.shape.length, ctx.opType);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
};

const resize: InferFn = (ctx) => {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  const axes = (intsAttr(ctx, 'axes') ?? x.shape.map((_, i) => i)).map((a) =>
    normAxis(a, rank, 'Resize'),
  );
  const policy = stringAttr(ctx, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') {
    throw new Error(
      `Resize: keep_aspect_ratio_policy '${policy}' is not supported; valid: stretch`,
    );
  }
  const scales = constInput(ctx, 2, 'scales');
  const sizes = constInput(ctx, 3, 'sizes');
  const shape: Dim[] = [...x.shape];
  if (sizes && sizes.length > 0) {
    if (sizes.length !== axes.length)
      throw new Error(`Resize: ${sizes.length} sizes for ${axes.length} axes`);
    axes.forEach((a, i) => (shape[a] = sizes[i]));
  } else if (scales && scales.length > 0) {
    if (scales.length !== axes.length)
      throw new Error(`Resize: ${scales.length} scales for ${axes.length} axes`);
    axes.forEach((a, i) => {
      const d = x.shape[a];
      shape[a] =
        typeof d === 'number' ? Math.floor(d * scales[i]) : scales[i] === 1 ? d : ctx.fresh();
    });
  } else {
    throw new Error('Resize: scales (input 2) or sizes (input 3) must be a non-empty constant');
  }
  return [{ dtype: x.dtype, shape }];
};

export const NN_INFER: Readonly<Record<string, InferFn>> = {
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
  ConvTranspose: convTranspose,
  GroupNormalization: groupNorm,
  InstanceNormalization: instanceNorm,
  LayerNormalization: layerNorm,
  Softmax: softmax,
  LogSoftmax: softmax,
  Resize: resize,
};
