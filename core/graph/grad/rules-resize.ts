// Gradient of Resize for nearest-neighbour up-sampling by integer factors (the UNet's 2×
// upsample): each input pixel is copied into an f×f block, so its gradient is the sum of that
// block — a sum-pool done as Reshape [.., d, f, ..] + ReduceSum over the f axes.
import type { Dim } from '../ir.js';
import type { GradRule } from './context.js';
import { normAxes, reduceSum, reshapeTo } from './emit.js';

const COORDINATE_MODES = [
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'asymmetric',
  'tf_half_pixel_for_nearest',
  'align_corners',
];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/** The input index ONNX Resize (nearest) reads for output index o. */
function sourceIndex(
  o: number,
  size: number,
  out: number,
  scale: number,
  ctm: string,
  nm: string,
): number {
  let x: number;
  if (ctm === 'asymmetric') x = o / scale;
  else if (ctm === 'tf_half_pixel_for_nearest') x = (o + 0.5) / scale;
  else if (ctm === 'align_corners') x = out === 1 ? 0 : (o * (size - 1)) / (out - 1);
  else if (ctm === 'pytorch_half_pixel' && out === 1) x = 0;
  else x = (o + 0.5) / scale - 0.5; // half_pixel, half_pixel_symmetric (equal for exact scales)
  const half = x - Math.floor(x) === 0.5;
  let r: number;
  if (nm === 'floor') r = Math.floor(x);
  else if (nm === 'ceil') r = Math.ceil(x);
  else if (half) r = nm === 'round_prefer_floor' ? Math.floor(x) : Math.ceil(x);
  else r = Math.round(x);
  return Math.min(Math.max(r, 0), size - 1);
}

export const gradResize: GradRule = (ctx) => {
  const none = ctx.inputs.map(() => null);
  if (!ctx.needs[0]) return none;
  const x = ctx.input(0);
  const mode = ctx.str('mode', 'nearest');
  if (mode !== 'nearest') throw ctx.error(`mode='${mode}' has no gradient rule (only 'nearest')`);
  const ctm = ctx.str('coordinate_transformation_mode', 'half_pixel');
  const nm = ctx.str('nearest_mode', 'round_prefer_floor');
  if (!COORDINATE_MODES.includes(ctm))
    throw ctx.error(`unknown coordinate_transformation_mode '${ctm}'`);
  if (!NEAREST_MODES.includes(nm)) throw ctx.error(`unknown nearest_mode '${nm}'`);
  const rank = x.shape.length;
  const axesAttr = ctx.ints('axes');
  const axes = axesAttr ? normAxes(axesAttr, rank, 'Resize') : x.shape.map((_, i) => i);
  const scales = ctx.inputs[2] && ctx.constant(2)?.length ? ctx.constant(2) : undefined;
  const sizes = ctx.inputs[3] ? ctx.constant(3) : undefined;
  if (!scales && !sizes) throw ctx.error('scales or sizes must be a constant for the gradient');
  const factors: number[] = new Array<number>(rank).fill(1);
  axes.forEach((a, k) => {
    const size = x.shape[a];
    const out = ctx.y.shape[a];
    let scale: number;
    if (scales) scale = scales[k];
    else if (typeof size === 'number') scale = (sizes as number[])[k] / size;
    else throw ctx.error(`axis ${a} needs a static size when Resize is given sizes`);
    if (scale === 1) return;
    if (
      !Number.isInteger(scale) ||
      scale < 1 ||
      typeof size !== 'number' ||
      typeof out !== 'number'
    ) {
      throw ctx.error(
        `only integer up-scaling of static axes has a gradient rule; axis ${a} has scale ${scale}`,
      );
    }
    for (let o = 0; o < out; o++) {
      if (sourceIndex(o, size, out, scale, ctm, nm) !== Math.floor(o / scale)) {
        throw ctx.error(
          `coordinate_transformation_mode='${ctm}' with nearest_mode='${nm}' does not copy whole ` +
            `${scale}-blocks on axis ${a}; no gradient rule for that sampling`,
        );
      }
    }
    factors[a] = scale;
  });
  const dims: Dim[] = [];
  const sumAxes: number[] = [];
  x.shape.forEach((d, i) => {
    dims.push(d);
    if (factors[i] > 1) {
      sumAxes.push(dims.length);
      dims.push(factors[i]);
    }
  });
  const blocks = reshapeTo(ctx.g, ctx.dy, dims);
  return [reduceSum(ctx.g, blocks, sumAxes, false), ...none.slice(1)];
};
