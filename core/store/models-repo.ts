// Registered model files (checkpoints, VAEs, LoRAs). Rows describe files; they never own them.
import type { Database } from 'better-sqlite3';
import type { Model, ModelFamily, ModelKind } from '../api.js';
import { nowIso, parseJsonObject } from './util.js';

interface ModelRow {
  id: number;
  kind: ModelKind;
  family: ModelFamily;
  name: string;
  path: string;
  size_bytes: number;
  hashes: string;
  metadata: string;
  added_at: string;
  missing: number;
  preview: string | null;
  supported: number;
  reason: string | null;
}

export interface NewModel {
  kind: ModelKind;
  family: ModelFamily;
  name: string;
  path: string;
  sizeBytes: number;
  hashes?: Record<string, string>;
  metadata?: Record<string, unknown>;
  preview?: string | null;
  supported?: boolean;
  reason?: string | null;
}

export type ModelPatch = Partial<
  Pick<
    Model,
    | 'name'
    | 'kind'
    | 'family'
    | 'sizeBytes'
    | 'hashes'
    | 'metadata'
    | 'missing'
    | 'preview'
    | 'supported'
    | 'reason'
  >
>;

function toModel(r: ModelRow): Model {
  return {
    id: r.id,
    kind: r.kind,
    family: r.family,
    name: r.name,
    path: r.path,
    sizeBytes: r.size_bytes,
    hashes: parseJsonObject(r.hashes) as Record<string, string>,
    metadata: parseJsonObject(r.metadata),
    addedAt: r.added_at,
    missing: r.missing === 1,
    preview: r.preview,
    supported: r.supported === 1,
    reason: r.reason,
  };
}

export class ModelsRepo {
  constructor(private readonly db: Database) {}

  list(filter: { kind?: ModelKind } = {}): Model[] {
    const rows = filter.kind
      ? this.db.prepare('SELECT * FROM models WHERE kind = ? ORDER BY name, id').all(filter.kind)
      : this.db.prepare('SELECT * FROM models ORDER BY kind, name, id').all();
    return (rows as ModelRow[]).map(toModel);
  }

  get(id: number): Model | undefined {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as
      ModelRow | undefined;
    return row && toModel(row);
  }

  getByPath(path: string): Model | undefined {
    const row = this.db.prepare('SELECT * FROM models WHERE path = ?').get(path) as
      ModelRow | undefined;
    return row && toModel(row);
  }

  add(m: NewModel): Model {
    const info = this.db
      .prepare(
        `INSERT INTO models (kind, family, name, path, size_bytes, hashes, metadata, added_at,
           preview, supported, reason)
         VALUES (@kind, @family, @name, @path, @sizeBytes, @hashes, @metadata, @addedAt,
           @preview, @supported, @reason)`,
      )
      .run({
        kind: m.kind,
        family: m.family,
        name: m.name,
        path: m.path,
        sizeBytes: m.sizeBytes,
        hashes: JSON.stringify(m.hashes ?? {}),
        metadata: JSON.stringify(m.metadata ?? {}),
        addedAt: nowIso(),
        preview: m.preview ?? null,
        supported: m.supported === false ? 0 : 1,
        reason: m.reason ?? null,
      });
    return this.get(Number(info.lastInsertRowid))!;
  }

  update(id: number, patch: ModelPatch): Model | undefined {
    return this.db.transaction(() => this.updateInTx(id, patch))();
  }

  private updateInTx(id: number, patch: ModelPatch): Model | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    this.db
      .prepare(
        `UPDATE models SET name = @name, kind = @kind, family = @family, size_bytes = @sizeBytes,
           hashes = @hashes, metadata = @metadata, missing = @missing, preview = @preview,
           supported = @supported, reason = @reason WHERE id = @id`,
      )
      .run({
        id,
        name: next.name,
        family: next.family,
        sizeBytes: next.sizeBytes,
        hashes: JSON.stringify(next.hashes),
        metadata: JSON.stringify(next.metadata),
        kind: next.kind,
        missing: next.missing ? 1 : 0,
        preview: next.preview,
        supported: next.supported ? 1 : 0,
        reason: next.reason,
      });
    return this.get(id);
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
  }
}
