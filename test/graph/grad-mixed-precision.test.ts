// Mixed precision: an fp16 model with fp32 masters, fp32 loss, loss scaling and an overflow flag,
// checked against the same model in fp32 on the CPU EP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import { attr } from '../../core/graph/ir.js';
import {
  masterParam,
  scaledGrad,
  toCompute,
  computeDTypeFor,
  type ComputeDType,
} from '../../core/graph/mixed-precision.js';
import { Session, type HostTensor } from '../../core/onnx/index.js';
import { rng, uniform } from './fd.js';

const PARAMS: Record<string, number[]> = {
  emb: [5, 6],
  w1: [6, 16],
  b1: [16],
  ln: [16],
  w2: [16, 3],
};
const B = 8;

/** x + emb[ids] → tanh(·w1 + b1) → LayerNorm(·, ln) → ·w2 → fp32 → mean squared error vs t. */
function build(dtype: ComputeDType) {
  const g = new GraphBuilder(`mlp_${dtype}`);
  const x = g.input('x', 'float32', [B, 6]);
  const t = g.input('t', 'float32', [B, 3]);
  const p = Object.fromEntries(
    Object.entries(PARAMS).map(([k, s]) => [k, masterParam(g, k, s, dtype)]),
  );
  const ids = g.constant([0, 3, 3, 1, 4, 0, 2, 3], 'int64', [B]);
  const xe = g.op('Add', [toCompute(g, x, dtype), g.op('Gather', [p.emb.value, ids])]);
  const h = g.op('Tanh', [g.op('Add', [g.op('MatMul', [xe, p.w1.value]), p.b1.value])]);
  const n = g.op('LayerNormalization', [h, p.ln.value], { axis: attr.int(-1) });
  const y = g.cast(g.op('MatMul', [n, p.w2.value]), 'float32');
  const err = g.op('Sub', [y, t]);
  const loss = g.op('ReduceMean', [g.op('Mul', [err, err])], { keepdims: attr.int(0) });
  const names = Object.keys(PARAMS);
  const { grads, overflow } = scaledGrad(
    g,
    loss,
    names.map((k) => p[k].master),
  );
  g.output(loss, 'loss');
  grads.forEach((d, i) => g.output(d, `grad_${names[i]}`));
  g.output(overflow, 'overflow');
  return g.build();
}

const r = rng(1234);
const f32 = (shape: number[], values: number[]): HostTensor => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from(values),
});
const feeds: Record<string, HostTensor> = {
  x: f32([B, 6], uniform(-1, 1)(r, B * 6)),
  t: f32([B, 3], uniform(-1, 1)(r, B * 3)),
  ...Object.fromEntries(
    Object.entries(PARAMS).map(([k, s]) => [
      k,
      f32(
        s,
        k === 'ln'
          ? uniform(0.8, 1.2)(r, s[0])
          : uniform(-0.5, 0.5)(
              r,
              s.reduce((a, b) => a * b, 1),
            ),
      ),
    ]),
  ),
};
const withScale = (scale: number, extra: Record<string, HostTensor> = {}) => ({
  ...feeds,
  ...extra,
  loss_scale: f32([], [scale]),
});
const values = (t: HostTensor) => Array.from(t.data as Float32Array);
function relError(a: number[], b: number[]): number {
  let num = 0;
  let den = 0;
  a.forEach((v, i) => {
    num += (v - b[i]) ** 2;
    den += b[i] ** 2;
  });
  return Math.sqrt(num / den);
}

describe('mixed precision training graph', () => {
  let fp16: Session;
  let fp32: Session;
  beforeAll(async () => {
    [fp16, fp32] = await Promise.all([
      Session.create(build('float16')),
      Session.create(build('float32')),
    ]);
  });
  afterAll(async () => {
    await Promise.all([fp16.release(), fp32.release()]);
  });

  it('picks fp16 for GPU providers and fp32 for the CPU EP', () => {
    expect(computeDTypeFor('cpu')).toBe('float32');
    expect(computeDTypeFor('cuda')).toBe('float16');
  });

  it('fp16 gradients (scale 1024) match fp32 gradients within fp16 precision', async () => {
    const [a, e] = await Promise.all([fp16.run(withScale(1024)), fp32.run(withScale(1))]);
    expect(a.loss.dtype).toBe('float32');
    expect(Math.abs((a.loss.data[0] as number) - (e.loss.data[0] as number))).toBeLessThan(5e-3);
    for (const k of Object.keys(PARAMS)) {
      expect(a[`grad_${k}`].dtype).toBe('float32');
      expect(relError(values(a[`grad_${k}`]), values(e[`grad_${k}`]))).toBeLessThan(2e-2);
    }
    expect(a.overflow.data[0]).toBe(0);
    expect(e.overflow.data[0]).toBe(0);
  });

  it('unscales: loss_scale 1024 gives the loss_scale 1 gradients', async () => {
    for (const s of [fp32, fp16]) {
      const [big, one] = await Promise.all([s.run(withScale(1024)), s.run(withScale(1))]);
      for (const k of Object.keys(PARAMS)) {
        const err = relError(values(big[`grad_${k}`]), values(one[`grad_${k}`]));
        // fp32: scaling by a power of two is exact; fp16: loss_scale 1 flushes tiny values
        expect(err).toBeLessThan(s === fp32 ? 1e-6 : 1e-2);
      }
    }
  });

  it('raises the overflow flag for an inf planted in the input, and only then', async () => {
    const bad = values(feeds.x);
    bad[5] = Infinity;
    for (const s of [fp32, fp16]) {
      const out = await s.run(withScale(128, { x: f32([B, 6], bad) }));
      expect(out.overflow.data[0]).toBe(1);
      expect((await s.run(withScale(128))).overflow.data[0]).toBe(0);
    }
  });

  it('raises the overflow flag when the loss scale overflows fp16 but not fp32', async () => {
    const [a, e] = await Promise.all([fp16.run(withScale(1e9)), fp32.run(withScale(1e9))]);
    expect(a.overflow.data[0]).toBe(1);
    expect(e.overflow.data[0]).toBe(0);
  });

  it('rejects a loss that is not a float32 scalar', () => {
    const g = new GraphBuilder('bad');
    const w = masterParam(g, 'w', [3], 'float16');
    const loss16 = g.op('ReduceSum', [w.value], { keepdims: attr.int(0) });
    expect(() => scaledGrad(g, loss16, [w.master])).toThrow(/must be a float32 scalar/);
    expect(() => masterParam(g, 'v', [3], 'float8' as ComputeDType)).toThrow(
      /not one of float32, float16, bfloat16/,
    );
  });
});
