import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  migrate,
  openDatabase,
  openStore,
  schemaVersion,
  DB_FILE_NAME,
} from '../../core/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

function tableNames(db: ReturnType<typeof openDatabase>): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
}

function indexNames(db: ReturnType<typeof openDatabase>): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
}

describe('migrations', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('are numbered 1…N without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(
      Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1),
    );
    expect(LATEST_SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
  });

  it('build the whole schema from an empty database', () => {
    const db = openDatabase(path.join(dir, 'a.db'));
    expect(schemaVersion(db)).toBe(0);
    const result = migrate(db);
    expect(result).toMatchObject({ from: 0, to: LATEST_SCHEMA_VERSION });
    expect(result.applied).toHaveLength(MIGRATIONS.length);
    expect(tableNames(db)).toEqual([
      'artifacts',
      'datasets',
      'generations',
      'images',
      'models',
      'run_steps',
      'settings',
      'train_cache',
      'training_runs',
    ]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    // Running again is a no-op.
    expect(migrate(db).applied).toEqual([]);
    db.close();
  });

  it('upgrade a version-1 database with data to the latest version, keeping the data', () => {
    const file = path.join(dir, DB_FILE_NAME);
    const v1 = openDatabase(file);
    migrate(v1, 1);
    expect(schemaVersion(v1)).toBe(1);
    expect(indexNames(v1)).not.toContain('images_dataset_excluded');
    const at = new Date().toISOString();
    v1.prepare(
      "INSERT INTO datasets (id, name, created_at, updated_at) VALUES (1, 'old', ?, ?)",
    ).run(at, at);
    v1.prepare(
      "INSERT INTO images (dataset_id, path, caption, added_at, updated_at) VALUES (1, '/a.png', 'a cat', ?, ?)",
    ).run(at, at);
    v1.prepare("INSERT INTO settings (key, value) VALUES ('theme', '\"dark\"')").run();
    v1.close();

    const store = openStore(dir);
    expect(store.migration).toMatchObject({ from: 1, to: LATEST_SCHEMA_VERSION });
    expect(schemaVersion(store.db)).toBe(LATEST_SCHEMA_VERSION);
    expect(indexNames(store.db)).toEqual(
      expect.arrayContaining(['images_dataset_excluded', 'generations_created', 'artifacts_run']),
    );
    const columns = (store.db.pragma('table_info(settings)') as { name: string }[]).map(
      (c) => c.name,
    );
    expect(columns).toContain('updated_at');
    expect(store.datasets.get(1)).toMatchObject({ name: 'old', imageCount: 1, captionedCount: 1 });
    expect(store.settings.getAll().theme).toBe('dark');
    // The new column is in use after the upgrade.
    store.settings.update({ theme: 'light' });
    const row = store.db.prepare("SELECT updated_at FROM settings WHERE key = 'theme'").get() as {
      updated_at: string | null;
    };
    expect(row.updated_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    store.close();
  });

  it('refuse a database written by a newer app', () => {
    const file = path.join(dir, DB_FILE_NAME);
    const db = openDatabase(file);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openStore(dir)).toThrow(/newer than this app/);
  });

  it('reject targets that are not schema versions', () => {
    const db = openDatabase(path.join(dir, 'b.db'));
    expect(() => migrate(db, LATEST_SCHEMA_VERSION + 1)).toThrow(/valid: 0…/);
    migrate(db);
    expect(() => migrate(db, 1)).toThrow(/cannot migrate down/);
    db.close();
  });
});
