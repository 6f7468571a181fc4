import { describe, expect, it } from 'vitest';
import {
  buildUnetTrainGraph,
  buildVaeTrainGraph,
  FullTrainer,
  initialWeights,
  mulberry32,
} from '../../core/demo/index.js';
import { unetConfigFromJson, vaeConfigFromJson } from '../../core/models/index.js';
import { randn } from '../../core/demo/randn.js';

const VAE = vaeConfigFromJson({
  block_out_channels: [8, 8],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  layers_per_block: 1,
  norm_num_groups: 4,
  latent_channels: 4,
});

const UNET = unetConfigFromJson({
  block_out_channels: [8, 16],
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 1,
  cross_attention_dim: 8,
  attention_head_dim: 2,
  norm_num_groups: 4,
});

describe('full-weight training graphs', () => {
  it('makes every VAE weight a float32 input with a gradient output', () => {
    const spec = buildVaeTrainGraph(VAE, { batch: 2, size: 8, klWeight: 1e-3 });
    const inputs = new Set(spec.graph.inputs.map((i) => i.name));
    const outputs = new Set(spec.graph.outputs.map((o) => o.name));
    expect(spec.params.length).toBeGreaterThan(30);
    expect(spec.graph.initializers.filter((i) => /\.(weight|bias)$/.test(i.name))).toEqual([]);
    for (const p of spec.params) {
      expect(inputs.has(p.name)).toBe(true);
      expect(outputs.has(`grad:${p.name}`)).toBe(true);
    }
    expect(spec.params.map((p) => p.name)).toContain('decoder.conv_out.weight');
    expect(spec.params.map((p) => p.name)).toContain('encoder.mid_block.attentions.0.to_q.weight');
  });

  it('initialises like torch: norm scales 1, biases 0, weights within ±1/√fan_in', () => {
    const spec = buildVaeTrainGraph(VAE, { batch: 1, size: 8, klWeight: 0 });
    const w = initialWeights(spec.params, 3);
    expect([...w.get('encoder.conv_norm_out.weight')!].every((v) => v === 1)).toBe(true);
    expect([...w.get('encoder.conv_in.bias')!].every((v) => v === 0)).toBe(true);
    const k = w.get('encoder.conv_in.weight')!; // [8, 3, 3, 3]: fan_in 27
    expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(27));
    expect(new Set(k).size).toBe(k.length);
    expect(initialWeights(spec.params, 3).get('encoder.conv_in.weight')).toEqual(k);
  });

  it('trains a tiny VAE: the reconstruction loss falls on a fixed batch', async () => {
    const spec = buildVaeTrainGraph(VAE, { batch: 2, size: 8, klWeight: 1e-4 });
    const trainer = await FullTrainer.create(spec, initialWeights(spec.params, 1), {
      weightDecay: 0,
    });
    const next = mulberry32(9);
    const image = Float32Array.from({ length: 2 * 3 * 64 }, (_, i) => (i % 7 < 3 ? 0.8 : -0.6));
    const eps = randn(2 * 4 * 16, next);
    const batch = {
      image: { dtype: 'float32' as const, shape: [2, 3, 8, 8], data: image },
      eps: { dtype: 'float32' as const, shape: [2, 4, 4, 4], data: eps },
    };
    const losses: number[] = [];
    try {
      for (let i = 0; i < 40; i++) losses.push((await trainer.step(batch, 3e-3)).loss);
    } finally {
      await trainer.release();
    }
    expect(losses[39]).toBeLessThan(losses[0] * 0.5);
  });

  it('trains a tiny UNet with EMA: loss falls and the EMA trails the weights', async () => {
    const spec = buildUnetTrainGraph(UNET, { batch: 2, latentSize: 4, seqLen: 3 });
    const params = initialWeights(spec.params, 2);
    const before = Float32Array.from(params.get('conv_out.weight')!);
    const trainer = await FullTrainer.create(spec, params, { weightDecay: 0, emaDecay: 0.9 });
    const next = mulberry32(4);
    const batch = {
      latents: { dtype: 'float32' as const, shape: [2, 4, 4, 4], data: randn(128, next) },
      noise: { dtype: 'float32' as const, shape: [2, 4, 4, 4], data: randn(128, next) },
      timesteps: { dtype: 'int64' as const, shape: [2], data: BigInt64Array.from([10n, 500n]) },
      encoder_hidden_states: { dtype: 'float32' as const, shape: [2, 3, 8], data: randn(48, next) },
    };
    const losses: number[] = [];
    try {
      for (let i = 0; i < 30; i++) losses.push((await trainer.step(batch, 3e-3)).loss);
    } finally {
      await trainer.release();
    }
    expect(losses[29]).toBeLessThan(losses[0] * 0.7);
    const now = params.get('conv_out.weight')!;
    const ema = trainer.ema!.get('conv_out.weight')!;
    const dist = (a: Float32Array, b: Float32Array) => Math.hypot(...a.map((v, i) => v - b[i]));
    expect(dist(now, before)).toBeGreaterThan(0);
    expect(dist(ema, before)).toBeLessThan(dist(now, before));
    expect(dist(ema, before)).toBeGreaterThan(0);
  });

  it('refuses initial weights of the wrong size', async () => {
    const spec = buildVaeTrainGraph(VAE, { batch: 1, size: 8, klWeight: 0 });
    const w = initialWeights(spec.params, 1);
    w.set('encoder.conv_in.weight', new Float32Array(3));
    await expect(FullTrainer.create(spec, w)).rejects.toThrow(/encoder\.conv_in\.weight/);
  });
});
