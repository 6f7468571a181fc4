// Every gradient rule must have a finite-difference case: this guard fails when a rule is added
// to the table without one (an op type is covered when a grad-* FD test file names it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GRAD_RULES } from '../../core/graph/grad/index.js';

const FD_FILES = ['grad-elementwise', 'grad-linalg', 'grad-norm', 'grad-shape'];

describe('gradient rule coverage', () => {
  it('has a finite-difference case for every op in GRAD_RULES', () => {
    const sources = FD_FILES.map((f) =>
      readFileSync(new URL(`./${f}.test.ts`, import.meta.url), 'utf8'),
    ).join('\n');
    const missing = Object.keys(GRAD_RULES).filter(
      (op) => !new RegExp(`\\b${op}\\b`).test(sources),
    );
    expect(missing).toEqual([]);
    expect(Object.keys(GRAD_RULES).length).toBeGreaterThanOrEqual(60);
  });
});
