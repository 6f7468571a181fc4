// AdamW (host and in-graph) against torch.optim.AdamW's update written out by hand, gradient
// clipping against clip_grad_norm_, and the LR schedules against diffusers' get_scheduler values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceTensor, Session, type HostTensor } from '../../core/onnx/index.js';
import {
  ADAMW_IO,
  AdamW,
  adamwScalarFeeds,
  buildAdamWGraph,
  clipGradNorm,
  learningRateAt,
  lrMultiplier,
  resolveAdamW,
  type LrScheduleOptions,
} from '../../core/train/index.js';

/**
 * torch.optim.AdamW (single-tensor, amsgrad off) step by step in float64, straight from its
 * documented algorithm: p·=(1−lr·λ); m=β1m+(1−β1)g; v=β2v+(1−β2)g²;
 * p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).
 */
function torchAdamW(
  p0: number[],
  grads: number[][],
  lrs: number[],
  h: { b1: number; b2: number; eps: number; wd: number },
): number[][] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const trace: number[][] = [];
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k];
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lr * h.wd;
      m[i] = h.b1 * m[i] + (1 - h.b1) * g[i];
      v[i] = h.b2 * v[i] + (1 - h.b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - h.b2 ** t) + h.eps;
      p[i] -= (lr / (1 - h.b1 ** t)) * (m[i] / denom);
    }
    trace.push([...p]);
  });
  return trace;
}

const H = { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };
const P0 = [1, -0.5, 0.25, 2];
const GRADS = [
  [0.5, -0.1, 0.02, 0],
  [0.3, 0.2, -0.05, 1e-3],
  [-0.4, 0.1, 0.01, -2e-3],
];
const LRS = [0.1, 0.05, 0.02];

describe('AdamW', () => {
  it('first step with a constant gradient is p(1 − lr·λ) − lr·g/(|g| + ε) (worked by hand)', () => {
    // m̂ = g and v̂ = g² after bias correction, so the step is lr·sign(g) up to ε.
    const opt = new AdamW({ weightDecay: 0.01, maxGradNorm: 0 });
    const p = Float32Array.of(1);
    opt.step(new Map([['w', p]]), new Map([['w', Float32Array.of(0.5)]]), 0.1);
    expect(p[0]).toBeCloseTo(1 * (1 - 0.1 * 0.01) - (0.1 * 0.5) / (0.5 + 1e-8), 6); // 0.899
  });

  it("host AdamW follows torch's formula for 3 steps (lr changes every step)", () => {
    const expected = torchAdamW(P0, GRADS, LRS, H);
    const opt = new AdamW({ maxGradNorm: 0 });
    const p = Float32Array.from(P0);
    GRADS.forEach((g, k) => {
      opt.step(new Map([['w', p]]), new Map([['w', Float32Array.from(g)]]), LRS[k]);
      for (let i = 0; i < p.length; i++) expect(p[i]).toBeCloseTo(expected[k][i], 6);
    });
    expect(opt.stepCount).toBe(3);
    // The state is torch's exp_avg / exp_avg_sq.
    const s = opt.state('w')!;
    expect(s.m[0]).toBeCloseTo(0.9 * (0.9 * 0.1 * 0.5 + 0.1 * 0.3) + 0.1 * -0.4, 6);
  });

  describe('in-graph update', () => {
    let session: Session;
    const params = [
      { name: 'a.lora_down.weight', shape: [2, 2] },
      { name: 'a.lora_up.weight', shape: [3] },
    ];
    beforeAll(async () => {
      session = await Session.create(buildAdamWGraph(params, { maxGradNorm: 0.5 }));
    });
    afterAll(async () => {
      await session?.release();
    });

    it('matches the host optimizer over 3 steps, with clipping, state kept as device tensors', async () => {
      const o = resolveAdamW({ maxGradNorm: 0.5 });
      const host = new AdamW({ maxGradNorm: 0.5 });
      const hostP = new Map(
        params.map((p, i) => [p.name, Float32Array.from(P0.slice(i, i + (i ? 3 : 4)))]),
      );
      const t = (shape: readonly number[], data: Float32Array): HostTensor => ({
        dtype: 'float32',
        shape,
        data,
      });
      let state: Record<string, DeviceTensor> = {};
      for (const p of params) {
        const n = p.shape.reduce((a, b) => a * b, 1);
        state[ADAMW_IO.param(p.name)] = DeviceTensor.fromHost(
          t(p.shape, hostP.get(p.name)!.slice()),
        );
        state[ADAMW_IO.m(p.name)] = DeviceTensor.fromHost(t(p.shape, new Float32Array(n)));
        state[ADAMW_IO.v(p.name)] = DeviceTensor.fromHost(t(p.shape, new Float32Array(n)));
      }
      for (let k = 0; k < 3; k++) {
        const grads = new Map(
          params.map((p, i) => [
            p.name,
            Float32Array.from(
              GRADS[k].slice(
                0,
                p.shape.reduce((a, b) => a * b, 1),
              ),
              (x) => x * (i + 1),
            ),
          ]),
        );
        const feeds: Record<string, HostTensor | DeviceTensor> = {
          ...state,
          ...adamwScalarFeeds(k + 1, LRS[k], o),
        };
        for (const p of params)
          feeds[ADAMW_IO.grad(p.name)] = t(p.shape, grads.get(p.name)!.slice());
        const out = await session.runRaw(feeds);
        const norm = host.step(hostP, grads, LRS[k]);
        expect(((await out[ADAMW_IO.gradNorm].toHost()).data as Float32Array)[0]).toBeCloseTo(
          norm,
          5,
        );
        const next: Record<string, DeviceTensor> = {};
        for (const p of params) {
          next[ADAMW_IO.param(p.name)] = out[ADAMW_IO.newParam(p.name)];
          next[ADAMW_IO.m(p.name)] = out[ADAMW_IO.newM(p.name)];
          next[ADAMW_IO.v(p.name)] = out[ADAMW_IO.newV(p.name)];
          const got = (await out[ADAMW_IO.newParam(p.name)].toHost()).data as Float32Array;
          const want = hostP.get(p.name)!;
          for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 6);
        }
        state = next;
      }
    });
  });

  it("clips by global norm like torch's clip_grad_norm_ (max/(norm + 1e-6))", () => {
    const a = Float32Array.of(3, 0);
    const b = Float32Array.of(0, 4);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    const coef = 1 / (5 + 1e-6);
    expect(a[0]).toBeCloseTo(3 * coef, 7);
    expect(b[1]).toBeCloseTo(4 * coef, 7);
    const small = Float32Array.of(0.3, 0.4);
    expect(clipGradNorm([small], 1)).toBeCloseTo(0.5, 6);
    expect([...small]).toEqual([Math.fround(0.3), Math.fround(0.4)]); // under the limit: untouched
  });

  it('refuses bad hyper-parameters by name', () => {
    expect(() => resolveAdamW({ beta1: 1 })).toThrow(/beta1/);
    expect(() => resolveAdamW({ eps: -1 })).toThrow(/eps/);
    expect(() => new AdamW().step(new Map([['w', new Float32Array(2)]]), new Map(), 0.1)).toThrow(
      /w/,
    );
  });
});

describe('LR schedules (diffusers get_scheduler)', () => {
  const base = { lr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  const at = (
    name: LrScheduleOptions['name'],
    step: number,
    extra: Partial<LrScheduleOptions> = {},
  ) => lrMultiplier({ ...base, name, ...extra }, step);

  it('constant and constant_with_warmup', () => {
    expect(at('constant', 0)).toBe(1);
    expect(at('constant', 500)).toBe(1);
    expect(at('constant_with_warmup', 0)).toBe(0);
    expect(at('constant_with_warmup', 5)).toBe(0.5);
    expect(at('constant_with_warmup', 10)).toBe(1);
  });

  it('linear: warmup then (total − step)/(total − warmup)', () => {
    expect(at('linear', 3)).toBeCloseTo(0.3, 12);
    expect(at('linear', 10)).toBe(1);
    expect(at('linear', 60)).toBeCloseTo(0.5, 12);
    expect(at('linear', 110)).toBe(0);
    expect(at('linear', 200)).toBe(0);
  });

  it('cosine: 0.5·(1 + cos(π·progress)) after warmup', () => {
    expect(at('cosine', 10)).toBe(1);
    expect(at('cosine', 35)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.25)), 12); // 0.8536
    expect(at('cosine', 60)).toBeCloseTo(0.5, 12);
    expect(at('cosine', 110)).toBeCloseTo(0, 12);
  });

  it('cosine_with_restarts: the cosine restarts every total/cycles steps', () => {
    const two = { numCycles: 2 };
    expect(at('cosine_with_restarts', 10, two)).toBe(1);
    expect(at('cosine_with_restarts', 35, two)).toBeCloseTo(0.5, 12); // half-way through cycle 1
    expect(at('cosine_with_restarts', 60, two)).toBe(1); // restart
    expect(at('cosine_with_restarts', 85, two)).toBeCloseTo(0.5, 12);
    expect(at('cosine_with_restarts', 110, two)).toBe(0);
  });

  it('polynomial: power 1 reaches lrEnd at the end', () => {
    expect(at('polynomial', 60)).toBeCloseTo(((1e-4 - 1e-7) * 0.5 + 1e-7) / 1e-4, 12);
    expect(learningRateAt({ ...base, name: 'polynomial' }, 200)).toBeCloseTo(1e-7, 15);
  });

  it('names the valid schedulers and the missing total', () => {
    expect(() => lrMultiplier({ name: 'nope' as 'linear', lr: 1 }, 0)).toThrow(/valid: constant/);
    expect(() => lrMultiplier({ name: 'cosine', lr: 1 }, 0)).toThrow(/totalSteps/);
  });
});
