import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import { attr } from '../../core/graph/ir.js';
import { Session } from '../../core/onnx/session.js';

describe('builder → writer → ORT', () => {
  it('runs a small graph', async () => {
    const g = new GraphBuilder('smoke');
    const x = g.input('x', 'float32', ['n', 3]);
    const w = g.constant([1, 2, 3, 4, 5, 6], 'float32', [3, 2]);
    const y = g.op('MatMul', [x, w]);
    const r = g.op('ReduceSum', [y, g.ints([1])], { keepdims: attr.int(0) });
    g.output(r, 'out');
    const s = await Session.create(g.build());
    const res = await s.run({
      x: { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 0, 0, 0, 1, 1]) },
    });
    expect(Array.from(res.out.data as Float32Array)).toEqual([3, 18]);
  });
});
