// Hashes are expensive (a full read of a multi-GB file), so they are cached in a JSON file in the
// app data dir, keyed by absolute path and valid while the file's size and mtime are unchanged
// (A1111 keys its hash cache the same way). JSON rather than the SQLite store: the cache is
// disposable, needs no migration, and may be shared by tools that never open the database.
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  computeModelHashes,
  legacyModelHash,
  type HashOptions,
  type ModelHashes,
} from './hashes.js';

export const HASH_CACHE_FILE = 'model-hashes.json';
const VERSION = 1;

interface Entry {
  size: number;
  mtimeMs: number;
  hashes: ModelHashes;
}

interface CacheFile {
  version: number;
  entries: Record<string, Entry>;
}

export interface HashCacheStats {
  hits: number;
  misses: number;
}

function usable(e: Entry | undefined, size: number, mtimeMs: number, addnet: boolean): boolean {
  return !!e && e.size === size && e.mtimeMs === mtimeMs && (!addnet || !!e.hashes.addnet);
}

export class HashCache {
  readonly stats: HashCacheStats = { hits: 0, misses: 0 };
  private readonly inflight = new Map<string, Promise<ModelHashes>>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    /** The cache file's path. */
    readonly file: string,
    private readonly entries: Map<string, Entry>,
  ) {}

  /** Open (or start) the cache in `dataDir`. An unreadable cache file starts an empty cache. */
  static async open(dataDir: string, fileName = HASH_CACHE_FILE): Promise<HashCache> {
    const file = join(dataDir, fileName);
    const entries = new Map<string, Entry>();
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as CacheFile;
      if (parsed.version === VERSION && parsed.entries && typeof parsed.entries === 'object') {
        for (const [k, v] of Object.entries(parsed.entries)) {
          if (typeof v?.size === 'number' && typeof v.hashes?.sha256 === 'string')
            entries.set(k, v);
        }
      }
    } catch {
      // Missing or corrupt: the cache only saves time, so start over rather than fail.
    }
    return new HashCache(file, entries);
  }

  /** Cached hashes for `path` if still valid (no hashing, no counting). */
  async peek(path: string, addnet = false): Promise<ModelHashes | undefined> {
    const abs = resolve(path);
    const s = await stat(abs);
    const e = this.entries.get(abs);
    return usable(e, s.size, s.mtimeMs, addnet) ? e!.hashes : undefined;
  }

  /**
   * Hashes of `path`: from the cache when size and mtime match (a hit), else computed (a miss)
   * and stored. Concurrent calls for one file share one computation.
   */
  async get(path: string, options: HashOptions = {}): Promise<ModelHashes> {
    const abs = resolve(path);
    const s = await stat(abs);
    const addnet = !!options.addnet;
    const e = this.entries.get(abs);
    if (usable(e, s.size, s.mtimeMs, addnet)) {
      this.stats.hits++;
      return e!.hashes;
    }
    const key = `${abs}\0${addnet}`;
    const running = this.inflight.get(key);
    if (running) return running;
    this.stats.misses++;
    const job = (async () => {
      const hashes = await computeModelHashes(abs, options);
      // The file may have changed while it was read; store only if it did not.
      const after = await stat(abs);
      if (after.size === s.size && after.mtimeMs === s.mtimeMs) {
        this.entries.set(abs, { size: s.size, mtimeMs: s.mtimeMs, hashes });
        await this.save();
      }
      return hashes;
    })();
    this.inflight.set(key, job);
    try {
      return await job;
    } finally {
      this.inflight.delete(key);
    }
  }

  /**
   * Record a sha256 learned elsewhere (a download hashes what it writes), so the file is not
   * read again for it: AutoV2 is derived, the legacy hash costs one 64 KiB read; the addnet
   * hash (LoRAs) is left for the next `get` that asks for it.
   */
  async rememberSha256(path: string, sha256: string): Promise<ModelHashes> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) {
      throw new Error(`sha256 ${JSON.stringify(sha256)} is not 64 lower-case hex digits`);
    }
    const abs = resolve(path);
    const s = await stat(abs);
    const hashes = { sha256, autov2: sha256.slice(0, 10), legacy: await legacyModelHash(abs) };
    this.entries.set(abs, { size: s.size, mtimeMs: s.mtimeMs, hashes });
    await this.save();
    return hashes;
  }

  /** Forget entries whose file is gone or changed; returns how many were dropped. */
  async prune(): Promise<number> {
    let dropped = 0;
    for (const [path, e] of [...this.entries]) {
      const s = await stat(path).catch(() => undefined);
      if (!s || s.size !== e.size || s.mtimeMs !== e.mtimeMs) {
        this.entries.delete(path);
        dropped++;
      }
    }
    if (dropped) await this.save();
    return dropped;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Write atomically (temp file + rename); saves are serialised. */
  save(): Promise<void> {
    const next = this.saving.then(async () => {
      const data: CacheFile = { version: VERSION, entries: Object.fromEntries(this.entries) };
      await mkdir(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(data));
      await rename(tmp, this.file);
    });
    this.saving = next.catch(() => {});
    return next;
  }
}
