// Things the app produced: exported LoRAs (artifacts) and generated images (generations).
import type { Database } from 'better-sqlite3';
import { generationParamsSchema } from '../api.js';
import type { Artifact, Generation, GenerationParams } from '../api.js';
import { nowIso, parseJsonObject } from './util.js';

interface ArtifactRow {
  id: number;
  run_id: number | null;
  name: string;
  path: string;
  size_bytes: number;
  metadata: string;
  created_at: string;
}

interface GenerationRow {
  id: number;
  model_id: number | null;
  file_path: string;
  seed: number;
  params: string;
  created_at: string;
}

export interface NewArtifact {
  runId: number | null;
  name: string;
  path: string;
  sizeBytes: number;
  metadata?: Record<string, unknown>;
}

export interface NewGeneration {
  modelId: number | null;
  filePath: string;
  seed: number;
  params: GenerationParams;
}

function toArtifact(r: ArtifactRow): Artifact {
  return {
    id: r.id,
    runId: r.run_id,
    name: r.name,
    path: r.path,
    sizeBytes: r.size_bytes,
    metadata: parseJsonObject(r.metadata),
    createdAt: r.created_at,
  };
}

function toGeneration(r: GenerationRow): Generation {
  return {
    id: r.id,
    modelId: r.model_id,
    filePath: r.file_path,
    seed: r.seed,
    params: generationParamsSchema.parse(JSON.parse(r.params)),
    createdAt: r.created_at,
  };
}

export class ArtifactsRepo {
  constructor(private readonly db: Database) {}

  list(filter: { runId?: number } = {}): Artifact[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM artifacts WHERE (@runId IS NULL OR run_id = @runId)
         ORDER BY created_at DESC, id DESC`,
      )
      .all({ runId: filter.runId ?? null }) as ArtifactRow[];
    return rows.map(toArtifact);
  }

  get(id: number): Artifact | undefined {
    const row = this.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(id) as
      ArtifactRow | undefined;
    return row && toArtifact(row);
  }

  add(a: NewArtifact): Artifact {
    const info = this.db
      .prepare(
        `INSERT INTO artifacts (run_id, name, path, size_bytes, metadata, created_at)
         VALUES (@runId, @name, @path, @sizeBytes, @metadata, @at)`,
      )
      .run({
        runId: a.runId,
        name: a.name,
        path: a.path,
        sizeBytes: a.sizeBytes,
        metadata: JSON.stringify(a.metadata ?? {}),
        at: nowIso(),
      });
    return this.get(Number(info.lastInsertRowid))!;
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM artifacts WHERE id = ?').run(id).changes > 0;
  }
}

export class GenerationsRepo {
  constructor(private readonly db: Database) {}

  /** Newest first. */
  list(opts: { modelId?: number; offset?: number; limit?: number } = {}): {
    items: Generation[];
    total: number;
  } {
    const where = 'WHERE (@modelId IS NULL OR model_id = @modelId)';
    const modelId = opts.modelId ?? null;
    const total = (
      this.db.prepare(`SELECT count(*) AS n FROM generations ${where}`).get({ modelId }) as {
        n: number;
      }
    ).n;
    const rows = this.db
      .prepare(
        `SELECT * FROM generations ${where} ORDER BY created_at DESC, id DESC
         LIMIT @limit OFFSET @offset`,
      )
      .all({ modelId, limit: opts.limit ?? -1, offset: opts.offset ?? 0 }) as GenerationRow[];
    return { items: rows.map(toGeneration), total };
  }

  /**
   * Newest first, filtered: `query` matches the prompt (case-insensitive substring), `modelId`
   * the checkpoint row, `loraPath` a LoRA file the image used (its params' loras).
   */
  search(opts: {
    query?: string;
    modelId?: number;
    loraPath?: string;
    offset?: number;
    limit?: number;
  }): { items: Generation[]; total: number } {
    const where = `WHERE (@modelId IS NULL OR model_id = @modelId)
      AND (@query IS NULL OR lower(json_extract(params, '$.prompt')) LIKE @query ESCAPE '\\')
      AND (@lora IS NULL OR EXISTS (SELECT 1 FROM json_each(params, '$.loras')
                                    WHERE json_extract(value, '$.path') = @lora))`;
    const query = opts.query
      ? `%${opts.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      : null;
    const bind = { modelId: opts.modelId ?? null, query, lora: opts.loraPath ?? null };
    const total = (
      this.db.prepare(`SELECT count(*) AS n FROM generations ${where}`).get(bind) as { n: number }
    ).n;
    const rows = this.db
      .prepare(
        `SELECT * FROM generations ${where} ORDER BY created_at DESC, id DESC
         LIMIT @limit OFFSET @offset`,
      )
      .all({ ...bind, limit: opts.limit ?? -1, offset: opts.offset ?? 0 }) as GenerationRow[];
    return { items: rows.map(toGeneration), total };
  }

  get(id: number): Generation | undefined {
    const row = this.db.prepare('SELECT * FROM generations WHERE id = ?').get(id) as
      GenerationRow | undefined;
    return row && toGeneration(row);
  }

  add(g: NewGeneration): Generation {
    const info = this.db
      .prepare(
        `INSERT INTO generations (model_id, file_path, seed, params, created_at)
         VALUES (@modelId, @filePath, @seed, @params, @at)`,
      )
      .run({
        modelId: g.modelId,
        filePath: g.filePath,
        seed: g.seed,
        params: JSON.stringify(g.params),
        at: nowIso(),
      });
    return this.get(Number(info.lastInsertRowid))!;
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM generations WHERE id = ?').run(id).changes > 0;
  }
}
