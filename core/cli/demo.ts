// `lora-studio demo`: the whole product on the built-in tiny model, offline, on the CPU — import
// the sample dataset, OCR filter, caption check, train a LoRA, export it, and render a
// before/after grid and a strength sweep into an output folder.
import { resolve, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { createApiService } from '../service/index.js';
import { resolveDataDir } from '../store/index.js';
import {
  demoPaths,
  runDemo,
  type DemoPhase,
  type DemoProgress,
  type DemoReport,
} from '../demo/index.js';
import { dataDirOption } from './options.js';

interface DemoFlags {
  out: string;
  steps: number;
  dataDir?: string;
}

const PHASE_LABEL: Record<DemoPhase, string> = {
  model: 'Base model',
  import: 'Import',
  ocr: 'OCR filter',
  captions: 'Captions',
  train: 'Training',
  grids: 'Grids',
  done: 'Done',
};

function bar(p: number, width = 24): string {
  const n = Math.round(Math.min(1, Math.max(0, p)) * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${String(Math.round(p * 100)).padStart(3)}%`;
}

/** Prints progress lines: every phase change, then at most one line per 10 % of a phase. */
export function demoProgressPrinter(write: (s: string) => void): (p: DemoProgress) => void {
  let phase: DemoPhase | undefined;
  let shown = -1;
  return (p) => {
    const bucket = Math.floor(p.progress * 10);
    if (p.phase === phase && bucket === shown && p.progress < 1) return;
    phase = p.phase;
    shown = bucket;
    const loss = p.loss === undefined ? '' : `  loss ${p.loss.toFixed(4)}`;
    write(`${PHASE_LABEL[p.phase].padEnd(11)} ${bar(p.progress)}  ${p.message}${loss}\n`);
  };
}

export function formatDemoReport(r: DemoReport): string {
  const f = (v: number) => v.toFixed(3);
  return [
    '',
    `LoRA:           ${r.lora}`,
    `before/after:   ${r.grids.beforeAfter}`,
    `strength sweep: ${r.grids.strengthSweep}`,
    `images: ${r.images.imported} imported, ${r.images.flaggedByOcr} left out by the OCR filter, ${r.images.skipped} skipped`,
    `training: ${r.training.steps} steps in ${Math.round(r.training.seconds)} s, loss ${f(r.training.startLoss)} → ${f(r.training.endLoss)}`,
    `colour distance to the dataset (0 = same): without LoRA ${f(r.closeness.before)}, with LoRA ${f(r.closeness.after)}`,
    `strength sweep: ${r.closeness.sweep.map((s) => `${s.strength} → ${f(s.distance)}`).join(', ')}`,
    `output folder: ${r.outputDir}`,
    '',
  ].join('\n');
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError(`"${v}" is not a step count (a whole number 1…100000)`);
  return n;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('train a LoRA on the built-in tiny model and sample dataset (CPU, a few minutes)')
    .option('-o, --out <dir>', 'output folder for the LoRA, grids and report', 'lora-studio-demo')
    .option('--steps <n>', 'training steps', positiveInt, 600)
    .addOption(dataDirOption())
    .action(async (flags: DemoFlags) => {
      const paths = demoPaths();
      const dataDir = resolveDataDir({ flag: flags.dataDir });
      const service = createApiService({ dataDir });
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      try {
        const report = await runDemo(service, {
          paths,
          outputDir: resolve(flags.out),
          workDir: join(dataDir, 'demo'),
          cacheDir: join(dataDir, 'cache'),
          steps: flags.steps,
          signal: ac.signal,
          onProgress: demoProgressPrinter((s) => process.stdout.write(s)),
        });
        process.stdout.write(formatDemoReport(report));
      } finally {
        process.off('SIGINT', stop);
        service.close();
      }
    });
}
