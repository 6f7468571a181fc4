// The graph IR: plain data that the builder produces, autodiff extends and the ONNX writer
// serialises. Edges are string-named (like ONNX itself), so a graph is easy to print and diff.
import type { DType } from './dtype.js';

/** A dimension: a fixed size, or a symbolic name (e.g. 'batch') resolved at run time. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export interface ValueInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** ONNX attribute, explicitly typed so that `1` as a float and `1` as an int never get confused. */
export type Attribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensor'; readonly value: TensorData };

export type Attributes = Readonly<Record<string, Attribute>>;

export const attr = {
  int: (value: number): Attribute => {
    if (!Number.isInteger(value)) throw new Error(`int attribute must be an integer, got ${value}`);
    return { type: 'int', value };
  },
  float: (value: number): Attribute => ({ type: 'float', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): Attribute => {
    const bad = value.find((v) => !Number.isInteger(v));
    if (bad !== undefined) throw new Error(`ints attribute must hold integers, got ${bad}`);
    return { type: 'ints', value: [...value] };
  },
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value: [...value] }),
  strings: (value: readonly string[]): Attribute => ({ type: 'strings', value: [...value] }),
  tensor: (value: TensorData): Attribute => ({ type: 'tensor', value }),
};

/** Raw little-endian tensor bytes, as ONNX `raw_data` holds them. */
export interface TensorData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** Where an initializer's bytes live outside the model file (ONNX external data). */
export interface ExternalLocation {
  /** Path relative to the model's directory, or a virtual name handed to ORT in memory. */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

export interface Initializer {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Inline bytes (small tensors) … */
  readonly bytes?: Uint8Array;
  /** … or a pointer into another file (big weights). Exactly one of the two is set. */
  readonly external?: ExternalLocation;
}

export interface Node {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** Input value names; '' marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attributes;
}

export interface Graph {
  readonly name: string;
  readonly opset: number;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly nodes: readonly Node[];
  readonly initializers: readonly Initializer[];
  /** Every named value with its inferred dtype/shape (inputs, initializers, node outputs). */
  readonly values: ReadonlyMap<string, ValueInfo>;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isStaticShape(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
