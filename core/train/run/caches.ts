// Training caches, computed once and reused by every later run: VAE latents per image per bucket
// size (and flip), text-encoder outputs per caption. Tensors are safetensors files under
// `<dataDir>/cache/train/`, indexed in SQLite (table train_cache). Keys hold everything a value
// depends on — image bytes, VAE identity, size, flip / caption, text-encoder identity, clip skip —
// so a hit never loads the model that would have made it.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { faultPoint } from '../../faults/index.js';
import { parseSafetensors, writeSafetensors } from '../../formats/index.js';
import { assertFiniteTensor } from './failures.js';

export type CacheKind = 'latent' | 'text';

interface CacheRow {
  file: string;
  shape: string;
}

/** The train_cache table (migration 3) and the tensor files it points to. */
export class TrainCache {
  readonly dir: string;
  /** Cache misses filled by this instance, per kind (what the run reports and tests count). */
  readonly computed = { latent: 0, text: 0 };

  constructor(
    private readonly db: Database,
    dataDir: string,
  ) {
    this.dir = join(dataDir, 'cache', 'train');
  }

  static latentKey(o: {
    imageSha256: string;
    vaeIdentity: string;
    width: number;
    height: number;
    flip: boolean;
  }): string {
    return `img:${o.imageSha256}|vae:${o.vaeIdentity}|${o.width}x${o.height}|flip:${o.flip ? 1 : 0}`;
  }

  static textKey(o: { caption: string; teIdentity: string; clipSkip: number }): string {
    return `te:${o.teIdentity}|skip:${o.clipSkip}|${o.caption}`;
  }

  /** The cached tensor, or undefined (a row whose file is gone or damaged counts as a miss). */
  async get(kind: CacheKind, key: string): Promise<Float32Array | undefined> {
    const row = this.db
      .prepare('SELECT file, shape FROM train_cache WHERE kind = ? AND key = ?')
      .get(kind, key) as CacheRow | undefined;
    if (!row) return undefined;
    try {
      const r = parseSafetensors(
        new Uint8Array(await readFile(join(this.dir, row.file))),
        row.file,
      );
      const t = await r.readTensorData('value');
      if (t.dtype !== 'float32') return undefined;
      const copy = t.bytes.slice();
      return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
    } catch {
      return undefined;
    }
  }

  /** Store a tensor: file written atomically first, then the row. */
  async put(
    kind: CacheKind,
    key: string,
    shape: readonly number[],
    data: Float32Array,
  ): Promise<void> {
    faultPoint('cache.put');
    await mkdir(this.dir, { recursive: true });
    const file = `${kind}-${createHash('sha256').update(key).digest('hex').slice(0, 40)}.safetensors`;
    await writeSafetensors(join(this.dir, file), {
      value: { dtype: 'float32', shape, data },
    });
    this.db
      .prepare(
        `INSERT OR REPLACE INTO train_cache (kind, key, file, shape, created_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(kind, key, file, JSON.stringify(shape), new Date().toISOString());
    this.computed[kind]++;
  }

  /**
   * The cached value, or `compute()`d and stored now. A cached or computed value with NaN/Inf
   * is never used: a damaged cache entry is recomputed, a non-finite result fails naming `what`.
   */
  async getOrCompute(
    kind: CacheKind,
    key: string,
    compute: () => Promise<{ shape: readonly number[]; data: Float32Array }>,
    what = `the cached ${kind} ${key}`,
  ): Promise<Float32Array> {
    const hit = await this.get(kind, key);
    if (hit && hit.every(Number.isFinite)) return hit;
    const v = await compute();
    assertFiniteTensor(what, v.data);
    await this.put(kind, key, v.shape, v.data);
    return v.data;
  }

  count(kind: CacheKind): number {
    return (
      this.db.prepare('SELECT COUNT(*) AS n FROM train_cache WHERE kind = ?').get(kind) as {
        n: number;
      }
    ).n;
  }
}
