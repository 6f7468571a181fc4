// Prodigy (prodigyopt semantics): a 2-step reference computed here from the written-out update,
// d growing from d0 on a quadratic, exact continuation from saved state, and the tiny UNet's
// loss going down with the trainer's Prodigy path.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLoraFile } from '../../core/formats/index.js';
import { createRng } from '../../core/generate/index.js';
import { openStore, type Store } from '../../core/store/index.js';
import type { HostTensor } from '../../core/onnx/index.js';
import {
  buildTrainStepGraph,
  initLoraParams,
  LoraTrainer,
  Prodigy,
  readTrainState,
  resolveProdigy,
  runDirOf,
  trainLora,
  type StepResult,
  type TrainLoraResult,
} from '../../core/train/index.js';
import { f32, loadTinyUnet, wave } from './helpers.js';
import { makeTinyDataset, tinyConfig } from './run-helpers.js';

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const sumAbs = (a: number[]) => a.reduce((s, x) => s + Math.abs(x), 0);

function expectClose(got: Float32Array, want: number[], rel = 1e-5) {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) =>
    expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(rel * Math.abs(w) + 1e-12),
  );
}

describe('Prodigy update', () => {
  it('matches a hand-computed 2-step reference (decoupled decay, no bias correction)', () => {
    const [b1, b2, eps, wd, d0] = [0.9, 0.999, 1e-8, 0.1, 1e-6];
    const b3 = Math.sqrt(b2);
    const p0 = [0.5, -1, 2];
    const g1 = [0.1, -0.2, 0.3];
    const g2 = [0.05, -0.1, 0.2];

    // Step 1 (k = 0): d = d0, dlr = d0·lr (lr = 1); p0 − p = 0, so the numerator stays 0.
    let d = d0;
    let dlr = d * 1;
    const m1 = g1.map((g) => d * (1 - b1) * g);
    const v1 = g1.map((g) => d * d * (1 - b2) * g * g);
    const s1 = g1.map((g) => (d / d0) * dlr * g);
    let num = 0; // β3·0 + (d/d0)·dlr·⟨g1, p0 − p0⟩
    let dHat = num / sumAbs(s1); // 0: d stays d0
    expect(dHat).toBe(0);
    d = Math.max(d, dHat);
    // Parameters are float32 tensors (as in torch): p0 − p1 (~1e-6) is taken from the stored
    // float32 values, so the reference rounds p1 the same way (decay first, then the step).
    const f = Math.fround;
    const p1 = p0.map((p, i) =>
      f(f(p - wd * dlr * p) - (dlr * m1[i]) / (Math.sqrt(v1[i]) + d * eps)),
    );

    // Step 2 (k = 1): the numerator sees the distance travelled.
    dlr = d * 1;
    num =
      b3 * num +
      (d / d0) *
        dlr *
        dot(
          g2,
          p0.map((p, i) => p - p1[i]),
        );
    const m2 = g2.map((g, i) => b1 * m1[i] + d * (1 - b1) * g);
    const v2 = g2.map((g, i) => b2 * v1[i] + d * d * (1 - b2) * g * g);
    const s2 = g2.map((g, i) => b3 * s1[i] + (d / d0) * dlr * g);
    dHat = num / sumAbs(s2);
    const dNew = Math.max(d, dHat); // d == d0, so d ← max(d, d̂); d_max = max(d0, d̂)
    const p2 = p1.map((p, i) => p - wd * dlr * p - (dlr * m2[i]) / (Math.sqrt(v2[i]) + dNew * eps));

    const opt = new Prodigy({ weightDecay: wd, maxGradNorm: 0 });
    const p = Float32Array.from(p0);
    opt.step(new Map([['w', p]]), new Map([['w', Float32Array.from(g1)]]), 1);
    expectClose(p, p1);
    expect(opt.d).toBe(d0);
    opt.step(new Map([['w', p]]), new Map([['w', Float32Array.from(g2)]]), 1);
    expectClose(p, p2);
    expect(Math.abs(opt.scalars.dHat / dHat - 1)).toBeLessThan(1e-5);
    expect(Math.abs(opt.d / dNew - 1)).toBeLessThan(1e-5);
    // Consistent gradients: the estimate already left d0 after two steps.
    expect(dNew).toBeGreaterThan(d0);
    expectClose(opt.state('w')!.m, m2);
    expectClose(opt.state('w')!.s, s2);
    expect(opt.stepCount).toBe(2);
  });

  it('applies bias correction and safeguard_warmup as written', () => {
    const [b1, b2, d0] = [0.9, 0.99, 1e-4];
    const p0 = [1, -2];
    const g = [0.3, 0.4];
    const bc = Math.sqrt(1 - b2) / (1 - b1); // k = 0
    const dlr = d0 * 0.5 * bc; // lr 0.5
    const m = g.map((x) => d0 * (1 - b1) * x);
    const v = g.map((x) => d0 * d0 * (1 - b2) * x * x);
    const s = g.map((x) => (d0 / d0) * d0 * x); // safeguard: d instead of dlr
    const p1 = p0.map((p, i) => p - (dlr * m[i]) / (Math.sqrt(v[i]) + d0 * 1e-8));
    const opt = new Prodigy({
      beta1: b1,
      beta2: b2,
      d0,
      useBiasCorrection: true,
      safeguardWarmup: true,
      maxGradNorm: 0,
    });
    const p = Float32Array.from(p0);
    opt.step(new Map([['w', p]]), new Map([['w', Float32Array.from(g)]]), 0.5);
    expectClose(p, p1);
    expectClose(opt.state('w')!.s, s);
    expect(resolveProdigy({ beta2: 0.99 }).beta3).toBeCloseTo(Math.sqrt(0.99), 15);
  });

  it('grows d from d0 on a quadratic and reaches the minimum', () => {
    // f(x) = ½ Σ a_i (x_i − c_i)², started at 0: the right step size is far above d0.
    const a = [1, 4, 0.5, 2];
    const c = [3, -2, 5, 1];
    const x = new Float32Array(4);
    const f = () => a.reduce((s, ai, i) => s + 0.5 * ai * (x[i] - c[i]) ** 2, 0);
    const opt = new Prodigy({ maxGradNorm: 0 });
    const f0 = f();
    const ds: number[] = [];
    for (let t = 0; t < 300; t++) {
      const g = Float32Array.from(a, (ai, i) => ai * (x[i] - c[i]));
      opt.step(new Map([['x', x]]), new Map([['x', g]]), 1);
      ds.push(opt.d);
    }
    console.log(`Prodigy quadratic: d ${ds[0].toExponential(2)} → ${ds.at(-1)!.toFixed(4)}`);
    // d never shrinks (growth_rate ∞, d = d_max) and ends orders of magnitude above d0.
    for (let t = 1; t < ds.length; t++) expect(ds[t]).toBeGreaterThanOrEqual(ds[t - 1]);
    expect(ds.at(-1)!).toBeGreaterThan(0.1);
    expect(f()).toBeLessThan(1e-3 * f0);
  });

  it('continues exactly from restored state', () => {
    const grads = [
      [0.2, -0.1, 0.4],
      [0.1, -0.3, 0.2],
      [0.3, 0.1, -0.1],
    ];
    const run = (opt: Prodigy, p: Float32Array, from: number, to: number) => {
      for (let t = from; t < to; t++)
        opt.step(new Map([['w', p]]), new Map([['w', Float32Array.from(grads[t])]]), 1);
    };
    const a = new Prodigy({ weightDecay: 0.01 });
    const pa = Float32Array.of(1, 2, 3);
    run(a, pa, 0, 3);
    const b = new Prodigy({ weightDecay: 0.01 });
    const pb = Float32Array.of(1, 2, 3);
    run(b, pb, 0, 2);
    const c = new Prodigy({ weightDecay: 0.01 });
    c.restore(b.scalars, new Map([['w', b.state('w')!]]));
    run(c, pb, 2, 3);
    expect([...pb]).toEqual([...pa]);
    expect(c.d).toBe(a.d);
  });

  it('rejects bad options and missing gradients, naming them', () => {
    expect(() => new Prodigy({ beta2: 1 })).toThrow(/beta2 must be in \[0, 1\), got 1/);
    expect(() => new Prodigy({ d0: 0 })).toThrow(/d0 must be a finite number > 0, got 0/);
    expect(() => new Prodigy({ growthRate: 0.5 })).toThrow(/growthRate must be ≥ 1/);
    const opt = new Prodigy();
    expect(() =>
      opt.step(new Map([['w', new Float32Array(2)]]), new Map([['w', new Float32Array(3)]]), 1),
    ).toThrow(/no gradient of the parameter's length for w/);
  });
});

describe('LoraTrainer with Prodigy on the tiny UNet', () => {
  const B = 2;
  const HW = 8;
  const STEPS = 15;
  let trainer: LoraTrainer;
  const results: StepResult[] = [];

  beforeAll(async () => {
    const tiny = await loadTinyUnet();
    const built = buildTrainStepGraph({
      unet: tiny.cfg,
      weights: tiny.weights,
      network: { rank: 4, alpha: 4 },
      batch: B,
      height: HW,
      width: HW,
    });
    trainer = await LoraTrainer.create(built, initLoraParams(built.modules, 0), {
      prodigy: { weightDecay: 0.01, maxGradNorm: 1 },
      schedule: { name: 'constant', lr: 1 },
    });
    const rng = createRng('cpu', 1234);
    const feeds: Record<string, HostTensor> = {
      latents: f32([B, 4, HW, HW], wave(B * 4 * HW * HW, 0.37)),
      noise: f32([B, 4, HW, HW], rng.randn([B, 4, HW, HW])),
      timesteps: { dtype: 'int64', shape: [B], data: BigInt64Array.of(150n, 620n) },
      encoder_hidden_states: f32([B, 77, 32], wave(B * 77 * 32, 0.11)),
    };
    for (let i = 0; i < STEPS; i++) results.push(await trainer.step(feeds));
  }, 30_000);
  afterAll(async () => {
    await trainer?.release();
  });

  it(`lowers the loss over ${STEPS} steps at lr 1`, async () => {
    const losses = results.map((r) => r.loss);
    const last = losses.slice(-3).reduce((x, y) => x + y, 0) / 3;
    const snap = await trainer.snapshot();
    console.log(
      `tiny LoRA Prodigy: loss ${losses[0].toFixed(4)} → ${last.toFixed(4)} in ${STEPS} steps, ` +
        `d = ${snap.prodigy!.scalars.d.toExponential(3)}`,
    );
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(0.8 * losses[0]);
    expect(snap.prodigy!.scalars.d).toBeGreaterThan(1e-6);
    expect(snap.prodigy!.scalars.k).toBe(STEPS);
    expect(snap.m.some((v) => v !== 0)).toBe(true);
  });
});

describe('trainLora with optimizer_type Prodigy', () => {
  let store: Store;
  let dataDir: string;
  let first: TrainLoraResult;

  beforeAll(async () => {
    let root: string;
    ({ root, dataDir } = await makeTinyDataset());
    store = openStore(dataDir);
    first = await trainLora(
      tinyConfig(root, { optimizer_type: 'Prodigy', learning_rate: 1, weight_decay: 0.01 }),
      { store, dataDir },
    );
  }, 60_000);
  afterAll(() => store?.close());

  it('checkpoints Prodigy state and resumes exactly', async () => {
    const state = join(runDirOf(dataDir, first.runId), 'state-step00000002.safetensors');
    const saved = await readTrainState(state);
    expect(saved.trainer.prodigy!.scalars.k).toBe(2);
    expect(saved.trainer.prodigy!.scalars.d).toBeGreaterThanOrEqual(1e-6);
    const resumed = await trainLora(undefined, { store, dataDir, resume: state });
    resumed.steps.forEach((s, k) => expect(s.loss).toBeCloseTo(first.steps[2 + k].loss, 6));
    let d = 0;
    for (let i = 0; i < first.finalParams.length; i++)
      d = Math.max(d, Math.abs(resumed.finalParams[i] - first.finalParams[i]));
    expect(d).toBeLessThan(1e-6);
  }, 30_000);

  it("names Prodigy in the exported LoRA's ss_optimizer", async () => {
    const file = await readLoraFile(first.outputPath);
    expect(file.metadata.ss_optimizer).toBe(
      'prodigyopt.prodigy.Prodigy(weight_decay=0.01,d_coef=1.0)',
    );
  });
});
