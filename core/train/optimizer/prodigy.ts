// Prodigy (Mishchenko & Defazio 2023, arXiv 2306.06101) with the semantics of the reference
// `prodigyopt` package: Adam whose step size d·lr is estimated on the fly. Per step k (from 0),
// with β3 = √β2 unless given, bc = √(1−β2^(k+1))/(1−β1^(k+1)) when bias correction is on (else 1)
// and dlr = d·lr·bc, for every parameter p with gradient g (p0 = p at the first step):
//   r ← β3·r + (d/d0)·dlr·⟨g, p0 − p⟩                      (one scalar over all parameters)
//   m ← β1·m + d(1−β1)·g;   v ← β2·v + d²(1−β2)·g²
//   s ← β3·s + (d/d0)·(safeguard_warmup ? d : dlr)·g;       denom_d = Σ|s|
//   d̂ = d_coef·r/denom_d;  d ← max(d, d̂) only while d = d0;  d_max ← max(d_max, d̂);
//   d ← min(d_max, d·growth_rate)
//   p ← p − decay·dlr·p  (decoupled, with the dlr of the step's start);  p ← p − dlr·m/(√v + d·ε)
// Coupled weight decay (decouple false) adds decay·p to g first. Gradients are clipped by global
// norm before the update, as kohya does for every optimizer. Scalars are kept in float64 (the
// reference accumulates them with .item()), tensors in float32.
import { clipGradNorm } from './adamw.js';

export interface ProdigyOptions {
  /** Default 0.9 / 0.999. */
  beta1?: number;
  beta2?: number;
  /** Default √beta2. */
  beta3?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Default 0 (prodigyopt's default). */
  weightDecay?: number;
  /** AdamW-style decoupled decay (default true); false adds decay·p to the gradient. */
  decouple?: boolean;
  /** Default false. */
  useBiasCorrection?: boolean;
  /** Default false; true uses d instead of dlr in s (for runs with LR warm-up). */
  safeguardWarmup?: boolean;
  /** Initial d (default 1e-6). */
  d0?: number;
  /** Multiplies the d estimate (default 1). */
  dCoef?: number;
  /** Largest factor d may grow by per step (default ∞). */
  growthRate?: number;
  /** Global-norm gradient clipping before the update; 0 = off (default 1, as kohya). */
  maxGradNorm?: number;
}

export type ResolvedProdigy = Readonly<Required<ProdigyOptions>>;

export function resolveProdigy(o: ProdigyOptions = {}): ResolvedProdigy {
  const beta2 = o.beta2 ?? 0.999;
  const r = {
    beta1: o.beta1 ?? 0.9,
    beta2,
    beta3: o.beta3 ?? Math.sqrt(beta2),
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? 0,
    decouple: o.decouple ?? true,
    useBiasCorrection: o.useBiasCorrection ?? false,
    safeguardWarmup: o.safeguardWarmup ?? false,
    d0: o.d0 ?? 1e-6,
    dCoef: o.dCoef ?? 1,
    growthRate: o.growthRate ?? Infinity,
    maxGradNorm: o.maxGradNorm ?? 1,
  };
  for (const k of ['beta1', 'beta2', 'beta3'] as const)
    if (!(r[k] >= 0 && r[k] < 1)) throw new Error(`Prodigy ${k} must be in [0, 1), got ${r[k]}`);
  for (const k of ['eps', 'weightDecay', 'maxGradNorm'] as const)
    if (!(r[k] >= 0 && Number.isFinite(r[k])))
      throw new Error(`Prodigy ${k} must be a finite number ≥ 0, got ${r[k]}`);
  for (const k of ['d0', 'dCoef'] as const)
    if (!(r[k] > 0 && Number.isFinite(r[k])))
      throw new Error(`Prodigy ${k} must be a finite number > 0, got ${r[k]}`);
  if (!(r.growthRate >= 1)) throw new Error(`Prodigy growthRate must be ≥ 1, got ${r.growthRate}`);
  return Object.freeze(r);
}

/** Prodigy's scalar state (shared by all parameters). */
export interface ProdigyScalars {
  d: number;
  dMax: number;
  dNumerator: number;
  /** The last estimate d̂ (for logs). */
  dHat: number;
  /** Steps taken. */
  k: number;
}

/** Per-parameter state: Adam's moments, the s accumulator and the starting point p0. */
export interface ProdigyTensorState {
  m: Float32Array;
  v: Float32Array;
  s: Float32Array;
  p0: Float32Array;
}

/** Host Prodigy over named float32 parameters (updated in place); AdamW's host interface. */
export class Prodigy {
  readonly options: ResolvedProdigy;
  private readonly tensors = new Map<string, ProdigyTensorState>();
  private sc: ProdigyScalars;

  constructor(options: ProdigyOptions = {}) {
    this.options = resolveProdigy(options);
    const d0 = this.options.d0;
    this.sc = { d: d0, dMax: d0, dNumerator: 0, dHat: d0, k: 0 };
  }

  get stepCount(): number {
    return this.sc.k;
  }

  /** The current step-size estimate d (the effective learning rate is d·lr). */
  get d(): number {
    return this.sc.d;
  }

  get scalars(): Readonly<ProdigyScalars> {
    return this.sc;
  }

  /** One update with learning-rate multiplier `lr` (1 is Prodigy's usual). Returns the grad norm. */
  step(
    params: ReadonlyMap<string, Float32Array>,
    grads: ReadonlyMap<string, Float32Array>,
    lr: number,
  ): number {
    if (!(lr >= 0 && Number.isFinite(lr)))
      throw new Error(`learning rate must be a finite number ≥ 0, got ${lr}`);
    const names = [...params.keys()];
    const missing = names.filter((n) => grads.get(n)?.length !== params.get(n)!.length);
    if (missing.length)
      throw new Error(`Prodigy: no gradient of the parameter's length for ${missing.join(', ')}`);
    const norm = clipGradNorm(
      names.map((n) => grads.get(n)!),
      this.options.maxGradNorm,
    );
    const o = this.options;
    const { k } = this.sc;
    let { d, dMax } = this.sc;
    const bc = o.useBiasCorrection
      ? Math.sqrt(1 - o.beta2 ** (k + 1)) / (1 - o.beta1 ** (k + 1))
      : 1;
    const dlr = d * lr * bc;
    let dNumerator = this.sc.dNumerator * o.beta3;
    let dDenom = 0;
    const dd0 = d / o.d0;
    const sCoef = dd0 * (o.safeguardWarmup ? d : dlr);
    for (const n of names) {
      const p = params.get(n)!;
      const g = grads.get(n)!;
      if (o.weightDecay !== 0 && !o.decouple)
        for (let i = 0; i < g.length; i++) g[i] += o.weightDecay * p[i];
      let st = this.tensors.get(n);
      if (!st) {
        const z = () => new Float32Array(p.length);
        st = { m: z(), v: z(), s: z(), p0: p.slice() };
        this.tensors.set(n, st);
      }
      if (lr > 0) {
        let dot = 0;
        let sAbs = 0;
        for (let i = 0; i < p.length; i++) {
          dot += g[i] * (st.p0[i] - p[i]);
          st.m[i] = o.beta1 * st.m[i] + d * (1 - o.beta1) * g[i];
          st.v[i] = o.beta2 * st.v[i] + d * d * (1 - o.beta2) * g[i] * g[i];
          st.s[i] = o.beta3 * st.s[i] + sCoef * g[i];
          sAbs += Math.abs(st.s[i]);
        }
        dNumerator += dd0 * dlr * dot;
        dDenom += sAbs;
      }
    }
    // No gradient signal at all: the reference returns before touching d or the parameters.
    if (dDenom === 0) return norm;
    let dHat = d;
    if (lr > 0) {
      dHat = (o.dCoef * dNumerator) / dDenom;
      if (d === o.d0) d = Math.max(d, dHat);
      dMax = Math.max(dMax, dHat);
      d = Math.min(dMax, d * o.growthRate);
    }
    const decay = o.weightDecay !== 0 && o.decouple ? o.weightDecay * dlr : 0;
    const dEps = d * o.eps;
    for (const n of names) {
      const p = params.get(n)!;
      const st = this.tensors.get(n)!;
      for (let i = 0; i < p.length; i++) {
        const decayed = decay ? Math.fround(p[i] - decay * p[i]) : p[i];
        p[i] = decayed - (dlr * st.m[i]) / (Math.sqrt(st.v[i]) + dEps);
      }
    }
    this.sc = { d, dMax, dNumerator, dHat, k: k + 1 };
    return norm;
  }

  /** The state of a parameter (for checkpoints), or undefined before its first step. */
  state(name: string): ProdigyTensorState | undefined {
    return this.tensors.get(name);
  }

  /** Continue from saved state (copies are taken). */
  restore(scalars: ProdigyScalars, tensors: ReadonlyMap<string, ProdigyTensorState>): void {
    for (const [k, v] of Object.entries(scalars))
      if (!Number.isFinite(v)) throw new Error(`Prodigy state: ${k} is ${v}, expected a number`);
    this.sc = { ...scalars };
    this.tensors.clear();
    for (const [n, t] of tensors)
      this.tensors.set(n, { m: t.m.slice(), v: t.v.slice(), s: t.s.slice(), p0: t.p0.slice() });
  }
}
