// Convergence: a small conv net (Conv → GroupNorm → SiLU → Conv, the UNet's ResBlock pieces)
// built as one ONNX training-step graph learns to imitate a fixed random teacher of the same
// shape, with host-side Adam on the CPU EP.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../core/graph/builder.js';
import { grad } from '../../core/graph/grad/index.js';
import { attr } from '../../core/graph/ir.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import { rng, uniform, type Rng } from './fd.js';
import { trainWithAdam } from './train-adam.js';

const [N, C, H, W] = [8, 1, 8, 8];
const F = 8;
const SHAPES: Record<string, number[]> = {
  c1w: [F, C, 3, 3],
  c1b: [F],
  gns: [F],
  gnb: [F],
  c2w: [C, F, 3, 3],
  c2b: [C],
};

/** Conv(3×3) → GroupNorm(2 groups) → SiLU → Conv(3×3) on parameter values `p`. */
function net(g: GraphBuilder, x: Value, p: Record<string, Value>): Value {
  const pads = { pads: attr.ints([1, 1, 1, 1]) };
  const h = g.op('Conv', [x, p.c1w, p.c1b], pads);
  const n = g.op('GroupNormalization', [h, p.gns, p.gnb], { num_groups: attr.int(2) });
  const s = g.op('Mul', [n, g.op('Sigmoid', [n])]);
  return g.op('Conv', [s, p.c2w, p.c2b], pads);
}

function trainingStep() {
  const g = new GraphBuilder('conv_step');
  const x = g.input('x', 'float32', [N, C, H, W]);
  const t = g.input('t', 'float32', [N, C, H, W]);
  const p = Object.fromEntries(
    Object.entries(SHAPES).map(([k, s]) => [k, g.input(k, 'float32', s)]),
  );
  const err = g.op('Sub', [net(g, x, p), t]);
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

function teacher(r: Rng) {
  const g = new GraphBuilder('teacher');
  const x = g.input('x', 'float32', [N, C, H, W]);
  const p = Object.fromEntries(
    Object.entries(SHAPES).map(([k, s]) => {
      const n = s.reduce((a, b) => a * b, 1);
      const v = k === 'gns' ? uniform(0.5, 1.5)(r, n) : uniform(-0.6, 0.6)(r, n);
      return [k, g.constant(v, 'float32', s)];
    }),
  );
  g.output(net(g, x, p), 'y');
  return g.build();
}

const tensor = (shape: number[], data: Float32Array): HostTensor => ({
  dtype: 'float32',
  shape,
  data,
});

describe('training a conv net with our autodiff', () => {
  it('drives the loss down by more than 10×', async () => {
    const r = rng(2024);
    const x = tensor([N, C, H, W], Float32Array.from(uniform(-1, 1)(r, N * C * H * W)));
    const teacherSession = await Session.create(teacher(r));
    const target = (await teacherSession.run({ x })).y;
    await teacherSession.release();
    const params = Object.fromEntries(
      Object.entries(SHAPES).map(([k, s]) => {
        const n = s.reduce((a, b) => a * b, 1);
        const fanIn = s.length === 4 ? s[1] * 9 : 1;
        const init =
          k === 'gns'
            ? () => 1
            : k.endsWith('w')
              ? () => (2 * r() - 1) / Math.sqrt(fanIn)
              : () => 0;
        return [k, Float32Array.from({ length: n }, init)];
      }),
    );
    const { losses, ms } = await trainWithAdam(await Session.create(trainingStep()), {
      steps: 300,
      lr: 0.02,
      shapes: SHAPES,
      params,
      fixed: { x, t: target },
    });
    const first = losses[0];
    const last = Math.min(...losses.slice(-10));
    console.log(
      `conv: loss ${first.toFixed(4)} → ${last.toExponential(2)} in 300 steps, ${ms.toFixed(0)} ms`,
    );
    expect(Number.isFinite(last)).toBe(true);
    expect(first / last).toBeGreaterThan(10);
  });
});
