// Hand-written graph IR for runtime tests (no builder, so the writer sees exactly what we mean).
import type { DType } from '../../core/graph/dtype.js';
import type {
  Attributes,
  Graph,
  Initializer,
  Node,
  Shape,
  ValueInfo,
} from '../../core/graph/ir.js';
import { GraphBuilder } from '../../core/graph/builder.js';

export function vi(name: string, dtype: DType, shape: Shape): ValueInfo {
  return { name, dtype, shape };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Attributes = {},
  domain = '',
): Node {
  return { name: `${opType}_${outputs[0]}`, opType, domain, inputs, outputs, attrs };
}

export function graphOf(parts: {
  name?: string;
  inputs?: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers?: Initializer[];
  opset?: number;
}): Graph {
  return {
    name: parts.name ?? 'test',
    opset: parts.opset ?? 21,
    inputs: parts.inputs ?? [],
    outputs: parts.outputs,
    nodes: parts.nodes,
    initializers: parts.initializers ?? [],
    values: new Map(),
  };
}

export function f32bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** `layers` × (MatMul by a size×size weight + Add bias), input [batch, size]. */
export function mlpGraph(
  layers: number,
  size: number,
  weightBytes: (i: number) => { w: Uint8Array; b: Uint8Array },
): Graph {
  const g = new GraphBuilder(`mlp${layers}x${size}`);
  let x = g.input('x', 'float32', ['batch', size]);
  for (let i = 0; i < layers; i++) {
    const { w, b } = weightBytes(i);
    const W = g.initializer(`w${i}`, 'float32', [size, size], w);
    const B = g.initializer(`b${i}`, 'float32', [size], b);
    x = g.op('Add', [g.op('MatMul', [x, W]), B]);
  }
  g.output(x, 'y');
  return g.build();
}

/** Reference y = x·W + b per layer, in float64. */
export function mlpReference(
  x: Float32Array,
  size: number,
  layers: { w: Float32Array; b: Float32Array }[],
): Float64Array {
  let cur = Float64Array.from(x);
  const rows = x.length / size;
  for (const { w, b } of layers) {
    const next = new Float64Array(rows * size);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < size; k++) {
        const a = cur[r * size + k];
        for (let c = 0; c < size; c++) next[r * size + c] += a * w[k * size + c];
      }
      for (let c = 0; c < size; c++) next[r * size + c] += b[c];
    }
    cur = next;
  }
  return cur;
}
