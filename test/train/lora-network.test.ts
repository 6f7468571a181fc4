// The trainable LoRA network's plan (modules, names, shapes), its flat parameter layout, kohya's
// initialisation, and the errors for plans that do not fit the model. No sessions: graphs only.
import { describe, expect, it } from 'vitest';
import {
  buildUnetGraph,
  SD15_UNET_CONFIG,
  syntheticWeights,
  unetModuleSites,
} from '../../core/models/index.js';
import {
  initLoraParams,
  loraLayout,
  loraModulesFromSites,
  loraNetwork,
  packLoraParams,
  unetLoraModules,
  unpackLoraParams,
} from '../../core/train/index.js';

const SD15_SITES = unetModuleSites(SD15_UNET_CONFIG);

describe('LoRA network plan', () => {
  it("kohya's default SD1.5 targets: 192 modules, 12 in each of the 16 transformer blocks", () => {
    const modules = loraModulesFromSites(SD15_SITES, { rank: 32 });
    expect(modules).toHaveLength(192);
    const suffixes = new Map<string, number>();
    for (const m of modules) {
      const s = m.module.replace(/^.*\.attentions\.\d+\./, '');
      suffixes.set(s, (suffixes.get(s) ?? 0) + 1);
    }
    expect(Object.fromEntries(suffixes)).toEqual(
      Object.fromEntries(
        [
          'proj_in',
          'proj_out',
          ...['attn1', 'attn2'].flatMap((a) =>
            ['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => `transformer_blocks.0.${a}.${p}`),
          ),
          'transformer_blocks.0.ff.net.0.proj',
          'transformer_blocks.0.ff.net.2',
        ].map((s) => [s, 16]),
      ),
    );
    const projIn = modules.find((m) => m.module === 'down_blocks.0.attentions.0.proj_in')!;
    expect(projIn).toMatchObject({
      kind: 'conv2d',
      name: 'lora_unet_down_blocks_0_attentions_0_proj_in',
      downInput: 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight',
      downShape: [32, 320],
      upShape: [320, 32],
    });
    const k = modules.find((m) =>
      m.module.endsWith('mid_block.attentions.0.transformer_blocks.0.attn2.to_k'),
    )!;
    expect(k).toMatchObject({ kind: 'linear', downShape: [32, 768], upShape: [1280, 32] });
    // 13.6 M parameters at r32, as DESIGN.md says.
    expect(loraLayout(modules).numel).toBe(13_565_952);
  });

  it('custom targets keep only those modules; unetLoraModules refuses targets that match none', () => {
    const qkv = loraModulesFromSites(SD15_SITES, {
      rank: 4,
      targets: (s) => /\.to_(q|k|v)$/.test(s.module),
    });
    expect(qkv).toHaveLength(96);
    expect(() => unetLoraModules(SD15_UNET_CONFIG, { rank: 4, targets: () => false })).toThrow(
      /matched no module/,
    );
  });

  it('packs named matrices into the flat layout and back', () => {
    const modules = loraModulesFromSites(SD15_SITES, { rank: 2 }).slice(0, 3);
    const layout = loraLayout(modules);
    expect(layout.entries.map((e) => e.offset)).toEqual([
      0,
      2 * 320,
      2 * 320 + 320 * 2,
      2 * 320 + 320 * 2 + 2 * 320,
      4 * 320 * 2,
      4 * 320 * 2 + 2 * 320,
    ]);
    const values = initLoraParams(modules, 9);
    values.forEach((v, k) => v.forEach((_, i) => (v[i] = k.length + i)));
    const flat = packLoraParams(layout, values);
    expect(flat.length).toBe(layout.numel);
    expect(unpackLoraParams(layout, flat)).toEqual(values);
    values.delete(modules[1].upInput);
    expect(modules[1].module).toBe('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q');
    expect(() => packLoraParams(layout, values)).toThrow(/attn1_to_q\.lora_up\.weight missing/);
  });

  it('initialises like kohya: down ~ U(−1/√in, 1/√in) from the seed, up = 0', () => {
    const modules = loraModulesFromSites(SD15_SITES, { rank: 32 });
    const a = initLoraParams(modules, 42);
    const b = initLoraParams(modules, 42);
    const c = initLoraParams(modules, 43);
    const m = modules.find((x) => x.inFeatures === 768)!; // a to_k / to_v of attn2
    const down = a.get(m.downInput)!;
    const bound = 1 / Math.sqrt(768);
    expect(Math.max(...down.map(Math.abs))).toBeLessThanOrEqual(bound);
    let mean = 0;
    let sq = 0;
    for (const v of down) {
      mean += v / down.length;
      sq += (v * v) / down.length;
    }
    expect(Math.abs(mean)).toBeLessThan(0.05 * bound);
    expect(sq / (bound * bound)).toBeCloseTo(1 / 3, 1); // variance of U(−b, b) is b²/3
    expect(a.get(m.upInput)!.every((v) => v === 0)).toBe(true);
    expect(b.get(m.downInput)).toEqual(down);
    expect(c.get(m.downInput)).not.toEqual(down);
  });

  it('reports planned modules the model did not build and modules of another size', () => {
    const modules = loraModulesFromSites(SD15_SITES, { rank: 4 });
    const tiny = { ...SD15_UNET_CONFIG, blockOutChannels: [32, 64, 64, 64], crossAttentionDim: 32 };
    const wrongSize = loraNetwork(modules, { rank: 4, alpha: 4 });
    expect(() =>
      buildUnetGraph(tiny, syntheticWeights(), {
        adapter: wrongSize.adapter,
        batch: 1,
        height: 8,
        width: 8,
      }),
    ).toThrow(/maps 32 → 32, the plan says 320 → 320/);
    const fake = { ...modules[0], module: 'down_blocks.9.attentions.0.proj_in', name: 'fake' };
    const extra = loraNetwork([...modules, fake], { rank: 4, alpha: 4 });
    buildUnetGraph(SD15_UNET_CONFIG, syntheticWeights(), {
      adapter: extra.adapter,
      batch: 1,
      height: 8,
      width: 8,
    });
    expect(() => extra.finish()).toThrow(
      /1 planned module\(s\) are not in the model: down_blocks\.9/,
    );
    expect(() => loraNetwork(modules, { rank: 8, alpha: 4 })).toThrow(/rank 4, not 8/);
  });
});
