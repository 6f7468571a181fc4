import { describe, expect, it } from 'vitest';
import { attr } from '../../core/graph/ir.js';
import { tensorData } from '../../core/graph/tensor-data.js';
import { Session, writeModel } from '../../core/onnx/index.js';
import { f32bytes, graphOf, node, vi } from './helpers.js';

const values = (t: { data: ArrayLike<number | bigint> }): number[] => Array.from(t.data, Number);

describe('writeModel → ORT', () => {
  it('writes attributes of every type so that ORT reads their values', async () => {
    const g = graphOf({
      name: 'attrs',
      inputs: [vi('x', 'float32', [2, 3])],
      outputs: [
        vi('leaky', 'float32', [3, 2]),
        vi('cf', 'float32', []),
        vi('cfs', 'float32', [3]),
        vi('ci', 'int64', []),
        vi('cis', 'int64', [3]),
        vi('ct', 'float32', [2, 2]),
        vi('cs_size', 'int64', []),
        vi('kept', 'int64', [1]),
        vi('gelu_tanh', 'float32', [2, 3]),
      ],
      nodes: [
        node('LeakyRelu', ['x'], ['lr'], { alpha: attr.float(0.25) }),
        node('Transpose', ['lr'], ['leaky'], { perm: attr.ints([1, 0]) }),
        node('Constant', [], ['cf'], { value_float: attr.float(2.5) }),
        node('Constant', [], ['cfs'], { value_floats: attr.floats([1.5, -2, 3.25]) }),
        node('Constant', [], ['ci'], { value_int: attr.int(-7) }),
        node('Constant', [], ['cis'], { value_ints: attr.ints([-1, 0, 2 ** 40]) }),
        node('Constant', [], ['ct'], {
          value: attr.tensor(tensorData('float32', [2, 2], [1, 2, 3, 4])),
        }),
        node('Constant', [], ['cs'], { value_string: attr.string('hello') }),
        node('Size', ['cs'], ['cs_size']),
        node('Constant', [], ['words'], { value_strings: attr.strings(['keep', 'stop', 'more']) }),
        node('StringNormalizer', ['words'], ['normalized'], {
          stopwords: attr.strings(['stop']),
          case_change_action: attr.string('UPPER'),
          locale: attr.string('C'),
        }),
        node('Shape', ['normalized'], ['kept']),
        node('Gelu', ['x'], ['gelu_tanh'], { approximate: attr.string('tanh') }),
      ],
    });
    const s = await Session.create(g);
    const x = new Float32Array([-2, -1, 0, 1, 2, 3]);
    const out = await s.run({ x: { dtype: 'float32', shape: [2, 3], data: x } });
    expect(values(out.leaky)).toEqual([-0.5, 1, -0.25, 2, 0, 3]);
    expect(out.leaky.shape).toEqual([3, 2]);
    expect(values(out.cf)).toEqual([2.5]);
    expect(values(out.cfs)).toEqual([1.5, -2, 3.25]);
    expect(values(out.ci)).toEqual([-7]);
    expect(values(out.cis)).toEqual([-1, 0, 2 ** 40]);
    expect(values(out.ct)).toEqual([1, 2, 3, 4]);
    expect(values(out.cs_size)).toEqual([1]);
    // 'stop' removed: the strings attribute and the string attribute both reached the kernel.
    expect(values(out.kept)).toEqual([2]);
    const tanhGelu = (v: number): number =>
      0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const got = values(out.gelu_tanh);
    x.forEach((v, i) => expect(got[i]).toBeCloseTo(tanhGelu(v), 5));
    await s.release();
  });

  it('declares symbolic and unnamed dims that ORT reports and accepts at any size', async () => {
    const g = graphOf({
      inputs: [vi('a', 'float32', ['batch', 3]), vi('b', 'float32', ['', 3])],
      outputs: [vi('y', 'float32', ['batch', 3])],
      nodes: [node('Add', ['a', 'b'], ['y'])],
    });
    const s = await Session.create(g);
    const meta = s.inner.inputMetadata.map((m) => (m.isTensor ? m.shape : []));
    expect(meta).toEqual([
      ['batch', 3],
      ['', 3],
    ]);
    for (const n of [1, 4]) {
      const data = new Float32Array(n * 3).fill(1);
      const out = await s.run({
        a: { dtype: 'float32', shape: [n, 3], data },
        b: { dtype: 'float32', shape: [n, 3], data },
      });
      expect(out.y.shape).toEqual([n, 3]);
      expect(values(out.y).every((v) => v === 2)).toBe(true);
    }
    await s.release();
  });

  it('imports non-default op domains (com.microsoft contrib op)', async () => {
    const g = graphOf({
      inputs: [vi('x', 'float32', [4])],
      outputs: [vi('y', 'float32', [4])],
      nodes: [node('Gelu', ['x'], ['y'], {}, 'com.microsoft')],
    });
    const s = await Session.create(g);
    const out = await s.run({
      x: { dtype: 'float32', shape: [4], data: new Float32Array([0, 1, -1, 2]) },
    });
    expect(values(out.y)[1]).toBeCloseTo(0.8413447, 5);
    await s.release();
  });

  it('refuses a model over the protobuf limit, naming the biggest inline initializers', () => {
    const g = graphOf({
      name: 'big',
      outputs: [vi('y', 'float32', [256])],
      nodes: [node('Add', ['w_big', 'w_small'], ['y'])],
      initializers: [
        { name: 'w_small', dtype: 'float32', shape: [1], bytes: f32bytes([1]) },
        { name: 'w_big', dtype: 'float32', shape: [256], bytes: f32bytes(new Float32Array(256)) },
      ],
    });
    expect(writeModel(g, { limitBytes: 4096 }).byteLength).toBeLessThan(4096);
    expect(() => writeModel(g, { limitBytes: 1000 })).toThrow(
      /over the 1000-byte protobuf limit.*w_big \(1024 B\), w_small \(4 B\)/s,
    );
  });

  it('rejects tensors whose byte count does not match dtype × shape, and bad dims', () => {
    const bad = graphOf({
      outputs: [vi('w', 'float32', [2])],
      nodes: [],
      initializers: [{ name: 'w', dtype: 'float32', shape: [2], bytes: new Uint8Array(7) }],
    });
    expect(() => writeModel(bad)).toThrow(/tensor 'w' float32\[2\] needs 8 bytes, got 7/);
    const badDim = graphOf({
      inputs: [vi('x', 'float32', [-1])],
      outputs: [vi('x', 'float32', [-1])],
      nodes: [],
    });
    expect(() => writeModel(badDim)).toThrow(/value 'x' has dim -1/);
  });
});
