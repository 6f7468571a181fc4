// Disk cache of ORT-optimized models. Session creation on a big graph spends most of its time in
// graph optimization; ORT can save the optimized graph, and loading that with optimizations
// disabled skips the work. Each entry is a directory `<key>/` holding model.onnx, weights.bin
// (ORT copies every initializer ≥ 1 KiB there, so the entry stands alone) and manifest.json,
// written last: an entry without a valid manifest is incomplete and gets deleted.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExternalRef, InMemoryExternalData } from './external-data.js';
import { checkExternalLocation } from './external-data.js';

const FORMAT = 1;
export const CACHE_MODEL_FILE = 'model.onnx';
export const CACHE_WEIGHTS_FILE = 'weights.bin';
const MANIFEST_FILE = 'manifest.json';
const TMP_PREFIX = '.tmp-';
const STALE_TMP_MS = 60 * 60 * 1000;

export interface CacheKeyParts {
  /** Serialised model (ModelProto bytes), or a caller's identity for it (skips hashing big graphs). */
  readonly model: Uint8Array | string;
  /** Identity of the external data the model reads (see externalDataIdentity). */
  readonly externalData: string;
  readonly ep: string;
  readonly deviceId?: number;
  readonly ortVersion: string;
  readonly optimizationLevel: string;
}

/** sha256 over everything that changes the optimized model, hex. */
export function cacheKey(parts: CacheKeyParts): string {
  const h = createHash('sha256');
  if (typeof parts.model === 'string') h.update(`caller-key:${parts.model}`);
  else h.update(parts.model);
  // The CPU model matters: level 'all' bakes in hardware-specific layouts (NCHWc).
  const env = [
    FORMAT,
    parts.externalData,
    parts.ep,
    parts.deviceId ?? 0,
    parts.ortVersion,
    parts.optimizationLevel,
  ];
  h.update(JSON.stringify([...env, os.platform(), os.arch(), os.cpus()[0]?.model ?? '']));
  return h.digest('hex');
}

/**
 * Identity of the external data a model reads: a caller-provided hash wins; otherwise files are
 * identified by resolved path + size + mtime (hashing GBs of weights on every start would cost
 * more than the cache saves) and in-memory buffers by their sha256.
 */
export function externalDataIdentity(
  refs: readonly ExternalRef[],
  modelDir: string | undefined,
  inMemory: readonly InMemoryExternalData[] = [],
  providedHash?: string,
): string {
  if (providedHash !== undefined) return `hash:${providedHash}`;
  const memory = new Map(inMemory.map((e) => [e.path, e.data]));
  const parts = new Set<string>();
  for (const location of new Set(refs.map((r) => r.location))) {
    const data = memory.get(location);
    if (data) {
      parts.add(`mem:${location}:${createHash('sha256').update(data).digest('hex')}`);
    } else if (modelDir) {
      const file = fs.realpathSync(checkExternalLocation(location, modelDir));
      const st = fs.statSync(file);
      parts.add(`file:${location}:${file}:${st.size}:${st.mtimeMs}`);
    } else {
      throw new Error(
        `external data '${location}' is neither in memory nor under a model directory`,
      );
    }
  }
  return [...parts].sort().join('|');
}

interface Manifest {
  format: number;
  key: string;
  files: Record<string, { size: number; sha256?: string }>;
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export type CacheStoreResult<T> =
  { value: T; stored: true } | { value: T; stored: false; reason: string };

export class OptimizedModelCache {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.removeStaleTemps();
  }

  entryDir(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key))
      throw new Error(`cache key must be 64 hex chars (sha256), got '${key}'`);
    return path.join(this.dir, key);
  }

  /**
   * The cached optimized model for `key`. An entry that is incomplete or whose files do not match
   * its manifest is deleted here (and reported as `discarded`), so the caller rebuilds it.
   */
  lookup(key: string): { path?: string; discarded?: string } {
    const dir = this.entryDir(key);
    if (!fs.existsSync(dir)) return {};
    const problem = this.verify(key, dir);
    if (!problem) return { path: path.join(dir, CACHE_MODEL_FILE) };
    this.remove(key);
    return { discarded: problem };
  }

  /** What is wrong with an entry, or '' when it matches its manifest. */
  private verify(key: string, dir: string): string {
    let m: Manifest;
    try {
      m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
    } catch {
      return 'no readable manifest (incomplete entry)';
    }
    if (m.format !== FORMAT || m.key !== key || !m.files?.[CACHE_MODEL_FILE])
      return 'manifest does not describe this entry';
    for (const [name, info] of Object.entries(m.files)) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) return `${name} is missing`;
      const size = fs.statSync(file).size;
      if (size !== info.size) return `${name} is ${size} bytes, manifest says ${info.size}`;
      // The graph file is small: hash it. Weights only get a size check (GBs per start).
      if (info.sha256 && sha256File(file) !== info.sha256)
        return `${name} does not match its sha256`;
    }
    return '';
  }

  remove(key: string): void {
    fs.rmSync(this.entryDir(key), { recursive: true, force: true });
  }

  /** Keys of the complete entries. */
  keys(): string[] {
    return fs.readdirSync(this.dir).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  /**
   * Run `produce` to write an optimized model into a fresh temporary directory, then publish the
   * directory under `key` with one rename. Publishing problems do not fail the caller (the session
   * produced is good); they come back as `stored: false` with the reason.
   */
  async store<T>(
    key: string,
    produce: (modelPath: string, weightsFileName: string) => Promise<T>,
  ): Promise<CacheStoreResult<T>> {
    const final = this.entryDir(key);
    const tmp = path.join(
      this.dir,
      `${TMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`,
    );
    fs.mkdirSync(tmp);
    let value: T;
    try {
      value = await produce(path.join(tmp, CACHE_MODEL_FILE), CACHE_WEIGHTS_FILE);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    try {
      const files: Manifest['files'] = {};
      for (const name of fs.readdirSync(tmp)) {
        const size = fs.statSync(path.join(tmp, name)).size;
        files[name] =
          name === CACHE_MODEL_FILE ? { size, sha256: sha256File(path.join(tmp, name)) } : { size };
      }
      if (!files[CACHE_MODEL_FILE]) throw new Error('ORT wrote no optimized model');
      const manifest: Manifest = { format: FORMAT, key, files };
      fs.writeFileSync(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 1));
      if (fs.existsSync(final)) this.remove(key); // a broken leftover (lookup already rejected it)
      fs.renameSync(tmp, final);
      return { value, stored: true };
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      // Another process may have published the same key first: that entry is as good as ours.
      if (this.lookup(key).path) return { value, stored: true };
      return { value, stored: false, reason: (e as Error).message };
    }
  }

  private removeStaleTemps(): void {
    const now = Date.now();
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const p = path.join(this.dir, name);
      try {
        if (now - fs.statSync(p).mtimeMs > STALE_TMP_MS)
          fs.rmSync(p, { recursive: true, force: true });
      } catch {
        // gone already (another process cleaned it)
      }
    }
  }
}
