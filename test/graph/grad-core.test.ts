// The autodiff algorithm itself: missing rules, the differentiation path (frozen weights,
// unrelated branches), fan-out accumulation, seeds, symbolic dims and broadcast ambiguity.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../core/graph/builder.js';
import { grad } from '../../core/graph/grad/index.js';
import { attr } from '../../core/graph/ir.js';
import { encodeTensor } from '../../core/graph/tensor-data.js';
import { Session } from '../../core/onnx/index.js';
import { checkGradients, rng, uniform } from './fd.js';

const f64 = (shape: number[], values: number[]) => ({
  dtype: 'float64' as const,
  shape,
  data: Float64Array.from(values),
});
const sumAll = (g: GraphBuilder, v: Value) => g.op('ReduceSum', [v], { keepdims: attr.int(0) });

describe('grad: the algorithm', () => {
  it('throws naming the op and node when a rule is missing', () => {
    const g = new GraphBuilder('missing');
    const x = g.input('x', 'float32', [3]);
    const [y] = g.node('Dropout', [x], {}, { name: 'my_dropout' });
    const loss = sumAll(g, g.op('Tanh', [y]));
    expect(() => grad(g, loss, [x])).toThrow(
      /no gradient rule for op 'Dropout' \(node 'my_dropout'\)/,
    );
  });

  it('needs no rule for ops off the path from wrt to the loss', () => {
    const g = new GraphBuilder('offpath');
    const x = g.input('x', 'float32', [3]);
    const frozen = g.input('c', 'float32', [3]);
    const noisy = g.op('Dropout', [frozen]); // depends on nothing we differentiate
    const loss = sumAll(g, g.op('Mul', [x, noisy]));
    g.op('Dropout', [x]); // depends on x but does not lead to the loss
    expect(() => grad(g, loss, [x])).not.toThrow();
  });

  it('gives a frozen initializer no gradient while the input upstream of it gets one', async () => {
    const g = new GraphBuilder('frozen');
    const x = g.input('x', 'float64', [2, 3]);
    const w = g.initializer(
      'w',
      'float64',
      [3, 2],
      encodeTensor('float64', [1, -2, 0.5, 3, -1, 2]),
    );
    const loss = sumAll(g, g.op('Tanh', [g.op('MatMul', [x, w])]));
    const before = g.nodeCount;
    const [dx] = grad(g, loss, [x]);
    const backward = g.currentNodes.slice(before);
    // one MatMul for dx = dy·wᵀ and none for dw = xᵀ·dy
    expect(backward.filter((n) => n.opType === 'MatMul').map((n) => n.inputs)).toEqual([
      [expect.any(String), expect.stringMatching(/Transpose/)],
    ]);
    expect(backward.some((n) => n.inputs.includes('x'))).toBe(false);
    g.output(dx, 'dx');
    const s = await Session.create(g.build());
    const xs = [0.1, -0.2, 0.3, 0.4, 0.5, -0.6];
    const out = (await s.run({ x: f64([2, 3], xs) })).dx.data as Float64Array;
    // dx[i, k] = Σ_j (1 − tanh²(h[i, j])) · w[k, j]
    const wv = [1, -2, 0.5, 3, -1, 2];
    for (let i = 0; i < 2; i++) {
      for (let k = 0; k < 3; k++) {
        let want = 0;
        for (let j = 0; j < 2; j++) {
          let h = 0;
          for (let m = 0; m < 3; m++) h += xs[i * 3 + m] * wv[m * 2 + j];
          want += (1 - Math.tanh(h) ** 2) * wv[k * 2 + j];
        }
        expect(out[i * 3 + k]).toBeCloseTo(want, 12);
      }
    }
  });

  it('emits nothing for branches that do not lead to the loss or do not depend on wrt', () => {
    const g = new GraphBuilder('path');
    const x = g.input('x', 'float32', [4]);
    const c = g.input('c', 'float32', [4]);
    const unrelated = g.op('Exp', [g.op('Sin', [c])]);
    g.output(g.op('Cos', [x]), 'side'); // depends on x, not on the path to the loss
    const loss = sumAll(g, g.op('Mul', [g.op('Tanh', [x]), unrelated]));
    const before = g.nodeCount;
    grad(g, loss, [x]);
    const ops = g.currentNodes.slice(before).map((n) => n.opType);
    expect(ops).not.toContain('Sin');
    expect(ops).not.toContain('Cos');
    expect(ops.filter((o) => o === 'Mul').length).toBeLessThanOrEqual(3);
  });

  it('accumulates fan-out gradients with one Sum node', async () => {
    const r = await checkGradients({
      name: 'fan-out x·x + sin(x) + exp(x)',
      dtype: 'float64',
      inputs: [{ name: 'x', shape: [5] }],
      build: (g, [x]) =>
        g.op('Add', [g.op('Add', [g.op('Mul', [x, x]), g.op('Sin', [x])]), g.op('Exp', [x])]),
    });
    expect(r.failures).toEqual([]);
    const g = new GraphBuilder('fanout');
    const x = g.input('x', 'float32', [5]);
    const loss = sumAll(g, g.op('Add', [g.op('Sin', [x]), g.op('Exp', [x])]));
    const before = g.nodeCount;
    grad(g, loss, [x]);
    const sums = g.currentNodes.slice(before).filter((n) => n.opType === 'Sum');
    expect(sums.map((n) => n.inputs.length)).toEqual([2]);
  });

  it('returns zeros for a wrt value the loss does not depend on', async () => {
    const g = new GraphBuilder('zeros');
    const x = g.input('x', 'float32', [2, 2]);
    const y = g.input('y', 'float32', [3]);
    const loss = sumAll(g, g.op('Exp', [y]));
    const [dx] = grad(g, loss, [x]);
    expect(dx.shape).toEqual([2, 2]);
    g.output(dx, 'dx');
    const s = await Session.create(g.build());
    const out = await s.run({
      x: { dtype: 'float32', shape: [2, 2], data: new Float32Array(4).fill(1) },
      y: { dtype: 'float32', shape: [3], data: new Float32Array(3) },
    });
    expect(Array.from(out.dx.data as Float32Array)).toEqual([0, 0, 0, 0]);
  });

  it('multiplies every gradient by the seed and validates it', async () => {
    const g = new GraphBuilder('seed');
    const x = g.input('x', 'float64', [3]);
    const seed = g.input('seed', 'float64', []);
    const loss = sumAll(g, g.op('Mul', [x, x]));
    expect(() => grad(g, loss, [x], { seed: g.input('bad', 'float32', []) })).toThrow(
      /seed 'bad' is float32/,
    );
    const [dx] = grad(g, loss, [x], { seed });
    g.output(dx, 'dx');
    const s = await Session.create(g.build());
    const out = await s.run({
      x: f64([3], [1, 2, 3]),
      seed: f64([], [3]),
      bad: { dtype: 'float32', shape: [], data: new Float32Array(1) },
    });
    expect(Array.from(out.dx.data as Float64Array)).toEqual([6, 12, 18]);
  });

  it('handles a symbolic batch dim (bias broadcast, mean over batch) like the static graph', async () => {
    const build = (batch: number | string) => {
      const g = new GraphBuilder('sym');
      const x = g.input('x', 'float64', [batch, 4]);
      const w = g.input('w', 'float64', [4, 3]);
      const b = g.input('b', 'float64', [3]);
      const h = g.op('Tanh', [g.op('Add', [g.op('MatMul', [x, w]), b])]);
      const flat = g.op('Reshape', [h, g.ints([0, 3, 1])]);
      const loss = g.op('ReduceMean', [g.op('Mul', [flat, flat])], { keepdims: attr.int(0) });
      const [dw, db, dx] = grad(g, loss, [w, b, x]);
      g.output(dw, 'dw');
      g.output(db, 'db');
      g.output(dx, 'dx');
      return g.build();
    };
    const r = rng(7);
    const feeds = {
      x: f64([5, 4], uniform(-1, 1)(r, 20)),
      w: f64([4, 3], uniform(-1, 1)(r, 12)),
      b: f64([3], uniform(-1, 1)(r, 3)),
    };
    const [sym, fixed] = await Promise.all([
      Session.create(build('batch')),
      Session.create(build(5)),
    ]);
    const [a, e] = await Promise.all([sym.run(feeds), fixed.run(feeds)]);
    for (const k of ['dw', 'db', 'dx']) {
      expect(a[k].shape).toEqual(e[k].shape);
      const got = Array.from(a[k].data as Float64Array);
      Array.from(e[k].data as Float64Array).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
    }
  });

  it('refuses to guess whether a symbolic dim was broadcast', () => {
    const g = new GraphBuilder('ambiguous');
    const a = g.input('a', 'float32', ['n']);
    const b = g.input('b', 'float32', [5]);
    const loss = sumAll(g, g.op('Mul', [a, b]));
    expect(() => grad(g, loss, [a])).toThrow(/symbolic dim 'n' broadcasts to 5/);
  });

  it('rejects non-float losses and wrt values', () => {
    const g = new GraphBuilder('types');
    const x = g.input('x', 'float32', [2]);
    const i = g.input('i', 'int64', [2]);
    expect(() => grad(g, i, [x])).toThrow(/loss 'i' must be a float tensor/);
    expect(() => grad(g, sumAll(g, x), [i])).toThrow(/w.r.t. 'i' of dtype int64/);
  });
});
