// Input checks before a run: every problem with the feeds (missing, extra, dtype, rank, fixed
// and symbolic dims) in one error, instead of ORT's first-failure messages deep in a kernel.
import type { Dim } from '../graph/ir.js';

export interface DeclaredInput {
  readonly name: string;
  readonly dtype: string;
  /** Declared dims (numbers fixed, strings symbolic, '' free); undefined when the model has no shape. */
  readonly shape: readonly Dim[] | undefined;
}

export interface FeedInfo {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Number of values the feed holds (host tensors), checked against its shape. */
  readonly elements?: number;
}

const fmt = (shape: readonly Dim[]): string => `[${shape.join(', ')}]`;

/** Problems with the feeds, in a stable order (empty when the feeds fit). */
export function feedProblems(
  declared: readonly DeclaredInput[],
  feeds: Readonly<Record<string, FeedInfo>>,
): string[] {
  const problems: string[] = [];
  const names = new Set(declared.map((d) => d.name));
  const missing = declared.filter((d) => !(d.name in feeds)).map((d) => d.name);
  if (missing.length)
    problems.push(`missing input${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  const extra = Object.keys(feeds).filter((k) => !names.has(k));
  if (extra.length) {
    problems.push(
      `unknown input${extra.length > 1 ? 's' : ''}: ${extra.join(', ')} (inputs are: ${[...names].join(', ')})`,
    );
  }
  // Symbolic dim name → first binding seen, so a clash can name both places.
  const bound = new Map<string, { size: number; where: string }>();
  for (const d of declared) {
    const feed = feeds[d.name];
    if (!feed) continue;
    if (feed.dtype !== d.dtype) problems.push(`'${d.name}' is ${feed.dtype}, expected ${d.dtype}`);
    const count = feed.shape.reduce((a, b) => a * b, 1);
    if (feed.elements !== undefined && feed.elements !== count) {
      problems.push(
        `'${d.name}' holds ${feed.elements} values but its shape ${fmt(feed.shape)} needs ${count}`,
      );
    }
    const shape = d.shape;
    if (!shape) continue;
    if (feed.shape.length !== shape.length) {
      problems.push(
        `'${d.name}' has rank ${feed.shape.length} ${fmt(feed.shape)}, expected rank ${shape.length} ${fmt(shape)}`,
      );
      continue;
    }
    shape.forEach((want, axis) => {
      const got = feed.shape[axis];
      const where = `'${d.name}' dim ${axis}`;
      if (typeof want === 'number') {
        if (got !== want)
          problems.push(
            `${where} is ${got}, expected ${want} (shape ${fmt(feed.shape)} vs ${fmt(shape)})`,
          );
      } else if (want !== '') {
        const prev = bound.get(want);
        if (!prev) bound.set(want, { size: got, where });
        else if (prev.size !== got) {
          problems.push(
            `symbolic dim '${want}' is ${prev.size} at ${prev.where} but ${got} at ${where}`,
          );
        }
      }
    });
  }
  return problems;
}

export function validateFeeds(
  declared: readonly DeclaredInput[],
  feeds: Readonly<Record<string, FeedInfo>>,
  model = 'model',
): void {
  const problems = feedProblems(declared, feeds);
  if (problems.length) {
    throw new Error(
      `invalid inputs for '${model}' (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${problems.join('\n  ')}`,
    );
  }
}
