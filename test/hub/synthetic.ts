// Header-only model files: a real safetensors header for the tensors a family's files hold,
// then a sparse tail (fs.truncate) up to the size such a file has on disk — no weights written,
// so a "6.9 GB SDXL checkpoint" costs a few kilobytes of disk.
import { truncateSync, writeFileSync } from 'node:fs';

export type Entry = [name: string, dtype: 'F16' | 'F32' | 'BF16', shape: number[]];

const BYTES = { F16: 2, BF16: 2, F32: 4 } as const;

/**
 * Write `entries` (plus one 1-D filler tensor named `filler`, sized so the file reaches about
 * `targetBytes`) as a safetensors file whose data section is a hole. Returns the file size.
 */
export function writeSynthetic(
  path: string,
  entries: Entry[],
  options: { metadata?: Record<string, string>; targetBytes?: number; filler?: string } = {},
): number {
  // The filler has the file's dtype (that of its last listed tensor).
  const fillerDtype = entries[entries.length - 1][1];
  const build = (fillerElems: number) => {
    const header: Record<string, unknown> = {};
    if (options.metadata) header.__metadata__ = options.metadata;
    let at = 0;
    const all: Entry[] =
      fillerElems > 0
        ? [...entries, [options.filler ?? 'filler', fillerDtype, [fillerElems]]]
        : entries;
    for (const [name, dtype, shape] of all) {
      const n = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
      header[name] = { dtype, shape, data_offsets: [at, at + n] };
      at += n;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    return { json: Buffer.from(json), data: at };
  };
  let { json, data } = build(0);
  if (options.targetBytes !== undefined) {
    const fill = Math.floor(
      (options.targetBytes - 8 - json.length - data - 64) / BYTES[fillerDtype],
    );
    if (fill > 0) ({ json, data } = build(fill));
  }
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([prefix, json]));
  const size = 8 + json.length + data;
  truncateSync(path, size);
  return size;
}

const UNET = 'model.diffusion_model.';
const SD_VAE = 'first_stage_model.';

/** Representative tensors of real files, by kind (names and shapes as shipped). */
export const SYNTHETIC: Record<
  string,
  { entries: Entry[]; bytes: number; filler: string; metadata?: Record<string, string> }
> = {
  // v1-5-pruned-emaonly (fp16): 2.13 GB
  sd15: {
    bytes: 2_132_625_894,
    filler: `${UNET}output_blocks.5.0.in_layers.2.weight`,
    entries: [
      ['alphas_cumprod', 'F32', [1000]],
      [
        'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight',
        'F16',
        [49408, 768],
      ],
      [
        'cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight',
        'F16',
        [3072, 768],
      ],
      [`${UNET}input_blocks.0.0.weight`, 'F16', [320, 4, 3, 3]],
      [`${UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`, 'F16', [320, 768]],
      [`${UNET}middle_block.1.transformer_blocks.0.attn2.to_k.weight`, 'F16', [1280, 768]],
      [`${SD_VAE}encoder.down.0.block.0.conv1.weight`, 'F16', [128, 128, 3, 3]],
      [`${SD_VAE}decoder.up.3.block.0.conv1.weight`, 'F16', [128, 128, 3, 3]],
    ],
  },
  // v2-1_768-ema-pruned (fp32): 5.21 GB
  sd2: {
    bytes: 5_214_604_878,
    filler: `${UNET}output_blocks.5.0.in_layers.2.weight`,
    entries: [
      ['cond_stage_model.model.token_embedding.weight', 'F32', [49408, 1024]],
      ['cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight', 'F32', [3072, 1024]],
      [`${UNET}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`, 'F32', [320, 1024]],
      [`${SD_VAE}encoder.down.0.block.0.conv1.weight`, 'F32', [128, 128, 3, 3]],
    ],
  },
  // sd_xl_base_1.0 (fp16): 6.94 GB
  sdxl: {
    bytes: 6_938_078_334,
    filler: `${UNET}output_blocks.2.0.in_layers.2.weight`,
    metadata: {
      'modelspec.architecture': 'stable-diffusion-xl-v1-base',
      'modelspec.title': 'SDXL 1.0 base',
      'modelspec.sai_model_spec': '1.0.0',
    },
    entries: [
      [
        'conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight',
        'F16',
        [49408, 768],
      ],
      ['conditioner.embedders.1.model.token_embedding.weight', 'F16', [49408, 1280]],
      [`${UNET}label_emb.0.0.weight`, 'F16', [1280, 2816]],
      [`${UNET}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight`, 'F16', [640, 2048]],
      [`${SD_VAE}encoder.down.0.block.0.conv1.weight`, 'F16', [128, 128, 3, 3]],
    ],
  },
  // vae-ft-mse-840000-ema-pruned (fp32): 335 MB
  vae: {
    bytes: 334_643_268,
    filler: 'decoder.up.3.block.2.conv2.weight',
    entries: [
      ['encoder.conv_in.weight', 'F32', [128, 3, 3, 3]],
      ['encoder.down.0.block.0.conv1.weight', 'F32', [128, 128, 3, 3]],
      ['decoder.up.3.block.0.conv1.weight', 'F32', [128, 128, 3, 3]],
      ['quant_conv.weight', 'F32', [8, 8, 1, 1]],
    ],
  },
  // a kohya SD1.5 LoRA, rank 128 (fp16): 144 MB
  lora15: {
    bytes: 151_108_768,
    filler: 'lora_unet_up_blocks_3_attentions_2_proj_out.lora_down.weight',
    metadata: {
      ss_network_module: 'networks.lora',
      ss_network_dim: '128',
      ss_network_alpha: '64.0',
      ss_base_model_version: 'sd_v1',
      sshs_model_hash: 'a'.repeat(64),
      ss_tag_frequency: JSON.stringify({
        img: Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`tag${i}`, i])),
      }),
      'other.key': 'not listed',
    },
    entries: [
      ['lora_te_text_model_encoder_layers_0_mlp_fc1.alpha', 'F16', []],
      ['lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', 'F16', [128, 768]],
      ['lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight', 'F16', [3072, 128]],
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha', 'F16', []],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight',
        'F16',
        [128, 768],
      ],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight',
        'F16',
        [320, 128],
      ],
    ],
  },
  // a kohya SDXL LoRA, rank 32 (fp16): 228 MB
  loraXl: {
    bytes: 228_465_000,
    filler: 'lora_unet_output_blocks_2_1_proj_out.lora_down.weight',
    metadata: { ss_network_module: 'networks.lora', ss_base_model_version: 'sdxl_base_v1-0' },
    entries: [
      ['lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', 'F16', [32, 768]],
      ['lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight', 'F16', [32, 1280]],
      [
        'lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight',
        'F16',
        [32, 2048],
      ],
      [
        'lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_up.weight',
        'F16',
        [640, 32],
      ],
    ],
  },
  // a LyCORIS LoHa for SD1.5 (fp16): 50 MB
  lycoris: {
    bytes: 52_000_000,
    filler: 'lora_unet_up_blocks_3_attentions_2_proj_out.hada_w2_b',
    metadata: { ss_network_module: 'lycoris.kohya', ss_network_args: '{"algo": "loha"}' },
    entries: [
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha', 'F16', []],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_a',
        'F16',
        [320, 16],
      ],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w1_b',
        'F16',
        [16, 768],
      ],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w2_a',
        'F16',
        [320, 16],
      ],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.hada_w2_b',
        'F16',
        [16, 768],
      ],
    ],
  },
  // an A1111 textual-inversion embedding, 8 vectors
  embedding: {
    bytes: 0,
    filler: '',
    entries: [['emb_params', 'F32', [8, 768]]],
  },
  embeddingXl: {
    bytes: 0,
    filler: '',
    entries: [
      ['clip_g', 'F32', [8, 1280]],
      ['clip_l', 'F32', [8, 768]],
    ],
  },
};

export function writeKind(path: string, kind: keyof typeof SYNTHETIC): number {
  const k = SYNTHETIC[kind];
  return writeSynthetic(path, k.entries, {
    metadata: k.metadata,
    targetBytes: k.bytes || undefined,
    filler: k.filler,
  });
}
