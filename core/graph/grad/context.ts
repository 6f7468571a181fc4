// What a gradient rule sees: the builder, the forward node with its input/output values, the
// gradients of its outputs, and which inputs anybody wants a gradient for.
import type { GraphBuilder, Value } from '../builder.js';
import type { Attribute, Node } from '../ir.js';

export class GradContext {
  constructor(
    readonly g: GraphBuilder,
    readonly node: Node,
    /** Forward inputs; undefined where an optional input was omitted. */
    readonly inputs: readonly (Value | undefined)[],
    readonly outputs: readonly Value[],
    /** dLoss/d(output i); null where no gradient reaches that output. */
    readonly grads: readonly (Value | null)[],
    /** needs[i]: input i depends on a wanted parameter and leads to the loss. */
    readonly needs: readonly boolean[],
  ) {}

  get opType(): string {
    return this.node.opType;
  }

  /** Gradient of the (first) output; single-output nodes only run when it exists. */
  get dy(): Value {
    const d = this.grads[0];
    if (!d) throw this.error('no gradient reached output 0');
    return d;
  }

  /** Forward output i. */
  get y(): Value {
    return this.outputs[0];
  }

  input(i: number): Value {
    const v = this.inputs[i];
    if (!v) throw this.error(`input ${i} is required`);
    return v;
  }

  /** Whether any of the listed inputs (default: all) needs a gradient. */
  any(...indices: number[]): boolean {
    const idx = indices.length ? indices : this.needs.map((_, i) => i);
    return idx.some((i) => this.needs[i]);
  }

  /** Values of a small constant input (axes, shapes, pads…), or undefined. */
  constant(i: number): number[] | undefined {
    const v = this.inputs[i];
    return v ? this.g.constantValue(v.name) : undefined;
  }

  /** A constant input that the rule cannot do without. */
  requireConstant(i: number, what: string): number[] {
    const c = this.constant(i);
    if (!c) throw this.error(`${what} (input ${i}) must be a constant for the gradient`);
    return c;
  }

  private attr(name: string, type: Attribute['type']): Attribute | undefined {
    const a = this.node.attrs[name];
    if (a && a.type !== type)
      throw this.error(`attribute '${name}' must be ${type}, got ${a.type}`);
    return a;
  }

  int(name: string, fallback: number): number {
    const a = this.attr(name, 'int');
    return a ? (a.value as number) : fallback;
  }

  float(name: string, fallback: number): number {
    const a = this.attr(name, 'float');
    return a ? (a.value as number) : fallback;
  }

  str(name: string, fallback: string): string {
    const a = this.attr(name, 'string');
    return a ? (a.value as string) : fallback;
  }

  ints(name: string): readonly number[] | undefined {
    const a = this.attr(name, 'ints');
    return a ? (a.value as readonly number[]) : undefined;
  }

  /** An error that names the op and node, for rules that meet a case they do not handle. */
  error(message: string): Error {
    return new Error(`gradient of ${this.node.opType} (node '${this.node.name}'): ${message}`);
  }
}

/** One gradient per forward input (null: none, or nobody asked for it). */
export type GradRule = (ctx: GradContext) => (Value | null)[];
