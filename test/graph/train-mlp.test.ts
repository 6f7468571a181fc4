// Convergence: a 2-layer tanh MLP built as one ONNX training-step graph (forward, loss and our
// backward pass) learns a fixed smooth 2-D function with host-side Adam on the CPU EP.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import { grad } from '../../core/graph/grad/index.js';
import { attr } from '../../core/graph/ir.js';
import { Session } from '../../core/onnx/index.js';
import { rng, uniform } from './fd.js';
import { trainWithAdam } from './train-adam.js';

const N = 64;
const HIDDEN = 32;
const SHAPES: Record<string, number[]> = {
  w1: [2, HIDDEN],
  b1: [HIDDEN],
  w2: [HIDDEN, 1],
  b2: [1],
};

function trainingStep() {
  const g = new GraphBuilder('mlp_step');
  const x = g.input('x', 'float32', ['batch', 2]);
  const t = g.input('t', 'float32', ['batch', 1]);
  const p = Object.fromEntries(
    Object.entries(SHAPES).map(([k, s]) => [k, g.input(k, 'float32', s)]),
  );
  const h = g.op('Tanh', [g.op('Add', [g.op('MatMul', [x, p.w1]), p.b1])]);
  const y = g.op('Add', [g.op('MatMul', [h, p.w2]), p.b2]);
  const err = g.op('Sub', [y, t]);
  const loss = g.op('ReduceMean', [g.op('Mul', [err, err])], { keepdims: attr.int(0) });
  g.output(loss, 'loss');
  const names = Object.keys(SHAPES);
  grad(
    g,
    loss,
    names.map((k) => p[k]),
  ).forEach((d, i) => g.output(d, `grad_${names[i]}`));
  return g.build();
}

describe('training an MLP with our autodiff', () => {
  it('drives the loss down by more than 10×', async () => {
    const r = rng(42);
    const xs = uniform(-1, 1)(r, N * 2);
    const ts = Array.from(
      { length: N },
      (_, i) => Math.sin(2 * xs[2 * i]) * Math.cos(xs[2 * i + 1]) + 0.5 * xs[2 * i + 1] ** 2,
    );
    const params = Object.fromEntries(
      Object.entries(SHAPES).map(([k, s]) => {
        const n = s.reduce((a, b) => a * b, 1);
        const scale = k.startsWith('w') ? 1 / Math.sqrt(s[0]) : 0;
        return [k, Float32Array.from(uniform(-1, 1)(r, n).map((v) => v * scale * Math.sqrt(3)))];
      }),
    );
    const { losses, ms } = await trainWithAdam(await Session.create(trainingStep()), {
      steps: 400,
      lr: 0.02,
      shapes: SHAPES,
      params,
      fixed: {
        x: { dtype: 'float32', shape: [N, 2], data: Float32Array.from(xs) },
        t: { dtype: 'float32', shape: [N, 1], data: Float32Array.from(ts) },
      },
    });
    const first = losses[0];
    const last = Math.min(...losses.slice(-10));
    console.log(
      `mlp: loss ${first.toFixed(4)} → ${last.toExponential(2)} in 400 steps, ${ms.toFixed(0)} ms`,
    );
    expect(Number.isFinite(last)).toBe(true);
    expect(first / last).toBeGreaterThan(10);
  });
});
