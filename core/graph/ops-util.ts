// Helpers shared by the per-op functions in ops.ts and ops-shape.ts.
import type { GraphBuilder, Value } from './builder.js';
import { attr, type Attribute, type Attributes } from './ir.js';

export type G = GraphBuilder;
/** A graph value, or a JS number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;
/** A constant int list (becomes an int64 initializer) or a run-time int64 value. */
export type IntsOrValue = readonly number[] | Value;

/** Drops undefined entries so optional options leave the attribute unset (the ONNX default). */
export function attrs(rec: Record<string, Attribute | undefined>): Attributes {
  const out: Record<string, Attribute> = {};
  for (const [k, v] of Object.entries(rec)) if (v !== undefined) out[k] = v;
  return out;
}
export const optInt = (v: number | undefined) => (v === undefined ? undefined : attr.int(v));
export const optInts = (v: readonly number[] | undefined) =>
  v === undefined ? undefined : attr.ints(v);
export const optFloat = (v: number | undefined) => (v === undefined ? undefined : attr.float(v));
export const optBool = (v: boolean | undefined) =>
  v === undefined ? undefined : attr.int(v ? 1 : 0);
export const optString = (v: string | undefined) => (v === undefined ? undefined : attr.string(v));

// int64 cannot hold ±Infinity; 2^53 − 1 is past any real dim, so Slice clamps it the same way.
export const clampInt = (v: number) =>
  v === Infinity ? Number.MAX_SAFE_INTEGER : v === -Infinity ? -Number.MAX_SAFE_INTEGER : v;
export const ints = (g: G, v: IntsOrValue): Value =>
  Array.isArray(v) ? g.ints((v as number[]).map(clampInt)) : (v as Value);

export function operands(g: G, op: string, a: Operand, b: Operand): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number')
    throw new Error(`${op}: at least one operand must be a graph value`);
  const x = typeof a === 'number' ? g.constant(a, (b as Value).dtype, []) : a;
  const y = typeof b === 'number' ? g.constant(b, x.dtype, []) : b;
  return [x, y];
}
