// A test double for the image pipeline with core/generate's contract (GenerateFn): it writes
// real PNGs (solid colour, A1111 `parameters` text) and reports progress per step, so the job
// layer can be tested without running a model. Gates let a test hold it at a chosen step.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { formatInfotext, type GeneratedImage } from '../../core/generate/index.js';
import { writePngText } from '../../core/formats/index.js';
import type { GenerateFn } from '../../core/service/index.js';
import type { GenerateParams } from '../../core/generate/index.js';

export class FakeCancelledError extends Error {
  override name = 'CancelledError';
  constructor(readonly completed: GeneratedImage[]) {
    super('generation cancelled');
  }
}

export interface FakeGenerate {
  fn: GenerateFn;
  calls: GenerateParams[];
  /**
   * Resolves when the pipeline has reported its `tick`-th step, counted over all batches
   * (batch b, step s is tick b × steps + s).
   */
  reached(tick: number): Promise<void>;
  /** Lets the pipeline go on past the step it waits at. */
  release(): void;
}

export async function solidPng(width: number, height: number, infotext?: string) {
  const png = await sharp({
    create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } },
  })
    .png()
    .toBuffer();
  return infotext === undefined ? new Uint8Array(png) : writePngText(png, { parameters: infotext });
}

export function fakeGenerate(
  opts: {
    holdAtTick?: number;
    /** Holds only calls for which this holds (default: all). */
    holdIf?: (params: GenerateParams) => boolean;
    failAtTick?: { tick: number; error: Error };
  } = {},
): FakeGenerate {
  const calls: GenerateParams[] = [];
  const waiters = new Map<number, () => void>();
  const reachedPromises = new Map<number, Promise<void>>();
  let release: () => void = () => undefined;
  const reached = (step: number) => {
    if (!reachedPromises.has(step)) {
      reachedPromises.set(step, new Promise<void>((resolve) => waiters.set(step, resolve)));
    }
    return reachedPromises.get(step)!;
  };
  const fn: GenerateFn = async (params, o) => {
    calls.push(params);
    const count = params.batchCount * params.batchSize;
    const baseSeed = params.seed === -1 ? 1234 : params.seed;
    const done: GeneratedImage[] = [];
    fs.mkdirSync(params.outputDir, { recursive: true });
    for (let batch = 0; batch < params.batchCount; batch++) {
      for (let step = 1; step <= params.steps; step++) {
        const tick = batch * params.steps + step;
        await new Promise((r) => setImmediate(r));
        if (o.signal?.aborted) throw new FakeCancelledError(done);
        if (opts.failAtTick?.tick === tick) throw opts.failAtTick.error;
        const preview =
          o.previewEvery && step % o.previewEvery === 0 ? await solidPng(8, 8) : undefined;
        o.onProgress?.({
          imageIndex: batch * params.batchSize,
          imageCount: count,
          step,
          totalSteps: params.steps,
          previewPng: preview,
        });
        void reached(tick);
        waiters.get(tick)?.();
        if (opts.holdAtTick === tick && (opts.holdIf?.(params) ?? true)) {
          await new Promise<void>((resolve) => (release = resolve));
        }
      }
      for (let i = 0; i < params.batchSize; i++) {
        const index = batch * params.batchSize + i;
        const seed = baseSeed + index;
        const infotext = formatInfotext({
          prompt: params.prompt,
          negativePrompt: params.negativePrompt,
          steps: params.steps,
          sampler: params.sampler,
          cfgScale: params.cfgScale,
          seed,
          width: params.width,
          height: params.height,
          clipSkip: params.clipSkip,
        });
        const file = path.join(params.outputDir, `${String(index).padStart(5, '0')}-${seed}.png`);
        fs.writeFileSync(file, await solidPng(params.width, params.height, infotext));
        done.push({ path: file, seed, infotext, width: params.width, height: params.height });
      }
    }
    return done;
  };
  return { fn, calls, reached, release: () => release() };
}
