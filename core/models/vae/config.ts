// AutoencoderKL configuration (SD VAE), read from a diffusers `config.json`.

export interface VaeConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly latentChannels: number;
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
  readonly normNumGroups: number;
  /** Latents the UNet sees are `mean·scalingFactor` (0.18215 for SD1.x/2.x). */
  readonly scalingFactor: number;
}

/** The SD1.x VAE (83.7 M parameters). */
export const SD15_VAE_CONFIG: VaeConfig = Object.freeze<VaeConfig>({
  inChannels: 3,
  outChannels: 3,
  latentChannels: 4,
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  normNumGroups: 32,
  scalingFactor: 0.18215,
});

/** SD's latent scaling factor (the VAE config's `scaling_factor`). */
export const SD_VAE_SCALING_FACTOR = 0.18215;

type Json = Record<string, unknown>;

function fail(key: string, got: unknown, valid: string): never {
  throw new Error(
    `VAE config: '${key}' = ${JSON.stringify(got)} is not supported; valid: ${valid}`,
  );
}

function posInt(json: Json, key: string, fallback: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(key, v, 'a positive integer');
  return v;
}

function blockTypes(json: Json, key: string, want: string, n: number): void {
  const v = json[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.length !== n || v.some((t) => t !== want))
    fail(key, v, `${n} × ${want}`);
}

/** Map a diffusers AutoencoderKL config.json to ours; unsupported options throw. */
export function vaeConfigFromJson(json: Json): VaeConfig {
  const boc = json.block_out_channels ?? [64];
  if (!Array.isArray(boc) || boc.length === 0 || !boc.every((c) => Number.isInteger(c) && c > 0)) {
    fail('block_out_channels', boc, 'a list of positive integers');
  }
  const n = boc.length;
  blockTypes(json, 'down_block_types', 'DownEncoderBlock2D', n);
  blockTypes(json, 'up_block_types', 'UpDecoderBlock2D', n);
  if ((json.act_fn ?? 'silu') !== 'silu') fail('act_fn', json.act_fn, '"silu"');
  if (json.mid_block_add_attention === false) fail('mid_block_add_attention', false, 'true');
  if (json.use_quant_conv === false || json.use_post_quant_conv === false) {
    fail('use_quant_conv', false, 'true (SD VAEs have quant_conv and post_quant_conv)');
  }
  const sf = json.scaling_factor ?? SD_VAE_SCALING_FACTOR;
  if (typeof sf !== 'number' || !(sf > 0)) fail('scaling_factor', sf, 'a positive number');
  const cfg: VaeConfig = {
    inChannels: posInt(json, 'in_channels', 3),
    outChannels: posInt(json, 'out_channels', 3),
    latentChannels: posInt(json, 'latent_channels', 4),
    blockOutChannels: boc as number[],
    layersPerBlock: posInt(json, 'layers_per_block', 1),
    normNumGroups: posInt(json, 'norm_num_groups', 32),
    scalingFactor: sf,
  };
  cfg.blockOutChannels.forEach((c, i) => {
    if (c % cfg.normNumGroups !== 0) {
      throw new Error(
        `VAE config: block_out_channels[${i}] = ${c} does not split into ${cfg.normNumGroups} groups`,
      );
    }
  });
  return cfg;
}
