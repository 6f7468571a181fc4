// Issue #7's gradient parity: the LoRA loss graph on the tiny SD UNet with the fixture LoRA
// (peft r=4, alpha=8 on to_q/to_k/to_v/to_out.0) gives the fixture's loss, and gradients w.r.t.
// every lora_down / lora_up equal to PyTorch's (lora_grads_kohya_names.safetensors).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import {
  buildLoraLossGraph,
  packLoraParams,
  STEP_IO,
  unpackLoraParams,
  type LoraTrainGraph,
} from '../../core/train/index.js';
import {
  f32,
  FIXTURE_TARGETS,
  loadFloatTensors,
  loadRefs,
  loadTinyUnet,
  ref,
  relError,
  timestepFeed,
} from './helpers.js';

const TOL = 1e-4;

describe('LoRA gradients on the tiny UNet match the PyTorch fixture', () => {
  let built: LoraTrainGraph;
  let session: Session;
  let out: Record<string, HostTensor>;
  let grads: Map<string, { shape: readonly number[]; data: Float32Array }>;
  let refs: Map<string, HostTensor>;
  // A scale other than 1 checks that the gradients come back unscaled.
  const LOSS_SCALE = 1024;

  beforeAll(async () => {
    const { cfg, weights } = await loadTinyUnet();
    refs = await loadRefs('lora/lora_ref.safetensors');
    grads = await loadFloatTensors('lora/lora_grads_kohya_names.safetensors');
    const lora = await loadFloatTensors('lora/lora_kohya.safetensors');
    built = buildLoraLossGraph({
      unet: cfg,
      weights,
      network: { rank: 4, alpha: 8, targets: FIXTURE_TARGETS },
      batch: 2,
      height: 16,
      width: 16,
      outputPrediction: true,
    });
    const feeds: Record<string, HostTensor> = {
      sample: ref(refs, 'sample'),
      timestep: timestepFeed(ref(refs, 'timestep')),
      encoder_hidden_states: ref(refs, 'encoder_hidden_states'),
      target: ref(refs, 'target'),
      loss_scale: f32([], [LOSS_SCALE]),
    };
    const values = new Map(built.layout.entries.map((e) => [e.name, lora.get(e.name)?.data]));
    const missing = [...values].filter(([, v]) => !v).map(([k]) => k);
    if (missing.length) throw new Error(`fixture LoRA lacks ${missing.join(', ')}`);
    const flat = packLoraParams(built.layout, values as Map<string, Float32Array>);
    feeds[STEP_IO.params] = { dtype: 'float32', shape: [flat.length], data: flat };
    session = await Session.create(built.graph);
    out = await session.run(feeds);
  });
  afterAll(async () => {
    await session?.release();
  });

  it('adapts the 128 attention projections named like the fixture (256 parameters)', () => {
    expect(built.modules).toHaveLength(128);
    const names = built.layout.entries.map((e) => e.name);
    expect(names).toHaveLength(256);
    expect([...names].sort()).toEqual([...grads.keys()].sort());
    expect(built.graph.inputs.map((i) => i.name)).toContain('lora_params');
  });

  it("reproduces the fixture's LoRA output and loss", () => {
    const pred = out.prediction.data as Float32Array;
    expect(relError(pred, ref(refs, 'out_lora').data as Float32Array)).toBeLessThan(TOL);
    const loss = (out.loss.data as Float32Array)[0];
    const expected = (ref(refs, 'loss').data as Float32Array)[0];
    expect(Math.abs(loss - expected) / expected).toBeLessThan(TOL);
    expect(out.overflow.data[0]).toBe(0);
  });

  it('gives every lora_down / lora_up gradient within 1e-4 relative error', () => {
    const got = unpackLoraParams(built.layout, out[STEP_IO.grad].data as Float32Array);
    const errors = built.layout.entries.map((e) => {
      const want = grads.get(e.name)!;
      expect([...e.shape]).toEqual(want.shape);
      return { p: e.name, err: relError(got.get(e.name)!, want.data) };
    });
    const worst = errors.reduce((a, b) => (b.err > a.err ? b : a));
    console.log(`gradient parity: worst relative error ${worst.err.toExponential(2)} (${worst.p})`);
    expect(worst.err).toBeLessThanOrEqual(TOL);
  });
});
