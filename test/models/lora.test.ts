// LoRA as graph inputs on the tiny SD UNet: parity with the fixture (kohya and PEFT files),
// stacking, swapping without a session rebuild, and the swap time.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  loadLoraFile,
  type ConvertedLora,
  type KnownModules,
} from '../../core/formats/lora/index.js';
import { clipTextConfigFromJson } from '../../core/models/clip/index.js';
import {
  knownModules,
  loraFeeds,
  loraGraphInputs,
  LoraSession,
  bindLora,
  unetModuleSites,
} from '../../core/models/lora/index.js';
import {
  buildUnetGraph,
  unetConfigFromJson,
  type UNetConfig,
} from '../../core/models/unet/index.js';
import type { WeightSource } from '../../core/models/weights.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  fixturePath,
  loadJson,
  loadRefs,
  loadWeights,
  maxAbs,
  maxAbsDiff,
  ref,
  timestepFeed,
} from './model-fixtures.js';

const TOL = 1e-4;

describe('LoRA graph inputs on the tiny UNet (fixture lora/)', () => {
  let cfg: UNetConfig;
  let weights: WeightSource;
  let known: KnownModules;
  let refs: Map<string, HostTensor>;
  let kohya: ConvertedLora;
  let peft: ConvertedLora;
  let lora: LoraSession;
  let feeds: Record<string, HostTensor>;
  const create = vi.spyOn(Session, 'create');

  beforeAll(async () => {
    cfg = unetConfigFromJson(await loadJson('tiny_sd/unet/config.json'));
    const te = clipTextConfigFromJson(await loadJson('tiny_sd/text_encoder/config.json'));
    weights = await loadWeights('tiny_sd/unet/diffusion_pytorch_model.safetensors');
    known = knownModules({ unet: cfg, textEncoder: te });
    refs = await loadRefs('lora/lora_ref.safetensors');
    kohya = await loadLoraFile(fixturePath('lora/lora_kohya.safetensors'), known);
    peft = await loadLoraFile(
      fixturePath('lora/diffusers_format/pytorch_lora_weights.safetensors'),
      known,
    );
    const inputs = loraGraphInputs('unet');
    const graph = buildUnetGraph(cfg, weights, { adapter: inputs.adapter });
    create.mockClear();
    lora = await LoraSession.create(graph, inputs.slots, 'unet');
    feeds = {
      sample: ref(refs, 'sample'),
      timestep: timestepFeed(ref(refs, 'timestep')),
      encoder_hidden_states: ref(refs, 'encoder_hidden_states'),
    };
  });
  afterAll(async () => {
    await lora?.release();
    create.mockRestore();
  });

  it("gives kohya's default targets LoRA inputs: 192 modules of the 16 Transformer2D blocks", () => {
    expect(lora.slots.length).toBe(192);
    const names = lora.slots.map((s) => s.module);
    expect(names).toContain('down_blocks.0.attentions.0.proj_in');
    expect(names).toContain('up_blocks.3.attentions.2.transformer_blocks.0.ff.net.2');
    expect(names.some((n) => n.includes('resnets'))).toBe(false);
    const proj = lora.slots.find((s) => s.module === 'mid_block.attentions.0.proj_out')!;
    expect(proj).toMatchObject({ kind: 'conv2d', inFeatures: 32, outFeatures: 32 });
    const inputs = lora.session.inputNames;
    expect(inputs).toContain('lora_down:mid_block.attentions.0.proj_out');
    expect(inputs).toContain('lora_up:down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k');
    expect(inputs.length).toBe(3 + 2 * 192);
  });

  it('with no LoRA (one zero row per module) gives the base output', async () => {
    expect(lora.setLoras([]).applied).toEqual([]);
    expect(lora.feeds['lora_down:conv_in']).toBeUndefined();
    expect(lora.feeds['lora_down:down_blocks.0.attentions.0.proj_in'].shape).toEqual([1, 16]);
    const out = (await lora.run(feeds)).noise_pred;
    expect(maxAbsDiff(out, ref(refs, 'out_base'))).toBeLessThan(TOL);
  });

  it('kohya file at strength 1 and PEFT file at strength 2 both give out_lora', async () => {
    const target = ref(refs, 'out_lora');
    const k = lora.setLoras([{ lora: kohya, strength: 1, name: 'kohya' }]);
    expect(k.applied).toEqual([{ name: 'kohya', strength: 1, modules: 128, otherComponent: 0 }]);
    expect(k.unsupported).toEqual([]);
    const errKohya = maxAbsDiff((await lora.run(feeds)).noise_pred, target);
    // The PEFT file has no alpha: alpha = rank (scale 1), so strength 2 = kohya's alpha 8 / rank 4.
    lora.setLoras([{ lora: peft, strength: 2, name: 'peft' }]);
    const errPeft = maxAbsDiff((await lora.run(feeds)).noise_pred, target);
    console.log('LoRA out_lora max abs errors', { kohya: errKohya, peft: errPeft });
    expect(errKohya).toBeLessThan(TOL);
    expect(errPeft).toBeLessThan(TOL);
    // The LoRA changes the output far beyond the tolerance, so this cannot pass by accident.
    expect(maxAbsDiff(target, ref(refs, 'out_base'))).toBeGreaterThan(100 * TOL);
  });

  it('stacks LoRAs along the rank (kohya 0.5 + PEFT 1.0 = kohya 1.0) and swaps without a new session', async () => {
    const report = lora.setLoras([
      { lora: kohya, strength: 0.5, name: 'a' },
      { lora: peft, strength: 1, name: 'b' },
    ]);
    expect(report.applied.map((a) => a.modules)).toEqual([128, 128]);
    expect(
      lora.feeds['lora_up:mid_block.attentions.0.transformer_blocks.0.attn1.to_q'].shape,
    ).toEqual([32, 8]);
    const stacked = (await lora.run(feeds)).noise_pred;
    expect(maxAbsDiff(stacked, ref(refs, 'out_lora'))).toBeLessThan(TOL);

    // Swap back and forth, timing the swap (binding + feeds) and the first run after it.
    const swaps: number[] = [];
    const runs: number[] = [];
    for (const set of [[], [{ lora: kohya, strength: 1 }], [{ lora: peft, strength: 0.7 }], []]) {
      const t0 = performance.now();
      lora.setLoras(set);
      swaps.push(performance.now() - t0);
      const t1 = performance.now();
      await lora.run(feeds);
      runs.push(performance.now() - t1);
    }
    const base = (await lora.run(feeds)).noise_pred;
    expect(maxAbsDiff(base, ref(refs, 'out_base'))).toBeLessThan(TOL);
    console.log(
      'tiny UNet LoRA swap ms',
      swaps.map((x) => +x.toFixed(2)),
      'run ms',
      runs.map((x) => +x.toFixed(1)),
    );
    // Median, not max: one swap can land on a GC pause when the machine is busy.
    const median = [...swaps].sort((a, b) => a - b)[swaps.length >> 1];
    expect(median).toBeLessThan(50);
    expect(create).toHaveBeenCalledTimes(1);
  });

  it('strength 0 leaves a LoRA out, and a negative strength subtracts it', async () => {
    lora.setLoras([{ lora: kohya, strength: 0 }]);
    expect(
      lora.feeds['lora_down:down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'].shape,
    ).toEqual([1, 16]);
    const zero = (await lora.run(feeds)).noise_pred;
    expect(maxAbsDiff(zero, ref(refs, 'out_base'))).toBeLessThan(TOL);
    lora.setLoras([
      { lora: kohya, strength: 1 },
      { lora: kohya, strength: -1 },
    ]);
    const cancelled = (await lora.run(feeds)).noise_pred;
    expect(maxAbsDiff(cancelled, ref(refs, 'out_base'))).toBeLessThan(TOL);
    expect(maxAbs(cancelled)).toBeGreaterThan(0.1);
  });

  it('can feed zero-size (rank 0) tensors where no LoRA applies, and stacks ranks', () => {
    const sites = unetModuleSites(cfg);
    expect(sites.length).toBeGreaterThan(lora.slots.length);
    const f = loraFeeds(lora.slots, [], { emptyRank: 0 });
    expect(f['lora_down:down_blocks.0.attentions.0.proj_in'].shape).toEqual([0, 16]);
    expect(f['lora_up:down_blocks.0.attentions.0.proj_in'].shape).toEqual([16, 0]);
    const ones = loraFeeds(lora.slots, []);
    const d = ones['lora_down:down_blocks.0.attentions.0.proj_in'];
    expect(d.shape).toEqual([1, 16]);
    expect(Array.from(d.data as Float32Array).every((v) => v === 0)).toBe(true);
    const b = bindLora(kohya, lora.slots, 'unet');
    const stacked = loraFeeds(lora.slots, [
      { lora: b, strength: 1 },
      { lora: b, strength: 2 },
    ]);
    const q = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
    expect(stacked[`lora_down:${q}`].shape).toEqual([8, 16]);
    // up columns 4..7 are the second copy at twice the strength: scale 2·alpha/rank = 4.
    const up = stacked[`lora_up:${q}`].data as Float32Array;
    const m = kohya.modules.find((x) => x.module === q)!;
    expect(up[0]).toBeCloseTo(m.up.data[0] * 2, 6);
    expect(up[4]).toBeCloseTo(m.up.data[0] * 4, 6);
  });
});
