// Datasets and their images. Image files live wherever the user keeps them (or where the
// importer copies them); rows hold captions, flags and the metadata the pipeline computes.
import type { Database } from 'better-sqlite3';
import type { Dataset, DatasetImage, ImageFlags, ImportSkippedFile } from '../api.js';
import { bit, nowIso } from './util.js';

interface DatasetRow {
  id: number;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
  image_count: number;
  excluded_count: number;
  captioned_count: number;
  flagged_count: number;
  source_dir: string | null;
  work_dir: string | null;
  import_skipped: string;
}

interface ImageRow {
  id: number;
  dataset_id: number;
  path: string;
  caption: string;
  excluded: 0 | 1;
  keep: 0 | 1;
  width: number | null;
  height: number | null;
  hash: string | null;
  added_at: string;
  updated_at: string;
  rel_path: string | null;
  work_path: string | null;
  thumb_path: string | null;
  format: string | null;
  repeats: number;
  class_name: string | null;
  text_ratio: number | null;
  text_flagged: 0 | 1 | null;
}

/** What an import knows of one image (core/dataset's ImportedImage, in store terms). */
export interface ImportedImageRow {
  /** Absolute source path: the row's identity within the dataset. */
  path: string;
  relPath: string;
  workPath: string;
  thumbPath: string;
  format: string;
  repeats: number;
  className: string | null;
  sha256: string;
  width: number;
  height: number;
  /** Sidecar caption; used only for rows that do not exist yet. */
  caption: string | null;
}

export type ImageFilter = 'all' | 'included' | 'excluded' | 'uncaptioned';

export interface NewImage {
  path: string;
  caption?: string;
  flags?: Partial<ImageFlags>;
  width?: number | null;
  height?: number | null;
  hash?: string | null;
}

export interface ImagePatch {
  caption?: string;
  flags?: Partial<ImageFlags>;
  width?: number | null;
  height?: number | null;
  hash?: string | null;
}

// A text-flagged image is left out of training unless the user pinned it (keep).
const FLAGGED = 'coalesce(text_flagged, 0) = 1 AND keep = 0';

const DATASET_SELECT = `
  SELECT d.*,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id) AS image_count,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id AND i.excluded = 1) AS excluded_count,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id AND i.caption <> '') AS captioned_count,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id AND ${FLAGGED}) AS flagged_count
  FROM datasets d`;

const IMAGE_FILTERS: Readonly<Record<ImageFilter, string>> = Object.freeze({
  all: '',
  included: `AND excluded = 0 AND NOT (${FLAGGED})`,
  excluded: `AND (excluded = 1 OR (${FLAGGED}))`,
  uncaptioned: "AND caption = ''",
});

function parseSkipped(text: string): ImportSkippedFile[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? (value as ImportSkippedFile[]) : [];
}

function toDataset(r: DatasetRow): Dataset {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    imageCount: r.image_count,
    excludedCount: r.excluded_count,
    captionedCount: r.captioned_count,
    sourceDir: r.source_dir,
    workDir: r.work_dir,
    skipped: parseSkipped(r.import_skipped),
    flaggedCount: r.flagged_count,
  };
}

function toImage(r: ImageRow): DatasetImage {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    path: r.path,
    caption: r.caption,
    flags: { excluded: r.excluded === 1, keep: r.keep === 1 },
    width: r.width,
    height: r.height,
    hash: r.hash,
    addedAt: r.added_at,
    updatedAt: r.updated_at,
    relPath: r.rel_path,
    workPath: r.work_path,
    thumbPath: r.thumb_path,
    format: r.format,
    repeats: r.repeats,
    className: r.class_name,
    sha256: r.hash,
    textRatio: r.text_ratio,
    textFlagged: r.text_flagged === null ? null : r.text_flagged === 1,
  };
}

export class DatasetsRepo {
  constructor(private readonly db: Database) {}

  list(): Dataset[] {
    const rows = this.db.prepare(`${DATASET_SELECT} ORDER BY d.name, d.id`).all() as DatasetRow[];
    return rows.map(toDataset);
  }

  get(id: number): Dataset | undefined {
    const row = this.db.prepare(`${DATASET_SELECT} WHERE d.id = ?`).get(id) as
      DatasetRow | undefined;
    return row && toDataset(row);
  }

  getByName(name: string): Dataset | undefined {
    const row = this.db.prepare(`${DATASET_SELECT} WHERE d.name = ?`).get(name) as
      DatasetRow | undefined;
    return row && toDataset(row);
  }

  create(d: { name: string; description?: string }): Dataset {
    const at = nowIso();
    const info = this.db
      .prepare(
        `INSERT INTO datasets (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)`,
      )
      .run(d.name, d.description ?? '', at, at);
    return this.get(Number(info.lastInsertRowid))!;
  }

  update(id: number, patch: { name?: string; description?: string }): Dataset | undefined {
    const info = this.db
      .prepare(
        `UPDATE datasets SET name = coalesce(@name, name),
           description = coalesce(@description, description), updated_at = @at WHERE id = @id`,
      )
      .run({ id, name: patch.name ?? null, description: patch.description ?? null, at: nowIso() });
    return info.changes > 0 ? this.get(id) : undefined;
  }

  /** Records where the last import read from, wrote to, and what it skipped. */
  setImport(
    id: number,
    info: { sourceDir: string; workDir: string; skipped: readonly ImportSkippedFile[] },
  ): Dataset | undefined {
    const info2 = this.db
      .prepare(
        `UPDATE datasets SET source_dir = ?, work_dir = ?, import_skipped = ?, updated_at = ?
         WHERE id = ?`,
      )
      .run(info.sourceDir, info.workDir, JSON.stringify(info.skipped), nowIso(), id);
    return info2.changes > 0 ? this.get(id) : undefined;
  }

  /** Deletes the dataset and (by cascade) its image rows. */
  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
  }
}

export class ImagesRepo {
  constructor(private readonly db: Database) {}

  list(
    datasetId: number,
    opts: { filter?: ImageFilter; offset?: number; limit?: number } = {},
  ): { items: DatasetImage[]; total: number } {
    const where = `WHERE dataset_id = ? ${IMAGE_FILTERS[opts.filter ?? 'all']}`;
    const total = (
      this.db.prepare(`SELECT count(*) AS n FROM images ${where}`).get(datasetId) as { n: number }
    ).n;
    const rows = this.db
      .prepare(`SELECT * FROM images ${where} ORDER BY path, id LIMIT ? OFFSET ?`)
      .all(datasetId, opts.limit ?? -1, opts.offset ?? 0) as ImageRow[];
    return { items: rows.map(toImage), total };
  }

  get(id: number): DatasetImage | undefined {
    const row = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as
      ImageRow | undefined;
    return row && toImage(row);
  }

  add(datasetId: number, image: NewImage): DatasetImage {
    return this.addMany(datasetId, [image])[0];
  }

  /** Inserts all or nothing (one transaction), in order. */
  addMany(datasetId: number, images: readonly NewImage[]): DatasetImage[] {
    const insert = this.db.prepare(
      `INSERT INTO images (dataset_id, path, caption, excluded, keep, width, height, hash,
         added_at, updated_at)
       VALUES (@datasetId, @path, @caption, @excluded, @keep, @width, @height, @hash, @at, @at)`,
    );
    return this.db.transaction(() => {
      const at = nowIso();
      return images.map((img) => {
        const info = insert.run({
          datasetId,
          path: img.path,
          caption: img.caption ?? '',
          excluded: bit(img.flags?.excluded ?? false),
          keep: bit(img.flags?.keep ?? false),
          width: img.width ?? null,
          height: img.height ?? null,
          hash: img.hash ?? null,
          at,
        });
        return this.get(Number(info.lastInsertRowid))!;
      });
    })();
  }

  update(id: number, patch: ImagePatch): DatasetImage | undefined {
    return this.db.transaction(() => {
      const current = this.get(id);
      if (!current) return undefined;
      const flags = {
        excluded: patch.flags?.excluded ?? current.flags.excluded,
        keep: patch.flags?.keep ?? current.flags.keep,
      };
      this.db
        .prepare(
          `UPDATE images SET caption = @caption, excluded = @excluded, keep = @keep,
             width = @width, height = @height, hash = @hash, updated_at = @at WHERE id = @id`,
        )
        .run({
          id,
          caption: patch.caption ?? current.caption,
          excluded: bit(flags.excluded),
          keep: bit(flags.keep),
          width: patch.width !== undefined ? patch.width : current.width,
          height: patch.height !== undefined ? patch.height : current.height,
          hash: patch.hash !== undefined ? patch.hash : current.hash,
          at: nowIso(),
        });
      return this.get(id);
    })();
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM images WHERE id = ?').run(id).changes > 0;
  }

  /**
   * Adds the imported images, or refreshes the import fields of rows with the same source
   * path. A row's caption, flags and text scan are the user's and stay; the sidecar caption
   * fills only new rows. One transaction; returns the row ids in input order.
   */
  upsertImported(datasetId: number, images: readonly ImportedImageRow[]): number[] {
    const upsert = this.db.prepare(
      `INSERT INTO images (dataset_id, path, caption, width, height, hash, rel_path, work_path,
         thumb_path, format, repeats, class_name, added_at, updated_at)
       VALUES (@datasetId, @path, @caption, @width, @height, @hash, @relPath, @workPath,
         @thumbPath, @format, @repeats, @className, @at, @at)
       ON CONFLICT (dataset_id, path) DO UPDATE SET width = excluded.width,
         height = excluded.height, rel_path = excluded.rel_path, work_path = excluded.work_path,
         thumb_path = excluded.thumb_path, format = excluded.format, repeats = excluded.repeats,
         class_name = excluded.class_name, updated_at = excluded.updated_at,
         text_ratio = CASE WHEN images.hash IS excluded.hash THEN images.text_ratio END,
         text_flagged = CASE WHEN images.hash IS excluded.hash THEN images.text_flagged END,
         hash = excluded.hash
       RETURNING id`,
    );
    return this.db.transaction(() => {
      const at = nowIso();
      return images.map(
        (img) =>
          (
            upsert.get({
              datasetId,
              path: img.path,
              caption: img.caption ?? '',
              width: img.width,
              height: img.height,
              hash: img.sha256,
              relPath: img.relPath,
              workPath: img.workPath,
              thumbPath: img.thumbPath,
              format: img.format,
              repeats: img.repeats,
              className: img.className,
              at,
            }) as { id: number }
          ).id,
      );
    })();
  }

  /** Stores OCR results: ratio (null keeps the measured one) and the flag. */
  setTextScan(id: number, ratio: number | null, flagged: boolean): void {
    this.db
      .prepare(
        `UPDATE images SET text_ratio = coalesce(@ratio, text_ratio), text_flagged = @flagged,
           updated_at = @at WHERE id = @id`,
      )
      .run({ id, ratio, flagged: bit(flagged), at: nowIso() });
  }
}
