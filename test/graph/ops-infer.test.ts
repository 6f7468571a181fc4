// Shape/dtype inference without ORT: symbolic dims, validation errors that name the bad values,
// and the builder's node naming.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import { attr } from '../../core/graph/ir.js';
import { sliceLength } from '../../core/graph/infer.js';
import * as ops from '../../core/graph/ops.js';
import { writeModel } from '../../core/onnx/model-writer.js';
import { Session } from '../../core/onnx/session.js';
import { sliceIndices } from './reference.js';

describe('shape inference with symbolic dims', () => {
  it('Conv keeps batch and channels, gives fresh symbols for symbolic spatial dims', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 4, 'h', 'w']);
    const w = g.input('w', 'float32', [8, 4, 3, 3]);
    const y = ops.Conv(g, x, w, null, { strides: [2, 2], pads: [1, 1, 1, 1] });
    expect(y.shape.slice(0, 2)).toEqual(['b', 8]);
    expect(y.shape.slice(2).every((d) => typeof d === 'string' && d !== 'h' && d !== 'w')).toBe(
      true,
    );
    // Size-preserving convs keep the symbol: 3×3 pad 1 and 1×1, stride 1.
    expect(ops.Conv(g, x, w, null, { pads: [1, 1, 1, 1] }).shape).toEqual(['b', 8, 'h', 'w']);
    expect(ops.Conv(g, x, g.input('w1', 'float32', [2, 4, 1, 1])).shape).toEqual([
      'b',
      2,
      'h',
      'w',
    ]);
  });

  it('folds shape arithmetic at build time, symbols included', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 8, 'h', 'w']);
    // GroupNorm via InstanceNorm: [b, 8, h, w] → [b, 2, -1] → back to Shape(x).
    const grouped = ops.Reshape(g, x, [0, 2, -1]);
    expect(ops.Reshape(g, grouped, ops.Shape(g, x)).shape).toEqual(['b', 8, 'h', 'w']);
    const first = ops.Gather(g, ops.Shape(g, x), [0]);
    expect(ops.Reshape(g, x, ops.Concat(g, [first, g.ints([8, -1])], 0)).shape[0]).toBe('b');
    expect(ops.ConstantOfShape(g, ops.Shape(g, x, 2)).shape).toEqual(['h', 'w']);
    // All-static arithmetic becomes a constant the gradient rules can read too.
    const s = g.input('s', 'float32', [2, 3, 4]);
    const prod = ops.Mul(
      g,
      ops.Gather(g, ops.Shape(g, s), [1]),
      ops.Gather(g, ops.Shape(g, s), [2]),
    );
    expect(g.constantValue(prod.name)).toEqual([12]);
    expect(ops.Reshape(g, s, ops.Concat(g, [ops.Shape(g, s, 0, 1), prod], 0)).shape).toEqual([
      2, 12,
    ]);
  });

  it('MatMul broadcasts a symbolic batch against a static weight', () => {
    const g = new GraphBuilder();
    const y = ops.MatMul(
      g,
      g.input('a', 'float32', ['b', 77, 768]),
      g.input('w', 'float32', [768, 320]),
    );
    expect(y.shape).toEqual(['b', 77, 320]);
  });

  it('Reshape cancels symbols on both sides and resolves -1', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 'L', 64]);
    expect(ops.Reshape(g, x, [0, 0, 8, -1]).shape).toEqual(['b', 'L', 8, 8]);
    // L·64 has no name: a fresh symbol, not 'L'.
    const merged = ops.Reshape(g, x, [0, -1]).shape;
    expect(merged[0]).toBe('b');
    expect(typeof merged[1] === 'string' && merged[1] !== 'L').toBe(true);
    expect(ops.Reshape(g, x, [-1, 0, 64]).shape).toEqual(['b', 'L', 64]);
    expect(() => ops.Reshape(g, g.input('y', 'float32', [2, 3]), [4, -1])).toThrow(
      /cannot reshape \[2, 3\] to \[4, -1\]/,
    );
  });

  it('Flatten with a negative axis counts from the back of the rank', () => {
    const g = new GraphBuilder();
    expect(ops.Flatten(g, g.input('x', 'float32', [2, 3, 4]), -1).shape).toEqual([6, 4]);
  });

  it('Shape honours start/end; Expand and ConstantOfShape of a run-time shape keep the rank', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['b', 3, 4]);
    expect(ops.Shape(g, x, 1).shape).toEqual([2]);
    const s = ops.Shape(g, x);
    expect(ops.Expand(g, g.input('one', 'float32', [1]), s).shape).toHaveLength(3);
    expect(ops.ConstantOfShape(g, s).shape).toHaveLength(3);
  });

  it('Split by num_outputs gives the last chunk the remainder', () => {
    const g = new GraphBuilder();
    expect(ops.Split(g, g.input('x', 'float32', [10]), 4).map((v) => v.shape[0])).toEqual([
      3, 3, 3, 1,
    ]);
  });

  it('LayerNormalization statistics follow stash_type', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float16', [2, 3]);
    const [, mean] = ops.LayerNormalization(g, x, g.input('s', 'float16', [3]), null, {
      stats: true,
    });
    expect(mean).toMatchObject({ dtype: 'float32', shape: [2, 1] });
  });

  it('sliceLength agrees with the reference slicer on a grid of starts/ends/steps', () => {
    for (const d of [0, 1, 4, 5]) {
      for (let s = -7; s <= 7; s++) {
        for (let e = -7; e <= 7; e++) {
          for (const step of [-3, -1, 1, 2])
            expect(sliceLength(d, s, e, step)).toBe(sliceIndices(d, s, e, step).length);
        }
      }
    }
  });
});

describe('shape inference errors name the bad values', () => {
  const g = new GraphBuilder();
  const f32 = g.input('f32', 'float32', [2, 3]);
  const f16 = g.input('f16', 'float16', [2, 3]);

  it('mixed dtypes', () => {
    expect(() => ops.Add(g, f32, f16)).toThrow(
      /Add: inputs must share one dtype, got 'f32': float32, 'f16': float16/,
    );
  });
  it('shapes that do not broadcast', () => {
    expect(() => ops.Mul(g, f32, g.input('v4', 'float32', [4]))).toThrow(
      /Mul: shapes \[2, 3\] and \[4\] do not broadcast/,
    );
  });
  it('MatMul inner dims', () => {
    expect(() => ops.MatMul(g, f32, f32)).toThrow(
      /MatMul: inner dimensions differ: \[2, 3\] × \[2, 3\]/,
    );
  });
  it('Conv channels and group', () => {
    const x = g.input('img', 'float32', [1, 3, 8, 8]);
    expect(() => ops.Conv(g, x, g.input('w4', 'float32', [8, 4, 3, 3]))).toThrow(
      /3 channels but weight expects 4 × group 1/,
    );
    expect(() =>
      ops.Conv(g, x, g.input('w1', 'float32', [8, 1, 3, 3]), null, { group: 3, pads: [1, 1] }),
    ).toThrow(/pads needs 4 values, got \[1, 1\]/);
  });
  it('GroupNormalization per-channel scale (opset 21) and divisibility', () => {
    const x = g.input('gx', 'float32', [1, 6, 2, 2]);
    const s3 = g.input('s3', 'float32', [3]);
    const s6 = g.input('s6', 'float32', [6]);
    expect(() => ops.GroupNormalization(g, x, s3, s3, { numGroups: 3 })).toThrow(
      /input 1 \('s3'\) must have shape \[6\]/,
    );
    expect(() => ops.GroupNormalization(g, x, s6, s6, { numGroups: 4 })).toThrow(
      /6 channels do not divide into num_groups 4/,
    );
  });
  it('Where needs a bool condition; logic ops need bools', () => {
    expect(() => ops.Where(g, f32, f32, f32)).toThrow(/Where: condition must be bool, got float32/);
    expect(() => ops.And(g, f32, f32)).toThrow(/And: inputs must be bool, 'f32' is float32/);
  });
  it('Split sizes, Slice lengths, Transpose perm, Squeeze of a non-1 dim', () => {
    expect(() => ops.Split(g, f32, [1, 1], 1)).toThrow(
      /sizes \[1, 1\] do not add up to dimension 3/,
    );
    expect(() => ops.Slice(g, f32, [0], [1], [0], [0])).toThrow(/steps must not be 0/);
    expect(() => ops.Transpose(g, f32, [0, 0])).toThrow(
      /perm \[0, 0\] is not a permutation of 0..1/,
    );
    expect(() => ops.Squeeze(g, f32, [1])).toThrow(/Squeeze: axis 1 has size 3, not 1/);
  });
  it('axes that must be constants, and unknown ops', () => {
    const axes = g.input('axes', 'int64', [1]);
    expect(() => g.op('ReduceSum', [f32, axes])).toThrow(
      /ReduceSum: axes \(input 1\) must be a small constant/,
    );
    expect(() => g.op('FancyOp', [f32])).toThrow(
      /no shape inference for op 'FancyOp'; known ops: Abs, Add/,
    );
    expect(() => g.node('Add', [f32, f32], {}, { outputs: 2 })).toThrow(
      /Add: asked for 2 outputs, the op has 1/,
    );
  });
  it('Resize needs scales or sizes; Range rejects float16', () => {
    expect(() => g.op('Resize', [f32], { mode: attr.string('nearest') })).toThrow(
      /scales \(input 2\) or sizes \(input 3\)/,
    );
    expect(() => ops.Range(g, 0, 3, 1, 'float16')).toThrow(
      /Range: dtype float16 is not valid; valid: float32/,
    );
  });
});

describe('builder node names', () => {
  it('gives repeated op types unique node names, so ORT accepts the graph', async () => {
    const g = new GraphBuilder('names');
    const x = g.input('x', 'float32', [4]);
    const y = g.scope('blk', () => ops.Neg(g, ops.Neg(g, x)));
    g.output(ops.Neg(g, y), 'y');
    const graph = g.build();
    const names = graph.nodes.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.slice(0, 2).every((n) => n.startsWith('blk/Neg'))).toBe(true);
    const s = await Session.create(writeModel(graph));
    const out = await s.run({
      x: { dtype: 'float32', shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    });
    expect(Array.from(out.y.data as Float32Array)).toEqual([-1, -2, -3, -4]);
    await s.release();
  });

  it('refuses an explicit node name used twice', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1]);
    g.node('Neg', [x], {}, { name: 'n' });
    expect(() => g.node('Neg', [x], {}, { name: 'n' })).toThrow(/node name 'n' is already used/);
  });
});
