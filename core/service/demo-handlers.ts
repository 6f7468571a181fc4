// demo.start: the built-in demo as one coordinator job. It runs beside the job queue (detached)
// because it queues the import, OCR, training and grid work itself and waits for each.
import { join } from 'node:path';
import { demoPaths, runDemo, type DemoPhase } from '../demo/index.js';
import { badRequest } from './errors.js';
import type { Handlers } from './context.js';

/** Where each phase sits in the job's 0…1 progress (training takes most of the time). */
const PHASES: Readonly<Record<DemoPhase, [number, number]>> = {
  model: [0, 0.02],
  import: [0.02, 0.08],
  ocr: [0.08, 0.15],
  captions: [0.15, 0.16],
  train: [0.16, 0.85],
  grids: [0.85, 1],
  done: [1, 1],
};

export const demoHandlers: Pick<Handlers, 'demo.start'> = {
  'demo.start': (input, ctx) => {
    let paths;
    try {
      paths = demoPaths();
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    const job = ctx.jobs.enqueue(
      {
        kind: 'demo',
        label: 'Demo: train a LoRA on the built-in model',
        run: async (handle) => {
          const report = await runDemo(ctx.api, {
            paths,
            outputDir: join(ctx.dataDir, 'demo', `output-${Date.now()}`),
            workDir: join(ctx.dataDir, 'demo'),
            cacheDir: join(ctx.dataDir, 'cache'),
            dataDir: ctx.dataDir,
            steps: input.steps,
            signal: handle.signal,
            onProgress: (p) => {
              const [a, b] = PHASES[p.phase];
              handle.report({
                progress: a + (b - a) * p.progress,
                message: p.message,
                ...(p.loss === undefined ? {} : { metrics: { loss: p.loss } }),
              });
            },
          });
          return { result: { ...report } };
        },
      },
      { detached: true },
    );
    return { jobId: job.id };
  },
};
