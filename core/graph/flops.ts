// Floating-point operation count of a graph, for GFLOP/s figures in benchmarks and the UI.
//
// Conventions (per node; "elements" are output elements unless said otherwise):
//   MatMul, Gemm, Conv, ConvTranspose  2 FLOPs per multiply-add (batch broadcasting and groups
//                                      included), + 1 per output element for a bias (Gemm C, Conv B).
//   elementwise (arithmetic, unary math, activations, comparisons, logic, Where, Clip)
//                                      1 per element whatever the function's real cost (Exp = Add);
//                                      variadic Sum/Max/Min/Mean: (inputs − 1) per element, ≥ 1.
//   Softmax, LogSoftmax                5 per element (max, subtract, exp, sum, divide).
//   LayerNorm, GroupNorm, InstanceNorm 7 per element (sum, subtract, square, sum, scale by 1/σ,
//                                      affine scale, affine bias); per-group sqrt is ignored.
//   reductions, ArgMax/Min, CumSum     1 per *input* element; ReduceSumSquare/L2 2; LogSumExp 3.
//   Resize                             nearest 0; linear 3 and cubic 8 per element per resized axis.
//   ScatterElements/ND                 1 per update element with a reduction, else 0.
//   data movement (Reshape, Transpose, Slice, Concat, Gather, Expand, Pad, Cast, Trilu, Shape…) 0.
import {
  numel,
  type Attributes,
  type Dim,
  type Graph,
  type Node,
  type Shape,
  type ValueInfo,
} from './ir.js';
import { INFER } from './infer.js';
import { foldShapeOp } from './shape-fold.js';
import { decodeTensor } from './tensor-data.js';

export interface NodeFlops {
  name: string;
  opType: string;
  flops: number;
}

export interface FlopCount {
  total: number;
  byOpType: Record<string, number>;
  byNode: NodeFlops[];
}

interface FlopContext {
  readonly node: Node;
  readonly attrs: Attributes;
  /** Number of present inputs. */
  readonly nInputs: number;
  has(i: number): boolean;
  /** Static shape of input i / output i; throws naming any dim that is not known. */
  in(i: number): number[];
  out(i: number): number[];
}

type FlopRule = (c: FlopContext) => number;

const perOutput =
  (k: number): FlopRule =>
  (c) =>
    k * numel(c.out(0));
const perInput =
  (k: number): FlopRule =>
  (c) =>
    k * numel(c.in(0));
const free: FlopRule = () => 0;
const intAttr = (a: Attributes, name: string, fallback: number) => {
  const v = a[name];
  return v && v.type === 'int' ? v.value : fallback;
};

const matmul: FlopRule = (c) => {
  const a = c.in(0);
  return 2 * numel(c.out(0)) * a[a.length - 1];
};
const gemm: FlopRule = (c) => {
  const a = c.in(0);
  const k = intAttr(c.attrs, 'transA', 0) ? a[0] : a[1];
  const mn = numel(c.out(0));
  return 2 * mn * k + (c.has(2) ? mn : 0);
};
const conv: FlopRule = (c) => {
  const w = c.in(1); // [M, C/group, k…]: every output element sums C/group × kernel products
  const out = numel(c.out(0));
  return 2 * out * numel(w.slice(1)) + (c.has(2) ? out : 0);
};
const convTranspose: FlopRule = (c) => {
  const w = c.in(1); // [C, M/group, k…]: every input element scatters into M/group × kernel outputs
  return 2 * numel(c.in(0)) * numel(w.slice(1)) + (c.has(2) ? numel(c.out(0)) : 0);
};
const variadic: FlopRule = (c) => Math.max(1, c.nInputs - 1) * numel(c.out(0));
const resize: FlopRule = (c) => {
  const m = c.attrs.mode;
  const mode = m && m.type === 'string' ? m.value : 'nearest';
  if (mode === 'nearest') return 0;
  const x = c.in(0);
  const y = c.out(0);
  const axes = y.filter((d, i) => d !== x[i]).length;
  return (mode === 'cubic' ? 8 : 3) * axes * numel(y);
};
const scatter: FlopRule = (c) => {
  const r = c.attrs.reduction;
  return r && r.type === 'string' && r.value !== 'none' ? numel(c.in(2)) : 0;
};

const ELEMENTWISE_OPS = [
  'Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual',
  'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf', 'Where', 'Neg', 'Abs', 'Sign', 'Exp', 'Log', 'Sqrt',
  'Reciprocal', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Relu', 'LeakyRelu', 'Elu', 'Softplus',
  'Mish', 'Sin', 'Cos', 'Erf', 'Gelu', 'Floor', 'Ceil', 'Round', 'Clip',
]; // prettier-ignore
const FREE_OPS = [
  'Identity', 'Dropout', 'Cast', 'CastLike', 'Trilu', 'Reshape', 'Transpose', 'Flatten', 'Squeeze',
  'Unsqueeze', 'Concat', 'Split', 'Slice', 'Gather', 'GatherElements', 'GatherND', 'Expand', 'Tile',
  'Pad', 'Shape', 'Size', 'ConstantOfShape', 'Constant', 'Range',
]; // prettier-ignore

/** One FLOP rule per op type; `countFlops` fails naming an op that has none. */
export const FLOP_RULES: Readonly<Record<string, FlopRule>> = Object.freeze({
  ...Object.fromEntries(ELEMENTWISE_OPS.map((op) => [op, perOutput(1)])),
  ...Object.fromEntries(FREE_OPS.map((op) => [op, free])),
  Sum: variadic,
  Max: variadic,
  Min: variadic,
  Mean: variadic,
  MatMul: matmul,
  Gemm: gemm,
  Conv: conv,
  ConvTranspose: convTranspose,
  Softmax: perOutput(5),
  LogSoftmax: perOutput(5),
  LayerNormalization: perInput(7),
  GroupNormalization: perInput(7),
  InstanceNormalization: perInput(7),
  ReduceSum: perInput(1),
  ReduceMean: perInput(1),
  ReduceMax: perInput(1),
  ReduceMin: perInput(1),
  ReduceProd: perInput(1),
  ReduceSumSquare: perInput(2),
  ReduceL2: perInput(2),
  ReduceLogSumExp: perInput(3),
  ArgMax: perInput(1),
  ArgMin: perInput(1),
  CumSum: perInput(1),
  Resize: resize,
  ScatterElements: scatter,
  ScatterND: scatter,
});

/**
 * Count FLOPs (conventions above). Symbolic input dims are bound through `dims`; shapes are then
 * re-inferred node by node, so sizes derived from them (e.g. a stride-2 conv of 'h') resolve too.
 * Integer shape arithmetic (Shape → Gather/Concat → Reshape) is folded along the way, so reshape
 * targets computed at run time resolve as well. A dim left unbound, or one that stays unknown,
 * throws naming it — only if a count needs it.
 */
export function countFlops(graph: Graph, dims: Readonly<Record<string, number>> = {}): FlopCount {
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 0)
      throw new Error(`countFlops: dims.${k} must be a non-negative integer, got ${v}`);
  }
  const values = new Map<string, ValueInfo>();
  const consts = new Map<string, Dim[]>(); // small int values, possibly with symbols
  const runtimeDims = new Map<string, string>(); // fresh dim → node that made it
  const bind = (s: Shape): Dim[] =>
    s.map((d) => (typeof d === 'string' && d in dims ? dims[d] : d));
  for (const init of graph.initializers) {
    values.set(init.name, { name: init.name, dtype: init.dtype, shape: init.shape });
    if (init.bytes && numel(init.shape) <= 64)
      consts.set(init.name, decodeTensor(init.dtype, init.bytes));
  }
  for (const v of graph.inputs) values.set(v.name, { ...v, shape: bind(v.shape) });

  const staticShape = (v: ValueInfo, node: Node): number[] => {
    for (const d of v.shape) {
      if (typeof d === 'number') continue;
      const maker = runtimeDims.get(d);
      if (maker !== undefined) {
        throw new Error(
          `countFlops: node '${node.name}' (${node.opType}) needs the shape of '${v.name}', whose size comes from node '${maker}' at run time`,
        );
      }
      const bound = Object.keys(dims);
      throw new Error(
        `countFlops: symbolic dim '${d}' (in '${v.name}', used by node '${node.name}') is not bound; pass dims: { ${d}: <size> }` +
          (bound.length ? ` (bound: ${bound.join(', ')})` : ''),
      );
    }
    return v.shape as number[];
  };

  const byNode: NodeFlops[] = [];
  const byOpType: Record<string, number> = {};
  let total = 0;
  for (const node of graph.nodes) {
    const ins = node.inputs.map((n) => {
      if (!n) return undefined;
      const v = values.get(n);
      if (!v)
        throw new Error(
          `countFlops: node '${node.name}' reads '${n}', which no earlier node or input defines`,
        );
      return v;
    });
    const outs = reinfer(graph, node, ins, consts, bind, runtimeDims);
    node.outputs.forEach((name, i) =>
      values.set(name, { name, dtype: outs[i].dtype, shape: outs[i].shape }),
    );
    const cv = node.opType === 'Constant' ? node.attrs.value : undefined;
    if (cv && cv.type === 'tensor' && numel(cv.value.shape) <= 64) {
      consts.set(node.outputs[0], decodeTensor(cv.value.dtype, cv.value.bytes));
    } else if (node.outputs.length === 1) {
      // Shape arithmetic on now-static shapes (Shape → Concat → Reshape) folds to numbers.
      const out = values.get(node.outputs[0]) as ValueInfo;
      const folded = foldShapeOp(node, ins, out, (i) =>
        node.inputs[i] ? consts.get(node.inputs[i]) : undefined,
      );
      if (folded) consts.set(node.outputs[0], folded);
    }
    const rule = FLOP_RULES[node.opType];
    if (!rule) {
      throw new Error(
        `countFlops: no FLOP rule for op '${node.opType}' (node '${node.name}'); add one to FLOP_RULES`,
      );
    }
    const flops = rule({
      node,
      attrs: node.attrs,
      nInputs: ins.filter((v) => v).length,
      has: (i) => ins[i] !== undefined,
      in: (i) => staticShape(ins[i] as ValueInfo, node),
      out: (i) => staticShape(values.get(node.outputs[i]) as ValueInfo, node),
    });
    byNode.push({ name: node.name, opType: node.opType, flops });
    byOpType[node.opType] = (byOpType[node.opType] ?? 0) + flops;
    total += flops;
  }
  return { total, byOpType, byNode };
}

function reinfer(
  graph: Graph,
  node: Node,
  ins: (ValueInfo | undefined)[],
  consts: Map<string, Dim[]>,
  bind: (s: Shape) => Dim[],
  runtimeDims: Map<string, string>,
): { dtype: ValueInfo['dtype']; shape: Shape }[] {
  const fn = INFER[node.opType];
  if (!fn) {
    // Unknown to inference (e.g. another domain): trust the shapes stored at build time.
    return node.outputs.map((name) => {
      const v = graph.values.get(name);
      if (!v) throw new Error(`countFlops: no shape recorded for '${name}' (node '${node.name}')`);
      return { dtype: v.dtype, shape: bind(v.shape) };
    });
  }
  let fresh = 0;
  try {
    return fn({
      opType: node.opType,
      inputs: ins,
      attrs: node.attrs,
      nOutputs: node.outputs.length,
      constant: (i) => {
        const v = node.inputs[i] ? consts.get(node.inputs[i]) : undefined;
        return v && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
      },
      symbolic: (i) => (node.inputs[i] ? consts.get(node.inputs[i]) : undefined),
      fresh: () => {
        const d = `${node.name}#${++fresh}`;
        runtimeDims.set(d, node.name);
        return d;
      },
    });
  } catch (e) {
    throw new Error(
      `countFlops: re-inferring node '${node.name}' with the bound dims failed: ${(e as Error).message}`,
      { cause: e },
    );
  }
}
