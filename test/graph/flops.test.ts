// FLOP counts checked against hand arithmetic (2 FLOPs per multiply-add; conventions in flops.ts).
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import { countFlops } from '../../core/graph/flops.js';
import * as ops from '../../core/graph/ops.js';

describe('countFlops', () => {
  it('Conv with bias: 2·out·(C/g)·k² + out', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1, 3, 8, 8]);
    const y = ops.Conv(
      g,
      x,
      g.input('w', 'float32', [16, 3, 3, 3]),
      g.input('b', 'float32', [16]),
      { pads: [1, 1, 1, 1] },
    );
    g.output(y);
    // out [1, 16, 8, 8] = 1024 elements, each 27 multiply-adds, plus the bias add.
    expect(countFlops(g.build()).total).toBe(2 * 1024 * 27 + 1024);
  });

  it('grouped Conv counts only the channels of its group', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1, 4, 6, 6]);
    g.output(ops.Conv(g, x, g.input('w', 'float32', [8, 2, 3, 3]), null, { group: 2 }));
    // out [1, 8, 4, 4] = 128 elements × (2 channels × 9) multiply-adds.
    expect(countFlops(g.build()).total).toBe(2 * 128 * 18);
  });

  it('stride-2 Conv over symbolic b, h, w resolves once the dims are bound', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 4, 'h', 'w']);
    g.output(
      ops.Conv(g, x, g.input('w', 'float32', [8, 4, 3, 3]), null, {
        strides: [2, 2],
        pads: [1, 1, 1, 1],
      }),
    );
    // out [2, 8, 8, 8] = 1024 elements × 36 multiply-adds.
    expect(countFlops(g.build(), { b: 2, h: 16, w: 16 }).total).toBe(2 * 1024 * 36);
    expect(countFlops(g.build(), { b: 1, h: 16, w: 16 }).total).toBe(1024 * 36);
  });

  it('ConvTranspose: every input element scatters into (M/g)·k² outputs', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1, 4, 3, 3]);
    const y = ops.ConvTranspose(
      g,
      x,
      g.input('w', 'float32', [4, 2, 4, 4]),
      g.input('b', 'float32', [2]),
      {
        strides: [2, 2],
        pads: [1, 1, 1, 1],
      },
    );
    expect(y.shape).toEqual([1, 2, 6, 6]);
    g.output(y);
    expect(countFlops(g.build()).total).toBe(2 * 36 * 32 + 72);
  });

  it('MatMul with batch broadcasting counts the broadcast batch', () => {
    const g = new GraphBuilder();
    const y = ops.MatMul(
      g,
      g.input('a', 'float32', [2, 1, 3, 5]),
      g.input('b', 'float32', [4, 5, 6]),
    );
    g.output(y);
    // out [2, 4, 3, 6] = 144 elements × K = 5.
    expect(countFlops(g.build()).total).toBe(2 * 144 * 5);
  });

  it('an MLP: Gemm + Relu + MatMul + Add + Softmax, per node and per op type', () => {
    const g = new GraphBuilder('mlp');
    const x = g.input('x', 'float32', ['batch', 10]);
    const h = ops.Relu(
      g,
      ops.Gemm(g, x, g.input('w1', 'float32', [10, 20]), g.input('b1', 'float32', [20])),
    );
    const logits = ops.Add(
      g,
      ops.MatMul(g, h, g.input('w2', 'float32', [20, 5])),
      g.input('b2', 'float32', [5]),
    );
    g.output(ops.Softmax(g, ops.Reshape(g, logits, [-1, 5])));
    const f = countFlops(g.build(), { batch: 3 });
    expect(f.byOpType).toEqual({
      Gemm: 2 * 3 * 20 * 10 + 3 * 20,
      Relu: 60,
      MatMul: 2 * 3 * 5 * 20,
      Add: 15,
      Reshape: 0,
      Softmax: 5 * 15,
    });
    expect(f.total).toBe(1260 + 60 + 600 + 15 + 75);
    expect(f.byNode.map((n) => n.opType)).toEqual([
      'Gemm',
      'Relu',
      'MatMul',
      'Add',
      'Reshape',
      'Softmax',
    ]);
    expect(f.byNode.reduce((s, n) => s + n.flops, 0)).toBe(f.total);
  });

  it('normalisations 7 per element, reductions per input element, Resize nearest free, linear 3 per axis', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1, 4, 3, 3]);
    const c = g.input('c', 'float32', [4]);
    const gn = ops.GroupNormalization(g, x, c, c, { numGroups: 2 });
    g.output(ops.ReduceMean(g, gn, [2, 3]));
    g.output(ops.Resize(g, x, { scales: [1, 1, 2, 2] }));
    g.output(ops.Resize(g, x, { scales: [1, 1, 2, 2], mode: 'linear' }));
    const f = countFlops(g.build());
    expect(f.byOpType.GroupNormalization).toBe(7 * 36);
    expect(f.byOpType.ReduceMean).toBe(36);
    expect(f.byNode.filter((n) => n.opType === 'Resize').map((n) => n.flops)).toEqual([
      0,
      3 * 2 * 144,
    ]);
  });

  it('an unbound symbolic dim throws naming it', () => {
    const g = new GraphBuilder();
    const y = ops.MatMul(
      g,
      g.input('x', 'float32', ['batch', 'seq', 8]),
      g.input('w', 'float32', [8, 8]),
    );
    g.output(y);
    expect(() => countFlops(g.build(), { batch: 2 })).toThrow(
      /symbolic dim 'seq' .* is not bound; pass dims: \{ seq: <size> \} \(bound: batch\)/,
    );
    expect(countFlops(g.build(), { batch: 2, seq: 3 }).total).toBe(2 * 2 * 3 * 8 * 8);
  });

  it('folds shape arithmetic: GroupNorm as Reshape → InstanceNorm → Reshape(Shape(x)) over symbolic dims', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 8, 'h', 'w']);
    const c = g.input('c', 'float32', [2]);
    const grouped = ops.InstanceNormalization(g, ops.Reshape(g, x, [0, 2, -1]), c, c);
    const back = ops.Reshape(g, grouped, ops.Shape(g, x));
    const hw = ops.Gather(g, ops.Shape(g, x), [2, 3]);
    const flat = ops.Reshape(
      g,
      back,
      ops.Concat(g, [ops.Shape(g, x, 0, 2), ops.ReduceProd(g, hw, [0], true)], 0),
    );
    expect(back.shape).toEqual(['b', 8, 'h', 'w']); // folded at build time, symbols and all
    expect(typeof flat.shape[2]).toBe('string'); // h·w has no name until the dims are bound
    g.output(ops.Relu(g, flat));
    const f = countFlops(g.build(), { b: 2, h: 3, w: 5 });
    expect(f.byOpType.Relu).toBe(2 * 8 * 15);
    expect(f.byOpType.InstanceNormalization).toBe(7 * 2 * 8 * 15);
  });

  it('a size only known at run time throws naming the node that makes it', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2, 3]);
    const r = ops.Reshape(g, x, g.input('target', 'int64', [2]));
    g.output(ops.Relu(g, r));
    expect(() => countFlops(g.build())).toThrow(
      /node 'Relu' \(Relu\) needs the shape of .*comes from node 'Reshape' at run time/,
    );
  });

  it('rejects bad bindings and ops without a rule', () => {
    const g = new GraphBuilder();
    g.output(ops.Neg(g, g.input('x', 'float32', [2])));
    expect(() => countFlops(g.build(), { n: 1.5 })).toThrow(
      /dims.n must be a non-negative integer, got 1.5/,
    );
    const graph = g.build();
    const bogus = { ...graph, nodes: [{ ...graph.nodes[0], opType: 'Bogus' }] };
    expect(() => countFlops(bogus)).toThrow(/no FLOP rule for op 'Bogus'/);
  });
});
