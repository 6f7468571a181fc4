// diffusers UNet2DConditionModel (SD1.x topology family) as a graph: timestep embedding,
// conv_in, down blocks pushing skips, the cross-attention mid block, up blocks popping them,
// and the GroupNorm/SiLU/conv_out head. Weight and module names are diffusers'.
import { GraphBuilder, attr, type Dim, type Graph, type Value } from '../../graph/index.js';
import {
  conv2d,
  groupNorm,
  linear,
  resnetBlock,
  silu,
  timestepEmbedding,
  upsampleNearest2x,
  type Adapter,
  type ModelContext,
} from '../nn.js';
import { WeightBinder, type WeightSource } from '../weights.js';
import { validateUNetConfig, type UNetConfig } from './config.js';
import { transformer2d } from './transformer.js';

export interface UNetInputs {
  /** Noisy latents [B, in_channels, H, W] in the compute dtype. */
  readonly sample: Value;
  /** Timesteps, float [1] (broadcast to the batch) or [B]; fractional values allowed. */
  readonly timestep: Value;
  /** Text conditioning [B, S, cross_attention_dim] in the compute dtype. */
  readonly encoderHiddenStates: Value;
}

/** Adds the UNet to `m.g`; returns the noise prediction [B, out_channels, H, W]. */
export function unet2dCondition(m: ModelContext, cfg: UNetConfig, inp: UNetInputs): Value {
  validateUNetConfig(cfg);
  const { g } = m;
  const tap = (name: string, v: Value) => m.tap?.(name, v);
  const boc = cfg.blockOutChannels;
  const c0 = boc[0];
  const tdim = 4 * c0;
  const groups = cfg.normNumGroups;
  const eps = cfg.normEps;
  const ctx = inp.encoderHiddenStates;
  const last = boc.length - 1;

  // 1. Timestep features (float32), then the time MLP in the compute dtype.
  const tproj = timestepEmbedding(g, inp.timestep, c0, {
    flipSinToCos: cfg.flipSinToCos,
    freqShift: cfg.freqShift,
  });
  tap('time_proj', tproj);
  let temb = linear(m, 'time_embedding.linear_1', g.cast(tproj, m.dtype), c0, tdim);
  temb = linear(m, 'time_embedding.linear_2', silu(g, temb), tdim, tdim);
  tap('time_embedding', temb);
  const tembAct = silu(g, temb); // every resnet applies silu to temb: do it once
  const res = (name: string, x: Value, inC: number, outC: number) =>
    g.scope(name, () =>
      resnetBlock(m, name, x, { inC, outC, groups, eps, tembAct, tembDim: tdim }),
    );
  const attn = (name: string, x: Value, c: number, heads: number, layers: number) =>
    transformer2d(m, name, x, ctx, {
      channels: c,
      heads,
      crossAttentionDim: cfg.crossAttentionDim,
      groups,
      layers,
      useLinearProjection: cfg.useLinearProjection,
    });

  // 2. conv_in; its output is the first skip.
  let h = conv2d(m, 'conv_in', inp.sample, cfg.inChannels, c0);
  tap('conv_in', h);
  const skips: { v: Value; c: number }[] = [{ v: h, c: c0 }];
  let ch = c0;

  // 3. Down blocks: resnet → (attention) per layer, each output a skip; then the downsampler.
  boc.forEach((out, i) => {
    const cross = cfg.downBlockTypes[i] === 'CrossAttnDownBlock2D';
    let pushed = 0;
    const push = (v: Value, c: number) => {
      skips.push({ v, c });
      tap(`down_blocks.${i}.res_samples.${pushed++}`, v);
    };
    for (let j = 0; j < cfg.layersPerBlock; j++) {
      h = res(`down_blocks.${i}.resnets.${j}`, h, ch, out);
      ch = out;
      if (cross)
        h = attn(
          `down_blocks.${i}.attentions.${j}`,
          h,
          ch,
          cfg.attentionHeads[i],
          cfg.transformerLayersPerBlock[i],
        );
      push(h, ch);
    }
    if (i !== last) {
      h = conv2d(m, `down_blocks.${i}.downsamplers.0.conv`, h, ch, ch, {
        stride: 2,
        padding: cfg.downsamplePadding === 1 ? 1 : [0, 0, 1, 1],
      });
      push(h, ch);
    }
    tap(`down_blocks.${i}`, h);
  });

  // 4. Mid block: resnet → attention → resnet at the deepest width.
  h = res('mid_block.resnets.0', h, ch, ch);
  h = attn(
    'mid_block.attentions.0',
    h,
    ch,
    cfg.attentionHeads[last],
    cfg.transformerLayersPerBlock[last],
  );
  h = res('mid_block.resnets.1', h, ch, ch);
  tap('mid_block', h);

  // 5. Up blocks (deepest first): concat [hidden, skip] → resnet → (attention); then upsample.
  const rev = <T>(a: readonly T[]) => [...a].reverse();
  const [revC, revTypes, revHeads, revLayers] = [
    rev(boc),
    cfg.upBlockTypes,
    rev(cfg.attentionHeads),
    rev(cfg.transformerLayersPerBlock),
  ];
  revC.forEach((out, i) => {
    const cross = revTypes[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j <= cfg.layersPerBlock; j++) {
      const skip = skips.pop();
      if (!skip)
        throw new Error(
          `UNet: up_blocks.${i} ran out of skip connections; the block layout is inconsistent`,
        );
      h = g.op('Concat', [h, skip.v], { axis: attr.int(1) });
      h = res(`up_blocks.${i}.resnets.${j}`, h, ch + skip.c, out);
      ch = out;
      if (cross) h = attn(`up_blocks.${i}.attentions.${j}`, h, ch, revHeads[i], revLayers[i]);
    }
    if (i !== last)
      h = conv2d(m, `up_blocks.${i}.upsamplers.0.conv`, upsampleNearest2x(g, h), ch, ch);
    tap(`up_blocks.${i}`, h);
  });

  // 6. Output head.
  h = groupNorm(m, 'conv_norm_out', h, ch, groups, eps);
  tap('conv_norm_out', h);
  h = silu(g, h);
  tap('conv_act', h);
  h = conv2d(m, 'conv_out', h, ch, cfg.outChannels);
  tap('conv_out', h);
  return h;
}

export interface UNetGraphOptions {
  /** Compute dtype of sample / encoder_hidden_states / the output (default float32). */
  dtype?: 'float32' | 'float16';
  /** Dimensions of `sample`: numbers or symbolic names (defaults 'batch', 'height', 'width'). */
  batch?: Dim;
  height?: Dim;
  width?: Dim;
  /** Tokens in encoder_hidden_states (default 77). */
  seqLen?: Dim;
  adapter?: Adapter;
  tap?: (name: string, value: Value) => void;
  initializerPrefix?: string;
}

/**
 * A standalone UNet graph. Inputs: `sample` [batch, in, height, width], `timestep` float32
 * [timestep_batch] (1 or batch), `encoder_hidden_states` [batch, seq, cross]; output
 * `noise_pred`. Height and width must be multiples of 2^(levels−1) (8 for SD: images
 * multiples of 64). Throws listing missing and unused weights.
 */
export function buildUnetGraph(
  cfg: UNetConfig,
  weights: WeightSource,
  opts: UNetGraphOptions = {},
): Graph {
  const factor = 2 ** (cfg.blockOutChannels.length - 1);
  for (const [key, d] of [
    ['height', opts.height],
    ['width', opts.width],
  ] as const) {
    if (typeof d === 'number' && d % factor !== 0) {
      throw new Error(
        `UNet: latent ${key} ${d} must be a multiple of ${factor} (image ${factor * 8} px)`,
      );
    }
  }
  const g = new GraphBuilder('unet');
  const dtype = opts.dtype ?? 'float32';
  const w = new WeightBinder(g, weights, {
    computeDType: dtype,
    label: 'UNet',
    initializerPrefix: opts.initializerPrefix,
  });
  const batch = opts.batch ?? 'batch';
  const sample = g.input('sample', dtype, [
    batch,
    cfg.inChannels,
    opts.height ?? 'height',
    opts.width ?? 'width',
  ]);
  const timestep = g.input('timestep', 'float32', ['timestep_batch']);
  const encoderHiddenStates = g.input('encoder_hidden_states', dtype, [
    batch,
    opts.seqLen ?? 77,
    cfg.crossAttentionDim,
  ]);
  const out = unet2dCondition({ g, w, dtype, adapter: opts.adapter, tap: opts.tap }, cfg, {
    sample,
    timestep,
    encoderHiddenStates,
  });
  w.finish();
  g.output(out, 'noise_pred');
  return g.build();
}
