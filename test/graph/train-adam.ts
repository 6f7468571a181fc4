// A plain Adam step on the host for the convergence tests: the graph returns the gradients,
// the test owns the parameters (as the real trainer does with its fp32 masters).
import type { HostTensor, Session } from '../../core/onnx/index.js';
export interface AdamState {
  m: Float32Array;
  v: Float32Array;
}

export class Adam {
  private readonly state = new Map<string, AdamState>();
  private t = 0;

  constructor(
    readonly lr: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
  ) {}

  /** Update every parameter in place from its gradient. */
  step(params: Record<string, Float32Array>, grads: Record<string, Float32Array>): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name];
      if (!g || g.length !== p.length)
        throw new Error(`Adam: no gradient of length ${p.length} for '${name}'`);
      let s = this.state.get(name);
      if (!s) {
        s = { m: new Float32Array(p.length), v: new Float32Array(p.length) };
        this.state.set(name, s);
      }
      for (let i = 0; i < p.length; i++) {
        s.m[i] = this.beta1 * s.m[i] + (1 - this.beta1) * g[i];
        s.v[i] = this.beta2 * s.v[i] + (1 - this.beta2) * g[i] * g[i];
        p[i] -= (this.lr * (s.m[i] / c1)) / (Math.sqrt(s.v[i] / c2) + this.eps);
      }
    }
  }
}

export interface TrainRun {
  losses: number[];
  ms: number;
}

/**
 * Run `steps` training steps of a graph with a `loss` output and `grad_<name>` outputs for each
 * parameter in `shapes`; Adam updates `params` in place. Releases the session.
 */
export async function trainWithAdam(
  session: Session,
  opts: {
    steps: number;
    lr: number;
    shapes: Record<string, number[]>;
    params: Record<string, Float32Array>;
    fixed: Record<string, HostTensor>;
  },
): Promise<TrainRun> {
  const adam = new Adam(opts.lr);
  const losses: number[] = [];
  const started = performance.now();
  for (let step = 0; step < opts.steps; step++) {
    const paramFeeds = Object.fromEntries(
      Object.entries(opts.params).map(([k, v]) => [
        k,
        { dtype: 'float32' as const, shape: opts.shapes[k], data: v },
      ]),
    );
    const out = await session.run({ ...opts.fixed, ...paramFeeds });
    losses.push(out.loss.data[0] as number);
    adam.step(
      opts.params,
      Object.fromEntries(
        Object.keys(opts.shapes).map((k) => [k, out[`grad_${k}`].data as Float32Array]),
      ),
    );
  }
  const ms = performance.now() - started;
  await session.release();
  return { losses, ms };
}
