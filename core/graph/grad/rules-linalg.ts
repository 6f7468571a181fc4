// Gradient rules for MatMul (batched, broadcast, 1-D operands) and Gemm.
import type { Value } from '../builder.js';
import { attr } from '../ir.js';
import { broadcastShapes } from '../infer.js';
import { unbroadcast } from './broadcast.js';
import type { GradRule } from './context.js';
import { reshapeTo, scale, squeeze, transposeLast2, unsqueeze } from './emit.js';

// C = A·B with numpy semantics. A 1-D A is a row [1, K] and a 1-D B a column [K, 1] whose
// extra axis is dropped from C; batch dims broadcast. dA = dC·Bᵀ, dB = Aᵀ·dC, each summed back
// over the batch dims its operand was broadcast along.
export const gradMatMul: GradRule = (ctx) => {
  const { g } = ctx;
  const [A, B] = [ctx.input(0), ctx.input(1)];
  const a1 = A.shape.length === 1;
  const b1 = B.shape.length === 1;
  const a = a1 ? unsqueeze(g, A, [0]) : A;
  const b = b1 ? unsqueeze(g, B, [1]) : B;
  let dc = ctx.dy;
  if (a1) dc = unsqueeze(g, dc, [dc.shape.length - (b1 ? 0 : 1)]);
  if (b1) dc = unsqueeze(g, dc, [dc.shape.length]);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'MatMul');
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const what = `MatMul '${ctx.node.name}'`;
  let dA: Value | null = null;
  let dB: Value | null = null;
  if (ctx.needs[0]) {
    const full = g.op('MatMul', [dc, transposeLast2(g, b)]);
    dA = unbroadcast(g, full, [...batch, m, k], a, what);
    if (a1) dA = squeeze(g, dA, [0]);
  }
  if (ctx.needs[1]) {
    if (
      b.shape.length === 2 &&
      a.shape.length > 2 &&
      typeof k === 'number' &&
      typeof n === 'number'
    ) {
      // A weight shared across a batch: fold the batch into the rows, one [K, rows]·[rows, N]
      // product instead of a per-batch product followed by a sum.
      // (Gemm with transA rather than Transpose + MatMul: no copy of the activation on EPs that
      // do not fuse the two)
      const a2 = g.op('Reshape', [a, g.ints([-1, k])]);
      const dc2 = g.op('Reshape', [dc, g.ints([-1, n])]);
      dB = g.op('Gemm', [a2, dc2], { transA: attr.int(1) });
      dB = reshapeTo(g, dB, b.shape, b);
    } else {
      const full = g.op('MatMul', [transposeLast2(g, a), dc]);
      dB = unbroadcast(g, full, [...batch, k, n], b, what);
    }
    if (b1) dB = squeeze(g, dB, [1]);
  }
  return [dA, dB];
};

// Y = α·op(A)·op(B) + β·C (2-D). Each case is one Gemm with the right transposes.
export const gradGemm: GradRule = (ctx) => {
  const { g } = ctx;
  const [A, B, C] = [ctx.input(0), ctx.input(1), ctx.inputs[2]];
  const tA = ctx.int('transA', 0) === 1;
  const tB = ctx.int('transB', 0) === 1;
  const alpha = ctx.float('alpha', 1);
  const beta = ctx.float('beta', 1);
  const dy = ctx.dy;
  const gemm = (x: Value, y: Value, ta: boolean, tb: boolean): Value =>
    g.op('Gemm', [x, y], {
      transA: attr.int(ta ? 1 : 0),
      transB: attr.int(tb ? 1 : 0),
      alpha: attr.float(alpha),
    });
  let dA: Value | null = null;
  let dB: Value | null = null;
  if (ctx.needs[0]) {
    // op(A)' = dy·op(B)ᵀ; with transA the stored A is its transpose: op(B)·dyᵀ.
    dA = tA ? gemm(B, dy, tB, true) : gemm(dy, B, false, !tB);
  }
  if (ctx.needs[1]) {
    // op(B)' = op(A)ᵀ·dy; with transB the stored B is its transpose: dyᵀ·op(A).
    dB = tB ? gemm(dy, A, true, tA) : gemm(A, dy, !tA, false);
  }
  let dC: Value | null = null;
  if (C && ctx.needs[2])
    dC = unbroadcast(g, scale(g, dy, beta), ctx.y.shape, C, `Gemm '${ctx.node.name}'`);
  return [dA, dB, dC];
};
