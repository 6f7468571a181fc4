// Plain-TypeScript reference implementations of the ONNX ops we build, in float64, written from
// the ONNX operator spec. Tests run graphs through ORT and compare against these. Slow and simple
// on purpose: index arithmetic over row-major arrays, no cleverness.
// Compute-heavy ops (matmul, conv, normalisation, resize) are in reference-nn.ts.

export interface RefTensor {
  shape: number[];
  data: number[];
}

export const T = (shape: readonly number[], data: readonly number[]): RefTensor => {
  if (data.length !== size(shape))
    throw new Error(
      `ref: shape [${shape.join(', ')}] needs ${size(shape)} values, got ${data.length}`,
    );
  return { shape: [...shape], data: [...data] };
};
export const scalar = (v: number): RefTensor => T([], [v]);

export function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < shape.length; d++) off = off * shape[d] + idx[d];
  return off;
}

/** Builds a tensor by evaluating f at every multi-index of `shape`. */
export function generate(shape: readonly number[], f: (idx: number[]) => number): RefTensor {
  const n = size(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = f(unravel(i, shape));
  return { shape: [...shape], data };
}

export function at(x: RefTensor, idx: readonly number[]): number {
  return x.data[ravel(idx, x.shape)];
}

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const ds = shapes.map((s) => (i < rank - s.length ? 1 : s[i - (rank - s.length)]));
    const d = Math.max(...ds);
    if (ds.some((v) => v !== 1 && v !== d)) throw new Error(`ref: shapes do not broadcast`);
    out.push(ds.includes(0) ? 0 : d);
  }
  return out;
}

/** Value of x at an index of a (bigger) broadcast shape. */
export function atBroadcast(x: RefTensor, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  let flat = 0;
  for (let d = 0; d < x.shape.length; d++)
    flat = flat * x.shape[d] + (x.shape[d] === 1 ? 0 : idx[d + off]);
  return x.data[flat];
}

export function elementwise(xs: readonly RefTensor[], f: (...v: number[]) => number): RefTensor {
  const shape = broadcastShape(...xs.map((x) => x.shape));
  return generate(shape, (idx) => f(...xs.map((x) => atBroadcast(x, idx))));
}

export const map = (x: RefTensor, f: (v: number) => number): RefTensor => ({
  shape: [...x.shape],
  data: x.data.map(f),
});

// ---------- scalar math ----------
/** erf to ~1e-15: Taylor series near 0, continued fraction for erfc in the tails. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let cf = ax;
  for (let k = 60; k >= 1; k--) cf = ax + k / 2 / cf;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / cf;
  return Math.sign(x) * (1 - erfc);
}
export const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
export const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
export const geluTanh = (v: number) =>
  0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
/** Round half to even, as ONNX Round does. */
export function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// ---------- reductions ----------
export function normAxes(axes: readonly number[] | undefined, rank: number): number[] {
  if (!axes || axes.length === 0) return Array.from({ length: rank }, (_, i) => i);
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/** Folds the values over `axes` of every output position with `fold`, then `finish(acc, count)`. */
export function reduce(
  x: RefTensor,
  axes: readonly number[] | undefined,
  keepdims: boolean,
  fold: (values: number[]) => number,
): RefTensor {
  const ax = new Set(normAxes(axes, x.shape.length));
  const keptShape = x.shape.map((d, i) => (ax.has(i) ? 1 : d));
  const groups = new Map<number, number[]>();
  for (let i = 0; i < x.data.length; i++) {
    const key = ravel(
      unravel(i, x.shape).map((v, d) => (ax.has(d) ? 0 : v)),
      keptShape,
    );
    const list = groups.get(key) ?? [];
    list.push(x.data[i]);
    groups.set(key, list);
  }
  const data = Array.from({ length: size(keptShape) }, (_, k) => fold(groups.get(k) ?? []));
  return { shape: keepdims ? keptShape : x.shape.filter((_, i) => !ax.has(i)), data };
}
export const sum = (v: number[]) => v.reduce((p, a) => p + a, 0);
export const mean = (v: number[]) => sum(v) / v.length;

export function argReduce(
  x: RefTensor,
  axis: number,
  keepdims: boolean,
  better: (a: number, b: number) => boolean,
  last = false,
): RefTensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const r = reduce(
    generate(x.shape, (idx) => ravel(idx, x.shape)),
    [a],
    keepdims,
    (flatIdx) => {
      let best = 0;
      flatIdx.forEach((fi, j) => {
        const v = x.data[fi];
        const b = x.data[flatIdx[best]];
        if (better(v, b) || (last && v === b)) best = j;
      });
      return best;
    },
  );
  return r;
}

export function cumsum(x: RefTensor, axis: number, exclusive = false, reverse = false): RefTensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  return generate(x.shape, (idx) => {
    let s = 0;
    const n = x.shape[a];
    for (let j = 0; j < n; j++) {
      const include = reverse
        ? exclusive
          ? j > idx[a]
          : j >= idx[a]
        : exclusive
          ? j < idx[a]
          : j <= idx[a];
      if (include) {
        const k = [...idx];
        k[a] = j;
        s += at(x, k);
      }
    }
    return s;
  });
}

// ---------- data movement ----------
export const reshape = (x: RefTensor, shape: readonly number[]): RefTensor => T(shape, x.data);

export function transpose(x: RefTensor, perm?: readonly number[]): RefTensor {
  const p = perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  const shape = p.map((i) => x.shape[i]);
  return generate(shape, (idx) => {
    const src = new Array<number>(idx.length);
    p.forEach((from, to) => (src[from] = idx[to]));
    return at(x, src);
  });
}

export function concat(xs: readonly RefTensor[], axis: number): RefTensor {
  const a = axis < 0 ? axis + xs[0].shape.length : axis;
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((p, x) => p + x.shape[a], 0);
  return generate(shape, (idx) => {
    let i = idx[a];
    for (const x of xs) {
      if (i < x.shape[a]) {
        const k = [...idx];
        k[a] = i;
        return at(x, k);
      }
      i -= x.shape[a];
    }
    throw new Error('unreachable');
  });
}

/** Source indices a Slice visits along one dim (ONNX clamping rules). */
export function sliceIndices(d: number, start: number, end: number, step: number): number[] {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  const out: number[] = [];
  if (step > 0) {
    s = Math.min(Math.max(s, 0), d);
    e = Math.min(Math.max(e, 0), d);
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = Math.min(Math.max(s, 0), d - 1);
    e = Math.min(Math.max(e, -1), d - 1);
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

export function slice(
  x: RefTensor,
  starts: number[],
  ends: number[],
  axes?: number[],
  steps?: number[],
): RefTensor {
  const picks = x.shape.map((d) => Array.from({ length: d }, (_, i) => i));
  starts.forEach((s, i) => {
    const a = axes ? (axes[i] < 0 ? axes[i] + x.shape.length : axes[i]) : i;
    picks[a] = sliceIndices(x.shape[a], s, ends[i], steps ? steps[i] : 1);
  });
  return generate(
    picks.map((p) => p.length),
    (idx) =>
      at(
        x,
        idx.map((v, d) => picks[d][v]),
      ),
  );
}

export function split(x: RefTensor, sizes: readonly number[], axis: number): RefTensor[] {
  const a = axis < 0 ? axis + x.shape.length : axis;
  let start = 0;
  return sizes.map((s) => {
    const r = slice(x, [start], [start + s], [a]);
    start += s;
    return r;
  });
}

const wrapIndex = (i: number, d: number) => (i < 0 ? i + d : i);

export function gather(x: RefTensor, idx: RefTensor, axis: number): RefTensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
  return generate(shape, (o) => {
    const ii = o.slice(a, a + idx.shape.length);
    const src = [
      ...o.slice(0, a),
      wrapIndex(at(idx, ii), x.shape[a]),
      ...o.slice(a + idx.shape.length),
    ];
    return at(x, src);
  });
}

export function gatherElements(x: RefTensor, idx: RefTensor, axis: number): RefTensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  return generate(idx.shape, (o) => {
    const src = [...o];
    src[a] = wrapIndex(at(idx, o), x.shape[a]);
    return at(x, src);
  });
}

export function gatherND(x: RefTensor, idx: RefTensor): RefTensor {
  const k = idx.shape[idx.shape.length - 1];
  const outer = idx.shape.slice(0, -1);
  const shape = [...outer, ...x.shape.slice(k)];
  return generate(shape, (o) => {
    const head = o.slice(0, outer.length);
    const pre = Array.from({ length: k }, (_, j) => wrapIndex(at(idx, [...head, j]), x.shape[j]));
    return at(x, [...pre, ...o.slice(outer.length)]);
  });
}

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
const combine = (r: Reduction, a: number, b: number) =>
  r === 'add'
    ? a + b
    : r === 'mul'
      ? a * b
      : r === 'max'
        ? Math.max(a, b)
        : r === 'min'
          ? Math.min(a, b)
          : b;

export function scatterElements(
  x: RefTensor,
  idx: RefTensor,
  upd: RefTensor,
  axis: number,
  r: Reduction = 'none',
): RefTensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const out = { shape: [...x.shape], data: [...x.data] };
  for (let i = 0; i < idx.data.length; i++) {
    const o = unravel(i, idx.shape);
    o[a] = wrapIndex(idx.data[i], x.shape[a]);
    const f = ravel(o, x.shape);
    out.data[f] = combine(r, out.data[f], upd.data[i]);
  }
  return out;
}

export function scatterND(
  x: RefTensor,
  idx: RefTensor,
  upd: RefTensor,
  r: Reduction = 'none',
): RefTensor {
  const k = idx.shape[idx.shape.length - 1];
  const outer = size(idx.shape.slice(0, -1));
  const slab = size(x.shape.slice(k));
  const out = { shape: [...x.shape], data: [...x.data] };
  for (let i = 0; i < outer; i++) {
    const pre = Array.from({ length: k }, (_, j) => wrapIndex(idx.data[i * k + j], x.shape[j]));
    const base = ravel([...pre, ...new Array<number>(x.shape.length - k).fill(0)], x.shape);
    for (let j = 0; j < slab; j++)
      out.data[base + j] = combine(r, out.data[base + j], upd.data[i * slab + j]);
  }
  return out;
}

export function expand(x: RefTensor, shape: readonly number[]): RefTensor {
  return generate(broadcastShape(x.shape, shape), (idx) => atBroadcast(x, idx));
}

export function tile(x: RefTensor, reps: readonly number[]): RefTensor {
  return generate(
    x.shape.map((d, i) => d * reps[i]),
    (idx) =>
      at(
        x,
        idx.map((v, i) => v % x.shape[i]),
      ),
  );
}

export function pad(
  x: RefTensor,
  pads: readonly number[],
  mode = 'constant',
  value = 0,
  axes?: readonly number[],
): RefTensor {
  const r = x.shape.length;
  const ax = axes ? axes.map((a) => (a < 0 ? a + r : a)) : x.shape.map((_, i) => i);
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  ax.forEach((a, i) => {
    begin[a] = pads[i];
    end[a] = pads[i + ax.length];
  });
  const shape = x.shape.map((d, i) => d + begin[i] + end[i]);
  return generate(shape, (o) => {
    const src: number[] = [];
    for (let i = 0; i < r; i++) {
      const d = x.shape[i];
      let s = o[i] - begin[i];
      if (s < 0 || s >= d) {
        if (mode === 'constant') return value;
        if (mode === 'edge') s = Math.min(Math.max(s, 0), d - 1);
        else if (mode === 'reflect') {
          const period = 2 * (d - 1);
          s = ((s % period) + period) % period;
          if (s >= d) s = period - s;
        } else s = ((s % d) + d) % d; // wrap
      }
      src.push(s);
    }
    return at(x, src);
  });
}

export function trilu(x: RefTensor, upper: boolean, k = 0): RefTensor {
  const r = x.shape.length;
  return generate(x.shape, (idx) => {
    const [i, j] = [idx[r - 2], idx[r - 1]];
    const keep = upper ? j - i >= k : j - i <= k;
    return keep ? at(x, idx) : 0;
  });
}

export function range(start: number, limit: number, delta: number): RefTensor {
  const n = Math.max(0, Math.ceil((limit - start) / delta));
  return T(
    [n],
    Array.from({ length: n }, (_, i) => start + i * delta),
  );
}
