// diffusers AutoencoderKL (the SD VAE) as graphs: the encoder gives the latent distribution
// (mean, std), the decoder turns latents back into an image. Always float32: the SD VAE
// overflows in float16. Weight names are diffusers' (`encoder.down_blocks.0.resnets.0.conv1.weight`).
//
// Latent scaling: the graphs work on raw VAE latents unless `scalingFactor` is given. Then
// encode returns mean·sf and std·sf (what the UNet sees) and decode divides its input by sf —
// so a pipeline applies the factor in exactly one place.
import { GraphBuilder, attr, type Dim, type Graph, type Value } from '../../graph/index.js';
import {
  attention,
  conv2d,
  fromTokens,
  groupNorm,
  resnetBlock,
  scalar,
  silu,
  toTokens,
  upsampleNearest2x,
  type ModelContext,
} from '../nn.js';
import { WeightBinder, type WeightSource } from '../weights.js';
import type { VaeConfig } from './config.js';

const EPS = 1e-6; // every VAE GroupNorm
const LOGVAR_MIN = -30;
const LOGVAR_MAX = 20;

function res(
  m: ModelContext,
  cfg: VaeConfig,
  name: string,
  x: Value,
  inC: number,
  outC: number,
): Value {
  return m.g.scope(name, () =>
    resnetBlock(m, name, x, { inC, outC, groups: cfg.normNumGroups, eps: EPS }),
  );
}

/** Single-head self-attention over pixels: GN → to_q/k/v → softmax(q·kᵀ/√C)·v → to_out.0, + x. */
function midAttention(m: ModelContext, cfg: VaeConfig, name: string, x: Value, c: number): Value {
  const { g } = m;
  return g.scope(name, () => {
    const tokens = toTokens(g, groupNorm(m, `${name}.group_norm`, x, c, cfg.normNumGroups, EPS), c);
    const h = attention(m, name, tokens, null, { queryDim: c, heads: 1, qkvBias: true });
    return g.op('Add', [fromTokens(g, h, x, c), x]);
  });
}

function midBlock(m: ModelContext, cfg: VaeConfig, prefix: string, x: Value, c: number): Value {
  let h = res(m, cfg, `${prefix}.mid_block.resnets.0`, x, c, c);
  h = midAttention(m, cfg, `${prefix}.mid_block.attentions.0`, h, c);
  return res(m, cfg, `${prefix}.mid_block.resnets.1`, h, c, c);
}

function head(
  m: ModelContext,
  cfg: VaeConfig,
  prefix: string,
  x: Value,
  c: number,
  outC: number,
): Value {
  const h = silu(m.g, groupNorm(m, `${prefix}.conv_norm_out`, x, c, cfg.normNumGroups, EPS));
  return conv2d(m, `${prefix}.conv_out`, h, c, outC);
}

export interface VaeLatentDist {
  /** quant_conv output [B, 2·latent, h, w] = [mean, logvar] before the clamp. */
  readonly moments: Value;
  readonly mean: Value;
  /** log-variance clamped to [−30, 20]. */
  readonly logvar: Value;
  /** exp(0.5·logvar). */
  readonly std: Value;
}

/** Adds the VAE encoder to `m.g`: image [B, in, H, W] in [−1, 1] → latent distribution (raw scale). */
export function vaeEncoder(m: ModelContext, cfg: VaeConfig, image: Value): VaeLatentDist {
  const { g } = m;
  const tap = (name: string, v: Value) => m.tap?.(name, v);
  const boc = cfg.blockOutChannels;
  let h = conv2d(m, 'encoder.conv_in', image, cfg.inChannels, boc[0]);
  let ch = boc[0];
  boc.forEach((out, i) => {
    for (let j = 0; j < cfg.layersPerBlock; j++) {
      h = res(m, cfg, `encoder.down_blocks.${i}.resnets.${j}`, h, ch, out);
      ch = out;
    }
    if (i !== boc.length - 1) {
      // Zero-pad right and bottom by one, then a stride-2 conv without padding.
      h = conv2d(m, `encoder.down_blocks.${i}.downsamplers.0.conv`, h, ch, ch, {
        stride: 2,
        padding: [0, 0, 1, 1],
      });
    }
    tap(`encoder.down_blocks.${i}`, h);
  });
  h = midBlock(m, cfg, 'encoder', h, ch);
  tap('encoder.mid_block', h);
  h = head(m, cfg, 'encoder', h, ch, 2 * cfg.latentChannels);
  tap('encoder.conv_out', h);
  const moments = conv2d(m, 'quant_conv', h, 2 * cfg.latentChannels, 2 * cfg.latentChannels, {
    kernel: 1,
  });
  const L = cfg.latentChannels;
  const [mean, rawLogvar] = g.node(
    'Split',
    [moments, g.ints([L, L])],
    { axis: attr.int(1) },
    { outputs: 2 },
  );
  const logvar = g.op('Clip', [
    rawLogvar,
    scalar(g, LOGVAR_MIN, m.dtype),
    scalar(g, LOGVAR_MAX, m.dtype),
  ]);
  const std = g.op('Exp', [g.op('Mul', [logvar, scalar(g, 0.5, m.dtype)])]);
  return { moments, mean, logvar, std };
}

/** Adds the VAE decoder to `m.g`: raw latents [B, latent, h, w] → image [B, out, 8h, 8w] (not clamped). */
export function vaeDecoder(m: ModelContext, cfg: VaeConfig, latents: Value): Value {
  const tap = (name: string, v: Value) => m.tap?.(name, v);
  const L = cfg.latentChannels;
  const rev = [...cfg.blockOutChannels].reverse();
  let h = conv2d(m, 'post_quant_conv', latents, L, L, { kernel: 1 });
  tap('post_quant_conv', h);
  h = conv2d(m, 'decoder.conv_in', h, L, rev[0]);
  tap('decoder.conv_in', h);
  let ch = rev[0];
  h = midBlock(m, cfg, 'decoder', h, ch);
  tap('decoder.mid_block', h);
  rev.forEach((out, i) => {
    for (let j = 0; j <= cfg.layersPerBlock; j++) {
      h = res(m, cfg, `decoder.up_blocks.${i}.resnets.${j}`, h, ch, out);
      ch = out;
    }
    if (i !== rev.length - 1)
      h = conv2d(m, `decoder.up_blocks.${i}.upsamplers.0.conv`, upsampleNearest2x(m.g, h), ch, ch);
    tap(`decoder.up_blocks.${i}`, h);
  });
  return head(m, cfg, 'decoder', h, ch, cfg.outChannels);
}

export interface VaeGraphOptions {
  /** Multiply encoder outputs by / divide decoder input by this (e.g. cfg.scalingFactor). Default: none. */
  scalingFactor?: number;
  batch?: Dim;
  height?: Dim;
  width?: Dim;
  tap?: (name: string, value: Value) => void;
  initializerPrefix?: string;
}

function newVaeContext(name: string, weights: WeightSource, opts: VaeGraphOptions) {
  const g = new GraphBuilder(name);
  const w = new WeightBinder(g, weights, {
    computeDType: 'float32',
    label: 'VAE',
    initializerPrefix: opts.initializerPrefix,
  });
  const m: ModelContext = { g, w, dtype: 'float32', tap: opts.tap };
  return { g, w, m };
}

/**
 * VAE encode graph. Input `image` float32 [batch, in, height, width] in [−1, 1]; outputs
 * `latent_mean`, `latent_std` and `latent_logvar` [batch, latent, height/8, width/8]. With
 * `withSample`, an input `noise` (same shape as the mean) and an output
 * `latent_sample` = mean + std·noise. Weights not used by the encoder (decoder.*,
 * post_quant_conv) are expected in the source and left out.
 */
export function buildVaeEncoderGraph(
  cfg: VaeConfig,
  weights: WeightSource,
  opts: VaeGraphOptions & { withSample?: boolean } = {},
): Graph {
  const { g, w, m } = newVaeContext('vae_encoder', weights, opts);
  const image = g.input('image', 'float32', [
    opts.batch ?? 'batch',
    cfg.inChannels,
    opts.height ?? 'height',
    opts.width ?? 'width',
  ]);
  const dist = vaeEncoder(m, cfg, image);
  w.skip('decoder.');
  w.skip('post_quant_conv.');
  w.finish();
  const sf = opts.scalingFactor;
  const scaled = (v: Value) => (sf === undefined ? v : g.op('Mul', [v, scalar(g, sf, 'float32')]));
  const mean = scaled(dist.mean);
  const std = scaled(dist.std);
  g.output(mean, 'latent_mean');
  g.output(std, 'latent_std');
  g.output(dist.logvar, 'latent_logvar');
  if (opts.withSample) {
    const [b, c, h, wd] = mean.shape;
    const dim = (d: Dim, name: string) => (typeof d === 'number' ? d : name);
    const noise = g.input('noise', 'float32', [
      b,
      c,
      dim(h, 'latent_height'),
      dim(wd, 'latent_width'),
    ]);
    g.output(g.op('Add', [mean, g.op('Mul', [std, noise])]), 'latent_sample');
  }
  return g.build();
}

/**
 * VAE decode graph. Input `latents` float32 [batch, latent, height, width]; output `image`
 * [batch, out, 8·height, 8·width], roughly in [−1, 1] and not clamped. With `scalingFactor`,
 * the input is divided by it first (UNet-scale latents). Encoder weights are left out.
 */
export function buildVaeDecoderGraph(
  cfg: VaeConfig,
  weights: WeightSource,
  opts: VaeGraphOptions = {},
): Graph {
  const { g, w, m } = newVaeContext('vae_decoder', weights, opts);
  let z = g.input('latents', 'float32', [
    opts.batch ?? 'batch',
    cfg.latentChannels,
    opts.height ?? 'height',
    opts.width ?? 'width',
  ]);
  if (opts.scalingFactor !== undefined)
    z = g.op('Div', [z, scalar(g, opts.scalingFactor, 'float32')]);
  const image = vaeDecoder(m, cfg, z);
  w.skip('encoder.');
  w.skip('quant_conv.');
  w.finish();
  g.output(image, 'image');
  return g.build();
}
