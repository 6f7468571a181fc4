// Finite-difference harness for gradient rules. A case builds op(x…) on graph inputs; the harness
// forms f(x) = Σ op(x) ⊙ R with a fixed random R (accumulated in float64 so the sum adds no
// rounding of its own), appends grad(f) with our autodiff, runs both through ORT CPU and compares
// the analytical gradient with central differences (f(x+εeᵢ) − f(x−εeᵢ)) / 2ε, element by element.
// One forward session is reused for all perturbed runs.
import { grad } from '../../core/graph/grad/index.js';
import { GraphBuilder, type Value } from '../../core/graph/builder.js';
import type { DType } from '../../core/graph/dtype.js';
import { attr, numel } from '../../core/graph/ir.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';

export type Rng = () => number;

/** mulberry32: small, fast, seedable; enough for test data. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export const uniform = (lo: number, hi: number) => (r: Rng, n: number) =>
  Array.from({ length: n }, () => lo + (hi - lo) * r());
/** |x| in [lo, hi] with random sign: keeps samples away from the kink of Relu/Abs/… at 0. */
export const awayFromZero =
  (lo = 0.2, hi = 1.2) =>
  (r: Rng, n: number) =>
    Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()));
/** A shuffled grid with spacing `gap`: no two values tie (Max, ReduceMax, sorting-like ops). */
export const distinct =
  (gap = 0.05, offset = 0) =>
  (r: Rng, n: number) => {
    const v = Array.from({ length: n }, (_, i) => (i - n / 2) * gap + offset);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  };

export interface FdInput {
  name: string;
  shape: number[];
  /** Initial values (default uniform in [-1, 1]). */
  init?: (r: Rng, n: number) => number[];
  /** Differentiate with respect to this input (default true). */
  grad?: boolean;
}

export interface FdCase {
  name: string;
  dtype: 'float64' | 'float32';
  inputs: FdInput[];
  /** Builds the op(s) under test; every output must have a static shape. */
  build: (g: GraphBuilder, xs: Value[]) => Value | Value[];
  eps?: number;
  rtol?: number;
  atol?: number;
  /** Elements checked per input (a random sample beyond this; default 40). */
  maxElements?: number;
}

export interface FdReport {
  /** One line per element outside tolerance; empty when the gradient is right. */
  failures: string[];
  checked: number;
  maxAbsErr: number;
  /** Largest |numeric| seen: shows the check was not comparing zeros. */
  maxAbsGrad: number;
  runs: number;
}

/** Tolerances by dtype: float64 checks to ~1e-6; float32 to ~1e-2 relative. */
export const TOL = {
  float64: { eps: 1e-6, rtol: 1e-6, atol: 1e-6 },
  float32: { eps: 1e-3, rtol: 1e-2, atol: 2e-3 },
} as const;

function typed(dtype: DType, values: number[]): HostTensor['data'] {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

/** Σ out ⊙ R in float64 over every output. */
function projection(g: GraphBuilder, outs: Value[], r: Rng): Value {
  let total: Value | undefined;
  for (const out of outs) {
    const shape = out.shape;
    if (!shape.every((d): d is number => typeof d === 'number')) {
      throw new Error(`fd: output '${out.name}' needs a static shape, got [${shape.join(', ')}]`);
    }
    const weights = g.constant(uniform(-1, 1)(r, numel(shape)), 'float64', shape);
    const prod = g.op('Mul', [g.cast(out, 'float64'), weights]);
    const s = g.op('ReduceSum', [prod], { keepdims: attr.int(0) });
    total = total ? g.op('Add', [total, s]) : s;
  }
  return total as Value;
}

export async function checkGradients(c: FdCase): Promise<FdReport> {
  const tol = { ...TOL[c.dtype], ...definedOnly({ eps: c.eps, rtol: c.rtol, atol: c.atol }) };
  const r = rng(seedOf(c.name));
  const g = new GraphBuilder(c.name.replace(/[^A-Za-z0-9_]/g, '_'));
  const xs = c.inputs.map((i) => g.input(i.name, c.dtype, i.shape));
  const values = c.inputs.map((i) => (i.init ?? uniform(-1, 1))(r, numel(i.shape)));
  const built = c.build(g, xs);
  const loss = projection(g, Array.isArray(built) ? built : [built], r);
  g.output(loss, 'loss');
  const forward = await Session.create(g.build());
  const wanted = c.inputs.flatMap((i, k) => (i.grad === false ? [] : [k]));
  const grads = grad(
    g,
    loss,
    wanted.map((k) => xs[k]),
  );
  grads.forEach((d, j) => g.output(d, `grad_${c.inputs[wanted[j]].name}`));
  const full = await Session.create(g.build());

  const feeds = (vals: number[][]) =>
    Object.fromEntries(
      c.inputs.map((inp, k) => [
        inp.name,
        { dtype: c.dtype, shape: inp.shape, data: typed(c.dtype, vals[k]) },
      ]),
    );
  const res = await full.run(feeds(values));
  const report: FdReport = { failures: [], checked: 0, maxAbsErr: 0, maxAbsGrad: 0, runs: 1 };
  const f = async (vals: number[][]): Promise<number> => {
    report.runs++;
    return (await forward.run(feeds(vals))).loss.data[0] as number;
  };
  for (const k of wanted) {
    const inp = c.inputs[k];
    const analytic = Array.from(res[`grad_${inp.name}`].data as Float64Array | Float32Array);
    const n = numel(inp.shape);
    const limit = c.maxElements ?? 40;
    const picks = n <= limit ? [...Array(n).keys()] : sample(n, limit, r);
    for (const e of picks) {
      const plus = values.map((v) => [...v]);
      const minus = values.map((v) => [...v]);
      plus[k][e] += tol.eps;
      minus[k][e] -= tol.eps;
      const numeric = ((await f(plus)) - (await f(minus))) / (2 * tol.eps);
      const a = analytic[e];
      const err = Math.abs(a - numeric);
      report.checked++;
      report.maxAbsErr = Math.max(report.maxAbsErr, err);
      report.maxAbsGrad = Math.max(report.maxAbsGrad, Math.abs(numeric));
      if (!(err <= tol.atol + tol.rtol * Math.max(Math.abs(a), Math.abs(numeric)))) {
        report.failures.push(`${inp.name}[${e}]: analytic ${a} vs numeric ${numeric}`);
      }
    }
  }
  await Promise.all([forward.release(), full.release()]);
  return report;
}

function sample(n: number, k: number, r: Rng): number[] {
  const picked = new Set<number>();
  while (picked.size < k) picked.add(Math.floor(r() * n));
  return [...picked].sort((a, b) => a - b);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
