// LoRA file converters (kohya/A1111 and PEFT/diffusers → modules): pure functions that consume
// every key and report, by name, what they cannot apply.
import { describe, expect, it } from 'vitest';
import {
  convertKohyaLora,
  convertLora,
  convertPeftLora,
  detectLoraFormat,
  kohyaName,
  kohyaNameIndex,
  loadLoraFile,
  readLoraFile,
  type KnownModules,
  type RawLoraTensor,
} from '../../core/formats/lora/index.js';
import { fixturePath } from '../models/model-fixtures.js';

const KNOWN: KnownModules = {
  unet: [
    'down_blocks.0.attentions.0.proj_in',
    'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q',
    'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0',
    'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj',
    'down_blocks.0.resnets.0.conv1',
    'mid_block.attentions.0.transformer_blocks.0.attn2.to_k',
  ],
  text_encoder: [
    'text_model.encoder.layers.0.self_attn.q_proj',
    'text_model.encoder.layers.0.mlp.fc1',
  ],
};

function f32(shape: number[], fill = 0.25): RawLoraTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => fill + i / 64);
  return { dtype: 'float32', shape, bytes: new Uint8Array(data.buffer) };
}

function i64(v: number): RawLoraTensor {
  return { dtype: 'int64', shape: [], bytes: new Uint8Array(BigInt64Array.of(BigInt(v)).buffer) };
}

function pair(name: string, rank: number, inF: number, outF: number, conv = false) {
  const k = conv ? [1, 1] : [];
  return [
    [`${name}.lora_down.weight`, f32([rank, inF, ...k])],
    [`${name}.lora_up.weight`, f32([outF, rank, ...k])],
  ] as [string, RawLoraTensor][];
}

describe('kohya LoRA names', () => {
  it('maps names against the known module list, including ambiguous underscores', () => {
    expect(
      kohyaName('unet', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0'),
    ).toBe('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0');
    const index = kohyaNameIndex(KNOWN);
    expect(index.get('lora_te_text_model_encoder_layers_0_mlp_fc1')).toEqual({
      component: 'text_encoder',
      module: 'text_model.encoder.layers.0.mlp.fc1',
    });
    expect(() => kohyaNameIndex({ unet: ['a.b_c', 'a_b.c'], text_encoder: [] })).toThrow(
      /'a.b_c' and 'a_b.c' both have the kohya name 'lora_unet_a_b_c'/,
    );
  });

  it('converts Linear and 4-D 1×1-conv pairs; alpha absent ⇒ rank, int64 alpha read', () => {
    const tensors = new Map<string, RawLoraTensor>([
      ...pair(
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0',
        4,
        16,
        16,
      ),
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0.alpha', i64(2)],
      ...pair('lora_unet_down_blocks_0_attentions_0_proj_in', 2, 16, 16, true),
      ...pair('lora_te_text_model_encoder_layers_0_self_attn_q_proj', 8, 32, 32),
      ['lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha', f32([], 4)],
    ]);
    const out = convertKohyaLora(tensors, KNOWN, { ss_network_dim: '4' });
    expect(out.unknownKeys).toEqual([]);
    expect(out.unsupported).toEqual([]);
    expect(out.metadata).toEqual({ ss_network_dim: '4' });
    const by = new Map(out.modules.map((m) => [m.module, m]));
    expect(by.get('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0')).toMatchObject({
      component: 'unet',
      rank: 4,
      alpha: 2,
      alphaFromFile: true,
    });
    const proj = by.get('down_blocks.0.attentions.0.proj_in')!;
    expect(proj).toMatchObject({ rank: 2, alpha: 2, alphaFromFile: false });
    expect(proj.down.shape).toEqual([2, 16, 1, 1]);
    expect(proj.down.data[1]).toBeCloseTo(0.25 + 1 / 64, 7);
    expect(by.get('text_model.encoder.layers.0.self_attn.q_proj')).toMatchObject({
      component: 'text_encoder',
      rank: 8,
      alpha: 4,
    });
  });

  it('reports LyCORIS variants, unknown modules and broken pairs by name, and leftover keys', () => {
    const loha = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj';
    const tensors = new Map<string, RawLoraTensor>([
      [`${loha}.hada_w1_a`, f32([4, 16])],
      [`${loha}.hada_w1_b`, f32([4, 16])],
      [`${loha}.alpha`, f32([], 4)],
      ['lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lokr_w1', f32([2, 2])],
      ...pair('lora_te_text_model_encoder_layers_0_mlp_fc1', 4, 32, 37),
      ['lora_te_text_model_encoder_layers_0_mlp_fc1.dora_scale', f32([1, 32])],
      ...pair('lora_unet_down_blocks_0_attentions_0_proj_in', 4, 16, 16),
      ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_mid.weight', f32([4, 4, 3, 3])],
      ...pair('lora_unet_input_blocks_1_1_proj_in', 4, 320, 320),
      ...pair('lora_te2_text_model_encoder_layers_0_mlp_fc1', 4, 32, 32),
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
        f32([4, 16]),
      ],
      [
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight',
        f32([16, 2]),
      ],
      ['lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight', f32([4, 16])],
      ['lora_unet_down_blocks_0_resnets_0_conv1.scale', f32([])],
      ['bundle_emb.style.string_to_param.*', f32([1, 32])],
      ['stray', f32([1])],
      ['not_kohya.weight', f32([1])],
    ]);
    const out = convertKohyaLora(tensors, KNOWN);
    expect(out.modules).toEqual([]);
    const reasons = Object.fromEntries(out.unsupported.map((u) => [u.name, u.reason]));
    expect(reasons[loha]).toMatch(/LoHa \(hada_\*\) is not supported yet/);
    expect(reasons['lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k']).toMatch(
      /LoKr/,
    );
    expect(reasons['lora_te_text_model_encoder_layers_0_mlp_fc1']).toMatch(/DoRA/);
    expect(reasons['lora_unet_down_blocks_0_attentions_0_proj_in']).toMatch(/Tucker/);
    expect(reasons['lora_unet_input_blocks_1_1_proj_in']).toMatch(/LDM\/SGM-style/);
    expect(reasons['lora_te2_text_model_encoder_layers_0_mlp_fc1']).toMatch(/SDXL text encoder/);
    expect(reasons['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q']).toMatch(
      /rank mismatch: down \[4, 16\] has rank 4, up \[16, 2\] has 2/,
    );
    expect(reasons['lora_unet_down_blocks_0_resnets_0_conv1']).toMatch(/incomplete LoRA module/);
    expect(reasons.bundle_emb).toMatch(/textual-inversion/);
    expect(reasons['not_kohya']).toBeUndefined();
    // The LoHa module's three keys are listed, not dropped.
    expect(out.unsupported.find((u) => u.name === loha)!.keys).toHaveLength(3);
    expect([...out.unknownKeys].sort()).toEqual([
      'lora_unet_down_blocks_0_resnets_0_conv1.scale',
      'not_kohya.weight',
      'stray',
    ]);
    // Every key is accounted for exactly once.
    const accounted = [...out.unsupported.flatMap((u) => u.keys), ...out.unknownKeys];
    expect(new Set(accounted).size).toBe(accounted.length);
    expect(accounted.sort()).toEqual([...tensors.keys()].sort());
  });
});

describe('PEFT / diffusers LoRA names', () => {
  it('reads unet./text_encoder./base_model.model. prefixes, adapter names and the legacy layouts', () => {
    const tensors = new Map<string, RawLoraTensor>([
      [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight',
        f32([4, 16]),
      ],
      [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight',
        f32([16, 4]),
      ],
      ['text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.default.weight', f32([2, 32])],
      ['text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.default.weight', f32([37, 2])],
      ['base_model.model.down_blocks.0.attentions.0.proj_in.lora_A.weight', f32([2, 16, 1, 1])],
      ['base_model.model.down_blocks.0.attentions.0.proj_in.lora_B.weight', f32([16, 2, 1, 1])],
      [
        'unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight',
        f32([3, 32]),
      ],
      [
        'unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.up.weight',
        f32([32, 3]),
      ],
      [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora.down.weight',
        f32([1, 16]),
      ],
      [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora.up.weight',
        f32([16, 1]),
      ],
      ['unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.alpha', f32([], 0.5)],
    ]);
    expect(detectLoraFormat(tensors.keys())).toBe('peft');
    const out = convertPeftLora(tensors, KNOWN);
    expect(out.unsupported).toEqual([]);
    expect(out.unknownKeys).toEqual([]);
    const got = out.modules.map((m) => [m.component, m.module, m.rank, m.alpha]);
    expect(got).toEqual([
      ['unet', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 4, 4],
      ['text_encoder', 'text_model.encoder.layers.0.mlp.fc1', 2, 2],
      ['unet', 'down_blocks.0.attentions.0.proj_in', 2, 2],
      ['unet', 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k', 3, 3],
      ['unet', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0', 1, 0.5],
    ]);
  });

  it("takes alpha from diffusers' lora_adapter_metadata (lora_alpha and alpha_pattern)", () => {
    const tensors = new Map<string, RawLoraTensor>([
      [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight',
        f32([4, 16]),
      ],
      [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight',
        f32([16, 4]),
      ],
      ['unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight', f32([4, 32])],
      ['unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight', f32([32, 4])],
    ]);
    const metadata = {
      lora_adapter_metadata: JSON.stringify({
        'unet.lora_alpha': 8,
        'unet.r': 4,
        'unet.alpha_pattern': { 'attn2.to_k': 2 },
      }),
    };
    const out = convertPeftLora(tensors, KNOWN, metadata);
    expect(out.modules.map((m) => m.alpha)).toEqual([8, 2]);
  });

  it('reports DoRA, unknown modules, SDXL parts and incomplete pairs by name', () => {
    const tensors = new Map<string, RawLoraTensor>([
      ['unet.down_blocks.0.attentions.0.proj_in.lora_A.weight', f32([2, 16])],
      ['unet.down_blocks.0.attentions.0.proj_in.lora_B.weight', f32([16, 2])],
      ['unet.down_blocks.0.attentions.0.proj_in.lora_magnitude_vector', f32([16])],
      ['unet.down_blocks.9.attentions.0.proj_in.lora_A.weight', f32([2, 16])],
      ['text_encoder_2.text_model.encoder.layers.0.mlp.fc1.lora_A.weight', f32([2, 32])],
      ['text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight', f32([2, 32])],
      ['unet.conv_in.weight', f32([1])],
    ]);
    const out = convertPeftLora(tensors, KNOWN);
    expect(out.modules).toEqual([]);
    const text = out.unsupported.map((u) => `${u.name}: ${u.reason} [${u.keys.length}]`);
    expect(text).toEqual(
      expect.arrayContaining([
        "unet.down_blocks.9.attentions.0.proj_in: the UNet has no module 'down_blocks.9.attentions.0.proj_in' [1]",
        expect.stringMatching(/^text_encoder_2\..*SDXL second text encoder/),
        expect.stringMatching(/^1 module\(s\): DoRA .* is not supported yet \[3\]$/),
        expect.stringMatching(
          /^text_encoder\.text_model\.encoder\.layers\.0\.mlp\.fc1: incomplete/,
        ),
      ]),
    );
    expect(out.unknownKeys).toEqual(['unet.conv_in.weight']);
  });

  it('refuses a file that is no LoRA, naming some of its keys', () => {
    const tensors = new Map([['model.diffusion_model.conv_in.weight', f32([1])]]);
    expect(detectLoraFormat(tensors.keys())).toBe('unknown');
    expect(() => convertLora(tensors, KNOWN, {}, 'x.safetensors')).toThrow(
      /x\.safetensors: not a LoRA file we know \(1 tensors: model\.diffusion_model\.conv_in\.weight\)/,
    );
  });
});

describe('the fixture LoRA in both layouts', async () => {
  // The tiny UNet's attention modules (the fixture targets to_q/to_k/to_v/to_out.0 of attn1/attn2).
  const blocks = [
    ...[0, 1, 2].flatMap((i) => [0, 1].map((j) => `down_blocks.${i}.attentions.${j}`)),
    'mid_block.attentions.0',
    ...[1, 2, 3].flatMap((i) => [0, 1, 2].map((j) => `up_blocks.${i}.attentions.${j}`)),
  ];
  const unet = blocks.flatMap((b) =>
    ['attn1', 'attn2'].flatMap((a) =>
      ['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => `${b}.transformer_blocks.0.${a}.${p}`),
    ),
  );
  const known: KnownModules = { unet, text_encoder: [] };
  const kohyaFile = await readLoraFile(fixturePath('lora/lora_kohya.safetensors'));
  const kohya = convertLora(kohyaFile.tensors, known, kohyaFile.metadata);
  const peft = await loadLoraFile(
    fixturePath('lora/diffusers_format/pytorch_lora_weights.safetensors'),
    known,
  );

  it('kohya: 128 modules, rank 4, alpha 8, ss_* metadata, every key consumed', () => {
    expect(kohya.format).toBe('kohya');
    expect(kohya.modules).toHaveLength(128);
    expect(new Set(kohya.modules.map((m) => `${m.rank}/${m.alpha}`))).toEqual(new Set(['4/8']));
    expect(kohya.metadata).toMatchObject({ ss_network_dim: '4', ss_network_alpha: '8.0' });
    expect(kohya.unsupported).toEqual([]);
    expect(kohya.unknownKeys).toEqual([]);
  });

  it('PEFT: the same modules and matrices, with alpha = rank (the file stores none)', () => {
    expect(peft.format).toBe('peft');
    expect(peft.unsupported).toEqual([]);
    expect(peft.unknownKeys).toEqual([]);
    expect(new Set(peft.modules.map((m) => `${m.rank}/${m.alpha}/${m.alphaFromFile}`))).toEqual(
      new Set(['4/4/false']),
    );
    const byModule = new Map(peft.modules.map((m) => [m.module, m]));
    expect([...byModule.keys()].sort()).toEqual(kohya.modules.map((m) => m.module).sort());
    for (const k of kohya.modules) {
      const p = byModule.get(k.module)!;
      expect(p.down.data).toEqual(k.down.data);
      expect(p.up.data).toEqual(k.up.data);
    }
  });
});
