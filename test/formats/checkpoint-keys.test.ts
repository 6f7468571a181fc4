// Pure key conversion and family detection, checked against the reference key map that
// diffusers' own converter produced for the tiny SD1.5-topology pipeline.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  convertDiffusersVae,
  convertLdmClip,
  convertLdmUnet,
  convertLdmVae,
  deriveClipTextConfig,
  deriveUnetConfig,
  deriveVaeConfig,
  detectCheckpoint,
  ldmUnetLayout,
  mapLdmUnetKey,
  refusal,
  UnmappedKeysError,
  type ShapeMap,
} from '../../core/formats/index.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'tiny_sd');
interface Row {
  component: 'unet' | 'vae' | 'text_encoder';
  diffusers: string;
  ldm: string;
  diffusers_shape: number[];
  ldm_shape: number[];
}
const rows = JSON.parse(readFileSync(join(FIX, 'ldm_key_map.json'), 'utf8')) as Row[];
const ldmShapes: ShapeMap = new Map(rows.map((r) => [r.ldm, r.ldm_shape]));
const configOf = (dir: string) =>
  JSON.parse(readFileSync(join(FIX, dir, 'config.json'), 'utf8')) as Record<string, unknown>;

function withKeys(base: ShapeMap, extra: Record<string, number[]>): ShapeMap {
  return new Map([...base, ...Object.entries(extra)]);
}

describe('LDM → diffusers key conversion', () => {
  const converted = {
    unet: convertLdmUnet(ldmShapes),
    vae: convertLdmVae(ldmShapes),
    text_encoder: convertLdmClip(ldmShapes),
  };

  it('maps every row of the reference key map, with the diffusers shape', () => {
    expect(rows.length).toBe(1012);
    const wrong: string[] = [];
    for (const r of rows) {
      const m = converted[r.component].map.get(r.diffusers);
      if (!m || m.source !== r.ldm || m.shape.join() !== r.diffusers_shape.join())
        wrong.push(`${r.ldm} → ${r.diffusers}`);
    }
    expect(wrong).toEqual([]);
    expect(converted.unet.map.size).toBe(684);
    expect(converted.vae.map.size).toBe(244);
    expect(converted.text_encoder.map.size).toBe(84);
  });

  it('flags exactly the VAE attention 1×1 convs as reshaped', () => {
    const reshaped = [...converted.vae.map].filter(([, m]) => m.reshaped).map(([n]) => n);
    expect(reshaped.sort()).toEqual(
      ['decoder', 'encoder']
        .flatMap((p) =>
          ['to_k', 'to_out.0', 'to_q', 'to_v'].map(
            (a) => `${p}.mid_block.attentions.0.${a}.weight`,
          ),
        )
        .sort(),
    );
    expect(converted.unet.map.size + converted.text_encoder.map.size).toBe(768);
    expect([...converted.unet.map.values()].some((m) => m.reshaped)).toBe(false);
  });

  it('reads the layout (levels, layers) from the keys instead of assuming 4 × 2', () => {
    const unetKeys = rows
      .filter((r) => r.component === 'unet')
      .map((r) => r.ldm.slice('model.diffusion_model.'.length));
    expect(ldmUnetLayout(unetKeys)).toEqual({ levels: 4, layersPerBlock: 2 });
    // A 2-level UNet with 1 layer per block: input 0 | 1 res, 2 down | 3 res; output 0,1(+up) | 2,3.
    const keys = [
      'input_blocks.0.0.weight',
      'input_blocks.1.0.in_layers.2.weight',
      'input_blocks.2.0.op.weight',
      'input_blocks.3.0.in_layers.2.weight',
      'input_blocks.3.1.proj_in.weight',
      'output_blocks.0.0.in_layers.2.weight',
      'output_blocks.1.0.skip_connection.weight',
      'output_blocks.1.1.conv.weight',
      'output_blocks.3.1.transformer_blocks.0.attn2.to_k.weight',
    ];
    const layout = ldmUnetLayout(keys);
    expect(layout).toEqual({ levels: 2, layersPerBlock: 1 });
    expect(keys.map((k) => mapLdmUnetKey(k, layout))).toEqual([
      'conv_in.weight',
      'down_blocks.0.resnets.0.conv1.weight',
      'down_blocks.0.downsamplers.0.conv.weight',
      'down_blocks.1.resnets.0.conv1.weight',
      'down_blocks.1.attentions.0.proj_in.weight',
      'up_blocks.0.resnets.0.conv1.weight',
      'up_blocks.0.resnets.1.conv_shortcut.weight',
      'up_blocks.0.upsamplers.0.conv.weight',
      'up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k.weight',
    ]);
    // No downsampler on the last level, no upsampler on the last up block.
    expect(mapLdmUnetKey('input_blocks.4.0.op.weight', layout)).toBeUndefined();
    expect(mapLdmUnetKey('output_blocks.3.2.conv.weight', layout)).toBeUndefined();
  });

  it('lists every key it cannot rename instead of dropping it', () => {
    const bad = withKeys(ldmShapes, {
      'model.diffusion_model.input_blocks.1.0.in_layers.1.weight': [16],
      'model.diffusion_model.output_blocks.0.1.conv.weight': [32, 32, 3, 3],
      'model.diffusion_model.middle_block.1.transformer_blocks.0.attn3.to_q.weight': [32, 32],
    });
    let err: unknown;
    try {
      convertLdmUnet(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnmappedKeysError);
    expect((err as UnmappedKeysError).keys).toHaveLength(3);
    expect((err as Error).message).toMatch(
      /UNet: the following 3 key\(s\) have not been correctly renamed: .*in_layers\.1/,
    );
    expect(() =>
      convertLdmVae(
        withKeys(ldmShapes, { 'first_stage_model.decoder.up.0.upsample.conv.weight': [1] }),
      ),
    ).toThrow(/decoder\.up\.0\.upsample/);
    expect(() =>
      convertLdmClip(
        withKeys(ldmShapes, { 'cond_stage_model.transformer.text_model.pooler.weight': [1] }),
      ),
    ).toThrow(UnmappedKeysError);
  });

  it('accepts the older CLIP naming without text_model. and skips position_ids', () => {
    const old = new Map(
      rows
        .filter((r) => r.component === 'text_encoder')
        .map(
          (r) => [r.ldm.replace('transformer.text_model.', 'transformer.'), r.ldm_shape] as const,
        ),
    );
    old.set('cond_stage_model.transformer.embeddings.position_ids', [1, 77]);
    const c = convertLdmClip(old);
    expect(c.map.size).toBe(84);
    expect(c.map.get('text_model.final_layer_norm.weight')?.source).toBe(
      'cond_stage_model.transformer.final_layer_norm.weight',
    );
    expect(c.ignored).toEqual(['cond_stage_model.transformer.embeddings.position_ids']);
  });

  it('renames legacy diffusers VAE attention names', () => {
    const legacy = new Map(
      rows
        .filter((r) => r.component === 'vae')
        .map((r) => {
          const name = r.diffusers
            .replace('attentions.0.to_q.', 'attentions.0.query.')
            .replace('attentions.0.to_k.', 'attentions.0.key.')
            .replace('attentions.0.to_v.', 'attentions.0.value.')
            .replace('attentions.0.to_out.0.', 'attentions.0.proj_attn.');
          return [name, r.diffusers_shape] as const;
        }),
    );
    const c = convertDiffusersVae(legacy);
    expect(c.map.size).toBe(244);
    expect(c.map.get('encoder.mid_block.attentions.0.to_out.0.weight')?.source).toBe(
      'encoder.mid_block.attentions.0.proj_attn.weight',
    );
  });

  it('derives the tiny configs from shapes (overriding only what weights cannot show)', () => {
    const diffShapes = (c: Row['component']) =>
      new Map(rows.filter((r) => r.component === c).map((r) => [r.diffusers, r.diffusers_shape]));
    const unet = deriveUnetConfig(diffShapes('unet'), { norm_num_groups: 8, sample_size: 8 });
    const vae = deriveVaeConfig(diffShapes('vae'), { norm_num_groups: 8, sample_size: 64 });
    const te = deriveClipTextConfig(diffShapes('text_encoder'), { num_attention_heads: 4 });
    for (const [derived, file] of [
      [unet, 'unet'],
      [vae, 'vae'],
      [te, 'text_encoder'],
    ] as const) {
      const ref = configOf(file);
      const compared = Object.keys(derived).filter((k) => k in ref);
      expect(compared.length).toBeGreaterThanOrEqual(8);
      for (const k of compared) expect([k, derived[k]]).toEqual([k, ref[k]]);
    }
    expect(unet.block_out_channels).toEqual([16, 32, 32, 32]);
    expect(te.intermediate_size).toBe(37);
    // Without the override the SD1.x default (32 groups) cannot divide 16 channels: say so.
    expect(() => deriveUnetConfig(diffShapes('unet'))).toThrow(
      /norm_num_groups = 32 does not divide.*configs\.unet\.norm_num_groups/,
    );
    expect(() => deriveClipTextConfig(diffShapes('text_encoder'))).toThrow(
      /num_attention_heads = 12/,
    );
  });
});

describe('family detection', () => {
  const sd1 = detectCheckpoint(ldmShapes);
  const cases: [string, Record<string, number[]>, string, RegExp][] = [
    [
      'SD2.x (OpenCLIP)',
      {
        'cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight': [3072, 1024],
        'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3],
      },
      'sd2',
      /Stable Diffusion 2\.x.*v-prediction.*Only SD1\.x/,
    ],
    [
      'SDXL',
      {
        'conditioner.embedders.0.transformer.text_model.final_layer_norm.weight': [768],
        'model.diffusion_model.label_emb.0.0.weight': [1280, 2816],
      },
      'sdxl',
      /SDXL/,
    ],
    [
      'kohya LoRA',
      {
        'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': [4, 320],
        'lora_unet_down_blocks_0_attentions_0_proj_in.alpha': [],
      },
      'lora',
      /LoRA file.*not a checkpoint/,
    ],
    [
      'PEFT LoRA',
      { 'unet.down_blocks.0.attentions.0.proj_in.lora_A.weight': [4, 320] },
      'lora',
      /LoRA/,
    ],
    [
      'LyCORIS LoHa',
      { 'lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a': [320, 4] },
      'lycoris',
      /LyCORIS file/,
    ],
    ['embedding', { emb_params: [2, 768] }, 'embedding', /textual-inversion/],
    [
      'bare diffusers UNet',
      {
        'conv_in.weight': [320, 4, 3, 3],
        'down_blocks.0.resnets.0.conv1.weight': [320, 320, 3, 3],
      },
      'diffusers-unet',
      /whole diffusers folder/,
    ],
    [
      'SD3',
      { 'model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight': [1, 1] },
      'sd3',
      /Stable Diffusion 3/,
    ],
    ['something else', { 'foo.bar': [1] }, 'unknown', /keys like foo\.bar/],
  ];

  it('recognises SD1.x from its CLIP text encoder', () => {
    expect(sd1.kind).toBe('sd1');
    expect(sd1.reason).toMatch(/cross-attention dim 32/);
    expect(refusal(sd1, 'x')).toBeUndefined();
  });

  it.each(cases)('recognises and refuses %s', (_label, keys, kind, message) => {
    const d = detectCheckpoint(new Map(Object.entries(keys)));
    expect(d.kind).toBe(kind);
    expect(refusal(d, 'model.safetensors')?.message).toMatch(message);
  });

  it('recognises external VAE files in LDM naming, with or without the checkpoint prefix', () => {
    const vaeRows = rows.filter((r) => r.component === 'vae');
    const bare = new Map(
      vaeRows.map((r) => [r.ldm.slice('first_stage_model.'.length), r.ldm_shape]),
    );
    expect(detectCheckpoint(bare)).toMatchObject({ kind: 'vae', naming: 'ldm', prefix: '' });
    const prefixed = new Map(vaeRows.map((r) => [r.ldm, r.ldm_shape]));
    expect(detectCheckpoint(prefixed)).toMatchObject({
      kind: 'vae',
      naming: 'ldm',
      prefix: 'first_stage_model.',
    });
    const diffusers = new Map(vaeRows.map((r) => [r.diffusers, r.diffusers_shape]));
    expect(detectCheckpoint(diffusers)).toMatchObject({ kind: 'vae', naming: 'diffusers' });
    expect(convertLdmVae(bare, '').map.size).toBe(244);
  });
});
