// A1111-compatible hashes against an independent node:crypto computation, and the hash cache
// (hit on the second call, invalidated by mtime, persisted across opens).
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computeModelHashes,
  HASH_CACHE_FILE,
  HashCache,
  HashCancelledError,
  type HashProgress,
} from '../../core/hub/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const LDM = join(FIX, 'tiny_sd', 'tiny_sd_ldm.safetensors'); // 5.4 MB: past A1111's 1 MiB offset
const LORA = join(FIX, 'lora', 'lora_kohya.safetensors'); // 168 KB: shorter than 1 MiB

const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The reference: what A1111/kohya compute, written out plainly over the whole file in memory. */
function reference(path: string) {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const sha256 = hex(bytes);
  const addnet = hex(bytes.subarray(8 + n));
  return {
    sha256,
    autov2: sha256.slice(0, 10),
    legacy: hex(bytes.subarray(0x100000, 0x110000)).slice(0, 8),
    addnet,
    autov3: addnet.slice(0, 12),
  };
}

let dir: string;
beforeAll(() => {
  dir = makeTempDir('hub-hashes-');
});
afterAll(() => removeDir(dir));

describe('computeModelHashes', () => {
  it('matches an independent computation on a checkpoint (sha256, AutoV2, legacy, addnet)', async () => {
    const want = reference(LDM);
    expect(await computeModelHashes(LDM, { addnet: true })).toEqual(want);
    // Reads that straddle the legacy window and the header end give the same result.
    expect(await computeModelHashes(LDM, { addnet: true, chunkBytes: 65_537 })).toEqual(want);
    const plain = await computeModelHashes(LDM);
    expect(plain).toEqual({ sha256: want.sha256, autov2: want.autov2, legacy: want.legacy });
  });

  it('gives a file under 1 MiB the legacy hash of nothing, as A1111 does', async () => {
    const h = await computeModelHashes(LORA, { addnet: true });
    expect(h.legacy).toBe(hex(new Uint8Array(0)).slice(0, 8));
    expect(h.legacy).toBe('e3b0c442');
    expect(h).toEqual(reference(LORA));
  });

  it('reports monotonic progress ending at the file size, and can be cancelled', async () => {
    const seen: HashProgress[] = [];
    await computeModelHashes(LDM, {
      chunkBytes: 1 << 20,
      progressIntervalMs: 0,
      onProgress: (p) => seen.push(p),
    });
    const size = readFileSync(LDM).length;
    expect(seen.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < seen.length; i++) expect(seen[i].bytes).toBeGreaterThan(seen[i - 1].bytes);
    expect(seen[seen.length - 1]).toEqual({ path: LDM, bytes: size, total: size });

    const ac = new AbortController();
    const run = computeModelHashes(LDM, {
      chunkBytes: 1 << 20,
      progressIntervalMs: 0,
      signal: ac.signal,
      onProgress: (p) => p.bytes >= 2 << 20 && ac.abort(),
    });
    await expect(run).rejects.toBeInstanceOf(HashCancelledError);
  });
});

describe('HashCache', () => {
  it('hits on the second call, persists, and recomputes when the mtime changes', async () => {
    const file = join(dir, 'model.safetensors');
    copyFileSync(LDM, file);
    const cache = await HashCache.open(dir);
    const first = await cache.get(file);
    expect(cache.stats).toEqual({ hits: 0, misses: 1 });
    expect(await cache.get(file)).toEqual(first);
    expect(cache.stats).toEqual({ hits: 1, misses: 1 });

    // A fresh process reads the cache file: still a hit.
    const reopened = await HashCache.open(dir);
    expect(reopened.size).toBe(1);
    expect(await reopened.get(file)).toEqual(first);
    expect(reopened.stats).toEqual({ hits: 1, misses: 0 });

    // A new mtime alone invalidates the entry (same bytes: same hashes, recomputed).
    utimesSync(file, new Date(2000, 1, 1), new Date(2000, 1, 1));
    expect(await reopened.get(file)).toEqual(first);
    expect(reopened.stats).toEqual({ hits: 1, misses: 1 });

    // Changed content with yet another mtime is picked up.
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);
    utimesSync(file, new Date(2001, 1, 1), new Date(2001, 1, 1));
    const after = await reopened.get(file);
    expect(reopened.stats).toEqual({ hits: 1, misses: 2 });
    expect(after.sha256).toBe(hex(bytes));
    expect(after.sha256).not.toBe(first.sha256);
  });

  it('misses when the addnet hash was not cached yet, and shares one computation', async () => {
    const file = join(dir, 'lora.safetensors');
    copyFileSync(LORA, file);
    const cache = await HashCache.open(dir, 'other-cache.json');
    await cache.get(file);
    const [a, b] = await Promise.all([
      cache.get(file, { addnet: true }),
      cache.get(file, { addnet: true }),
    ]);
    expect(a).toEqual(b);
    expect(a.autov3).toBe(reference(LORA).autov3);
    expect(cache.stats).toEqual({ hits: 0, misses: 2 });
    await cache.get(file); // an addnet entry also serves plain requests
    expect(cache.stats.hits).toBe(1);
  });

  it('takes a sha256 from a download without reading the whole file', async () => {
    const file = join(dir, 'downloaded.safetensors');
    copyFileSync(LDM, file);
    const cache = await HashCache.open(dir, 'dl-cache.json');
    const want = reference(LDM);
    const got = await cache.rememberSha256(file, want.sha256);
    expect(got).toEqual({ sha256: want.sha256, autov2: want.autov2, legacy: want.legacy });
    expect(await cache.get(file)).toEqual(got);
    expect(cache.stats).toEqual({ hits: 1, misses: 0 });
    await expect(cache.rememberSha256(file, 'xyz')).rejects.toThrow(/"xyz" is not 64/);
  });

  it('starts empty from a corrupt cache file', async () => {
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    const cache = await HashCache.open(dir, 'bad.json');
    expect(cache.size).toBe(0);
    expect(HASH_CACHE_FILE).toBe('model-hashes.json');
  });
});
