// Folding of small integer "shape arithmetic" (Shape → Gather/Concat/Mul → Reshape target).
// Values are Dim[]: a Shape of a ['b', 4, 'h'] tensor is known as ['b', 4, 'h'] even before the
// symbols are bound, so Reshape(y, Shape(x)) infers x's shape rather than fresh symbols; once the
// dims are bound (countFlops), the same folding yields plain numbers.
import type { Attributes, Dim, Node, ValueInfo } from './ir.js';
import { sliceLength } from './infer-shape.js';

/** Folded results longer than this are not kept (shape vectors are short). */
const MAX_FOLD = 64;

function intAttr(a: Attributes, name: string, fallback: number): number {
  const v = a[name];
  return v && v.type === 'int' ? v.value : fallback;
}

const isNums = (v: readonly Dim[]): v is number[] => v.every((d) => typeof d === 'number');

function broadcast(
  a: number[],
  b: number[],
  f: (x: number, y: number) => number,
): number[] | undefined {
  if (a.length === b.length) return a.map((x, i) => f(x, b[i]));
  if (a.length === 1) return b.map((y) => f(a[0], y));
  if (b.length === 1) return a.map((x) => f(x, b[0]));
  return undefined;
}

const ARITH: Readonly<Partial<Record<string, (x: number, y: number) => number>>> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => Math.trunc(x / y), // integer Div truncates
  Max: Math.max,
  Min: Math.min,
};

/**
 * Values of an int64/int32 output of `node` computable from shapes and known input values, or
 * undefined. `value(i)` gives the known values of input i (flattened; symbols allowed).
 * Arithmetic folds only on numbers; Shape, Gather, Concat, Slice and pass-through ops carry symbols.
 */
export function foldShapeOp(
  node: Node,
  inputs: readonly (ValueInfo | undefined)[],
  output: ValueInfo,
  value: (i: number) => Dim[] | undefined,
): Dim[] | undefined {
  if (node.domain !== '' || (output.dtype !== 'int64' && output.dtype !== 'int32'))
    return undefined;
  const r = fold(node, inputs, value);
  return r && r.length <= MAX_FOLD ? r : undefined;
}

function fold(
  node: Node,
  inputs: readonly (ValueInfo | undefined)[],
  value: (i: number) => Dim[] | undefined,
): Dim[] | undefined {
  const a = node.attrs;
  const rank1 = inputs[0]?.shape.length === 1;
  switch (node.opType) {
    case 'Shape': {
      const shape = inputs[0]?.shape ?? [];
      const rank = shape.length;
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      return shape.slice(norm(intAttr(a, 'start', 0)), norm(intAttr(a, 'end', rank)));
    }
    case 'Size': {
      const shape = inputs[0]?.shape ?? [];
      return isNums(shape) ? [shape.reduce((p, d) => p * d, 1)] : undefined;
    }
    case 'Cast':
      return value(0)?.map((d) => (typeof d === 'number' ? Math.trunc(d) : d));
    case 'Identity':
    case 'Reshape':
    case 'Squeeze':
    case 'Unsqueeze':
    case 'Flatten':
      return value(0);
    case 'Gather': {
      const data = value(0);
      const idx = value(1);
      if (!data || !idx || !rank1 || !isNums(idx)) return undefined;
      return idx.map((i) => data[i < 0 ? i + data.length : i]);
    }
    case 'Concat': {
      const parts = inputs.map((_, i) => value(i));
      return parts.every((p) => p !== undefined) ? (parts as Dim[][]).flat() : undefined;
    }
    case 'Slice': {
      const [data, starts, ends] = [value(0), value(1), value(2)];
      const steps = value(4) ?? [1];
      if (
        !data ||
        !starts ||
        !ends ||
        !rank1 ||
        !isNums(starts) ||
        !isNums(ends) ||
        !isNums(steps)
      ) {
        return undefined;
      }
      const [d, step] = [data.length, steps[0]];
      const n = sliceLength(d, starts[0], ends[0], step);
      let s = starts[0] < 0 ? starts[0] + d : starts[0];
      s = step > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, 0), d - 1);
      return Array.from({ length: n }, (_, i) => data[s + i * step]);
    }
    case 'ReduceProd':
    case 'ReduceSum': {
      const data = value(0);
      if (!data || !rank1 || !isNums(data)) return undefined;
      const prod = node.opType === 'ReduceProd';
      return [data.reduce((p, v) => (prod ? p * v : p + v), prod ? 1 : 0)];
    }
    default: {
      const f = ARITH[node.opType];
      const [x, y] = [value(0), value(1)];
      if (!f || !x || !y || inputs.length !== 2 || !isNums(x) || !isNums(y)) return undefined;
      return broadcast(x, y, f);
    }
  }
}
