// Resource faults: a full disk while caching and while checkpointing (an injected ENOSPC after a
// byte budget, core/faults), an absurd resolution (out of memory before any work), and
// cancellation at several moments (no lock, no temp file, no process left behind).
import { spawn } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setDiskBudget } from '../../core/faults/index.js';
import { readLoraFile } from '../../core/formats/index.js';
import { DB_FILE_NAME, openDatabase, openStore, type Store } from '../../core/store/index.js';
import {
  latestTrainState,
  runDirOf,
  trainLora,
  type TrainEvent,
  type TrainLoraResult,
} from '../../core/train/index.js';
import { makeTinyDataset, tinyConfig } from '../train/run-helpers.js';

const BIN = join(import.meta.dirname, '../../bin/lora-studio.mjs');

async function loraMaxDiff(a: string, b: string): Promise<number> {
  const [x, y] = [await readLoraFile(a), await readLoraFile(b)];
  expect([...x.tensors.keys()].sort()).toEqual([...y.tensors.keys()].sort());
  let d = 0;
  for (const [k, t] of x.tensors) {
    const p = new Float32Array(t.bytes.slice().buffer);
    const q = new Float32Array(y.tensors.get(k)!.bytes.slice().buffer);
    for (let i = 0; i < p.length; i++) d = Math.max(d, Math.abs(p[i] - q[i]));
  }
  return d;
}

async function tmpFilesUnder(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((f) => f.endsWith('.tmp'));
}

/** The database takes a write lock at once: nobody holds one. */
function dbIsFree(dataDir: string): boolean {
  const db = openDatabase(join(dataDir, DB_FILE_NAME), { busyTimeoutMs: 0 });
  try {
    db.exec('BEGIN IMMEDIATE; ROLLBACK;');
    return db.pragma('integrity_check', { simple: true }) === 'ok';
  } finally {
    db.close();
  }
}

describe('resource faults during a training run', () => {
  let store: Store;
  let dataDir: string;
  let root: string;
  let reference: TrainLoraResult;
  const cfg = () => tinyConfig(root, { max_train_steps: 4, save_every_n_steps: 1 });

  beforeAll(async () => {
    ({ root, dataDir } = await makeTinyDataset());
    store = openStore(dataDir);
    reference = await trainLora(cfg(), { store, dataDir });
  }, 120_000);
  afterEach(() => setDiskBudget(undefined));
  afterAll(() => store?.close());

  it('disk full while checkpointing: clear error, earlier checkpoint intact, resumable', async () => {
    // Room for one checkpoint (LoRA + state) and half of the next.
    const refDir = runDirOf(dataDir, reference.runId);
    const size = async (n: string) => (await stat(join(refDir, n))).size;
    const one =
      (await size('tiny-step00000001.safetensors')) +
      (await size('state-step00000001.safetensors'));
    setDiskBudget(Math.floor(one * 1.5));
    const err = await trainLora(cfg(), { store, dataDir }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(
      /^disk full while writing \S+step00000002\.safetensors\.\w+\.tmp: free some space, then resume the run/,
    );
    const run = store.runs.list().find((r) => r.id !== reference.runId)!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/disk full/);
    const dir = runDirOf(dataDir, run.id);
    expect(await tmpFilesUnder(dir)).toEqual([]);
    expect((await latestTrainState(dir))?.step).toBe(1);
    // Space is back: the run resumes from step 1 and ends where the uninterrupted one did.
    setDiskBudget(undefined);
    const resumed = await trainLora(undefined, { store, dataDir, resume: run.id });
    expect(resumed.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(await loraMaxDiff(resumed.outputPath, reference.outputPath)).toBeLessThan(1e-5);
    expect(store.runs.get(run.id)?.status).toBe('completed');
  }, 120_000);

  it('disk full while caching: clear error naming the cache file; the run completes after', async () => {
    const other = `${dataDir}-caching`;
    const s2 = openStore(other);
    try {
      setDiskBudget(0);
      await expect(trainLora(cfg(), { store: s2, dataDir: other })).rejects.toThrow(
        /^disk full while writing \S+cache\S+\.tmp: free some space/,
      );
      expect(await tmpFilesUnder(other)).toEqual([]);
      expect(dbIsFree(other)).toBe(true);
      setDiskBudget(undefined);
      const runId = s2.runs.list()[0].id;
      const done = await trainLora(cfg(), { store: s2, dataDir: other, runId });
      expect(await loraMaxDiff(done.outputPath, reference.outputPath)).toBeLessThan(1e-5);
    } finally {
      s2.close();
    }
  }, 120_000);

  it('an absurd resolution fails at once with advice; the store keeps working', async () => {
    const t0 = performance.now();
    await expect(
      trainLora(
        tinyConfig(root, { resolution: 2048, min_bucket_reso: 2048, max_bucket_reso: 2048 }),
        { store, dataDir },
      ),
    ).rejects.toThrow(
      /^out of memory: training at 2048×2048 with batch 2 needs more than \d+ GiB .* choose a smaller resolution or batch size$/,
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(store.runs.list().length).toBeGreaterThan(0);
    expect(dbIsFree(dataDir)).toBe(true);
  }, 60_000);

  it.each(['cache', 'progress', 'checkpoint'] as const)(
    'cancelled at "%s": run cancelled, no lock, no temp file',
    async (at) => {
      const ac = new AbortController();
      const onEvent = (e: TrainEvent) => {
        if (e.type === at) ac.abort();
      };
      const r = await trainLora(cfg(), { store, dataDir, signal: ac.signal, onEvent });
      expect(r.cancelled).toBe(true);
      expect(store.runs.get(r.runId)?.status).toBe('cancelled');
      expect(dbIsFree(dataDir)).toBe(true);
      expect(await tmpFilesUnder(dataDir)).toEqual([]);
    },
    60_000,
  );

  it('Ctrl+C on `lora-studio train` stops cleanly: exit 0, no child process, no lock', async () => {
    const cfgPath = join(dataDir, '..', 'cancel.json');
    await writeFile(cfgPath, JSON.stringify(tinyConfig(root, { max_train_steps: 40 })));
    const child = spawn(
      process.execPath,
      [BIN, 'train', '--config', cfgPath, '--data-dir', dataDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // One Ctrl+C (a second one would be a hard kill, as in any CLI).
      if (!sent && /^step 2\//m.test(out)) sent = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/^stopped; last checkpoint: /m);
    // Nothing it started outlives it.
    const orphans = await new Promise<string>((resolve) => {
      const ps = spawn('ps', ['-o', 'pid=', '--ppid', String(child.pid)]);
      let s = '';
      ps.stdout.on('data', (d: Buffer) => (s += d.toString()));
      ps.on('close', () => resolve(s.trim()));
    });
    expect(orphans).toBe('');
    expect(dbIsFree(dataDir)).toBe(true);
  }, 120_000);
});
