// Identity of a weights file: its sha256, computed once and remembered in the app data dir by
// resolved path + size + mtime, so later launches only stat the file. Caches derived from a
// checkpoint (converted weights, optimized models) are keyed by this hash, so renaming or
// moving a checkpoint costs one re-hash, never a re-conversion.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const INDEX_FILE = 'file-hashes.json';
const INDEX_VERSION = 1;
/** Entries kept in the index; the least recently used go first. */
const MAX_ENTRIES = 500;

export interface FileIdentity {
  /** The file's resolved path (symlinks followed). */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
  /** True when the file was read and hashed now; false when the index already knew it. */
  readonly computed: boolean;
}

interface IndexEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
  usedAt: number;
}

interface IndexJson {
  version: number;
  files: Record<string, IndexEntry>;
}

/** sha256 of a file, read in 16 MiB blocks into one reused buffer; `onProgress` gets bytes hashed so far. */
export async function sha256OfFile(
  file: string,
  onProgress?: (done: number, total: number) => void,
): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const h = createHash('sha256');
    const block = Buffer.allocUnsafe(16 << 20);
    let done = 0;
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, block.byteLength, done);
      if (bytesRead === 0) break;
      h.update(block.subarray(0, bytesRead));
      done += bytesRead;
      onProgress?.(done, size);
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

/** The sha256 index of weights files in one app data directory. */
export class FileHashIndex {
  private readonly indexPath: string;
  /** One identification per file at a time (a single-file checkpoint serves three components). */
  private readonly pending = new Map<string, Promise<FileIdentity>>();

  constructor(readonly dir: string) {
    this.indexPath = join(dir, INDEX_FILE);
  }

  /** The file's identity: from the index when path, size and mtime match, else hashed now. */
  identify(
    file: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<FileIdentity> {
    const run = async (): Promise<FileIdentity> => {
      const path = await realpath(file);
      const before = await stat(path);
      const index = await this.read();
      const known = index.files[path];
      if (known && known.size === before.size && known.mtimeMs === before.mtimeMs) {
        await this.update(path, { ...known, usedAt: Date.now() }).catch(() => {});
        return {
          path,
          size: known.size,
          mtimeMs: known.mtimeMs,
          sha256: known.sha256,
          computed: false,
        };
      }
      const sha256 = await sha256OfFile(path, onProgress);
      const after = await stat(path);
      // Written to while we read it: the hash describes no stable version, so remember nothing.
      if (after.size === before.size && after.mtimeMs === before.mtimeMs)
        await this.update(path, {
          size: before.size,
          mtimeMs: before.mtimeMs,
          sha256,
          usedAt: Date.now(),
        });
      return { path, size: before.size, mtimeMs: before.mtimeMs, sha256, computed: true };
    };
    const key = file;
    let p = this.pending.get(key);
    if (!p) {
      p = run().finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /**
   * Remember a hash known from elsewhere (e.g. verified while downloading), so the first load
   * does not read the whole file again.
   */
  async record(file: string, sha256: string): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(sha256))
      throw new Error(`sha256 must be 64 lowercase hex digits, got '${sha256}'`);
    const path = await realpath(file);
    const { size, mtimeMs } = await stat(path);
    await this.update(path, { size, mtimeMs, sha256, usedAt: Date.now() });
  }

  private async read(): Promise<IndexJson> {
    try {
      const json = JSON.parse(await readFile(this.indexPath, 'utf8')) as IndexJson;
      if (json.version === INDEX_VERSION && json.files && typeof json.files === 'object')
        return json;
    } catch {
      // Missing or unreadable: start over (it is only a cache of hashes).
    }
    return { version: INDEX_VERSION, files: {} };
  }

  /** Read-merge-write, atomically (temp + rename); a lost race only costs a re-hash later. */
  private async update(path: string, entry: IndexEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const index = await this.read();
    index.files[path] = entry;
    const names = Object.keys(index.files);
    if (names.length > MAX_ENTRIES) {
      names
        .sort((a, b) => index.files[a].usedAt - index.files[b].usedAt)
        .slice(0, names.length - MAX_ENTRIES)
        .forEach((n) => delete index.files[n]);
    }
    const tmp = `${this.indexPath}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(index, null, 1));
      await rename(tmp, this.indexPath);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }
}
