// Shared pieces of shape/dtype inference: the context an inference function sees, typed
// attribute readers, axis normalisation and numpy broadcasting.
import type { DType } from './dtype.js';
import type { Attributes, Dim, Shape, ValueInfo } from './ir.js';

export interface InferContext {
  readonly opType: string;
  readonly inputs: readonly (ValueInfo | undefined)[];
  readonly attrs: Attributes;
  readonly nOutputs: number;
  /** Values of a constant (initializer with inline data) input, or undefined if not constant. */
  constant(index: number): number[] | undefined;
  /**
   * Values of a small int input known up to symbolic dims (e.g. Shape of a ['b', 4, 'h'] tensor is
   * ['b', 4, 'h']), or undefined. Optional: contexts without it see only `constant`.
   */
  symbolic?(index: number): Dim[] | undefined;
  /** A fresh symbolic dimension for sizes only known at run time. */
  fresh(): string;
}

export interface InferredOutput {
  dtype: DType;
  shape: Dim[];
}

export type InferFn = (ctx: InferContext) => InferredOutput[];

export function intAttr(ctx: InferContext, name: string, fallback?: number): number {
  const a = ctx.attrs[name];
  if (a === undefined) {
    if (fallback === undefined) throw new Error(`${ctx.opType}: missing attribute '${name}'`);
    return fallback;
  }
  if (a.type !== 'int')
    throw new Error(`${ctx.opType}: attribute '${name}' must be int, got ${a.type}`);
  return a.value;
}

export function intsAttr(ctx: InferContext, name: string): readonly number[] | undefined {
  const a = ctx.attrs[name];
  if (a === undefined) return undefined;
  if (a.type !== 'ints')
    throw new Error(`${ctx.opType}: attribute '${name}' must be ints, got ${a.type}`);
  return a.value;
}

export function stringAttr(ctx: InferContext, name: string, fallback: string): string {
  const a = ctx.attrs[name];
  if (a === undefined) return fallback;
  if (a.type !== 'string')
    throw new Error(`${ctx.opType}: attribute '${name}' must be string, got ${a.type}`);
  return a.value;
}

export function input(ctx: InferContext, i: number): ValueInfo {
  const v = ctx.inputs[i];
  if (!v) throw new Error(`${ctx.opType}: input ${i} is required`);
  return v;
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcasting of two shapes; symbolic dims are kept when they must match. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === 1) out.push(db);
    else if (db === 1 || da === db) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new Error(`${op}: shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    } else out.push(typeof db === 'number' ? db : da); // a number is more specific; else keep a's
  }
  return out;
}

/** Inputs that must share one element type (ONNX type variable T): mixing fp16/fp32 fails here. */
export function sameDType(ctx: InferContext, values: readonly (ValueInfo | undefined)[]): DType {
  const present = values.filter((v): v is ValueInfo => !!v);
  const d = present[0].dtype;
  const bad = present.find((v) => v.dtype !== d);
  if (bad) {
    throw new Error(
      `${ctx.opType}: inputs must share one dtype, got ${present.map((v) => `'${v.name}': ${v.dtype}`).join(', ')}`,
    );
  }
  return d;
}

export function same(ctx: InferContext): InferredOutput[] {
  const x = input(ctx, 0);
  return [{ dtype: x.dtype, shape: [...x.shape] }];
}

/** Elementwise over all present inputs: they share a dtype and their shapes broadcast. */
export function broadcastAll(ctx: InferContext, dtype?: DType): InferredOutput[] {
  const present = ctx.inputs.filter((v): v is ValueInfo => !!v);
  if (present.length === 0) throw new Error(`${ctx.opType}: needs at least one input`);
  const d = sameDType(ctx, present);
  let shape: Dim[] = [...present[0].shape];
  for (const v of present.slice(1)) shape = broadcastShapes(shape, v.shape, ctx.opType);
  return [{ dtype: dtype ?? d, shape }];
}

/** Product of dims as a number, or a fresh symbol when any dim is symbolic. */
export function dimProduct(ctx: InferContext, dims: Shape): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return ctx.fresh();
    p *= d;
  }
  return p;
}

/** A shape-like int input: constant, else known up to symbols, else undefined. */
export function shapeInput(ctx: InferContext, i: number): Dim[] | undefined {
  if (!ctx.inputs[i]) return undefined;
  return ctx.constant(i) ?? ctx.symbolic?.(i);
}

/** A constant int input (axes, shape, repeats…), or undefined with a uniform error when required. */
export function constInput(ctx: InferContext, i: number, what: string, required: true): number[];
export function constInput(
  ctx: InferContext,
  i: number,
  what: string,
  required?: false,
): number[] | undefined;
export function constInput(
  ctx: InferContext,
  i: number,
  what: string,
  required = false,
): number[] | undefined {
  const v = ctx.inputs[i] ? ctx.constant(i) : undefined;
  if (required && !v) {
    throw new Error(
      `${ctx.opType}: ${what} (input ${i}) must be a small constant so shapes can be inferred`,
    );
  }
  return v;
}
