import { describe, expect, it } from 'vitest';
import { feedProblems, Session, validateFeeds, writeModel } from '../../core/onnx/index.js';
import { graphOf, node, vi } from './helpers.js';

const declared = [
  { name: 'a', dtype: 'float32', shape: ['batch', 3] },
  { name: 'b', dtype: 'float32', shape: ['batch', 'seq'] },
  { name: 'ids', dtype: 'int64', shape: ['seq'] },
  { name: 'mask', dtype: 'bool', shape: [2, 2] },
];

describe('feed validation', () => {
  it('accepts feeds that fit, binding each symbolic dim once', () => {
    expect(
      feedProblems(declared, {
        a: { dtype: 'float32', shape: [4, 3] },
        b: { dtype: 'float32', shape: [4, 7] },
        ids: { dtype: 'int64', shape: [7] },
        mask: { dtype: 'bool', shape: [2, 2], elements: 4 },
      }),
    ).toEqual([]);
  });

  it('reports every problem at once', () => {
    const problems = feedProblems(declared, {
      a: { dtype: 'float16', shape: [2, 4] },
      b: { dtype: 'float32', shape: [3, 5] },
      extra1: { dtype: 'float32', shape: [1] },
      mask: { dtype: 'bool', shape: [2], elements: 3 },
    });
    expect(problems).toEqual([
      'missing input: ids',
      'unknown input: extra1 (inputs are: a, b, ids, mask)',
      "'a' is float16, expected float32",
      "'a' dim 1 is 4, expected 3 (shape [2, 4] vs [batch, 3])",
      "symbolic dim 'batch' is 2 at 'a' dim 0 but 3 at 'b' dim 0",
      "'mask' holds 3 values but its shape [2] needs 2",
      "'mask' has rank 1 [2], expected rank 2 [2, 2]",
    ]);
    expect(() =>
      validateFeeds(declared, { a: { dtype: 'float32', shape: [1, 3] } }, 'clip'),
    ).toThrow("invalid inputs for 'clip' (1 problem):\n  missing inputs: b, ids, mask");
  });

  it('skips shape checks for inputs the model declares no shape for', () => {
    expect(
      feedProblems([{ name: 'x', dtype: 'float32', shape: undefined }], {
        x: { dtype: 'float32', shape: [9, 9, 9] },
      }),
    ).toEqual([]);
  });
});

describe('Session.run validates before ORT runs', () => {
  const g = graphOf({
    name: 'pair',
    inputs: [vi('a', 'float32', ['batch', 2]), vi('b', 'float32', ['batch', 2])],
    outputs: [vi('y', 'float32', ['batch', 2])],
    nodes: [node('Add', ['a', 'b'], ['y'])],
  });
  const t = (rows: number, data = new Float32Array(rows * 2)) => ({
    dtype: 'float32' as const,
    shape: [rows, 2],
    data,
  });

  it('names a symbolic dim bound to two sizes — which ORT would broadcast silently', async () => {
    const s = await Session.create(g);
    await expect(s.run({ a: t(2), b: t(1) })).rejects.toThrow(
      /symbolic dim 'batch' is 2 at 'a' dim 0 but 1 at 'b' dim 0/,
    );
    // Without our check ORT broadcasts [2,2] + [1,2] and returns a result.
    const loose = await Session.create(g, { validateInputs: false });
    expect((await loose.run({ a: t(2), b: t(1) })).y.shape).toEqual([2, 2]);
    await Promise.all([s.release(), loose.release()]);
  });

  it('lists missing, unknown and wrongly typed inputs together', async () => {
    const s = await Session.create(g);
    const bad = {
      c: t(1),
      a: { dtype: 'float64' as const, shape: [1, 2], data: new Float64Array(2) },
    };
    await expect(s.run(bad)).rejects.toThrow(
      "invalid inputs for 'pair' (3 problems):\n  missing input: b\n  unknown input: c (inputs are: a, b)\n  'a' is float64, expected float32",
    );
    await s.release();
  });

  it('uses the declared shapes ORT reports for a model given as bytes', async () => {
    const s = await Session.create(writeModel(g));
    await expect(s.run({ a: t(3), b: t(2) })).rejects.toThrow(/symbolic dim 'batch' is 3/);
    const out = await s.run({
      a: t(2, new Float32Array([1, 2, 3, 4])),
      b: t(2, new Float32Array([1, 1, 1, 1])),
    });
    expect(Array.from(out.y.data as Float32Array)).toEqual([2, 3, 4, 5]);
    await expect(s.run({ a: t(2), b: t(2) }, { outputs: ['z'] })).rejects.toThrow(
      'unknown outputs z; outputs are: y',
    );
    await s.release();
  });
});
