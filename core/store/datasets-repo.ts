// Datasets and their images. Image files live wherever the user keeps them (or where the
// importer copies them); rows hold captions, flags and the metadata the pipeline computes.
import type { Database } from 'better-sqlite3';
import type { Dataset, DatasetImage, ImageFlags } from '../api.js';
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

const DATASET_SELECT = `
  SELECT d.*,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id) AS image_count,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id AND i.excluded = 1) AS excluded_count,
    (SELECT count(*) FROM images i WHERE i.dataset_id = d.id AND i.caption <> '') AS captioned_count
  FROM datasets d`;

const IMAGE_FILTERS: Readonly<Record<ImageFilter, string>> = Object.freeze({
  all: '',
  included: 'AND excluded = 0',
  excluded: 'AND excluded = 1',
  uncaptioned: "AND caption = ''",
});

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
}
