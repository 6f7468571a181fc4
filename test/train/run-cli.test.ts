// `lora-studio train` in a child process (the real launcher): progress lines, kill -9 after the
// first checkpoint, database integrity, then `--resume <run-id>` finishes the run.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration, formatTrainEvent } from '../../core/cli/index.js';
import { DB_FILE_NAME, openDatabase } from '../../core/store/index.js';
import { makeTinyDataset, tinyConfig } from './run-helpers.js';

const BIN = join(import.meta.dirname, '../../bin/lora-studio.mjs');

function runCli(args: string[], onLine?: (line: string, kill: () => void) => void) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString();
    out += text;
    for (const line of text.split('\n')) if (line) onLine?.(line, () => child.kill('SIGKILL'));
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise<{ code: number | null; signal: string | null; out: string; err: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })),
  );
}

describe('lora-studio train', () => {
  it('formats progress lines with loss, it/s and ETA', () => {
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(65)).toBe('1:05');
    const line = formatTrainEvent({
      type: 'progress',
      step: 3,
      totalSteps: 10,
      epoch: 0,
      loss: 0.12345,
      lr: 1e-4,
      itPerSec: 2.5,
      etaSeconds: 2.8,
      skippedSteps: 0,
    });
    expect(line).toBe('step 3/10  loss 0.1235  lr 1.00e-4  2.50 it/s  ETA 0:03');
  });

  it('survives kill -9 after a checkpoint and resumes to the end', async () => {
    const { root, dataDir } = await makeTinyDataset();
    const cfgPath = join(dataDir, '..', 'run.json');
    await writeFile(cfgPath, JSON.stringify(tinyConfig(root, { max_train_steps: 6 })));
    const killed = await runCli(
      ['train', '--config', cfgPath, '--data-dir', dataDir],
      (l, kill) => {
        if (l.startsWith('checkpoint at step 2')) kill();
      },
    );
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.out).toMatch(
      /^step 2\/6 {2}loss \d+\.\d{4} {2}lr \S+ {2}\d+\.\d\d it\/s {2}ETA /m,
    );

    const db = openDatabase(join(dataDir, DB_FILE_NAME));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();

    const resumed = await runCli(['train', '--resume', '1', '--data-dir', dataDir]);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/^step 3\/6 /m);
    expect(resumed.out).not.toMatch(/^step 2\/6 /m);
    expect(resumed.out).toMatch(/^step 6\/6 /m);
    expect(resumed.out).toContain(`saved ${join(dataDir, 'loras', 'tiny.safetensors')}`);
    const check = openDatabase(join(dataDir, DB_FILE_NAME), { readonly: true });
    const steps = check.prepare('SELECT step FROM run_steps WHERE run_id = 1 ORDER BY step').all();
    expect(steps.map((r) => (r as { step: number }).step)).toEqual([0, 1, 2, 3, 4, 5]);
    check.close();
  }, 60_000);
});
