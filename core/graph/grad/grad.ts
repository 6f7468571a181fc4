// Reverse-mode autodiff over the graph IR: walk the nodes that lie between the wanted
// parameters and the loss in reverse order, ask each op's rule for its input gradients, and
// append those nodes to the same builder (micrograd's backward(), over ONNX nodes).
import type { GraphBuilder, Value } from '../builder.js';
import { isFloatDType } from '../dtype.js';
import { shapeToString, type Node } from '../ir.js';
import { GradContext } from './context.js';
import { expandLike, zerosLike } from './emit.js';
import { GRAD_RULES } from './rules.js';

export interface GradOptions {
  /**
   * dLoss/dLoss, shaped like the loss (default: ones). Mixed precision passes the loss scale
   * here so every gradient comes out multiplied by it.
   */
  seed?: Value;
}

/**
 * Append the backward pass of `loss` with respect to `wrt` to `g` and return one gradient per
 * entry of `wrt` (same dtype and shape). Only nodes that depend on some `wrt` value AND lead to
 * the loss get gradient nodes; everything else (frozen weights, constants, index math) passes
 * gradients through to activations but receives none. A `wrt` value the loss does not depend
 * on gets zeros.
 */
export function grad(
  g: GraphBuilder,
  loss: Value,
  wrt: readonly Value[],
  opts: GradOptions = {},
): Value[] {
  if (!isFloatDType(loss.dtype))
    throw new Error(`grad: loss '${loss.name}' must be a float tensor, got ${loss.dtype}`);
  for (const w of wrt) {
    if (!isFloatDType(w.dtype))
      throw new Error(`grad: cannot differentiate w.r.t. '${w.name}' of dtype ${w.dtype}`);
    g.get(w.name); // throws if it is not a value of this graph
  }
  const nodes = [...g.currentNodes];
  const dependsOnWrt = forwardSet(nodes, g, wrt);
  const onPath = backwardSet(nodes, loss, dependsOnWrt);

  const pending = new Map<string, Value[]>();
  // (no default seed constant when the loss does not depend on wrt: it would dangle unused)
  if (onPath.size || opts.seed) pending.set(loss.name, [seedFor(g, loss, opts.seed)]);
  const total = (name: string): Value | null => {
    const parts = pending.get(name);
    if (!parts?.length) return null;
    if (parts.length === 1) return parts[0];
    // Fan-out: one Sum node for all the branches, cached so it is emitted once.
    const sum = g.op('Sum', parts);
    pending.set(name, [sum]);
    return sum;
  };

  g.scope('grad', () => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (!node.outputs.some((o) => onPath.has(o))) continue;
      const outGrads = node.outputs.map((o) => (onPath.has(o) ? total(o) : null));
      if (outGrads.every((d) => d === null)) continue;
      const rule = GRAD_RULES[node.opType];
      if (!rule) {
        throw new Error(
          `no gradient rule for op '${node.opType}' (node '${node.name}'); ops with rules: ` +
            Object.keys(GRAD_RULES).sort().join(', '),
        );
      }
      const inputs = node.inputs.map((n) => (n ? g.get(n) : undefined));
      const needs = node.inputs.map((n) => n !== '' && onPath.has(n));
      const ctx = new GradContext(
        g,
        node,
        inputs,
        node.outputs.map((o) => g.get(o)),
        outGrads,
        needs,
      );
      const grads = rule(ctx);
      needs.forEach((need, k) => {
        const d = grads[k];
        if (!need || !d) return;
        checkGrad(node, k, inputs[k] as Value, d);
        const list = pending.get(node.inputs[k]) ?? [];
        list.push(d);
        pending.set(node.inputs[k], list);
      });
    }
  });
  return wrt.map((w) => total(w.name) ?? g.scope('grad', () => zerosLike(g, w)));
}

/** Float values computed from some `wrt` value (int outputs such as shapes carry no gradient). */
function forwardSet(nodes: readonly Node[], g: GraphBuilder, wrt: readonly Value[]): Set<string> {
  const dep = new Set(wrt.map((w) => w.name));
  for (const node of nodes) {
    if (!node.inputs.some((n) => n !== '' && dep.has(n))) continue;
    for (const o of node.outputs) if (isFloatDType(g.get(o).dtype)) dep.add(o);
  }
  return dep;
}

/** Of the wrt-dependent values, those that lead to the loss: the differentiation path. */
function backwardSet(nodes: readonly Node[], loss: Value, dep: ReadonlySet<string>): Set<string> {
  const path = new Set<string>();
  if (!dep.has(loss.name)) return path;
  path.add(loss.name);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.outputs.some((o) => path.has(o))) continue;
    for (const n of node.inputs) if (n !== '' && dep.has(n)) path.add(n);
  }
  return path;
}

function seedFor(g: GraphBuilder, loss: Value, seed: Value | undefined): Value {
  if (seed) {
    if (seed.dtype !== loss.dtype) {
      throw new Error(
        `grad: seed '${seed.name}' is ${seed.dtype} but loss '${loss.name}' is ${loss.dtype}`,
      );
    }
    if (seed.shape.length !== loss.shape.length || seed.shape.some((d, i) => d !== loss.shape[i])) {
      throw new Error(
        `grad: seed '${seed.name}' ${shapeToString(seed.shape)} must have the loss shape ${shapeToString(loss.shape)}`,
      );
    }
    return seed;
  }
  return expandLike(g, g.constant(1, loss.dtype, []), loss);
}

/** A rule bug shows up here, naming the op, rather than as a shape error deep inside ORT. */
function checkGrad(node: Node, k: number, x: Value, d: Value): void {
  const where = `gradient rule for ${node.opType} (node '${node.name}') input ${k}`;
  if (d.dtype !== x.dtype)
    throw new Error(`${where}: gradient is ${d.dtype}, input '${x.name}' is ${x.dtype}`);
  const ok =
    d.shape.length === x.shape.length &&
    d.shape.every(
      (dim, i) => dim === x.shape[i] || typeof dim !== 'number' || typeof x.shape[i] !== 'number',
    );
  if (!ok) {
    throw new Error(
      `${where}: gradient shape ${shapeToString(d.shape)} does not match input '${x.name}' ${shapeToString(x.shape)}`,
    );
  }
}
