// Opens the app database: one SQLite file in the data dir, WAL mode (readers never block the
// writer, which matters once training writes steps while the UI reads), foreign keys on.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { migrate, type MigrationResult } from './migrations.js';
import { ModelsRepo } from './models-repo.js';
import { DatasetsRepo, ImagesRepo } from './datasets-repo.js';
import { RunsRepo } from './runs-repo.js';
import { ArtifactsRepo, GenerationsRepo } from './outputs-repo.js';
import { SettingsRepo } from './settings-repo.js';

export const DB_FILE_NAME = 'lora-studio.db';

/**
 * better-sqlite3 is a V8 (not N-API) addon, so Node and Electron need different builds. `npm
 * start` prepares an Electron build beside node_modules (scripts/electron-native.mjs) and names
 * it here, leaving node_modules' Node build for the CLI and tests.
 */
export const SQLITE_BINDING_ENV = 'LORA_STUDIO_SQLITE_BINDING';

export interface OpenDatabaseOptions {
  readonly?: boolean;
  /** How long a connection waits for another one's write lock before failing. */
  busyTimeoutMs?: number;
}

/** A connection with the app's pragmas, without migrating (tests and tools use this). */
export function openDatabase(file: string, opts: OpenDatabaseOptions = {}): Db {
  const readonly = opts.readonly ?? false;
  const nativeBinding = process.env[SQLITE_BINDING_ENV] || undefined;
  const db = new Database(file, { readonly, fileMustExist: readonly, nativeBinding });
  try {
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // NORMAL is durable across app crashes in WAL mode; only a power cut may lose the
      // last commits, which is fine for this data and much faster than FULL.
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export interface Store {
  readonly db: Db;
  readonly file: string;
  readonly dataDir: string;
  readonly migration: MigrationResult;
  readonly models: ModelsRepo;
  readonly datasets: DatasetsRepo;
  readonly images: ImagesRepo;
  readonly runs: RunsRepo;
  readonly artifacts: ArtifactsRepo;
  readonly generations: GenerationsRepo;
  readonly settings: SettingsRepo;
  close(): void;
}

/** Creates the data dir if needed, opens `<dataDir>/lora-studio.db` and migrates it. */
export function openStore(dataDir: string): Store {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, DB_FILE_NAME);
  const db = openDatabase(file);
  let migration: MigrationResult;
  try {
    migration = migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    db,
    file,
    dataDir,
    migration,
    models: new ModelsRepo(db),
    datasets: new DatasetsRepo(db),
    images: new ImagesRepo(db),
    runs: new RunsRepo(db),
    artifacts: new ArtifactsRepo(db),
    generations: new GenerationsRepo(db),
    settings: new SettingsRepo(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}
