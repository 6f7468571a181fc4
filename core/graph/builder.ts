// GraphBuilder: adds nodes with shape/dtype inference as it goes and hands out plain IR.
import { DTYPE_BYTES, ONNX_DTYPE_CODE, type DType } from './dtype.js';
import { inferOp } from './infer.js';
import { foldShapeOp } from './shape-fold.js';
import {
  attr,
  numel,
  shapeToString,
  type Attributes,
  type Dim,
  type ExternalLocation,
  type Graph,
  type Initializer,
  type Node,
  type Shape,
  type ValueInfo,
} from './ir.js';
import { decodeTensor, encodeTensor } from './tensor-data.js';

/** A handle on a value in the graph under construction. */
export type Value = ValueInfo;

export interface NodeOptions {
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Explicit output names (default: generated). */
  outputNames?: readonly string[];
  name?: string;
  domain?: string;
}

// ONNX opset used by every graph we build: 21 gives per-channel GroupNormalization and Gelu (20).
export const DEFAULT_OPSET = 21;

export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  private readonly nodes: Node[] = [];
  private readonly inits: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly values = new Map<string, ValueInfo>();
  /** Decoded values of small inline initializers, for shape inference (Reshape targets, axes…). */
  private readonly constValues = new Map<string, number[]>();
  /** Int values known only up to symbolic dims (e.g. Shape of a symbolic tensor). */
  private readonly dimValues = new Map<string, Dim[]>();
  private readonly constCache = new Map<string, Value>();
  /** Node names live in their own namespace (ONNX requires them unique, separately from values). */
  private readonly nodeNames = new Set<string>();
  private counter = 0;
  private symCounter = 0;
  private scopeStack: string[] = [];

  constructor(name = 'graph', opset = DEFAULT_OPSET) {
    this.name = name;
    this.opset = opset;
  }

  /** Prefix generated names with a scope (e.g. a module path) while `fn` runs. */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopeStack.push(prefix);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  uniqueName(base: string): string {
    const scoped = this.scopeStack.length ? `${this.scopeStack.join('/')}/${base}` : base;
    let name = scoped;
    while (this.values.has(name)) name = `${scoped}_${++this.counter}`;
    return name;
  }

  private uniqueNodeName(base: string, explicit: boolean): string {
    const scope = this.scopeStack.join('/');
    const scoped = explicit || !scope ? base : `${scope}/${base}`;
    if (explicit && this.nodeNames.has(scoped)) {
      throw new Error(`node name '${scoped}' is already used in graph '${this.name}'`);
    }
    let name = scoped;
    while (this.nodeNames.has(name)) name = `${scoped}_${++this.counter}`;
    this.nodeNames.add(name);
    return name;
  }

  private register(v: ValueInfo): Value {
    if (this.values.has(v.name))
      throw new Error(`value '${v.name}' is already defined in graph '${this.name}'`);
    this.values.set(v.name, v);
    return v;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new Error(`no value named '${name}' in graph '${this.name}'`);
    return v;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.register({ name, dtype, shape: [...shape] });
    this.inputs.push(v);
    return v;
  }

  output(value: Value, name?: string): Value {
    let v = value;
    if (name && name !== value.name)
      v = this.node('Identity', [value], {}, { outputNames: [name] })[0];
    if (this.outputs.some((o) => o.name === v.name)) return v;
    this.outputs.push(v);
    return v;
  }

  /** A named weight: inline bytes or external data. */
  initializer(
    name: string,
    dtype: DType,
    shape: readonly number[],
    data: Uint8Array | ExternalLocation,
  ): Value {
    const expected = numel(shape) * DTYPE_BYTES[dtype];
    if (data instanceof Uint8Array) {
      if (data.byteLength !== expected) {
        throw new Error(
          `initializer '${name}' ${dtype}${shapeToString(shape)} needs ${expected} bytes, got ${data.byteLength}`,
        );
      }
      this.inits.push({ name, dtype, shape: [...shape], bytes: data });
      if (numel(shape) <= 64) this.constValues.set(name, decodeTensor(dtype, data));
    } else {
      if (data.length !== expected) {
        throw new Error(
          `external initializer '${name}' ${dtype}${shapeToString(shape)} needs ${expected} bytes, location holds ${data.length}`,
        );
      }
      this.inits.push({ name, dtype, shape: [...shape], external: { ...data } });
    }
    return this.register({ name, dtype, shape: [...shape] });
  }

  /** An inline constant; identical small constants are shared. */
  constant(
    values: ArrayLike<number> | number,
    dtype: DType = 'float32',
    shape?: readonly number[],
  ): Value {
    const arr = typeof values === 'number' ? [values] : Array.from(values);
    const shp = shape ?? (typeof values === 'number' ? [] : [arr.length]);
    const key = `${dtype}|${shp.join(',')}|${arr.length <= 64 ? arr.join(',') : ''}`;
    const cached = arr.length <= 64 ? this.constCache.get(key) : undefined;
    if (cached) return cached;
    const v = this.initializer(this.uniqueName('const'), dtype, shp, encodeTensor(dtype, arr));
    if (arr.length <= 64) this.constCache.set(key, v);
    return v;
  }

  /** int64 1-D constant, the form ONNX wants for shapes and axes. */
  ints(values: readonly number[]): Value {
    return this.constant(values, 'int64', [values.length]);
  }

  /** Decoded data of a small inline constant, or undefined. */
  constantValue(name: string): number[] | undefined {
    return this.constValues.get(name);
  }

  /** Add a node; returns its outputs with inferred dtype/shape. `null` marks an omitted optional input. */
  node(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Attributes = {},
    opts: NodeOptions = {},
  ): Value[] {
    const nOutputs = opts.outputNames?.length ?? opts.outputs ?? 1;
    for (const v of inputs) {
      if (v && this.values.get(v.name) !== v && !this.values.has(v.name)) {
        throw new Error(`${opType}: input '${v.name}' is not a value of graph '${this.name}'`);
      }
    }
    const inferred = inferOp({
      opType,
      inputs: inputs.map((v) => v ?? undefined),
      attrs,
      nOutputs,
      constant: (i) => {
        const v = inputs[i];
        return v ? this.constValues.get(v.name) : undefined;
      },
      symbolic: (i) => {
        const v = inputs[i];
        return v ? this.dimValues.get(v.name) : undefined;
      },
      fresh: () => `d${++this.symCounter}`,
    });
    const nodeName = this.uniqueNodeName(opts.name ?? opType, opts.name !== undefined);
    const outs = inferred.slice(0, nOutputs).map((o, i) =>
      this.register({
        name:
          opts.outputNames?.[i] ??
          this.uniqueName(nOutputs === 1 ? `${opType}_out` : `${opType}_out${i}`),
        dtype: o.dtype,
        shape: o.shape,
      }),
    );
    const node: Node = {
      name: nodeName,
      opType,
      domain: opts.domain ?? '',
      inputs: inputs.map((v) => (v ? v.name : '')),
      outputs: outs.map((o) => o.name),
      attrs,
    };
    this.nodes.push(node);
    this.foldShapeValues(node, inputs, outs);
    return outs;
  }

  /**
   * Shape arithmetic (Shape → Gather/Concat → Reshape) is known at build time, up to symbolic dims:
   * record it so later Reshape/Expand targets infer real shapes instead of fresh symbols.
   */
  private foldShapeValues(
    node: Node,
    inputs: readonly (Value | null)[],
    outs: readonly Value[],
  ): void {
    if (outs.length !== 1) return;
    const folded = foldShapeOp(
      node,
      inputs.map((v) => v ?? undefined),
      outs[0],
      (i) => {
        const v = inputs[i];
        return v ? (this.constValues.get(v.name) ?? this.dimValues.get(v.name)) : undefined;
      },
    );
    if (!folded) return;
    if (folded.every((d) => typeof d === 'number'))
      this.constValues.set(outs[0].name, folded as number[]);
    else this.dimValues.set(outs[0].name, folded);
  }

  /** Single-output convenience wrapper around `node`. */
  op(opType: string, inputs: readonly (Value | null)[], attrs: Attributes = {}): Value {
    return this.node(opType, inputs, attrs)[0];
  }

  cast(x: Value, to: DType): Value {
    if (x.dtype === to) return x;
    return this.op('Cast', [x], { to: attr.int(ONNX_DTYPE_CODE[to]) });
  }

  /** Snapshot of the graph so far as plain IR. */
  build(): Graph {
    if (this.outputs.length === 0) throw new Error(`graph '${this.name}' has no outputs`);
    return {
      name: this.name,
      opset: this.opset,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      nodes: [...this.nodes],
      initializers: [...this.inits],
      values: new Map(this.values),
    };
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Read-only views used by autodiff and the FLOP counter while building. */
  get currentNodes(): readonly Node[] {
    return this.nodes;
  }
  get currentInitializers(): readonly Initializer[] {
    return this.inits;
  }
  get currentInputs(): readonly ValueInfo[] {
    return this.inputs;
  }
}
