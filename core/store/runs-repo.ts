// Training runs (config + lifecycle) and their per-step loss curve.
import type { Database } from 'better-sqlite3';
import { trainingConfigSchema } from '../api.js';
import type { RunStatus, RunStep, TrainingConfig, TrainingRun } from '../api.js';
import { nowIso } from './util.js';

interface RunRow {
  id: number;
  name: string;
  dataset_id: number | null;
  base_model_id: number | null;
  status: RunStatus;
  config: string;
  error: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  last_step: number | null;
  last_loss: number | null;
}

export interface NewRun {
  name: string;
  datasetId: number | null;
  baseModelId: number | null;
  config: TrainingConfig;
}

export type RunPatch = Partial<
  Pick<TrainingRun, 'name' | 'status' | 'config' | 'error' | 'startedAt' | 'finishedAt'>
>;

// The latest step is what lists show; (run_id, step) is the primary key, so this is a seek.
const RUN_SELECT = `
  SELECT r.*,
    (SELECT s.step FROM run_steps s WHERE s.run_id = r.id ORDER BY s.step DESC LIMIT 1) AS last_step,
    (SELECT s.loss FROM run_steps s WHERE s.run_id = r.id ORDER BY s.step DESC LIMIT 1) AS last_loss
  FROM training_runs r`;

function toRun(r: RunRow): TrainingRun {
  return {
    id: r.id,
    name: r.name,
    datasetId: r.dataset_id,
    baseModelId: r.base_model_id,
    status: r.status,
    // Parsing fills defaults for fields added to the config after the row was written.
    config: trainingConfigSchema.parse(JSON.parse(r.config)),
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    lastStep: r.last_step,
    lastLoss: r.last_loss,
  };
}

export class RunsRepo {
  constructor(private readonly db: Database) {}

  list(filter: { datasetId?: number; status?: RunStatus } = {}): TrainingRun[] {
    const rows = this.db
      .prepare(
        `${RUN_SELECT}
         WHERE (@datasetId IS NULL OR r.dataset_id = @datasetId)
           AND (@status IS NULL OR r.status = @status)
         ORDER BY r.created_at DESC, r.id DESC`,
      )
      .all({ datasetId: filter.datasetId ?? null, status: filter.status ?? null }) as RunRow[];
    return rows.map(toRun);
  }

  get(id: number): TrainingRun | undefined {
    const row = this.db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RunRow | undefined;
    return row && toRun(row);
  }

  create(run: NewRun): TrainingRun {
    const at = nowIso();
    const info = this.db
      .prepare(
        `INSERT INTO training_runs (name, dataset_id, base_model_id, status, config, created_at,
           updated_at) VALUES (@name, @datasetId, @baseModelId, 'draft', @config, @at, @at)`,
      )
      .run({
        name: run.name,
        datasetId: run.datasetId,
        baseModelId: run.baseModelId,
        config: JSON.stringify(run.config),
        at,
      });
    return this.get(Number(info.lastInsertRowid))!;
  }

  update(id: number, patch: RunPatch): TrainingRun | undefined {
    return this.db.transaction(() => {
      const current = this.get(id);
      if (!current) return undefined;
      const next = { ...current, ...patch };
      this.db
        .prepare(
          `UPDATE training_runs SET name = @name, status = @status, config = @config,
             error = @error, started_at = @startedAt, finished_at = @finishedAt,
             updated_at = @at WHERE id = @id`,
        )
        .run({
          id,
          name: next.name,
          status: next.status,
          config: JSON.stringify(next.config),
          error: next.error,
          startedAt: next.startedAt,
          finishedAt: next.finishedAt,
          at: nowIso(),
        });
      return this.get(id);
    })();
  }

  /** Deletes the run and its steps; its artifacts stay (their run_id becomes null). */
  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM training_runs WHERE id = ?').run(id).changes > 0;
  }

  /** Records (or, after a resume, overwrites) steps in one transaction. */
  recordSteps(runId: number, steps: readonly Omit<RunStep, 'at'>[]): void {
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO run_steps (run_id, step, loss, lr, at)
       VALUES (@runId, @step, @loss, @lr, @at)`,
    );
    this.db.transaction(() => {
      const at = nowIso();
      for (const s of steps) insert.run({ runId, step: s.step, loss: s.loss, lr: s.lr, at });
    })();
  }

  steps(runId: number, opts: { fromStep?: number } = {}): RunStep[] {
    return this.db
      .prepare(
        'SELECT step, loss, lr, at FROM run_steps WHERE run_id = ? AND step >= ? ORDER BY step',
      )
      .all(runId, opts.fromStep ?? 0) as RunStep[];
  }
}
