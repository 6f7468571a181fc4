import { describe, expect, it } from 'vitest';
import { GraphBuilder, encodeTensor, float16BitsToFloat32 } from '../../core/graph/index.js';
import { buildUnetGraph, unetConfigFromJson } from '../../core/models/unet/index.js';
import {
  WeightBinder,
  memoryWeights,
  prefixedWeights,
  syntheticWeights,
  type WeightTensor,
} from '../../core/models/weights.js';
import { Session } from '../../core/onnx/index.js';
import { f32, loadJson, maxAbs, maxAbsDiff } from './model-fixtures.js';

const t32 = (shape: number[], values: number[]): WeightTensor => ({
  dtype: 'float32',
  shape,
  data: encodeTensor('float32', values),
});

describe('WeightBinder', () => {
  it('casts stored fp16 to the compute dtype and reshapes unit dims (1×1 conv kernel → matrix)', async () => {
    const g = new GraphBuilder('bind');
    const src = memoryWeights({
      'a.weight': { dtype: 'float16', shape: [2], data: encodeTensor('float16', [1.5, -2]) },
      'b.weight': t32([2, 2, 1, 1], [1, 2, 3, 4]),
    });
    const w = new WeightBinder(g, src, { computeDType: 'float32' });
    const a = w.param('a.weight', [2]);
    const b = w.param('b.weight', [2, 2]);
    expect(w.param('a.weight', [2])).toBe(a); // bound once
    expect([a.dtype, b.shape]).toEqual(['float32', [2, 2]]);
    w.finish();
    g.output(a, 'a');
    g.output(b, 'b');
    const s = await Session.create(g.build());
    const r = await s.run({});
    await s.release();
    expect(Array.from(r.a.data as Float32Array)).toEqual([1.5, -2]);
    expect(r.b.shape).toEqual([2, 2]);
  });

  it('reports missing, mis-shaped and unused weights together; skip and tolerate silence the unused check', () => {
    const src = memoryWeights({
      'x.weight': t32([3], [1, 2, 3]),
      'y.weight': t32([2], [1, 2]),
      'late.layer.weight': t32([1], [1]),
      buffer: t32([1], [0]),
      stray: t32([1], [0]),
    });
    const w = new WeightBinder(new GraphBuilder('audit'), src, { label: 'test model' });
    w.param('x.weight', [4]);
    w.param('y.weight', [2]);
    w.param('z.weight', [5]);
    w.skip('late.');
    w.tolerate('buffer');
    expect(() => w.finish()).toThrow(
      /^test model weights do not fit the config: 1 expected weight\(s\) missing: z\.weight \[5\]; 1 weight\(s\) with the wrong shape or dtype: x\.weight: expected \[4\], got \[3\]; 1 provided weight\(s\) unused: stray$/,
    );
  });

  it('prefixedWeights exposes one component of a combined file', () => {
    const src = prefixedWeights(
      memoryWeights({ 'first_stage_model.a': t32([1], [1]), 'model.b': t32([1], [2]) }),
      'first_stage_model.',
    );
    expect(src.names()).toEqual(['a']);
    expect(src.get('a', { shape: [1] })?.shape).toEqual([1]);
    expect(src.get('b', { shape: [1] })).toBeUndefined();
  });
});

describe('syntheticWeights', () => {
  it('makes deterministic, aligned, fan-in-scaled weights with unit norm scales and zero biases', () => {
    const make = () => {
      const s = syntheticWeights({ seed: 7 });
      s.get('conv.weight', { shape: [3, 5, 3, 3] });
      s.get('conv.bias', { shape: [3] });
      s.get('norm1.weight', { shape: [3] });
      return s;
    };
    const a = make();
    expect(a.tensors.map((t) => t.offset)).toEqual([0, 576, 640]);
    const blob = a.blob();
    expect(blob).toEqual(make().blob());
    const conv = new Float32Array(blob.buffer, 0, 135);
    const bound = 1 / Math.sqrt(45);
    expect(Math.max(...conv.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...conv.map(Math.abs))).toBeGreaterThan(bound * 0.8);
    expect(Array.from(new Float32Array(blob.buffer, 576, 3))).toEqual([0, 0, 0]);
    expect(Array.from(new Float32Array(blob.buffer, 640, 3))).toEqual([1, 1, 1]);
    const half = syntheticWeights({ dtype: 'float16' });
    half.get('norm.weight', { shape: [4] });
    expect(Array.from(new Uint16Array(half.blob().buffer, 0, 4), float16BitsToFloat32)).toEqual([
      1, 1, 1, 1,
    ]);
  });

  it('drives a whole UNet through ORT as external data', async () => {
    const cfg = unetConfigFromJson(await loadJson('tiny_unet_2block/config.json'));
    const src = syntheticWeights({ seed: 3 });
    const graph = buildUnetGraph(cfg, src, { batch: 1, height: 8, width: 8, seqLen: 4 });
    expect(graph.initializers.filter((i) => i.external).length).toBe(304);
    const s = await Session.create(graph, {
      externalData: [{ path: src.location, data: src.blob() }],
    });
    try {
      const feeds = {
        sample: f32(
          [1, 4, 8, 8],
          Array.from({ length: 256 }, (_, i) => Math.sin(i)),
        ),
        timestep: f32([1], [10]),
        encoder_hidden_states: f32(
          [1, 4, 32],
          Array.from({ length: 128 }, (_, i) => Math.cos(i)),
        ),
      };
      const a = (await s.run(feeds)).noise_pred;
      const b = (await s.run({ ...feeds, timestep: f32([1], [900]) })).noise_pred;
      expect(a.shape).toEqual([1, 4, 8, 8]);
      expect(maxAbs(a)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4); // the timestep reaches the output
    } finally {
      await s.release();
    }
  });
});
