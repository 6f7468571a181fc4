// The training step in float16 compute (what GPU EPs run) on the CPU EP: float32 parameters,
// loss and gradients; gradients close to the float32 graph's; a loss scale that overflows fp16
// raises the overflow flag and the trainer skips the step and halves the scale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  buildLoraLossGraph,
  buildTrainStepGraph,
  DynamicLossScale,
  initLoraParams,
  LoraTrainer,
  packLoraParams,
  STEP_IO,
  type LoraTrainGraph,
} from '../../core/train/index.js';
import {
  f32,
  FIXTURE_TARGETS,
  loadRefs,
  loadTinyUnet,
  ref,
  relError,
  timestepFeed,
  wave,
} from './helpers.js';

describe('float16 compute with float32 parameters and loss scaling', () => {
  let fp16: LoraTrainGraph;
  let fp32: LoraTrainGraph;
  let s16: Session;
  let s32: Session;
  let feeds: Record<string, HostTensor>;

  beforeAll(async () => {
    const { cfg, weights } = await loadTinyUnet();
    const refs = await loadRefs('lora/lora_ref.safetensors');
    const o = {
      unet: cfg,
      weights,
      network: { rank: 4, alpha: 8, targets: FIXTURE_TARGETS },
      batch: 2,
      height: 16,
      width: 16,
    };
    fp16 = buildLoraLossGraph({ ...o, computeDType: 'float16' });
    fp32 = buildLoraLossGraph(o);
    const values = initLoraParams(fp32.modules, 5);
    // Non-zero up so every parameter gets a gradient.
    for (const m of fp32.modules)
      values.get(m.upInput)!.forEach((_, i, a) => (a[i] = 0.02 * Math.cos(i)));
    const flat = packLoraParams(fp32.layout, values);
    feeds = {
      sample: ref(refs, 'sample'),
      timestep: timestepFeed(ref(refs, 'timestep')),
      encoder_hidden_states: ref(refs, 'encoder_hidden_states'),
      target: ref(refs, 'target'),
      [STEP_IO.params]: f32([flat.length], flat),
    };
    [s16, s32] = await Promise.all([Session.create(fp16.graph), Session.create(fp32.graph)]);
  }, 180_000); // fp16 session creation is slow on a busy 2-core machine
  afterAll(async () => {
    await s16?.release();
    await s32?.release();
  });

  it('keeps parameters, loss and gradients in float32 around an fp16 model', () => {
    const input = fp16.graph.inputs.find((i) => i.name === STEP_IO.params)!;
    expect(input.dtype).toBe('float32');
    const outs = Object.fromEntries(fp16.graph.outputs.map((o) => [o.name, o.dtype]));
    expect(outs).toMatchObject({ loss: 'float32', [STEP_IO.grad]: 'float32', overflow: 'bool' });
    // Every product and convolution (forward and backward) runs in float16.
    const heavy = fp16.graph.nodes.filter((n) => n.opType === 'MatMul' || n.opType === 'Conv');
    expect(heavy.length).toBeGreaterThan(100);
    const dtypes = new Set(heavy.map((n) => fp16.graph.values.get(n.inputs[0])!.dtype));
    expect([...dtypes]).toEqual(['float16']);
  });

  it('gives the float32 loss and gradients within fp16 accuracy (loss scale 1024)', async () => {
    const a = await s16.run({ ...feeds, loss_scale: f32([], [1024]) });
    const b = await s32.run({ ...feeds, loss_scale: f32([], [1]) });
    expect(a.overflow.data[0]).toBe(0);
    const la = (a.loss.data as Float32Array)[0];
    const lb = (b.loss.data as Float32Array)[0];
    expect(Math.abs(la - lb) / lb).toBeLessThan(1e-2);
    const err = relError(
      a[STEP_IO.grad].data as Float32Array,
      b[STEP_IO.grad].data as Float32Array,
    );
    console.log(`fp16 vs fp32 gradient: relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(5e-2);
  });

  it('flags an fp16 overflow, and the loss scaler skips the step and halves the scale', async () => {
    const out = await s16.run({ ...feeds, loss_scale: f32([], [2 ** 40]) });
    expect(out.overflow.data[0]).toBe(1);
    const scaler = new DynamicLossScale({ init: 2 ** 40, growthInterval: 2 });
    expect(scaler.update(true)).toBe(false);
    expect(scaler.value).toBe(2 ** 39);
    expect(scaler.update(false)).toBe(true);
    expect(scaler.update(false)).toBe(true);
    expect(scaler.value).toBe(2 ** 40); // doubled after 2 clean steps
  });
});

describe('LoraTrainer on an fp16 step graph (CPU EP): planted overflow', () => {
  it('skips the step, keeps the fp32 masters and halves the scale until the step fits', async () => {
    const { cfg, weights } = await loadTinyUnet();
    const built = buildTrainStepGraph({
      unet: cfg,
      weights,
      network: { rank: 4, alpha: 4 },
      computeDType: 'float16',
      batch: 1,
      height: 8,
      width: 8,
    });
    const init = initLoraParams(built.modules, 1);
    for (const m of built.modules) init.get(m.upInput)!.fill(0.01);
    // 2^23 overflows this fp16 backward pass (max 65504): a planted overflow.
    const trainer = await LoraTrainer.create(built, init, {
      schedule: { name: 'constant', lr: 1e-3 },
      lossScale: { init: 2 ** 23, growthInterval: 0 },
      // Session creation dominates this test; full fusion passes buy nothing for 4 tiny steps.
      session: { graphOptimizationLevel: 'basic' },
    });
    try {
      const batch = {
        latents: f32([1, 4, 8, 8], wave(256, 0.37)),
        noise: f32([1, 4, 8, 8], wave(256, 0.91)),
        timesteps: { dtype: 'int64' as const, shape: [1], data: BigInt64Array.of(400n) },
        encoder_hidden_states: f32([1, 77, 32], wave(77 * 32, 0.11)),
      };
      const before = await trainer.flatParams();
      const first = await trainer.step(batch);
      expect(first).toMatchObject({ skipped: true, lossScale: 2 ** 23 });
      expect(trainer.lossScale.value).toBe(2 ** 22);
      expect(await trainer.flatParams()).toEqual(before);
      // Keep halving until the scaled gradients fit fp16; then the update happens.
      const results = [first];
      while (results.at(-1)!.skipped && results.length < 40)
        results.push(await trainer.step(batch));
      const applied = results.at(-1)!;
      expect(applied.skipped).toBe(false);
      results.slice(1).forEach((r, k) => expect(r.lossScale).toBe(results[k].lossScale / 2));
      expect(Number.isFinite(applied.loss) && Number.isFinite(applied.gradNorm)).toBe(true);
      expect(relError(await trainer.flatParams(), before)).toBeGreaterThan(1e-6);
      console.log(
        `fp16 step graph: ${results.length - 1} skipped step(s), applied at loss scale 2^${Math.log2(applied.lossScale)}`,
      );
    } finally {
      await trainer.release();
    }
  }, 180_000);
});
