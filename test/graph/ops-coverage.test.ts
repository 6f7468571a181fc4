// Every op shape inference knows is exercised by an ORT-vs-reference case and has a FLOP rule.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../core/graph/builder.js';
import { FLOP_RULES } from '../../core/graph/flops.js';
import { INFER } from '../../core/graph/infer.js';
import { ELEMENTWISE_CASES } from './ops-cases-elementwise.js';
import { NN_CASES } from './ops-cases-nn.js';
import { SHAPE_CASES } from './ops-cases-shape.js';
import type { OpCase } from './ops-harness.js';

const ALL_CASES: OpCase[] = [...ELEMENTWISE_CASES, ...NN_CASES, ...SHAPE_CASES];

/** Op types in the graph a case builds (float32 inputs). */
function opsOf(c: OpCase): string[] {
  const g = new GraphBuilder('coverage');
  const x: Record<string, Value> = {};
  for (const [name, s] of Object.entries(c.inputs)) {
    x[name] = g.input(
      name,
      !s.dtype || s.dtype === 'float' ? 'float32' : s.dtype,
      s.decl ?? s.shape,
    );
  }
  c.build(g, x);
  return g.currentNodes.map((n) => n.opType);
}

describe('op coverage', () => {
  it('case names are unique (they seed the inputs)', () => {
    const names = ALL_CASES.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('every op in INFER is run through ORT by at least one case', () => {
    const covered = new Set(ALL_CASES.flatMap(opsOf));
    expect(Object.keys(INFER).filter((op) => !covered.has(op))).toEqual([]);
    expect(Object.keys(INFER).length).toBeGreaterThanOrEqual(90);
  });

  it('every op in INFER has a FLOP rule and every FLOP rule an INFER entry', () => {
    expect(Object.keys(INFER).filter((op) => !FLOP_RULES[op])).toEqual([]);
    expect(Object.keys(FLOP_RULES).filter((op) => !INFER[op])).toEqual([]);
  });
});
