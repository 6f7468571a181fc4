import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../core/graph/index.js';
import {
  SD15_VAE_CONFIG,
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
  vaeConfigFromJson,
  vaeDecoder,
  vaeEncoder,
  type VaeConfig,
} from '../../core/models/vae/index.js';
import {
  WeightBinder,
  readCheckpointWeights,
  syntheticWeights,
  type WeightSource,
} from '../../core/models/weights.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  f32,
  loadJson,
  loadRefs,
  loadTinyLdm,
  loadWeights,
  maxAbs,
  maxAbsDiff,
  ref,
  runGraph,
} from './model-fixtures.js';

const TOL = 1e-4;
let cfg: VaeConfig;
let weights: WeightSource;
let refs: Map<string, HostTensor>;

beforeAll(async () => {
  cfg = vaeConfigFromJson(await loadJson('tiny_sd/vae/config.json'));
  weights = await loadWeights('tiny_sd/vae/diffusion_pytorch_model.safetensors');
  refs = await loadRefs('vae/vae_ref.safetensors');
});

function scale(t: HostTensor, k: number): HostTensor {
  return f32(
    t.shape,
    Array.from(t.data as Float32Array, (v) => v * k),
  );
}

describe('VAE config', () => {
  it('reads the tiny diffusers config', () => {
    expect(cfg).toEqual({
      inChannels: 3,
      outChannels: 3,
      latentChannels: 4,
      blockOutChannels: [16, 32, 32, 32],
      layersPerBlock: 2,
      normNumGroups: 8,
      scalingFactor: 0.18215,
    });
  });

  it('refuses other block types, naming the supported one', () => {
    expect(() =>
      vaeConfigFromJson({ block_out_channels: [32], down_block_types: ['AttnDownEncoderBlock2D'] }),
    ).toThrow(/down_block_types.*1 × DownEncoderBlock2D/);
  });
});

describe('VAE parity (tiny_sd, diffusers folder)', () => {
  it('encodes to moments, mean, logvar and std, matching every encoder intermediate', async () => {
    const g = new GraphBuilder('vae_enc_taps');
    const w = new WeightBinder(g, weights, { label: 'VAE' });
    const image = g.input('image', 'float32', [1, 3, 64, 64]);
    const taps: [string, Value][] = [];
    const d = vaeEncoder({ g, w, dtype: 'float32', tap: (n, v) => taps.push([n, v]) }, cfg, image);
    w.skip('decoder.');
    w.skip('post_quant_conv.');
    w.finish();
    g.output(d.moments, 'moments');
    g.output(d.mean, 'latent_mean');
    g.output(d.logvar, 'latent_logvar');
    g.output(d.std, 'latent_std');
    for (const [n, v] of taps) g.output(v, `intermediate.${n}`);
    const res = await runGraph(g.build(), { image: ref(refs, 'image') });
    const names = [
      'moments',
      'latent_mean',
      'latent_logvar',
      'latent_std',
      ...taps.map(([n]) => `intermediate.${n}`),
    ];
    const errs = Object.fromEntries(names.map((n) => [n, maxAbsDiff(res[n], ref(refs, n))]));
    console.log('VAE encode max abs errors', errs);
    expect(taps.length).toBe(6);
    for (const [n, e] of Object.entries(errs)) expect(e, n).toBeLessThan(TOL);
  });

  it('decodes, matching every decoder intermediate', async () => {
    const g = new GraphBuilder('vae_dec_taps');
    const w = new WeightBinder(g, weights, { label: 'VAE' });
    const z = g.input('latents', 'float32', ['batch', 4, 'height', 'width']);
    const taps: [string, Value][] = [];
    const image = vaeDecoder({ g, w, dtype: 'float32', tap: (n, v) => taps.push([n, v]) }, cfg, z);
    w.skip('encoder.');
    w.skip('quant_conv.');
    w.finish();
    g.output(image, 'decoded');
    for (const [n, v] of taps.filter(([n]) => refs.has(`intermediate.${n}`)))
      g.output(v, `intermediate.${n}`);
    const res = await runGraph(g.build(), { latents: ref(refs, 'decode_input_z') });
    const names = [
      'decoded',
      ...[...refs.keys()].filter((k) => /intermediate\.(decoder|post)/.test(k)),
    ];
    const errs = Object.fromEntries(names.map((n) => [n, maxAbsDiff(res[n], ref(refs, n))]));
    console.log(
      'VAE decode max abs errors',
      errs,
      '(max |decoded|',
      maxAbs(ref(refs, 'decoded')),
      ')',
    );
    expect(names.length).toBe(6);
    for (const [n, e] of Object.entries(errs)) expect(e, n).toBeLessThan(TOL);
  });

  it('applies the scaling factor only when asked, on both sides', async () => {
    const sf = cfg.scalingFactor;
    const enc = await runGraph(
      buildVaeEncoderGraph(cfg, weights, { scalingFactor: sf, withSample: true }),
      {
        image: ref(refs, 'image'),
        // Recover the reference's ε from its sample, so latent_sample must equal sf·(mean + std·ε).
        noise: f32(
          [1, 4, 8, 8],
          Array.from(ref(refs, 'latent_sample_seed7').data as Float32Array, (s, i) => {
            const mean = (ref(refs, 'latent_mean').data as Float32Array)[i];
            return (s - mean) / (ref(refs, 'latent_std').data as Float32Array)[i];
          }),
        ),
      },
    );
    expect(maxAbsDiff(enc.latent_mean, scale(ref(refs, 'latent_mean'), sf))).toBeLessThan(TOL * sf);
    expect(maxAbsDiff(enc.latent_std, scale(ref(refs, 'latent_std'), sf))).toBeLessThan(TOL * sf);
    expect(maxAbsDiff(enc.latent_sample, scale(ref(refs, 'latent_sample_seed7'), sf))).toBeLessThan(
      TOL,
    );
    const dec = await runGraph(buildVaeDecoderGraph(cfg, weights, { scalingFactor: sf }), {
      latents: scale(ref(refs, 'decode_input_z'), sf),
    });
    expect(maxAbsDiff(dec.image, ref(refs, 'decoded'))).toBeLessThan(TOL);
  });

  it('decodes a batch of two non-square latents like each one alone', async () => {
    const s = await Session.create(buildVaeDecoderGraph(cfg, weights));
    try {
      const n = 4 * 6 * 10;
      const both = f32(
        [2, 4, 6, 10],
        Float32Array.from({ length: 2 * n }, (_, i) => Math.cos(i * 0.61)),
      );
      const out = (await s.run({ latents: both })).image;
      expect(out.shape).toEqual([2, 3, 48, 80]);
      const second = (
        await s.run({ latents: f32([1, 4, 6, 10], (both.data as Float32Array).subarray(n)) })
      ).image;
      const m = 3 * 48 * 80;
      expect(
        maxAbsDiff(f32([1, 3, 48, 80], (out.data as Float32Array).subarray(m)), second),
      ).toBeLessThan(1e-5);
      expect(maxAbs(second)).toBeGreaterThan(0.01);
    } finally {
      await s.release();
    }
  });

  it('lists the weights an encoder is missing', () => {
    const names = weights.names() ?? [];
    const partial: WeightSource = {
      names: () => names.filter((n) => !n.startsWith('quant_conv.')),
      get: (n, e) => (n.startsWith('quant_conv.') ? undefined : weights.get(n, e)),
    };
    expect(() => buildVaeEncoderGraph(cfg, partial)).toThrow(
      /2 expected weight\(s\) missing: quant_conv\.weight \[8, 8, 1, 1\], quant_conv\.bias \[8\]/,
    );
  });
});

describe('VAE at SD1.5 size (shapes only)', () => {
  it('builds the 83.7 M-parameter SD VAE encoder and decoder from shapes', () => {
    const src = syntheticWeights();
    const t0 = performance.now();
    const enc = buildVaeEncoderGraph(SD15_VAE_CONFIG, src, {
      scalingFactor: SD15_VAE_CONFIG.scalingFactor,
    });
    const t1 = performance.now();
    const dec = buildVaeDecoderGraph(SD15_VAE_CONFIG, src, {
      scalingFactor: SD15_VAE_CONFIG.scalingFactor,
    });
    const t2 = performance.now();
    const params = src.tensors.reduce((s, t) => s + t.shape.reduce((p, d) => p * d, 1), 0);
    console.log(
      `SD1.5 VAE: encoder ${enc.nodes.length} nodes (${(t1 - t0).toFixed(1)} ms), decoder ${dec.nodes.length} nodes (${(t2 - t1).toFixed(1)} ms), ${src.tensors.length} weights, ${params} params`,
    );
    expect(params).toBe(83_653_863);
    expect(src.tensors.length).toBe(248);
  });
});

describe('VAE parity (tiny_sd, LDM single file, weights read into memory)', () => {
  it('derives the same config, encodes and decodes like the reference', async () => {
    const ckpt = await loadTinyLdm();
    try {
      const ldmCfg = vaeConfigFromJson(ckpt.configs.vae);
      expect(ldmCfg).toEqual(cfg);
      const w = await readCheckpointWeights(ckpt.components.vae);
      // LDM stores the mid-block attention as 1×1 convs; the mapping hands them over as (C, C).
      expect(
        w.get('encoder.mid_block.attentions.0.to_q.weight', { shape: [32, 32] })?.shape,
      ).toEqual([32, 32]);
      const enc = await runGraph(buildVaeEncoderGraph(ldmCfg, w), { image: ref(refs, 'image') });
      const dec = await runGraph(buildVaeDecoderGraph(ldmCfg, w), {
        latents: ref(refs, 'decode_input_z'),
      });
      const errs = {
        latent_mean: maxAbsDiff(enc.latent_mean, ref(refs, 'latent_mean')),
        latent_std: maxAbsDiff(enc.latent_std, ref(refs, 'latent_std')),
        decoded: maxAbsDiff(dec.image, ref(refs, 'decoded')),
      };
      console.log('VAE LDM max abs errors', errs);
      for (const [n, e] of Object.entries(errs)) expect(e, n).toBeLessThan(TOL);
    } finally {
      await ckpt.close();
    }
  });
});
