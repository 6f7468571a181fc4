// Migration 6 widens training_runs' status check to 'interrupted' in place: existing rows and
// their loss curves survive (a table rebuild would cascade-delete run_steps), other values are
// still refused, and the schema stays intact.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, schemaVersion } from '../../core/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

describe("migration 6: run status 'interrupted'", () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('keeps runs and steps, accepts interrupted, still refuses unknown statuses', () => {
    const db = openDatabase(path.join(dir, 'a.db'));
    db.pragma('foreign_keys = ON');
    migrate(db, 5);
    const at = new Date().toISOString();
    db.prepare(
      `INSERT INTO training_runs (id, name, status, config, created_at, updated_at)
       VALUES (1, 'r', 'running', '{}', ?, ?)`,
    ).run(at, at);
    db.prepare(
      `INSERT INTO run_steps (run_id, step, loss, lr, at) VALUES (1, 0, 0.5, 1e-4, ?)`,
    ).run(at);
    expect(() => db.prepare(`UPDATE training_runs SET status = 'interrupted'`).run()).toThrow(
      /CHECK constraint/,
    );
    expect(migrate(db)).toMatchObject({ from: 5 });
    expect(schemaVersion(db)).toBeGreaterThanOrEqual(6);
    db.prepare(`UPDATE training_runs SET status = 'interrupted' WHERE id = 1`).run();
    expect(db.prepare('SELECT status FROM training_runs').get()).toEqual({ status: 'interrupted' });
    expect(db.prepare('SELECT count(*) AS n FROM run_steps').get()).toEqual({ n: 1 });
    expect(() => db.prepare(`UPDATE training_runs SET status = 'bogus'`).run()).toThrow(
      /CHECK constraint/,
    );
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.close();
  });
});
