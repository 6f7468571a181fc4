// The errors generate() throws on purpose: a cancelled run (with what was finished before it)
// and parameters that cannot run (each message names the bad value and what would be valid).
import type { GeneratedImage } from '../types.js';

/** The AbortSignal fired. Images finished before that are on disk and listed in `completed`. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(readonly completed: readonly GeneratedImage[] = []) {
    super(
      completed.length
        ? `generation cancelled after ${completed.length} image(s)`
        : 'generation cancelled',
    );
  }
}

/** GenerateParams that cannot run (bad size, step count, strength, unknown LoRA tag, …). */
export class GenerateParamsError extends Error {
  override name = 'GenerateParamsError';
}

/** Throw CancelledError when the signal has fired. */
export function throwIfCancelled(
  signal: AbortSignal | undefined,
  completed: readonly GeneratedImage[] = [],
): void {
  if (signal?.aborted) throw new CancelledError(completed);
}
