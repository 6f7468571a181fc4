import { beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../core/graph/index.js';
import { convertFloatBytes } from '../../core/formats/index.js';
import type { AdapterSite } from '../../core/models/nn.js';
import {
  SD15_UNET_CONFIG,
  buildUnetGraph,
  unetConfigFromJson,
  type UNetConfig,
} from '../../core/models/unet/index.js';
import {
  memoryWeights,
  syntheticWeights,
  type WeightSource,
  type WeightTensor,
} from '../../core/models/weights.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  f32,
  loadJson,
  loadRefs,
  loadWeights,
  maxAbs,
  maxAbsDiff,
  ref,
  runGraph,
  unetFeeds,
} from './model-fixtures.js';

const TOL = 1e-4;

describe('UNet parity: tiny_unet_2block (attention in up_blocks.0, none in down_blocks.0)', () => {
  let cfg: UNetConfig;
  let weights: WeightSource;
  let refs: Map<string, HostTensor>;
  beforeAll(async () => {
    cfg = unetConfigFromJson(await loadJson('tiny_unet_2block/config.json'));
    weights = await loadWeights('tiny_unet_2block/diffusion_pytorch_model.safetensors');
    refs = await loadRefs('unet/unet_2block_ref.safetensors');
  });

  it('matches out_a and out_b', async () => {
    const graph = buildUnetGraph(cfg, weights);
    const s = await Session.create(graph);
    try {
      const a = await s.run(unetFeeds(refs, 'a'));
      const b = await s.run(unetFeeds(refs, 'b'));
      const errA = maxAbsDiff(a.noise_pred, ref(refs, 'out_a'));
      const errB = maxAbsDiff(b.noise_pred, ref(refs, 'out_b'));
      console.log(
        'UNet 2block max abs errors',
        { out_a: errA, out_b: errB },
        'nodes',
        graph.nodes.length,
      );
      expect(errA).toBeLessThan(TOL);
      expect(errB).toBeLessThan(TOL);
    } finally {
      await s.release();
    }
  });

  it('sends every Linear and Conv through the adapter hook with its diffusers module name', async () => {
    const sites: AdapterSite[] = [];
    const graph = buildUnetGraph(cfg, weights, {
      adapter: (g, site) => {
        sites.push(site);
        // Zero the model's last conv: proves the hook's return value replaces the module output.
        return site.module === 'conv_out'
          ? g.op('Mul', [site.output, g.constant([0], 'float32', [])])
          : undefined;
      },
    });
    expect(
      sites.find((s) => s.module === 'up_blocks.0.attentions.2.transformer_blocks.0.attn2.to_k'),
    ).toMatchObject({
      kind: 'linear',
      inFeatures: 32,
      outFeatures: 64,
    });
    expect(sites.find((s) => s.module === 'down_blocks.1.attentions.0.proj_in')).toMatchObject({
      kind: 'conv2d',
      kernel: [1, 1],
      inFeatures: 64,
    });
    expect(sites.find((s) => s.module === 'down_blocks.0.resnets.0.conv1')).toMatchObject({
      kind: 'conv2d',
      kernel: [3, 3],
    });
    // 2 down + 3 up + 1 mid transformers, 12 Linear / 1×1 conv each.
    expect(sites.filter((s) => s.module.includes('.attentions.') && s.kernel[0] === 1).length).toBe(
      6 * 12,
    );
    const res = await runGraph(graph, unetFeeds(refs, 'a'));
    expect(res.noise_pred.shape).toEqual([2, 4, 16, 16]);
    expect(maxAbs(res.noise_pred)).toBe(0);
  });
});

const toF16 = (t: HostTensor): HostTensor => ({
  dtype: 'float16',
  shape: t.shape,
  data: Uint16Array.from(t.data as Float32Array, float32ToFloat16Bits),
});

describe('UNet in float16 (tiny_unet_2block)', () => {
  it('runs an fp16 checkpoint in fp16 close to the fp32 reference', async () => {
    const src = await loadWeights('tiny_unet_2block/diffusion_pytorch_model.safetensors');
    const half = new Map<string, WeightTensor>();
    for (const n of src.names() ?? []) {
      const t = src.get(n, { shape: [] })!;
      half.set(n, {
        dtype: 'float16',
        shape: t.shape,
        data: convertFloatBytes(t.data as Uint8Array, 'float32', 'float16'),
      });
    }
    const cfg = unetConfigFromJson(await loadJson('tiny_unet_2block/config.json'));
    const graph = buildUnetGraph(cfg, memoryWeights(half), { dtype: 'float16' });
    expect(graph.inputs.map((i) => i.dtype)).toEqual(['float16', 'float32', 'float16']);
    expect(graph.nodes.some((n) => n.opType === 'Cast' && n.inputs[0].includes('.weight'))).toBe(
      false,
    );
    const refs = await loadRefs('unet/unet_2block_ref.safetensors');
    const fd = unetFeeds(refs, 'a');
    const res = await runGraph(graph, {
      sample: toF16(fd.sample),
      timestep: fd.timestep,
      encoder_hidden_states: toF16(fd.encoder_hidden_states),
    });
    expect(res.noise_pred.dtype).toBe('float16');
    const out = f32(
      res.noise_pred.shape,
      Array.from(res.noise_pred.data as Uint16Array, float16BitsToFloat32),
    );
    const err = maxAbsDiff(out, ref(refs, 'out_a'));
    console.log(
      'UNet 2block float16 max abs error',
      err,
      '(max |ref|',
      maxAbs(ref(refs, 'out_a')),
      ')',
    );
    expect(err).toBeLessThan(0.01 * maxAbs(ref(refs, 'out_a')));
  });
});

describe('UNet at SD1.5 size (shapes only)', () => {
  it('builds the 859.5 M-parameter SD1.5 UNet from shapes, with kohya’s 192 LoRA sites', () => {
    const src = syntheticWeights();
    const sites: AdapterSite[] = [];
    const t0 = performance.now();
    const graph = buildUnetGraph(SD15_UNET_CONFIG, src, {
      adapter: (_g, site) => {
        sites.push(site);
        return undefined;
      },
    });
    const ms = performance.now() - t0;
    const params = src.tensors.reduce((s, t) => s + t.shape.reduce((p, d) => p * d, 1), 0);
    console.log(
      `SD1.5 UNet: ${graph.nodes.length} nodes, ${src.tensors.length} weights, ${params} params, built in ${ms.toFixed(1)} ms`,
    );
    expect(params).toBe(859_520_964);
    expect(src.tensors.length).toBe(686);
    const lora = sites.filter((s) => s.module.includes('.attentions.') && s.kernel[0] === 1);
    expect(lora.length).toBe(192);
    expect(
      lora.find((s) => s.module === 'up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_k'),
    ).toMatchObject({
      inFeatures: 768,
      outFeatures: 320,
    });
    expect(graph.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['sample', ['batch', 4, 'height', 'width']],
      ['timestep', ['timestep_batch']],
      ['encoder_hidden_states', ['batch', 77, 768]],
    ]);
  });
});
