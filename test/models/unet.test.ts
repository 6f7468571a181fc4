import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../core/graph/index.js';
import {
  buildUnetGraph,
  unet2dCondition,
  unetConfigFromJson,
  type UNetConfig,
} from '../../core/models/unet/index.js';
import { WeightBinder, checkpointWeights, type WeightSource } from '../../core/models/weights.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  f32,
  ldmExternalData,
  loadJson,
  loadRefs,
  loadTinyLdm,
  loadWeights,
  maxAbs,
  maxAbsDiff,
  ref,
  runGraph,
  unetFeeds as feeds,
} from './model-fixtures.js';

const TOL = 1e-4;

describe('UNet config', () => {
  it('reads the tiny SD1.5-shaped diffusers config', async () => {
    const cfg = unetConfigFromJson(await loadJson('tiny_sd/unet/config.json'));
    expect(cfg.blockOutChannels).toEqual([16, 32, 32, 32]);
    expect(cfg.attentionHeads).toEqual([8, 8, 8, 8]);
    expect(cfg.normNumGroups).toBe(8);
    expect(cfg.useLinearProjection).toBe(false);
  });

  it('refuses options it does not build, naming the supported value', async () => {
    const json = await loadJson('tiny_sd/unet/config.json');
    expect(() => unetConfigFromJson({ ...json, class_embed_type: 'timestep' })).toThrow(
      /class_embed_type.*null/,
    );
    expect(() => unetConfigFromJson({ ...json, down_block_types: ['SimpleDown'] })).toThrow(
      /down_block_types.*CrossAttnDownBlock2D \/ DownBlock2D/,
    );
  });
});

describe('UNet parity: tiny_sd (SD1.5 topology, diffusers folder)', () => {
  let cfg: UNetConfig;
  let weights: WeightSource;
  let refs: Map<string, HostTensor>;
  let session: Session; // one graph with every tap as an extra output, shared by the runs below
  let nodeCount = 0;
  beforeAll(async () => {
    cfg = unetConfigFromJson(await loadJson('tiny_sd/unet/config.json'));
    weights = await loadWeights('tiny_sd/unet/diffusion_pytorch_model.safetensors');
    refs = await loadRefs('unet/unet_ref.safetensors');
    const g = new GraphBuilder('unet_taps');
    const w = new WeightBinder(g, weights, { label: 'UNet' });
    const sample = g.input('sample', 'float32', ['batch', 4, 'height', 'width']);
    const t = g.input('timestep', 'float32', ['tb']);
    const ehs = g.input('encoder_hidden_states', 'float32', ['batch', 77, 32]);
    const taps: [string, Value][] = [];
    const out = unet2dCondition({ g, w, dtype: 'float32', tap: (n, v) => taps.push([n, v]) }, cfg, {
      sample,
      timestep: t,
      encoderHiddenStates: ehs,
    });
    w.finish();
    g.output(out, 'noise_pred');
    for (const [n, v] of taps) g.output(v, `a.${n}`);
    nodeCount = g.nodeCount;
    session = await Session.create(g.build());
  });
  afterAll(async () => {
    await session?.release();
  });

  it('matches every intermediate of pass a (timestep 500, batch 2)', async () => {
    // The timestep given per sample, so time_proj / time_embedding have the reference's [2, …] shape.
    const res = await session.run({ ...feeds(refs, 'a'), timestep: f32([2], [500, 500]) });
    const names = [...refs.keys()].filter((k) => k.startsWith('a.'));
    const errs: Record<string, number> = {};
    for (const k of names) errs[k] = maxAbsDiff(res[k], ref(refs, k));
    console.log('UNet tiny_sd pass a max abs errors', errs, 'nodes', nodeCount);
    expect(names.length).toBe(26);
    for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(TOL);
  });

  it('matches out_a with one timestep broadcast to the batch, and out_b (per-sample fractional)', async () => {
    const a = await session.run(feeds(refs, 'a'));
    const b = await session.run(feeds(refs, 'b'));
    const errA = maxAbsDiff(a.noise_pred, ref(refs, 'out_a'));
    const errB = maxAbsDiff(b.noise_pred, ref(refs, 'out_b'));
    console.log(
      'UNet tiny_sd max abs errors',
      { out_a: errA, out_b: errB },
      '(max |out_b|',
      maxAbs(ref(refs, 'out_b')),
      ')',
    );
    expect(errA).toBeLessThan(TOL);
    expect(errB).toBeLessThan(TOL);
  });

  it('runs each sample of a batch alone with the same result, and a non-square latent', async () => {
    const sample = ref(refs, 'sample');
    const ehs = ref(refs, 'encoder_hidden_states');
    const half = (t: HostTensor, i: number) => {
      const n = (t.data as Float32Array).length / 2;
      return f32([1, ...t.shape.slice(1)], (t.data as Float32Array).subarray(i * n, (i + 1) * n));
    };
    const one = await session.run({
      sample: half(sample, 1),
      timestep: f32([1], [262.894737]),
      encoder_hidden_states: half(ehs, 1),
    });
    expect(maxAbsDiff(one.noise_pred, half(ref(refs, 'out_b'), 1))).toBeLessThan(TOL);

    // A 16×24 latent (a 128×192 image at this depth): the symbolic-shape graph and a graph
    // built for exactly this shape (static reshapes) must agree.
    const wide = f32(
      [1, 4, 16, 24],
      Float32Array.from({ length: 4 * 16 * 24 }, (_, i) => Math.sin(i * 0.37)),
    );
    const feed = { sample: wide, timestep: f32([1], [321.5]), encoder_hidden_states: half(ehs, 0) };
    const dyn = await session.run(feed);
    expect(dyn.noise_pred.shape).toEqual([1, 4, 16, 24]);
    const fixed = buildUnetGraph(cfg, weights, { batch: 1, height: 16, width: 24 });
    const res = await runGraph(fixed, feed);
    expect(maxAbsDiff(res.noise_pred, dyn.noise_pred)).toBeLessThan(1e-5);
    expect(maxAbs(res.noise_pred)).toBeGreaterThan(0.01);
  });

  it('refuses a static latent size the down-sampling cannot halve evenly', () => {
    expect(() => buildUnetGraph(cfg, weights, { height: 12, width: 16 })).toThrow(
      /height 12 must be a multiple of 8/,
    );
  });
});

describe('UNet parity: tiny_sd (LDM single file, weights left in the file)', () => {
  it('derives the same config and matches out_a and out_b', async () => {
    const ckpt = await loadTinyLdm();
    try {
      const cfg = unetConfigFromJson(ckpt.configs.unet);
      expect(cfg).toEqual(unetConfigFromJson(await loadJson('tiny_sd/unet/config.json')));
      const graph = buildUnetGraph(
        cfg,
        checkpointWeights(ckpt.components.unet, () => 'ldm.safetensors'),
      );
      expect(graph.initializers.filter((i) => i.external).length).toBe(684);
      const refs = await loadRefs('unet/unet_ref.safetensors');
      const s = await Session.create(graph, {
        externalData: await ldmExternalData('ldm.safetensors'),
      });
      try {
        const errA = maxAbsDiff((await s.run(feeds(refs, 'a'))).noise_pred, ref(refs, 'out_a'));
        const errB = maxAbsDiff((await s.run(feeds(refs, 'b'))).noise_pred, ref(refs, 'out_b'));
        console.log('UNet LDM max abs errors', { out_a: errA, out_b: errB });
        expect(errA).toBeLessThan(TOL);
        expect(errB).toBeLessThan(TOL);
      } finally {
        await s.release();
      }
    } finally {
      await ckpt.close();
    }
  });
});
