// AdamW with torch.optim.AdamW semantics (decoupled weight decay, bias correction, eps added to
// the bias-corrected √v), plus gradient clipping by global norm as torch's clip_grad_norm_.
// Two implementations of the same update:
//   buildAdamWGraph  a small ONNX graph params, grads, m, v → new params, m, v (and the gradient
//                    norm), so parameters and optimizer state can stay on the device between steps;
//   AdamW            the same on host Float32Arrays (tests, tools, tiny models).
// Per step, torch does (for each parameter, in float32):
//   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
// The step-dependent scalars are computed on the host in float64 (adamwScalars) and fed in.
import { attr, GraphBuilder, type Graph } from '../../graph/index.js';
import type { HostTensor } from '../../onnx/index.js';

export interface AdamWOptions {
  /** Default 0.9 / 0.999 (torch). */
  beta1?: number;
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay; default 0.01 (torch.optim.AdamW's default, which kohya keeps). */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm before the update (kohya default 1.0); 0 = off. */
  maxGradNorm?: number;
}

export interface ResolvedAdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
}

export function resolveAdamW(o: AdamWOptions = {}): ResolvedAdamW {
  const r = {
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? 0.01,
    maxGradNorm: o.maxGradNorm ?? 1.0,
  };
  for (const k of ['beta1', 'beta2'] as const)
    if (!(r[k] >= 0 && r[k] < 1)) throw new Error(`AdamW ${k} must be in [0, 1), got ${r[k]}`);
  for (const k of ['eps', 'weightDecay', 'maxGradNorm'] as const)
    if (!(r[k] >= 0 && Number.isFinite(r[k])))
      throw new Error(`AdamW ${k} must be a finite number ≥ 0, got ${r[k]}`);
  return Object.freeze(r);
}

/** The step's scalars: lr (for the decay), lr/(1−β1^t) and √(1−β2^t); `step` counts from 1. */
export function adamwScalars(
  step: number,
  lr: number,
  o: ResolvedAdamW,
): { lr: number; stepSize: number; bc2Sqrt: number } {
  if (!Number.isInteger(step) || step < 1)
    throw new Error(`AdamW step must be an integer ≥ 1, got ${step}`);
  if (!(lr >= 0 && Number.isFinite(lr)))
    throw new Error(`learning rate must be a finite number ≥ 0, got ${lr}`);
  return {
    lr,
    stepSize: lr / (1 - o.beta1 ** step),
    bc2Sqrt: Math.sqrt(1 - o.beta2 ** step),
  };
}

/**
 * torch's clip_grad_norm_: total = ‖all gradients‖₂; when total > max, every gradient is
 * multiplied by max/(total + 1e-6). Scales in place; returns the norm before clipping.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const total = Math.sqrt(sq);
  if (maxNorm > 0) {
    const coef = Math.min(1, maxNorm / (total + 1e-6));
    if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  }
  return total;
}

/** Host AdamW over named float32 parameters (updated in place). */
export class AdamW {
  readonly options: ResolvedAdamW;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  private t = 0;

  constructor(options: AdamWOptions = {}) {
    this.options = resolveAdamW(options);
  }

  get stepCount(): number {
    return this.t;
  }

  /** One update with learning rate `lr`; grads are clipped in place first. Returns the grad norm. */
  step(
    params: ReadonlyMap<string, Float32Array>,
    grads: ReadonlyMap<string, Float32Array>,
    lr: number,
  ): number {
    const names = [...params.keys()];
    const missing = names.filter((n) => grads.get(n)?.length !== params.get(n)!.length);
    if (missing.length)
      throw new Error(`AdamW: no gradient of the parameter's length for ${missing.join(', ')}`);
    const norm = clipGradNorm(
      names.map((n) => grads.get(n)!),
      this.options.maxGradNorm,
    );
    this.t++;
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.options;
    const s = adamwScalars(this.t, lr, this.options);
    const f = Math.fround;
    const decay = f(1 - lr * wd);
    for (const n of names) {
      const p = params.get(n)!;
      const g = grads.get(n)!;
      let m = this.m.get(n);
      let v = this.v.get(n);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.m.set(n, m);
        this.v.set(n, v);
      }
      for (let i = 0; i < p.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        const pd = f(p[i] * decay);
        p[i] = pd - (s.stepSize * m[i]) / (Math.sqrt(v[i]) / s.bc2Sqrt + eps);
      }
    }
    return norm;
  }

  /** The optimizer state of a parameter (for checkpoints), or undefined before its first step. */
  state(name: string): { m: Float32Array; v: Float32Array } | undefined {
    const m = this.m.get(name);
    const v = this.v.get(name);
    return m && v ? { m, v } : undefined;
  }
}

/** Input / output names of the optimizer graph for parameter `p`. */
export const ADAMW_IO = Object.freeze({
  param: (p: string) => p,
  grad: (p: string) => `grad:${p}`,
  m: (p: string) => `adam_m:${p}`,
  v: (p: string) => `adam_v:${p}`,
  newParam: (p: string) => `new:${p}`,
  newM: (p: string) => `new_adam_m:${p}`,
  newV: (p: string) => `new_adam_v:${p}`,
  /** Per-element learning-rate multiplier (graphs built with perElementLr). */
  lrScale: (p: string) => `lr_scale:${p}`,
  lr: 'lr',
  stepSize: 'step_size',
  bc2Sqrt: 'bc2_sqrt',
  gradNorm: 'grad_norm',
});

export interface AdamWGraphParam {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * The update as a graph. Inputs per parameter p: p, `grad:p` (the training step's output name),
 * `adam_m:p`, `adam_v:p`; scalars lr, step_size, bc2_sqrt (float32 [], see adamwScalars).
 * Outputs: `new:p`, `new_adam_m:p`, `new_adam_v:p`, grad_norm (before clipping).
 */
export function buildAdamWGraph(
  params: readonly AdamWGraphParam[],
  options: AdamWOptions = {},
  /**
   * Also take `lr_scale:p` (float32, p's shape): each element's lr is lr·lr_scale — one packed
   * vector with kohya's separate UNet / text-encoder learning rates (same schedule, own base).
   */
  perElementLr = false,
): Graph {
  if (params.length === 0) throw new Error('AdamW graph: no parameters');
  const o = resolveAdamW(options);
  const g = new GraphBuilder('adamw');
  const c = (v: number) => g.constant([v], 'float32', []);
  const lr = g.input(ADAMW_IO.lr, 'float32', []);
  const stepSize = g.input(ADAMW_IO.stepSize, 'float32', []);
  const bc2Sqrt = g.input(ADAMW_IO.bc2Sqrt, 'float32', []);
  const io = params.map((p) => ({
    name: p.name,
    p: g.input(ADAMW_IO.param(p.name), 'float32', p.shape),
    g: g.input(ADAMW_IO.grad(p.name), 'float32', p.shape),
    m: g.input(ADAMW_IO.m(p.name), 'float32', p.shape),
    v: g.input(ADAMW_IO.v(p.name), 'float32', p.shape),
    lrScale: perElementLr ? g.input(ADAMW_IO.lrScale(p.name), 'float32', p.shape) : undefined,
  }));
  // Global norm: √Σ‖g‖² (one ReduceSumSquare per tensor, one Sum).
  const sq = io.map((x) => g.op('ReduceSumSquare', [x.g], { keepdims: attr.int(0) }));
  const norm = g.op('Sqrt', [sq.length === 1 ? sq[0] : g.op('Sum', sq)]);
  g.output(norm, ADAMW_IO.gradNorm);
  const coef =
    o.maxGradNorm > 0
      ? g.op('Min', [c(1), g.op('Div', [c(o.maxGradNorm), g.op('Add', [norm, c(1e-6)])])])
      : undefined;
  const decay = perElementLr ? undefined : g.op('Sub', [c(1), g.op('Mul', [lr, c(o.weightDecay)])]);
  const negStep = g.op('Neg', [stepSize]);
  for (const x of io) {
    g.scope(x.name, () => {
      const grad = coef ? g.op('Mul', [x.g, coef]) : x.g;
      const m = g.op('Add', [g.op('Mul', [x.m, c(o.beta1)]), g.op('Mul', [grad, c(1 - o.beta1)])]);
      const v = g.op('Add', [
        g.op('Mul', [x.v, c(o.beta2)]),
        g.op('Mul', [g.op('Mul', [grad, grad]), c(1 - o.beta2)]),
      ]);
      const denom = g.op('Add', [g.op('Div', [g.op('Sqrt', [v]), bc2Sqrt]), c(o.eps)]);
      const s = x.lrScale;
      // Per element: decay 1 − lr·s·wd and step size step_size·s.
      const decayP = s
        ? g.op('Sub', [c(1), g.op('Mul', [g.op('Mul', [lr, c(o.weightDecay)]), s])])
        : decay!;
      const update = g.op('Mul', [
        g.op('Div', [m, denom]),
        s ? g.op('Mul', [negStep, s]) : negStep,
      ]);
      const p = g.op('Add', [g.op('Mul', [x.p, decayP]), update]);
      g.output(p, ADAMW_IO.newParam(x.name));
      g.output(m, ADAMW_IO.newM(x.name));
      g.output(v, ADAMW_IO.newV(x.name));
    });
  }
  return g.build();
}

/** The scalar feeds of the optimizer graph for one step. */
export function adamwScalarFeeds(
  step: number,
  lr: number,
  o: ResolvedAdamW,
): Record<string, HostTensor> {
  const s = adamwScalars(step, lr, o);
  const scalar = (v: number): HostTensor => ({
    dtype: 'float32',
    shape: [],
    data: Float32Array.of(v),
  });
  return {
    [ADAMW_IO.lr]: scalar(s.lr),
    [ADAMW_IO.stepSize]: scalar(s.stepSize),
    [ADAMW_IO.bc2Sqrt]: scalar(s.bc2Sqrt),
  };
}
