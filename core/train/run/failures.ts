// Failures a user can act on, said in their words: a full disk (which file, that the checkpoints
// so far are intact, that the run resumes once space is free), an allocation failure (smaller
// resolution or batch), and a run whose every step overflows (what is non-finite).
import { totalmem } from 'node:os';
import type { UNetConfig } from '../../models/index.js';

const OOM_ADVICE = 'choose a smaller resolution or batch size';
const OOM_RE = /bad_alloc|failed to allocate|out of memory|cannot allocate memory|ENOMEM/i;

/** The error a failed run reports: ENOSPC and allocation failures get an explanation. */
export function describeRunFailure(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const where = (e as NodeJS.ErrnoException).path;
    return new Error(
      `disk full${where ? ` while writing ${where}` : ''}: free some space, then resume the run ` +
        '(the checkpoints written so far are intact)',
      { cause: e },
    );
  }
  if (OOM_RE.test(e.message) && !e.message.includes(OOM_ADVICE))
    return new Error(`out of memory (${e.message.split('\n')[0]}): ${OOM_ADVICE}`, { cause: e });
  return e;
}

/** Consecutive skipped steps after which a run stops: every one had non-finite loss or grads. */
export const MAX_CONSECUTIVE_SKIPS = 25;

export function divergedError(skips: number, loss: number): Error {
  return new Error(
    `training stopped: ${skips} steps in a row had a non-finite loss or gradients ` +
      `(last loss ${loss}), even at the smallest loss scale — the LoRA weights or the cached ` +
      'latents hold NaN/Inf; lower the learning rate or rebuild the caches, then start again',
  );
}

/** Throws naming the first non-finite value of a cached or computed tensor. */
export function assertFiniteTensor(what: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i]))
      throw new Error(
        `${what} holds ${data[i]} at index ${i}: a NaN/Inf in the training data would poison ` +
          'every step that uses it (an fp16 VAE overflow, or a damaged image)',
      );
}

export interface FitCheck {
  unet: UNetConfig;
  /** Bucket sizes in pixels (latents are 1/8). */
  buckets: readonly { width: number; height: number }[];
  batch: number;
  computeDType: 'float32' | 'float16';
  /** Memory the step may use (default: this machine's RAM). */
  memoryBytes?: number;
}

/**
 * A lower bound on the training step's memory: one self-attention score matrix (batch × heads ×
 * (h·w)²) at the finest level with attention, which the backward pass keeps. Real use is far
 * higher, so exceeding memory with this alone means the step cannot run at all.
 */
export function attentionBytesLowerBound(
  unet: UNetConfig,
  b: { width: number; height: number },
  batch: number,
  bytes: number,
): number {
  const level = unet.downBlockTypes.findIndex((t) => t.startsWith('CrossAttn'));
  if (level < 0) return 0;
  const tokens = (b.width / 8 / 2 ** level) * (b.height / 8 / 2 ** level);
  return batch * unet.attentionHeads[level] * tokens * tokens * bytes;
}

/** Refuse sizes that cannot fit before any caching, graph building or session creation. */
export function assertTrainingFits(o: FitCheck): void {
  const memory = o.memoryBytes ?? totalmem();
  const bytes = o.computeDType === 'float16' ? 2 : 4;
  for (const b of o.buckets) {
    const need = attentionBytesLowerBound(o.unet, b, o.batch, bytes);
    if (need > memory) {
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(n < 2 ** 33 ? 1 : 0)} GiB`;
      throw new Error(
        `out of memory: training at ${b.width}×${b.height} with batch ${o.batch} needs more than ` +
          `${gib(need)} for one attention map alone, and this device has ${gib(memory)}: ` +
          OOM_ADVICE,
      );
    }
  }
}
