// Per-op functions for data movement: reshapes, slicing, gathers/scatters, padding, Resize, shape ops.
// Re-exported by ops.ts; see the note there.
import type { Value } from './builder.js';
import type { DType } from './dtype.js';
import { attr } from './ir.js';
import { tensorData } from './tensor-data.js';
import {
  attrs,
  clampInt,
  ints,
  optBool,
  optInt,
  optInts,
  optString,
  type G,
  type IntsOrValue,
} from './ops-util.js';

/** `shape` as ONNX Reshape reads it: 0 copies the input dim (unless allowzero), -1 is inferred. */
export function Reshape(g: G, x: Value, shape: IntsOrValue, allowzero?: boolean): Value {
  return g.op('Reshape', [x, ints(g, shape)], attrs({ allowzero: optBool(allowzero) }));
}
/** Default perm reverses the dims. */
export function Transpose(g: G, x: Value, perm?: readonly number[]): Value {
  return g.op('Transpose', [x], attrs({ perm: optInts(perm) }));
}
export function Flatten(g: G, x: Value, axis = 1): Value {
  return g.op('Flatten', [x], { axis: attr.int(axis) });
}
/** Without axes, every static 1 is removed. */
export function Squeeze(g: G, x: Value, axes?: readonly number[]): Value {
  return g.op('Squeeze', axes ? [x, g.ints(axes)] : [x]);
}
export function Unsqueeze(g: G, x: Value, axes: readonly number[]): Value {
  return g.op('Unsqueeze', [x, g.ints(axes)]);
}
export function Concat(g: G, xs: readonly Value[], axis: number): Value {
  if (xs.length === 0) throw new Error('Concat: needs at least one input');
  return g.op('Concat', xs, { axis: attr.int(axis) });
}
/** `sizes` as a list splits into those sizes; a number n makes n chunks of ceil(d / n). */
export function Split(g: G, x: Value, sizes: readonly number[] | number, axis = 0): Value[] {
  if (typeof sizes === 'number') {
    return g.node(
      'Split',
      [x],
      { axis: attr.int(axis), num_outputs: attr.int(sizes) },
      { outputs: sizes },
    );
  }
  return g.node('Split', [x, g.ints(sizes)], { axis: attr.int(axis) }, { outputs: sizes.length });
}
/** Python slicing per axis: negative indices count from the end; ±Infinity means "to the edge". */
export function Slice(
  g: G,
  x: Value,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Value {
  const ins = [x, ints(g, starts), ints(g, ends)];
  if (axes || steps) ins.push(ints(g, axes ?? starts.map((_, i) => i)));
  if (steps) ins.push(ints(g, steps));
  return g.op('Slice', ins);
}
/** A number index drops the axis (like x[i]); a list or a value keeps its shape in place of it. */
export function Gather(
  g: G,
  x: Value,
  indices: Value | readonly number[] | number,
  axis = 0,
): Value {
  const idx =
    typeof indices === 'number'
      ? g.constant(indices, 'int64', [])
      : Array.isArray(indices)
        ? g.ints(indices as number[])
        : (indices as Value);
  return g.op('Gather', [x, idx], { axis: attr.int(axis) });
}
export function GatherElements(g: G, x: Value, indices: Value, axis = 0): Value {
  return g.op('GatherElements', [x, indices], { axis: attr.int(axis) });
}
export function GatherND(g: G, x: Value, indices: Value, batchDims?: number): Value {
  return g.op('GatherND', [x, indices], attrs({ batch_dims: optInt(batchDims) }));
}
export type ScatterReduction = 'none' | 'add' | 'mul' | 'max' | 'min';
export function ScatterElements(
  g: G,
  x: Value,
  indices: Value,
  updates: Value,
  opts: { axis?: number; reduction?: ScatterReduction } = {},
): Value {
  return g.op(
    'ScatterElements',
    [x, indices, updates],
    attrs({ axis: optInt(opts.axis), reduction: optString(opts.reduction) }),
  );
}
export function ScatterND(
  g: G,
  x: Value,
  indices: Value,
  updates: Value,
  reduction?: ScatterReduction,
): Value {
  return g.op('ScatterND', [x, indices, updates], attrs({ reduction: optString(reduction) }));
}
/** Bidirectional broadcast to `shape` (dims of 1 in `shape` keep x's dim). */
export function Expand(g: G, x: Value, shape: IntsOrValue): Value {
  return g.op('Expand', [x, ints(g, shape)]);
}
export function Tile(g: G, x: Value, repeats: IntsOrValue): Value {
  return g.op('Tile', [x, ints(g, repeats)]);
}
export type PadMode = 'constant' | 'reflect' | 'edge' | 'wrap';
/** `pads` = [x1_begin, x2_begin, …, x1_end, x2_end] over `axes` (default all). */
export function Pad(
  g: G,
  x: Value,
  pads: readonly number[],
  opts: { mode?: PadMode; value?: number; axes?: readonly number[] } = {},
): Value {
  const ins: (Value | null)[] = [x, g.ints(pads)];
  ins.push(opts.value === undefined ? null : g.constant(opts.value, x.dtype, []));
  if (opts.axes) ins.push(g.ints(opts.axes));
  while (ins[ins.length - 1] === null) ins.pop();
  return g.op('Pad', ins, attrs({ mode: optString(opts.mode) }));
}

export type ResizeMode = 'nearest' | 'linear' | 'cubic';
export type CoordinateTransformationMode =
  | 'half_pixel'
  | 'half_pixel_symmetric'
  | 'pytorch_half_pixel'
  | 'align_corners'
  | 'asymmetric'
  | 'tf_crop_and_resize';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
export interface ResizeOptions {
  /** One per axis (per entry of `axes`, or of every dim); exactly one of scales / sizes. */
  scales?: readonly number[];
  sizes?: readonly number[];
  axes?: readonly number[];
  mode?: ResizeMode;
  coordinateTransformationMode?: CoordinateTransformationMode;
  nearestMode?: NearestMode;
}
/**
 * Defaults match PyTorch: `mode: 'nearest'` uses 'asymmetric' + 'floor' (= F.interpolate
 * mode='nearest', the UNet/VAE upsampler); 'linear'/'cubic' use 'half_pixel' (align_corners=False).
 */
export function Resize(g: G, x: Value, opts: ResizeOptions): Value {
  if ((opts.scales === undefined) === (opts.sizes === undefined)) {
    throw new Error('Resize: give exactly one of scales or sizes');
  }
  const mode = opts.mode ?? 'nearest';
  const ctm =
    opts.coordinateTransformationMode ?? (mode === 'nearest' ? 'asymmetric' : 'half_pixel');
  const ins: (Value | null)[] = [x, null];
  if (opts.scales) ins.push(g.constant(opts.scales, 'float32', [opts.scales.length]));
  else ins.push(null, g.ints(opts.sizes as readonly number[]));
  return g.op(
    'Resize',
    ins,
    attrs({
      mode: attr.string(mode),
      coordinate_transformation_mode: attr.string(ctm),
      nearest_mode: mode === 'nearest' ? attr.string(opts.nearestMode ?? 'floor') : undefined,
      axes: optInts(opts.axes),
    }),
  );
}

/** The int64 shape of x, optionally dims [start, end). */
export function Shape(g: G, x: Value, start?: number, end?: number): Value {
  return g.op('Shape', [x], attrs({ start: optInt(start), end: optInt(end) }));
}
export function Size(g: G, x: Value): Value {
  return g.op('Size', [x]);
}
export function ConstantOfShape(
  g: G,
  shape: IntsOrValue,
  value = 0,
  dtype: DType = 'float32',
): Value {
  return g.op('ConstantOfShape', [ints(g, shape)], {
    value: attr.tensor(tensorData(dtype, [1], [value])),
  });
}
/** [start, start + delta, …) below limit, as scalars of `dtype`. */
export function Range(
  g: G,
  start: number,
  limit: number,
  delta = 1,
  dtype: DType = 'int64',
): Value {
  const s = (v: number) => g.constant(clampInt(v), dtype, []);
  return g.op('Range', [s(start), s(limit), s(delta)]);
}
