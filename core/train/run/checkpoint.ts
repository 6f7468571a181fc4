// Checkpoints of a run: the LoRA as kohya exports it (what a user can try right away) and a state
// file with what an exact resume needs — float32 parameters, AdamW m and v, the step and update
// counters, the loss scaler, the seed and the data position. Both are written atomically (temp
// file, fsync, rename); the state file is written last and names the LoRA file and its sha256, so
// a crash between the two leaves the previous state as the newest valid one.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseSafetensors, writeSafetensors } from '../../formats/index.js';
import type { TrainerSnapshot } from '../trainer.js';

export const STATE_FORMAT = 'lora-studio-train-state-1';

export interface RunPosition {
  /** Optimizer steps done (the next step's 0-based index). */
  step: number;
  /** 0-based epoch of the next step and the batch index within it. */
  epoch: number;
  batchInEpoch: number;
}

export interface TrainState extends RunPosition {
  runId: number;
  seed: number;
  /** LoRA file of this checkpoint (same folder) and its sha256. */
  loraFile: string;
  loraSha256: string;
  /** The run config as given (JSON). */
  config: unknown;
  trainer: TrainerSnapshot;
}

const f32 = (data: Float32Array) => ({ dtype: 'float32' as const, shape: [data.length], data });

export function stateFileName(step: number): string {
  return `state-step${String(step).padStart(8, '0')}.safetensors`;
}

/** Write the state file (after the LoRA file it names is complete on disk). */
export async function writeTrainState(dir: string, s: TrainState): Promise<string> {
  const path = join(dir, stateFileName(s.step));
  const { param, m, v, prodigy, ...counters } = s.trainer;
  const meta = {
    format: STATE_FORMAT,
    runId: s.runId,
    seed: s.seed,
    step: s.step,
    epoch: s.epoch,
    batchInEpoch: s.batchInEpoch,
    loraFile: s.loraFile,
    loraSha256: s.loraSha256,
    counters,
    ...(prodigy ? { prodigy: prodigy.scalars } : {}),
  };
  await writeSafetensors(
    path,
    {
      param: f32(param),
      m: f32(m),
      v: f32(v),
      ...(prodigy ? { prodigy_s: f32(prodigy.s), prodigy_p0: f32(prodigy.p0) } : {}),
    },
    { state: JSON.stringify(meta), config: JSON.stringify(s.config) },
  );
  return path;
}

async function tensor(r: ReturnType<typeof parseSafetensors>, name: string): Promise<Float32Array> {
  const t = await r.readTensorData(name);
  const copy = t.bytes.slice();
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** Read and verify a state file: its LoRA file must exist with the recorded sha256. */
export async function readTrainState(path: string): Promise<TrainState> {
  const r = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const raw = r.metadata?.state;
  if (!raw) throw new Error(`${path} is not a training state file (no 'state' metadata)`);
  const meta = JSON.parse(raw) as Record<string, unknown> & {
    counters: Omit<TrainerSnapshot, 'param' | 'm' | 'v' | 'prodigy'>;
    prodigy?: NonNullable<TrainerSnapshot['prodigy']>['scalars'];
  };
  if (meta.format !== STATE_FORMAT)
    throw new Error(`${path}: state format '${String(meta.format)}', expected '${STATE_FORMAT}'`);
  const loraPath = join(dirname(path), String(meta.loraFile));
  const sha = createHash('sha256')
    .update(await readFile(loraPath))
    .digest('hex');
  if (sha !== meta.loraSha256)
    throw new Error(
      `${path}: its LoRA file ${basename(loraPath)} does not match the recorded sha256`,
    );
  return {
    runId: Number(meta.runId),
    seed: Number(meta.seed),
    step: Number(meta.step),
    epoch: Number(meta.epoch),
    batchInEpoch: Number(meta.batchInEpoch),
    loraFile: String(meta.loraFile),
    loraSha256: sha,
    config: JSON.parse(r.metadata?.config ?? 'null'),
    trainer: {
      ...meta.counters,
      param: await tensor(r, 'param'),
      m: await tensor(r, 'm'),
      v: await tensor(r, 'v'),
      ...(meta.prodigy
        ? {
            prodigy: {
              scalars: meta.prodigy,
              s: await tensor(r, 'prodigy_s'),
              p0: await tensor(r, 'prodigy_p0'),
            },
          }
        : {}),
    },
  };
}

/** The newest valid state file of a run folder (damaged or orphaned ones are skipped). */
export async function latestTrainState(dir: string): Promise<TrainState | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => /^state-step\d+\.safetensors$/.test(n))
    .sort()
    .reverse();
  for (const n of names) {
    try {
      return await readTrainState(join(dir, n));
    } catch {
      // A state whose LoRA is missing or damaged is not a checkpoint; try the previous one.
    }
  }
  return undefined;
}

/**
 * Remove `*.tmp` files of atomic writes a crash cut short (a killed run leaves its half-written
 * checkpoint there; readers never see it, but it can be as large as a checkpoint). Only for a run
 * folder, which one process trains at a time. Returns how many were removed.
 */
export async function removeOrphanTemps(dir: string): Promise<number> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.tmp'));
  await Promise.all(names.map((n) => rm(join(dir, n), { force: true })));
  return names.length;
}
