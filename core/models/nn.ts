// Layer helpers shared by the CLIP, UNet and VAE builders. Each one adds a few standard ONNX
// ops to the graph and takes its weights from the binder under the diffusers module name, so
// the initializer names read like the checkpoint ("…attn1.to_q.weight").
//
// Every Linear and Conv goes through `ModelContext.adapter` (when set) with its module name:
// that is the hook LoRA uses to add `up(down(x))·scale` to a module's output without the model
// code knowing about LoRA.
import { attr, type DType, type GraphBuilder, type Value } from '../graph/index.js';
import type { WeightBinder } from './weights.js';

/** A Linear or Conv2d that an adapter may wrap. */
export interface AdapterSite {
  /** Diffusers/transformers module name, e.g. `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`. */
  readonly module: string;
  readonly kind: 'linear' | 'conv2d';
  /** The module input: tokens [..., inFeatures] for linear, NCHW for conv2d. */
  readonly input: Value;
  /** The frozen module's output (bias included). */
  readonly output: Value;
  /** The frozen weight in the compute dtype, PyTorch layout ([out, in] or [out, in, kh, kw]). */
  readonly weight: Value;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Conv geometry (linear: kernel [1, 1], stride 1, pads 0). */
  readonly kernel: readonly [number, number];
  readonly stride: number;
  /** ONNX Conv pads [top, left, bottom, right]. */
  readonly pads: readonly [number, number, number, number];
}

/** Returns the module's new output (e.g. `output + lora(input)`), or undefined to leave it alone. */
export type Adapter = (g: GraphBuilder, site: AdapterSite) => Value | undefined;

/** What every layer helper needs: the graph, where weights come from, and the adapter hook. */
export interface ModelContext {
  readonly g: GraphBuilder;
  readonly w: WeightBinder;
  /** Compute dtype of activations (weights are cast to it by the binder). */
  readonly dtype: DType;
  readonly adapter?: Adapter;
  /** Called with named intermediate values (e.g. 'down_blocks.0'), for debugging and parity tests. */
  readonly tap?: (name: string, value: Value) => void;
}

function adapt(m: ModelContext, site: AdapterSite): Value {
  return (m.adapter && m.adapter(m.g, site)) ?? site.output;
}

/** y = x·Wᵀ + b over the last axis; W is PyTorch-shaped [out, in]. */
export function linear(
  m: ModelContext,
  name: string,
  x: Value,
  inF: number,
  outF: number,
  bias = true,
): Value {
  const { g } = m;
  const w = m.w.param(`${name}.weight`, [outF, inF]);
  let y = g.op('MatMul', [x, g.op('Transpose', [w], { perm: attr.ints([1, 0]) })]);
  if (bias) y = g.op('Add', [y, m.w.param(`${name}.bias`, [outF])]);
  return adapt(m, {
    module: name,
    kind: 'linear',
    input: x,
    output: y,
    weight: w,
    inFeatures: inF,
    outFeatures: outF,
    kernel: [1, 1],
    stride: 1,
    pads: [0, 0, 0, 0],
  });
}

export interface Conv2dOptions {
  kernel?: number;
  stride?: number;
  /** Symmetric padding, or explicit ONNX pads [top, left, bottom, right]. Default: kernel/2. */
  padding?: number | readonly [number, number, number, number];
  bias?: boolean;
}

/** NCHW 2-D convolution with a PyTorch-shaped kernel [out, in, k, k]. */
export function conv2d(
  m: ModelContext,
  name: string,
  x: Value,
  inC: number,
  outC: number,
  o: Conv2dOptions = {},
): Value {
  const { g } = m;
  const k = o.kernel ?? 3;
  const stride = o.stride ?? 1;
  const p = o.padding ?? Math.floor(k / 2);
  const pads: [number, number, number, number] =
    typeof p === 'number' ? [p, p, p, p] : [p[0], p[1], p[2], p[3]];
  const inputs = [x, m.w.param(`${name}.weight`, [outC, inC, k, k])];
  if (o.bias ?? true) inputs.push(m.w.param(`${name}.bias`, [outC]));
  const y = g.op('Conv', inputs, {
    kernel_shape: attr.ints([k, k]),
    strides: attr.ints([stride, stride]),
    pads: attr.ints(pads),
  });
  return adapt(m, {
    module: name,
    kind: 'conv2d',
    input: x,
    output: y,
    weight: inputs[1],
    inFeatures: inC,
    outFeatures: outC,
    kernel: [k, k],
    stride,
    pads,
  });
}

/**
 * GroupNorm over NCHW with per-channel affine. Built as Reshape [B, G, −1] → InstanceNormalization
 * → Reshape back → scale/shift rather than ONNX GroupNormalization: ORT's CPU EP has no kernel
 * for the latter (it expands the function) and measured 3.5× slower to run and 4× slower to
 * create; InstanceNormalization has kernels on every EP.
 */
export function groupNorm(
  m: ModelContext,
  name: string,
  x: Value,
  channels: number,
  groups: number,
  eps: number,
): Value {
  const { g } = m;
  if (channels % groups !== 0) {
    throw new Error(`${name}: ${channels} channels do not split into ${groups} groups`);
  }
  const grouped = g.op('Reshape', [x, g.ints([0, groups, -1])]);
  const normed = g.op(
    'InstanceNormalization',
    [
      grouped,
      g.constant(new Array<number>(groups).fill(1), x.dtype, [groups]),
      g.constant(new Array<number>(groups).fill(0), x.dtype, [groups]),
    ],
    { epsilon: attr.float(eps) },
  );
  const rest = x.shape.slice(1);
  const back = rest.every((d) => typeof d === 'number')
    ? g.op('Reshape', [normed, g.ints([0, ...(rest as number[])])])
    : g.op('Reshape', [normed, g.op('Shape', [x])]);
  const perChannel = (v: Value) =>
    g.op('Unsqueeze', [v, g.ints(rest.slice(1).map((_, i) => i + 1))]);
  const scale = perChannel(m.w.param(`${name}.weight`, [channels]));
  return g.op('Add', [
    g.op('Mul', [back, scale]),
    perChannel(m.w.param(`${name}.bias`, [channels])),
  ]);
}

/** LayerNorm over the last axis. */
export function layerNorm(
  m: ModelContext,
  name: string,
  x: Value,
  dim: number,
  eps: number,
): Value {
  return m.g.op(
    'LayerNormalization',
    [x, m.w.param(`${name}.weight`, [dim]), m.w.param(`${name}.bias`, [dim])],
    {
      axis: attr.int(-1),
      epsilon: attr.float(eps),
    },
  );
}

/** A scalar constant of the activations' dtype. */
export function scalar(g: GraphBuilder, value: number, dtype: DType): Value {
  return g.constant([value], dtype, []);
}

/** silu(x) = x·σ(x) (ONNX has no SiLU op before opset 24). */
export function silu(g: GraphBuilder, x: Value): Value {
  return g.op('Mul', [x, g.op('Sigmoid', [x])]);
}

/** CLIP's quick_gelu(x) = x·σ(1.702·x). */
export function quickGelu(g: GraphBuilder, x: Value): Value {
  return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, scalar(g, 1.702, x.dtype)])])]);
}

/** Exact (erf) GELU. */
export function gelu(g: GraphBuilder, x: Value): Value {
  return g.op('Gelu', [x], { approximate: attr.string('none') });
}

/** GEGLU feed-forward input: proj dim → 2·inner, split [a, gate], a·gelu(gate). */
export function geglu(m: ModelContext, name: string, x: Value, dim: number, inner: number): Value {
  const { g } = m;
  const h = linear(m, `${name}.proj`, x, dim, inner * 2);
  const [a, gate] = g.node(
    'Split',
    [h, g.ints([inner, inner])],
    { axis: attr.int(-1) },
    { outputs: 2 },
  );
  return g.op('Mul', [a, gelu(g, gate)]);
}

/**
 * Scaled dot-product attention over [B, T, C] tensors split into `heads` heads:
 * softmax(q·kᵀ·scale + mask)·v. `mask` (optional) is added to the [T, S] scores.
 */
export function multiHeadAttention(
  g: GraphBuilder,
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  dim: number,
  opts: { scale?: number; mask?: Value } = {},
): Value {
  if (dim % heads !== 0)
    throw new Error(`attention: width ${dim} does not split into ${heads} heads`);
  const d = dim / heads;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const split = g.ints([0, 0, heads, d]);
  // Scale q before the product: T·d multiplies instead of T·S.
  const qs = g.op('Mul', [q, scalar(g, scale, q.dtype)]);
  const qh = g.op('Transpose', [g.op('Reshape', [qs, split])], { perm: attr.ints([0, 2, 1, 3]) });
  const kh = g.op('Transpose', [g.op('Reshape', [k, split])], { perm: attr.ints([0, 2, 3, 1]) });
  const vh = g.op('Transpose', [g.op('Reshape', [v, split])], { perm: attr.ints([0, 2, 1, 3]) });
  let scores = g.op('MatMul', [qh, kh]);
  if (opts.mask) scores = g.op('Add', [scores, opts.mask]);
  const probs = g.op('Softmax', [scores], { axis: attr.int(-1) });
  const out = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: attr.ints([0, 2, 1, 3]) });
  return g.op('Reshape', [out, g.ints([0, 0, dim])]);
}

export interface AttentionOptions {
  queryDim: number;
  /** Width of the context (cross-attention); omit for self-attention. */
  contextDim?: number;
  heads: number;
  /** Bias on to_q/to_k/to_v (false in the UNet, true in the VAE). */
  qkvBias?: boolean;
}

/** diffusers `Attention`: to_q/to_k/to_v → multi-head attention → to_out.0. */
export function attention(
  m: ModelContext,
  name: string,
  x: Value,
  context: Value | null,
  o: AttentionOptions,
): Value {
  const kvIn = context ?? x;
  const kvDim = context ? (o.contextDim ?? o.queryDim) : o.queryDim;
  const bias = o.qkvBias ?? false;
  const q = linear(m, `${name}.to_q`, x, o.queryDim, o.queryDim, bias);
  const k = linear(m, `${name}.to_k`, kvIn, kvDim, o.queryDim, bias);
  const v = linear(m, `${name}.to_v`, kvIn, kvDim, o.queryDim, bias);
  const h = multiHeadAttention(m.g, q, k, v, o.heads, o.queryDim);
  return linear(m, `${name}.to_out.0`, h, o.queryDim, o.queryDim);
}

/** [B, C, H, W] → [B, H·W, C] (one token per pixel). */
export function toTokens(g: GraphBuilder, x: Value, channels: number): Value {
  const [, , h, w] = x.shape;
  const hw = typeof h === 'number' && typeof w === 'number' ? h * w : -1;
  const flat = g.op('Reshape', [x, g.ints([0, channels, hw])]);
  return g.op('Transpose', [flat], { perm: attr.ints([0, 2, 1]) });
}

/** [B, H·W, C] → [B, C, H, W], taking H and W from `like` (an NCHW value). */
export function fromTokens(g: GraphBuilder, t: Value, like: Value, channels: number): Value {
  const chw = g.op('Transpose', [t], { perm: attr.ints([0, 2, 1]) });
  const [, , h, w] = like.shape;
  if (typeof h === 'number' && typeof w === 'number')
    return g.op('Reshape', [chw, g.ints([0, channels, h, w])]);
  // Symbolic H/W: read them at run time. Same channel count, so `like`'s whole shape fits.
  return g.op('Reshape', [chw, g.op('Shape', [like])]);
}

export interface TimestepEmbeddingOptions {
  flipSinToCos: boolean;
  freqShift: number;
  maxPeriod?: number;
}

/**
 * Sinusoidal timestep features [N, dim] from float timesteps [N] (fractional allowed), as
 * diffusers' get_timestep_embedding: freq_k = exp(−ln(maxPeriod)·k/(half − freqShift)).
 * Computed in float32 whatever the model dtype; the caller casts.
 */
export function timestepEmbedding(
  g: GraphBuilder,
  t: Value,
  dim: number,
  o: TimestepEmbeddingOptions,
): Value {
  if (dim % 2 !== 0) throw new Error(`timestep embedding width must be even, got ${dim}`);
  const half = dim / 2;
  const f = Math.fround;
  // Mirror the float32 arithmetic of the reference (exponent built in float32, then exp).
  const lnMax = f(-Math.log(o.maxPeriod ?? 10000));
  const freqs = Array.from({ length: half }, (_, k) =>
    f(Math.exp(f(f(lnMax * k) / (half - o.freqShift)))),
  );
  const tf = g.cast(t, 'float32');
  const args = g.op('Mul', [
    g.op('Unsqueeze', [tf, g.ints([1])]),
    g.constant(freqs, 'float32', [1, half]),
  ]);
  const sin = g.op('Sin', [args]);
  const cos = g.op('Cos', [args]);
  return g.op('Concat', o.flipSinToCos ? [cos, sin] : [sin, cos], { axis: attr.int(1) });
}

/**
 * diffusers ResnetBlock2D: conv1(silu(GN1(x))) [+ time_emb_proj(silu(temb))], then
 * conv2(silu(GN2(h))), plus x (through a 1×1 conv_shortcut when the width changes).
 * `tembAct` is silu(temb), computed once by the caller and shared by every resnet.
 */
export function resnetBlock(
  m: ModelContext,
  name: string,
  x: Value,
  o: { inC: number; outC: number; groups: number; eps: number; tembAct?: Value; tembDim?: number },
): Value {
  const { g } = m;
  let h = conv2d(
    m,
    `${name}.conv1`,
    silu(g, groupNorm(m, `${name}.norm1`, x, o.inC, o.groups, o.eps)),
    o.inC,
    o.outC,
  );
  if (o.tembAct && o.tembDim) {
    const t = linear(m, `${name}.time_emb_proj`, o.tembAct, o.tembDim, o.outC);
    h = g.op('Add', [h, g.op('Unsqueeze', [t, g.ints([2, 3])])]);
  }
  h = conv2d(
    m,
    `${name}.conv2`,
    silu(g, groupNorm(m, `${name}.norm2`, h, o.outC, o.groups, o.eps)),
    o.outC,
    o.outC,
  );
  const shortcut =
    o.inC === o.outC
      ? x
      : conv2d(m, `${name}.conv_shortcut`, x, o.inC, o.outC, { kernel: 1, padding: 0 });
  return g.op('Add', [shortcut, h]);
}

/** Nearest-neighbour ×2 up-sampling of NCHW (PyTorch `interpolate(scale_factor=2)`). */
export function upsampleNearest2x(g: GraphBuilder, x: Value): Value {
  return g.op('Resize', [x, null, g.constant([1, 1, 2, 2], 'float32', [4])], {
    mode: attr.string('nearest'),
    coordinate_transformation_mode: attr.string('asymmetric'),
    nearest_mode: attr.string('floor'),
  });
}
