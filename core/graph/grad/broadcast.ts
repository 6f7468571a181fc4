// Undoing numpy broadcasting in the backward pass: a gradient arrives in the (broadcast) output
// shape and must be summed back to each input's shape.
import type { GraphBuilder, Value } from '../builder.js';
import type { Shape } from '../ir.js';
import { reduceSum, squeeze } from './emit.js';

export interface BroadcastAxes {
  /** How many leading axes the input lacked (they are summed away). */
  readonly lead: number;
  /** Axes of the output to sum over: the leading ones and those where the input had a 1. */
  readonly axes: readonly number[];
}

/**
 * Which axes of `out` a tensor shaped `inp` was broadcast along. Symbolic dims are resolved
 * where the answer is certain (a static 1 against anything else is broadcast; equal names are
 * not; a static size against a symbol must match); otherwise this throws rather than guess.
 */
export function broadcastAxes(inp: Shape, out: Shape, what = 'gradient'): BroadcastAxes {
  const lead = out.length - inp.length;
  const show = () => `[${inp.join(', ')}] → [${out.join(', ')}]`;
  if (lead < 0) throw new Error(`${what}: input rank exceeds output rank in broadcast ${show()}`);
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(i);
  inp.forEach((di, j) => {
    const dout = out[lead + j];
    if (di === dout) return;
    if (di === 1) axes.push(lead + j);
    else if (typeof di === 'number' && typeof dout === 'number') {
      throw new Error(`${what}: ${show()} is not a broadcast (dim ${j}: ${di} vs ${dout})`);
    } else if (typeof di === 'string') {
      // 'n' against 5 or 'm' could be a run-time 1 that was broadcast: refuse to guess.
      throw new Error(
        `${what}: cannot tell whether symbolic dim '${di}' broadcasts to ${String(dout)} in ${show()}; ` +
          `give the input a static size or the same symbol`,
      );
    }
    // a static size against a symbol: the symbol must equal it at run time, nothing to sum
  });
  return { lead, axes };
}

/**
 * Sum `grad` (shaped like `outShape`) back to the shape of `target`: ReduceSum over broadcast
 * axes, then drop the leading axes the input never had.
 */
export function unbroadcast(
  g: GraphBuilder,
  grad: Value,
  outShape: Shape,
  target: Value,
  what?: string,
): Value {
  const { lead, axes } = broadcastAxes(target.shape, outShape, what);
  if (axes.length === lead) return reduceSum(g, grad, axes, false);
  const summed = reduceSum(g, grad, axes, true);
  return squeeze(
    g,
    summed,
    Array.from({ length: lead }, (_, i) => i),
  );
}
