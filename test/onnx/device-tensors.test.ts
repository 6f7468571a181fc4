import { describe, expect, it } from 'vitest';
import { attr } from '../../core/graph/ir.js';
import { DeviceTensor, Session } from '../../core/onnx/index.js';
import { graphOf, node, vi } from './helpers.js';

// One SGD step as a graph: p' = p − lr·(p − target), also returns the loss Σ(p − target)².
const sgd = graphOf({
  name: 'sgd',
  inputs: [vi('p', 'float32', ['n']), vi('target', 'float32', ['n'])],
  outputs: [vi('p_next', 'float32', ['n']), vi('loss', 'float32', [])],
  nodes: [
    node('Sub', ['p', 'target'], ['diff']),
    node('Mul', ['diff', 'lr'], ['step']),
    node('Sub', ['p', 'step'], ['p_next']),
    node('Mul', ['diff', 'diff'], ['sq']),
    node('ReduceSum', ['sq'], ['loss'], { keepdims: attr.int(0) }),
  ],
  initializers: [
    {
      name: 'lr',
      dtype: 'float32',
      shape: [],
      bytes: new Uint8Array(new Float32Array([0.5]).buffer),
    },
  ],
});

describe('device-resident tensors', () => {
  it('feeds outputs back as opaque handles across steps, copying to host only at the end', async () => {
    const s = await Session.create(sgd, {
      preferredOutputLocation: { p_next: 'gpu-buffer', loss: 'cpu' },
    });
    const target = DeviceTensor.fromHost({
      dtype: 'float32',
      shape: [3],
      data: new Float32Array([1, 2, 3]),
    });
    let p = DeviceTensor.fromHost({
      dtype: 'float32',
      shape: [3],
      data: new Float32Array([5, 5, 5]),
    });
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const out = await s.runRaw({ p, target });
      expect(out.p_next.dtype).toBe('float32');
      expect(out.p_next.shape).toEqual([3]);
      // The CPU EP has no device memory: 'gpu-buffer' is honoured as host memory there.
      expect(out.p_next.location).toBe('cpu');
      losses.push(((await out.loss.toHost()).data as Float32Array)[0]);
      p.dispose();
      p = out.p_next;
    }
    // diff halves each step: 16+9+4=29, then /4, then /16.
    expect(losses).toEqual([29, 29 / 4, 29 / 16]);
    expect(Array.from((await p.toHost()).data as Float32Array)).toEqual([1.5, 2.375, 3.25]);
    await s.release();
  });

  it('mixes host and device feeds in run(), which returns host tensors', async () => {
    const s = await Session.create(sgd);
    const p = DeviceTensor.fromHost({
      dtype: 'float32',
      shape: [2],
      data: new Float32Array([2, 4]),
    });
    const out = await s.run(
      { p, target: { dtype: 'float32', shape: [2], data: new Float32Array([0, 0]) } },
      { outputs: ['loss'] },
    );
    expect(Object.keys(out)).toEqual(['loss']);
    expect(Array.from(out.loss.data as Float32Array)).toEqual([20]);
    // Device feeds are validated like host ones.
    const wrong = DeviceTensor.fromHost({ dtype: 'int32', shape: [2], data: new Int32Array(2) });
    await expect(s.run({ p: wrong, target: p })).rejects.toThrow("'p' is int32, expected float32");
    await s.release();
  });

  it('checks host data against dtype and shape, and refuses use after dispose', () => {
    expect(() =>
      DeviceTensor.fromHost({ dtype: 'float32', shape: [2], data: new Float64Array(2) }, 'w'),
    ).toThrow("'w' is float32 but its data is a Float64Array; float32 needs a Float32Array");
    expect(() =>
      DeviceTensor.fromHost({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }, 'w'),
    ).toThrow("'w' has shape [2, 2] (4 elements) but 3 values");
    const t = DeviceTensor.fromHost({ dtype: 'uint8', shape: [2], data: Buffer.from([1, 2]) });
    expect(t.location).toBe('cpu');
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(t.location).toBe('none');
    expect(() => t.shape).toThrow('device tensor was disposed');
  });
});
