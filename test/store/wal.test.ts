import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, openStore, DB_FILE_NAME, type Store } from '../../core/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

describe('WAL concurrency', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = makeTempDir();
    store = openStore(dir);
  });
  afterEach(() => {
    store.close();
    removeDir(dir);
  });

  it('lets a second connection read while a write transaction is open', () => {
    store.datasets.create({ name: 'committed' });
    const reader = openDatabase(path.join(dir, DB_FILE_NAME), { readonly: true, busyTimeoutMs: 0 });
    try {
      const countDatasets = () =>
        (reader.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n;

      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      store.db.exec('BEGIN EXCLUSIVE');
      store.datasets.create({ name: 'uncommitted' });
      // With a rollback journal an EXCLUSIVE writer locks readers out ("database is locked"
      // with busy timeout 0); in WAL mode the reader sees the last committed snapshot.
      expect(countDatasets()).toBe(1);
      store.db.exec('COMMIT');
      expect(countDatasets()).toBe(2);
    } finally {
      if (store.db.inTransaction) store.db.exec('ROLLBACK');
      reader.close();
    }
  });

  it('keeps a reader on its snapshot while the writer commits', () => {
    const reader = openDatabase(path.join(dir, DB_FILE_NAME), { readonly: true });
    try {
      reader.exec('BEGIN');
      const before = reader.prepare('SELECT count(*) AS n FROM models').get() as { n: number };
      store.datasets.create({ name: 'during-read' });
      const count = reader.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number };
      expect(before.n).toBe(0);
      expect(count.n).toBe(0);
      reader.exec('COMMIT');
      expect((reader.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n).toBe(
        1,
      );
    } finally {
      reader.close();
    }
  });
});
