// UNet2DConditionModel configuration (SD1.x/SD2.x family), read from a diffusers `config.json`.
// Options we do not build (class embeddings, added conditioning, other time embeddings, …)
// are refused by name rather than silently ignored.

export type UNetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UNetUpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';
const DOWN_TYPES: readonly UNetDownBlockType[] = ['CrossAttnDownBlock2D', 'DownBlock2D'];
const UP_TYPES: readonly UNetUpBlockType[] = ['CrossAttnUpBlock2D', 'UpBlock2D'];

export interface UNetConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
  readonly downBlockTypes: readonly UNetDownBlockType[];
  readonly upBlockTypes: readonly UNetUpBlockType[];
  /** Heads per down block (diffusers' misnamed `attention_head_dim` for SD1.x: 8 heads). */
  readonly attentionHeads: readonly number[];
  /** Transformer blocks per attention, per down block. */
  readonly transformerLayersPerBlock: readonly number[];
  readonly crossAttentionDim: number;
  readonly normNumGroups: number;
  readonly normEps: number;
  /** false (SD1.x): proj_in/proj_out are 1×1 convs; true (SD2.x): Linear layers. */
  readonly useLinearProjection: boolean;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  /** Padding of the down-sampling conv: 1 (symmetric), or 0 (pad right/bottom by 1 first). */
  readonly downsamplePadding: number;
}

/** runwayml/stable-diffusion-v1-5 UNet (859.5 M parameters). */
export const SD15_UNET_CONFIG: UNetConfig = Object.freeze<UNetConfig>({
  inChannels: 4,
  outChannels: 4,
  blockOutChannels: [320, 640, 1280, 1280],
  layersPerBlock: 2,
  downBlockTypes: [
    'CrossAttnDownBlock2D',
    'CrossAttnDownBlock2D',
    'CrossAttnDownBlock2D',
    'DownBlock2D',
  ],
  upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  attentionHeads: [8, 8, 8, 8],
  transformerLayersPerBlock: [1, 1, 1, 1],
  crossAttentionDim: 768,
  normNumGroups: 32,
  normEps: 1e-5,
  useLinearProjection: false,
  flipSinToCos: true,
  freqShift: 0,
  downsamplePadding: 1,
});

type Json = Record<string, unknown>;

function fail(key: string, got: unknown, valid: string): never {
  throw new Error(
    `UNet config: '${key}' = ${JSON.stringify(got)} is not supported; valid: ${valid}`,
  );
}

function posInt(json: Json, key: string, fallback?: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(key, v, 'a positive integer');
  return v;
}

/** An int for every block, or a per-block list. */
function perBlock(json: Json, key: string, n: number, fallback?: number): number[] {
  const v = json[key] ?? fallback;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return new Array<number>(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every((x) => Number.isInteger(x) && x > 0))
    return v as number[];
  return fail(key, v, `a positive integer or a list of ${n}`);
}

function types<T extends string>(json: Json, key: string, valid: readonly T[]): T[] {
  const v = json[key];
  if (!Array.isArray(v) || v.length === 0 || !v.every((t) => valid.includes(t as T))) {
    fail(key, v, `a list of ${valid.join(' / ')}`);
  }
  return v as T[];
}

/** Keys whose value must be the given default (or absent) for the graph we build. */
const FIXED: Readonly<Record<string, unknown>> = {
  act_fn: 'silu',
  center_input_sample: false,
  class_embed_type: null,
  addition_embed_type: null,
  time_embedding_type: 'positional',
  time_embedding_dim: null,
  time_cond_proj_dim: null,
  timestep_post_act: null,
  time_embedding_act_fn: null,
  encoder_hid_dim: null,
  num_class_embeds: null,
  resnet_time_scale_shift: 'default',
  resnet_skip_time_act: false,
  resnet_out_scale_factor: 1,
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  mid_block_scale_factor: 1,
  only_cross_attention: false,
  dual_cross_attention: false,
  cross_attention_norm: null,
  attention_type: 'default',
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  reverse_transformer_layers_per_block: null,
};

/** Map a diffusers UNet2DConditionModel config.json to ours; unsupported options throw. */
export function unetConfigFromJson(json: Json): UNetConfig {
  for (const [key, want] of Object.entries(FIXED)) {
    const got = json[key];
    if (got !== undefined && got !== want) fail(key, got, JSON.stringify(want));
  }
  const downBlockTypes = types(json, 'down_block_types', DOWN_TYPES);
  const upBlockTypes = types(json, 'up_block_types', UP_TYPES);
  const n = downBlockTypes.length;
  if (upBlockTypes.length !== n)
    fail('up_block_types', json.up_block_types, `${n} entries, like down_block_types`);
  const blockOutChannels = perBlock(json, 'block_out_channels', n);
  if (!Array.isArray(json.block_out_channels))
    fail('block_out_channels', json.block_out_channels, 'a list');
  // diffusers: num_attention_heads falls back to the historically misnamed attention_head_dim.
  const headsKey = json.num_attention_heads != null ? 'num_attention_heads' : 'attention_head_dim';
  const eps = json.norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) fail('norm_eps', eps, 'a positive number');
  const padding = json.downsample_padding ?? 1;
  if (padding !== 0 && padding !== 1) fail('downsample_padding', padding, '0 or 1');
  const cross = json.cross_attention_dim ?? 1280;
  if (typeof cross !== 'number')
    fail('cross_attention_dim', cross, 'one number (per-block lists are not supported)');
  const freqShift = json.freq_shift ?? 0;
  if (typeof freqShift !== 'number') fail('freq_shift', freqShift, 'a number');
  const cfg: UNetConfig = {
    inChannels: posInt(json, 'in_channels', 4),
    outChannels: posInt(json, 'out_channels', 4),
    blockOutChannels,
    layersPerBlock: posInt(json, 'layers_per_block', 2),
    downBlockTypes,
    upBlockTypes,
    attentionHeads: perBlock(json, headsKey, n, 8),
    transformerLayersPerBlock: perBlock(json, 'transformer_layers_per_block', n, 1),
    crossAttentionDim: cross,
    normNumGroups: posInt(json, 'norm_num_groups', 32),
    normEps: eps,
    useLinearProjection: json.use_linear_projection === true,
    flipSinToCos: json.flip_sin_to_cos !== false,
    freqShift,
    downsamplePadding: padding,
  };
  validateUNetConfig(cfg);
  return cfg;
}

/** Checks that channel counts split into groups and heads. */
export function validateUNetConfig(cfg: UNetConfig): void {
  const n = cfg.blockOutChannels.length;
  for (const [key, list] of [
    ['downBlockTypes', cfg.downBlockTypes],
    ['upBlockTypes', cfg.upBlockTypes],
    ['attentionHeads', cfg.attentionHeads],
    ['transformerLayersPerBlock', cfg.transformerLayersPerBlock],
  ] as const) {
    if (list.length !== n)
      throw new Error(`UNet config: ${key} has ${list.length} entries, expected ${n}`);
  }
  cfg.blockOutChannels.forEach((c, i) => {
    if (c % cfg.normNumGroups !== 0) {
      throw new Error(
        `UNet config: block_out_channels[${i}] = ${c} does not split into ${cfg.normNumGroups} groups`,
      );
    }
    if (c % cfg.attentionHeads[i] !== 0) {
      throw new Error(
        `UNet config: block_out_channels[${i}] = ${c} does not split into ${cfg.attentionHeads[i]} heads`,
      );
    }
  });
  if (cfg.blockOutChannels[0] % 2 !== 0) {
    throw new Error(
      `UNet config: block_out_channels[0] = ${cfg.blockOutChannels[0]} must be even (timestep features)`,
    );
  }
}
