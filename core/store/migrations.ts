// Versioned schema. The version lives in SQLite's `PRAGMA user_version`; migrations are an
// ordered list and each runs in its own transaction together with the version bump, so a
// crash leaves the database at a whole version. Never edit a shipped migration: add one.
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  up(db: Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up(db) {
      db.exec(`
        CREATE TABLE models (
          id         INTEGER PRIMARY KEY,
          kind       TEXT NOT NULL CHECK (kind IN ('checkpoint', 'vae', 'lora')),
          family     TEXT NOT NULL DEFAULT 'unknown',
          name       TEXT NOT NULL,
          path       TEXT NOT NULL UNIQUE,
          size_bytes INTEGER NOT NULL DEFAULT 0,
          hashes     TEXT NOT NULL DEFAULT '{}',
          metadata   TEXT NOT NULL DEFAULT '{}',
          added_at   TEXT NOT NULL
        ) STRICT;

        CREATE TABLE datasets (
          id          INTEGER PRIMARY KEY,
          name        TEXT NOT NULL UNIQUE,
          description TEXT NOT NULL DEFAULT '',
          created_at  TEXT NOT NULL,
          updated_at  TEXT NOT NULL
        ) STRICT;

        CREATE TABLE images (
          id         INTEGER PRIMARY KEY,
          dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
          path       TEXT NOT NULL,
          caption    TEXT NOT NULL DEFAULT '',
          excluded   INTEGER NOT NULL DEFAULT 0 CHECK (excluded IN (0, 1)),
          keep       INTEGER NOT NULL DEFAULT 0 CHECK (keep IN (0, 1)),
          width      INTEGER,
          height     INTEGER,
          hash       TEXT,
          added_at   TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          UNIQUE (dataset_id, path)
        ) STRICT;

        CREATE TABLE training_runs (
          id            INTEGER PRIMARY KEY,
          name          TEXT NOT NULL,
          dataset_id    INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
          base_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
          status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN
                          ('draft', 'queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
          config        TEXT NOT NULL,
          error         TEXT,
          created_at    TEXT NOT NULL,
          updated_at    TEXT NOT NULL,
          started_at    TEXT,
          finished_at   TEXT
        ) STRICT;

        CREATE TABLE run_steps (
          run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
          step   INTEGER NOT NULL,
          loss   REAL NOT NULL,
          lr     REAL NOT NULL,
          at     TEXT NOT NULL,
          PRIMARY KEY (run_id, step)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE artifacts (
          id         INTEGER PRIMARY KEY,
          run_id     INTEGER REFERENCES training_runs(id) ON DELETE SET NULL,
          name       TEXT NOT NULL,
          path       TEXT NOT NULL UNIQUE,
          size_bytes INTEGER NOT NULL DEFAULT 0,
          metadata   TEXT NOT NULL DEFAULT '{}',
          created_at TEXT NOT NULL
        ) STRICT;

        CREATE TABLE generations (
          id         INTEGER PRIMARY KEY,
          model_id   INTEGER REFERENCES models(id) ON DELETE SET NULL,
          file_path  TEXT NOT NULL,
          seed       INTEGER NOT NULL,
          params     TEXT NOT NULL,
          created_at TEXT NOT NULL
        ) STRICT;

        CREATE TABLE settings (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    name: 'foreign-key and listing indexes; settings.updated_at',
    up(db) {
      // Without indexes on the child columns every ON DELETE scans the whole child table,
      // and the image grid / gallery sort would scan too.
      db.exec(`
        CREATE INDEX images_dataset_excluded ON images (dataset_id, excluded);
        CREATE INDEX training_runs_dataset ON training_runs (dataset_id);
        CREATE INDEX training_runs_base_model ON training_runs (base_model_id);
        CREATE INDEX artifacts_run ON artifacts (run_id);
        CREATE INDEX generations_model ON generations (model_id);
        CREATE INDEX generations_created ON generations (created_at);
        ALTER TABLE settings ADD COLUMN updated_at TEXT;
      `);
    },
  },
  {
    version: 3,
    name: 'training caches (VAE latents, text embeddings)',
    up(db) {
      // One row per cached tensor file under <dataDir>/cache/train; the key names everything
      // the tensor depends on, so a hit never needs the model that would have made it.
      db.exec(`
        CREATE TABLE train_cache (
          kind       TEXT NOT NULL CHECK (kind IN ('latent', 'text')),
          key        TEXT NOT NULL,
          file       TEXT NOT NULL,
          shape      TEXT NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (kind, key)
        ) STRICT, WITHOUT ROWID;
      `);
    },
  },
  {
    version: 4,
    name: 'dataset import: source/work dirs, skipped files; image provenance and text scan',
    up(db) {
      // What core/dataset's importFolder produces per image and per run, plus the OCR text
      // filter's ratio and flag. All nullable: rows made before an import have none of it.
      db.exec(`
        ALTER TABLE datasets ADD COLUMN source_dir TEXT;
        ALTER TABLE datasets ADD COLUMN work_dir TEXT;
        ALTER TABLE datasets ADD COLUMN import_skipped TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE images ADD COLUMN rel_path TEXT;
        ALTER TABLE images ADD COLUMN work_path TEXT;
        ALTER TABLE images ADD COLUMN thumb_path TEXT;
        ALTER TABLE images ADD COLUMN format TEXT;
        ALTER TABLE images ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE images ADD COLUMN class_name TEXT;
        ALTER TABLE images ADD COLUMN text_ratio REAL;
        ALTER TABLE images ADD COLUMN text_flagged INTEGER CHECK (text_flagged IN (0, 1));
      `);
    },
  },
  {
    version: 5,
    name: 'model registry: missing flag, preview image, support verdict',
    up(db) {
      // Filled by models.add / models.scan from the file's header (core/hub's inspectModelFile).
      db.exec(`
        ALTER TABLE models ADD COLUMN missing INTEGER NOT NULL DEFAULT 0 CHECK (missing IN (0, 1));
        ALTER TABLE models ADD COLUMN preview TEXT;
        ALTER TABLE models ADD COLUMN supported INTEGER NOT NULL DEFAULT 1 CHECK (supported IN (0, 1));
        ALTER TABLE models ADD COLUMN reason TEXT;
      `);
    },
  },
  {
    version: 6,
    name: "training runs: status 'interrupted'",
    up(db) {
      // SQLite cannot alter a CHECK constraint; rebuilding training_runs would cascade-delete
      // run_steps (foreign keys are on). Widening the IN list changes no stored row, which is the
      // case SQLite documents for editing the schema text in place (writable_schema).
      const table = db
        .prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'training_runs'`)
        .get() as { sql: string };
      const from = "'failed', 'cancelled')";
      if (!table.sql.includes(from))
        throw new Error(`training_runs' status check is not the expected one: ${table.sql}`);
      const version = db.pragma('schema_version', { simple: true }) as number;
      db.unsafeMode(true);
      try {
        db.pragma('writable_schema = ON');
        db.prepare(
          `UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'training_runs'`,
        ).run(table.sql.replace(from, "'failed', 'cancelled', 'interrupted')"));
        db.pragma(`schema_version = ${version + 1}`);
        db.pragma('writable_schema = OFF');
      } finally {
        db.unsafeMode(false);
      }
    },
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: string[];
}

/** Brings `db` up to `target` (default: latest). Refuses databases from a newer app. */
export function migrate(db: Database, target: number = LATEST_SCHEMA_VERSION): MigrationResult {
  if (!Number.isInteger(target) || target < 0 || target > LATEST_SCHEMA_VERSION) {
    throw new Error(
      `migration target ${target} is not a schema version (valid: 0…${LATEST_SCHEMA_VERSION})`,
    );
  }
  const from = schemaVersion(db);
  if (from > LATEST_SCHEMA_VERSION) {
    throw new Error(
      `database ${db.name} has schema version ${from}, newer than this app's ` +
        `${LATEST_SCHEMA_VERSION}; update LoRA Studio or use another data dir`,
    );
  }
  if (from > target) {
    throw new Error(`cannot migrate down from schema version ${from} to ${target}`);
  }
  const applied: string[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= from || m.version > target) continue;
    // IMMEDIATE takes the write lock first, so a second process opening the same data dir
    // waits and then sees the new version instead of applying the migration twice.
    const ran = db
      .transaction(() => {
        if (schemaVersion(db) !== m.version - 1) return false;
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
        return true;
      })
      .immediate();
    if (ran) applied.push(`${m.version}: ${m.name}`);
  }
  return { from, to: schemaVersion(db), applied };
}
