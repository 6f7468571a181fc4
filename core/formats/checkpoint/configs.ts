// Model configs (diffusers / transformers config.json fields) for a single-file checkpoint,
// which carries no config. Everything the weights determine is read from diffusers-named
// shapes; what they cannot show (group count, head count, sample size, …) takes the SD1.x value
// unless the caller overrides it, and is checked against the channel counts it must divide.
import { CheckpointError } from './errors.js';
import { indicesOf, type ShapeMap } from './key-map.js';

export type ConfigJson = Record<string, unknown>;

export interface UNetConfig extends ConfigJson {
  in_channels: number;
  out_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  down_block_types: string[];
  up_block_types: string[];
  cross_attention_dim: number;
  attention_head_dim: number;
  norm_num_groups: number;
  norm_eps: number;
  sample_size: number;
  use_linear_projection: boolean;
  transformer_layers_per_block: number;
}

export interface VaeConfig extends ConfigJson {
  in_channels: number;
  out_channels: number;
  latent_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  norm_num_groups: number;
  scaling_factor: number;
  sample_size: number;
}

export interface ClipTextConfig extends ConfigJson {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: string;
  layer_norm_eps: number;
}

export interface ConfigOverrides {
  unet?: Partial<UNetConfig>;
  vae?: Partial<VaeConfig>;
  textEncoder?: Partial<ClipTextConfig>;
}

function shapeOf(shapes: ShapeMap, name: string, component: string): readonly number[] {
  const s = shapes.get(name);
  if (!s) throw new CheckpointError(`${component}: cannot derive the config, "${name}" is missing`);
  return s;
}

function checkDivides(
  component: string,
  field: string,
  value: number,
  channels: readonly number[],
): void {
  const bad = channels.find((c) => c % value !== 0);
  if (bad !== undefined) {
    throw new CheckpointError(
      `${component}: ${field} = ${value} does not divide the channel count ${bad}; the weights do not say ` +
        `what ${field} is, so pass it in the config overrides (configs.${component === 'text encoder' ? 'textEncoder' : component.toLowerCase()}.${field})`,
    );
  }
}

/** UNet2DConditionModel config from diffusers-named shapes. */
export function deriveUnetConfig(
  shapes: ShapeMap,
  overrides: Partial<UNetConfig> = {},
): UNetConfig {
  const c = 'UNet';
  const keys = [...shapes.keys()];
  const levels = indicesOf(keys, /^down_blocks\.(\d+)\./);
  const channels = levels.map(
    (i) => shapeOf(shapes, `down_blocks.${i}.resnets.0.conv1.weight`, c)[0],
  );
  const hasAttn = (block: string) => keys.some((k) => k.startsWith(`${block}.attentions.`));
  const attn2 = keys.find((k) => /\.attn2\.to_k\.weight$/.test(k));
  const projIn = keys.find((k) => /attentions\.\d+\.proj_in\.weight$/.test(k));
  const firstAttn = keys
    .find((k) => /^down_blocks\.\d+\.attentions\.0\./.test(k))
    ?.split('.')
    .slice(0, 4)
    .join('.');
  const derived = {
    in_channels: shapeOf(shapes, 'conv_in.weight', c)[1],
    out_channels: shapeOf(shapes, 'conv_out.weight', c)[0],
    block_out_channels: channels,
    layers_per_block: indicesOf(keys, /^down_blocks\.0\.resnets\.(\d+)\./).length,
    down_block_types: levels.map((i) =>
      hasAttn(`down_blocks.${i}`) ? 'CrossAttnDownBlock2D' : 'DownBlock2D',
    ),
    up_block_types: levels.map((i) =>
      hasAttn(`up_blocks.${i}`) ? 'CrossAttnUpBlock2D' : 'UpBlock2D',
    ),
    cross_attention_dim: attn2 ? shapes.get(attn2)![1] : 768,
    use_linear_projection: projIn ? shapes.get(projIn)!.length === 2 : false,
    transformer_layers_per_block: firstAttn
      ? indicesOf(
          keys,
          new RegExp(`^${firstAttn.replace(/\./g, '\\.')}\\.transformer_blocks\\.(\\d+)\\.`),
        ).length
      : 1,
  };
  const config: UNetConfig = {
    _class_name: 'UNet2DConditionModel',
    act_fn: 'silu',
    attention_head_dim: 8,
    center_input_sample: false,
    downsample_padding: 1,
    flip_sin_to_cos: true,
    freq_shift: 0,
    mid_block_scale_factor: 1,
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    norm_eps: 1e-5,
    norm_num_groups: 32,
    only_cross_attention: false,
    sample_size: 64,
    upcast_attention: false,
    ...derived,
    ...overrides,
  };
  checkDivides(c, 'norm_num_groups', config.norm_num_groups, config.block_out_channels);
  checkDivides(c, 'attention_head_dim', config.attention_head_dim, config.block_out_channels);
  return config;
}

/** AutoencoderKL config from diffusers-named shapes. */
export function deriveVaeConfig(shapes: ShapeMap, overrides: Partial<VaeConfig> = {}): VaeConfig {
  const c = 'VAE';
  const keys = [...shapes.keys()];
  const levels = indicesOf(keys, /^encoder\.down_blocks\.(\d+)\./);
  const channels = levels.map(
    (i) => shapeOf(shapes, `encoder.down_blocks.${i}.resnets.0.conv1.weight`, c)[0],
  );
  const config: VaeConfig = {
    _class_name: 'AutoencoderKL',
    act_fn: 'silu',
    force_upcast: true,
    norm_num_groups: 32,
    sample_size: 512,
    scaling_factor: 0.18215,
    in_channels: shapeOf(shapes, 'encoder.conv_in.weight', c)[1],
    out_channels: shapeOf(shapes, 'decoder.conv_out.weight', c)[0],
    latent_channels: shapeOf(shapes, 'post_quant_conv.weight', c)[0],
    block_out_channels: channels,
    layers_per_block: indicesOf(keys, /^encoder\.down_blocks\.0\.resnets\.(\d+)\./).length,
    down_block_types: levels.map(() => 'DownEncoderBlock2D'),
    up_block_types: levels.map(() => 'UpDecoderBlock2D'),
    ...overrides,
  };
  checkDivides(c, 'norm_num_groups', config.norm_num_groups, config.block_out_channels);
  return config;
}

/** CLIPTextModel config from transformers-named shapes (`text_model.*`). */
export function deriveClipTextConfig(
  shapes: ShapeMap,
  overrides: Partial<ClipTextConfig> = {},
): ClipTextConfig {
  const c = 'text encoder';
  const tok = shapeOf(shapes, 'text_model.embeddings.token_embedding.weight', c);
  const config: ClipTextConfig = {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
    num_attention_heads: 12,
    // The legacy ids of openai/clip-vit-large-patch14's config; the tokenizer's files rule.
    bos_token_id: 0,
    eos_token_id: 2,
    pad_token_id: 1,
    vocab_size: tok[0],
    hidden_size: tok[1],
    max_position_embeddings: shapeOf(
      shapes,
      'text_model.embeddings.position_embedding.weight',
      c,
    )[0],
    intermediate_size: shapeOf(shapes, 'text_model.encoder.layers.0.mlp.fc1.weight', c)[0],
    num_hidden_layers: indicesOf(shapes.keys(), /^text_model\.encoder\.layers\.(\d+)\./).length,
    ...overrides,
  };
  checkDivides(c, 'num_attention_heads', config.num_attention_heads, [config.hidden_size]);
  return config;
}
