// `lora-studio train --config run.json [--resume <run-id|state file>]`: a LoRA training run from
// the terminal, one progress line per step; Ctrl+C stops cleanly after writing a checkpoint.
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { openStore, resolveDataDir } from '../store/index.js';
import { trainLora, type TrainEvent } from '../train/index.js';
import { dataDirOption } from './options.js';

interface TrainFlags {
  config?: string;
  resume?: string;
  dataDir?: string;
}

/** "1:05:09" / "2:03" style durations for the ETA. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** One line per event, or undefined for events the terminal does not show. */
export function formatTrainEvent(e: TrainEvent): string | undefined {
  switch (e.type) {
    case 'prepare':
      return (
        `run ${e.runId}: ${e.images} images, ${e.totalSteps} steps` +
        (e.dynamicCaptions ? ' (captions change per step: text embeddings not cached)' : '')
      );
    case 'cache':
      return `caches ready (computed now: ${e.latentsComputed} latents, ${e.textComputed} captions)`;
    case 'progress':
      return (
        `step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ` +
        `${e.itPerSec.toFixed(2)} it/s  ETA ${formatDuration(e.etaSeconds)}` +
        (e.skippedSteps ? `  skipped ${e.skippedSteps}` : '')
      );
    case 'checkpoint':
      return `checkpoint at step ${e.step}: ${e.loraPath}`;
    case 'done':
      return e.cancelled ? `stopped; last checkpoint: ${e.outputPath}` : `saved ${e.outputPath}`;
  }
}

function parseResume(v: string): number | string {
  if (/^\d+$/.test(v)) return Number(v);
  if (!v.endsWith('.safetensors'))
    throw new InvalidArgumentError(`"${v}" is neither a run id nor a state-*.safetensors file`);
  return v;
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train a LoRA from a run config (kohya option names, JSON)')
    .option('-c, --config <file>', 'run config JSON (optional with --resume)')
    .option('--resume <run-id|state-file>', 'continue a run from its newest or a given checkpoint')
    .addOption(dataDirOption())
    .action(async (flags: TrainFlags) => {
      if (!flags.config && !flags.resume)
        throw new Error('train needs --config <file> or --resume <run-id|state file>');
      const config = flags.config
        ? (JSON.parse(await readFile(flags.config, 'utf8')) as unknown)
        : undefined;
      const dataDir = resolveDataDir({ flag: flags.dataDir });
      const store = openStore(dataDir);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await trainLora(config, {
          store,
          dataDir,
          signal: ac.signal,
          resume: flags.resume === undefined ? undefined : parseResume(flags.resume),
          onEvent: (e) => {
            const line = formatTrainEvent(e);
            if (line) process.stdout.write(`${line}\n`);
          },
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        store.close();
      }
    });
}
