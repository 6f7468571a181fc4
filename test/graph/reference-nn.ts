// Reference implementations of the compute-heavy ops (float64, straight from the ONNX spec).
import {
  at,
  atBroadcast,
  broadcastShape,
  generate,
  reduce,
  size,
  T,
  unravel,
  type RefTensor,
} from './reference.js';

/** numpy matmul: 1-D operands get a dim added and removed; batch dims broadcast. */
export function matmul(a: RefTensor, b: RefTensor): RefTensor {
  const A = a.shape.length === 1 ? T([1, a.shape[0]], a.data) : a;
  const B = b.shape.length === 1 ? T([b.shape[0], 1], b.data) : b;
  const [m, k] = A.shape.slice(-2);
  const n = B.shape[B.shape.length - 1];
  const batch = broadcastShape(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const full = generate([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2);
    let s = 0;
    for (let t = 0; t < k; t++) s += atBroadcast(A, [...bi, i, t]) * atBroadcast(B, [...bi, t, j]);
    return s;
  });
  const shape = [...batch];
  if (a.shape.length !== 1) shape.push(m);
  if (b.shape.length !== 1) shape.push(n);
  return T(shape, full.data);
}

export function gemm(
  a: RefTensor,
  b: RefTensor,
  c: RefTensor | undefined,
  o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {},
): RefTensor {
  const get = (x: RefTensor, t: boolean | undefined, i: number, j: number) =>
    t ? at(x, [j, i]) : at(x, [i, j]);
  const m = o.transA ? a.shape[1] : a.shape[0];
  const k = o.transA ? a.shape[0] : a.shape[1];
  const n = o.transB ? b.shape[0] : b.shape[1];
  return generate([m, n], ([i, j]) => {
    let s = 0;
    for (let t = 0; t < k; t++) s += get(a, o.transA, i, t) * get(b, o.transB, t, j);
    return (o.alpha ?? 1) * s + (c ? (o.beta ?? 1) * atBroadcast(c, [i, j]) : 0);
  });
}

export interface RefConvOptions {
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
  outputPadding?: number[];
}

function geometry(x: RefTensor, w: RefTensor, o: RefConvOptions) {
  const sp = x.shape.length - 2;
  return {
    sp,
    kernel: w.shape.slice(2),
    strides: o.strides ?? new Array<number>(sp).fill(1),
    dil: o.dilations ?? new Array<number>(sp).fill(1),
    pads: o.pads ?? new Array<number>(2 * sp).fill(0),
    group: o.group ?? 1,
  };
}

/** Direct convolution: out[n, m, p] = b[m] + Σ_{c in group, k} x[n, c, p·s − pad + k·d] · w[m, c, k]. */
export function conv(
  x: RefTensor,
  w: RefTensor,
  b: RefTensor | undefined,
  o: RefConvOptions = {},
): RefTensor {
  const { sp, kernel, strides, dil, pads, group } = geometry(x, w, o);
  const [N, M] = [x.shape[0], w.shape[0]];
  const cg = w.shape[1];
  const outSp = kernel.map(
    (k, i) =>
      Math.floor((x.shape[2 + i] + pads[i] + pads[i + sp] - dil[i] * (k - 1) - 1) / strides[i]) + 1,
  );
  const kn = size(kernel);
  return generate([N, M, ...outSp], (idx) => {
    const [n, m] = idx;
    const g = Math.floor(m / (M / group));
    let s = b ? b.data[m] : 0;
    for (let c = 0; c < cg; c++) {
      for (let kk = 0; kk < kn; kk++) {
        const kIdx = unravel(kk, kernel);
        const pos = kIdx.map((k, i) => idx[2 + i] * strides[i] - pads[i] + k * dil[i]);
        if (pos.some((p, i) => p < 0 || p >= x.shape[2 + i])) continue;
        s += at(x, [n, g * cg + c, ...pos]) * at(w, [m, c, ...kIdx]);
      }
    }
    return s;
  });
}

/** Transposed convolution as a scatter: every x[n, c, i] adds x · w[c, m, k] at i·s − pad + k·d. */
export function convTranspose(
  x: RefTensor,
  w: RefTensor,
  b: RefTensor | undefined,
  o: RefConvOptions = {},
): RefTensor {
  const { sp, kernel, strides, dil, pads, group } = geometry(x, w, o);
  const outPad = o.outputPadding ?? new Array<number>(sp).fill(0);
  const [N, C] = [x.shape[0], x.shape[1]];
  const mg = w.shape[1];
  const M = mg * group;
  const outSp = kernel.map(
    (k, i) =>
      strides[i] * (x.shape[2 + i] - 1) + outPad[i] + (k - 1) * dil[i] + 1 - pads[i] - pads[i + sp],
  );
  const out = generate([N, M, ...outSp], (idx) => (b ? b.data[idx[1]] : 0));
  const inSp = x.shape.slice(2);
  const kn = size(kernel);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / (C / group));
      for (let ii = 0; ii < size(inSp); ii++) {
        const iIdx = unravel(ii, inSp);
        const xv = at(x, [n, c, ...iIdx]);
        for (let kk = 0; kk < kn; kk++) {
          const kIdx = unravel(kk, kernel);
          const pos = kIdx.map((k, i) => iIdx[i] * strides[i] - pads[i] + k * dil[i]);
          if (pos.some((p, i) => p < 0 || p >= outSp[i])) continue;
          for (let mm = 0; mm < mg; mm++) {
            const m = g * mg + mm;
            const flat = (n * M + m) * size(outSp) + pos.reduce((p, v, i) => p * outSp[i] + v, 0);
            out.data[flat] += xv * at(w, [c, mm, ...kIdx]);
          }
        }
      }
    }
  }
  return out;
}

/** Mean and 1/sqrt(var + eps) (population variance) of a list. */
function stats(v: number[], eps: number): [number, number] {
  const mu = v.reduce((p, a) => p + a, 0) / v.length;
  const vr = v.reduce((p, a) => p + (a - mu) ** 2, 0) / v.length;
  return [mu, 1 / Math.sqrt(vr + eps)];
}

/** Opset 21: statistics over each group of C/G channels (and all spatial dims); scale/bias per channel. */
export function groupNorm(
  x: RefTensor,
  scale: RefTensor,
  bias: RefTensor,
  groups: number,
  eps = 1e-5,
): RefTensor {
  const [N, C] = x.shape;
  const per = size(x.shape.slice(2)) * (C / groups);
  const out = { shape: [...x.shape], data: [...x.data] };
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const base = (n * groups + g) * per;
      const [mu, inv] = stats(x.data.slice(base, base + per), eps);
      for (let j = 0; j < per; j++) {
        const c = g * (C / groups) + Math.floor(j / (per / (C / groups)));
        out.data[base + j] = (x.data[base + j] - mu) * inv * scale.data[c] + bias.data[c];
      }
    }
  }
  return out;
}

export const instanceNorm = (x: RefTensor, scale: RefTensor, bias: RefTensor, eps = 1e-5) =>
  groupNorm(x, scale, bias, x.shape[1], eps);

/** Normalises over axes [axis, rank); returns Y, Mean, InvStdDev (stats with those dims kept as 1). */
export function layerNorm(
  x: RefTensor,
  scale: RefTensor,
  bias: RefTensor | undefined,
  axis = -1,
  eps = 1e-5,
): [RefTensor, RefTensor, RefTensor] {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const inner = size(x.shape.slice(a));
  const outer = x.data.length / inner;
  const y = { shape: [...x.shape], data: [...x.data] };
  const statShape = x.shape.map((d, i) => (i < a ? d : 1));
  const mean = T(statShape, new Array<number>(outer).fill(0));
  const inv = T(statShape, new Array<number>(outer).fill(0));
  const innerShape = x.shape.slice(a);
  for (let o = 0; o < outer; o++) {
    const [mu, is] = stats(x.data.slice(o * inner, (o + 1) * inner), eps);
    mean.data[o] = mu;
    inv.data[o] = is;
    for (let j = 0; j < inner; j++) {
      const jIdx = unravel(j, innerShape);
      const sc = atBroadcast(scale, jIdx);
      const bi = bias ? atBroadcast(bias, jIdx) : 0;
      y.data[o * inner + j] = (x.data[o * inner + j] - mu) * is * sc + bi;
    }
  }
  return [y, mean, inv];
}

export function softmax(x: RefTensor, axis = -1, log = false): RefTensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const mx = reduce(x, [a], true, (v) => Math.max(...v));
  const ex = generate(x.shape, (idx) => Math.exp(at(x, idx) - atBroadcast(mx, idx)));
  const den = reduce(ex, [a], true, (v) => v.reduce((p, q) => p + q, 0));
  return generate(x.shape, (idx) =>
    log
      ? at(x, idx) - atBroadcast(mx, idx) - Math.log(atBroadcast(den, idx))
      : at(ex, idx) / atBroadcast(den, idx),
  );
}

/** Nearest ('asymmetric' + 'floor', i.e. PyTorch F.interpolate nearest): src = floor(dst / scale). */
export function resizeNearest(x: RefTensor, scales: readonly number[]): RefTensor {
  const shape = x.shape.map((d, i) => Math.floor(d * scales[i]));
  return generate(shape, (o) =>
    at(
      x,
      o.map((v, i) => Math.min(Math.floor(v / scales[i]), x.shape[i] - 1)),
    ),
  );
}

/** Linear with 'half_pixel' (PyTorch align_corners=False): src = (dst + 0.5) / scale − 0.5, edge-clamped. */
export function resizeLinear(x: RefTensor, scales: readonly number[]): RefTensor {
  const shape = x.shape.map((d, i) => Math.floor(d * scales[i]));
  return generate(shape, (o) => {
    // Multilinear: sum over the 2^r corners of the weights' product.
    const lo: number[] = [];
    const frac: number[] = [];
    o.forEach((v, i) => {
      const src = Math.min(Math.max((v + 0.5) / scales[i] - 0.5, 0), x.shape[i] - 1);
      lo.push(Math.floor(src));
      frac.push(src - Math.floor(src));
    });
    let s = 0;
    for (let corner = 0; corner < 1 << o.length; corner++) {
      let wgt = 1;
      const idx = lo.map((l, i) => {
        const up = (corner >> i) & 1;
        wgt *= up ? frac[i] : 1 - frac[i];
        return Math.min(l + up, x.shape[i] - 1);
      });
      if (wgt !== 0) s += wgt * at(x, idx);
    }
    return s;
  });
}
