// The converted-weights cache and the checkpoint hash index: an fp16 checkpoint for an fp32
// CPU session converts once, and every later load finds the converted copy.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, readSafetensorsHeader } from '../../core/formats/index.js';
import {
  FileHashIndex,
  loadModelSessions,
  MODEL_GRAPHS,
  sha256OfFile,
  writeSafetensorsStreaming,
  type ModelGraphName,
  type ModelLoadProgress,
} from '../../core/models/index.js';
import type { HostTensor } from '../../core/onnx/index.js';
import {
  TINY_CONFIGS,
  TINY_LDM_PATH,
  directOutput,
  relDiff,
  removeTempDirs,
  runLoaded,
  tempDir,
  writeConvertedCopy,
} from './model-loader-helpers.js';

const work = tempDir('fp16');
const fp16Path = join(work, 'tiny-fp16.safetensors');
const cacheDir = join(work, 'app-data');
let tensorCount = 0;
const firstOut: Partial<Record<ModelGraphName, HostTensor>> = {};

beforeAll(async () => {
  tensorCount = await writeConvertedCopy(TINY_LDM_PATH, fp16Path, 'float16');
});
afterAll(removeTempDirs);

describe('converted weights cache (fp16 checkpoint → fp32 CPU sessions)', () => {
  it('first load converts every tensor once and matches the direct-load path', async () => {
    const events: ModelLoadProgress[] = [];
    const m = await loadModelSessions(fp16Path, {
      cacheDir,
      configs: TINY_CONFIGS,
      onProgress: (e) => events.push(e),
    });
    try {
      const r = m.report;
      // Progress: the file hashed to the end once, each component converted to its last tensor,
      // then each graph built and ready.
      const hashed = events.filter((e) => e.phase === 'hash');
      expect(hashed.at(-1)).toMatchObject({ file: fp16Path, done: hashed.at(-1)!.total });
      for (const c of ['textEncoder', 'unet', 'vae'] as const) {
        const conv = events.filter((e) => e.phase === 'convert' && e.component === c);
        expect(conv.at(-1)).toMatchObject({ done: r.weights[c]!.convertedTensors });
      }
      expect(events.filter((e) => e.phase === 'ready').map((e) => e.graph)).toEqual([
        ...MODEL_GRAPHS,
      ]);
      // Every tensor of the file (the LDM file has no ignored keys).
      const used = Object.values(r.weights).reduce((n, w) => n + w.convertedTensors, 0);
      expect(r.convertedTensors).toBe(used);
      expect(used).toBe(tensorCount);
      for (const w of Object.values(r.weights)) {
        expect(w.mode).toBe('converted');
        expect(w.cache).toBe('miss');
        expect(w.storedDTypes).toEqual(['float16']);
        expect(w.copiedTensors).toBe(0);
        expect(w.file.startsWith(join(cacheDir, 'weights'))).toBe(true);
        const h = await readSafetensorsHeader(w.file);
        expect(h.metadata.source_sha256).toBe(w.sha256);
        expect([...h.tensors.values()].every((t) => t.dtype === 'float32')).toBe(true);
      }
      // Nothing written next to the checkpoint.
      expect(await readdir(work)).toEqual(['app-data', 'tiny-fp16.safetensors']);
      for (const name of MODEL_GRAPHS) {
        firstOut[name] = await runLoaded(m, name);
        // Direct path: fp16 initializers cast to fp32 inside the graph (exact, like our conversion).
        expect(relDiff(firstOut[name]!, await directOutput(fp16Path, name)), name).toBeLessThan(
          1e-6,
        );
      }
    } finally {
      await m.release();
    }
  });

  it('second load converts 0 tensors: converted copy and optimized models come from the caches', async () => {
    const m = await loadModelSessions(fp16Path, { cacheDir, configs: TINY_CONFIGS });
    try {
      expect(m.report.convertedTensors).toBe(0);
      for (const w of Object.values(m.report.weights)) {
        expect([w.cache, w.hashed, w.convertedTensors]).toEqual(['hit', false, 0]);
      }
      for (const g of Object.values(m.report.graphs)) expect(g.session.cache).toBe('hit');
      for (const name of MODEL_GRAPHS)
        expect(relDiff(await runLoaded(m, name), firstOut[name]!), name).toBeLessThan(1e-6);
    } finally {
      await m.release();
    }
  });

  it('a new graph variant (optimized model not cached) still reuses the converted weights', async () => {
    const m = await loadModelSessions(fp16Path, {
      cacheDir,
      configs: TINY_CONFIGS,
      components: ['textEncoder'],
      graphs: { textEncoder: { clipSkip: 2 } },
    });
    try {
      expect(m.report.weights.textEncoder!.cache).toBe('hit');
      expect(m.report.convertedTensors).toBe(0);
      expect(m.report.graphs.textEncoder!.session.cache).toBe('miss');
      const out = await runLoaded(m, 'textEncoder');
      expect(relDiff(out, firstOut.textEncoder!)).toBeGreaterThan(1e-3); // clip skip 2 differs
    } finally {
      await m.release();
    }
  });

  it('a damaged converted file is rebuilt, not trusted', async () => {
    const file = join(
      cacheDir,
      'weights',
      (await readdir(join(cacheDir, 'weights'))).find((n) => n.includes('.textEncoder.float32.'))!,
    );
    await truncate(file, (await stat(file)).size - 100);
    const m = await loadModelSessions(fp16Path, {
      cacheDir,
      configs: TINY_CONFIGS,
      components: ['textEncoder'],
      optimizedModelCache: false,
    });
    try {
      const w = m.report.weights.textEncoder!;
      expect([w.cache, w.convertedTensors > 0]).toEqual(['miss', true]);
      expect(relDiff(await runLoaded(m, 'textEncoder'), firstOut.textEncoder!)).toBeLessThan(1e-6);
    } finally {
      await m.release();
    }
  });

  it('an fp32 checkpoint for an fp16 text encoder converts to fp16 (and matches a cast in-graph)', async () => {
    // An app data dir reached through a symlink (a moved profile folder) works as well.
    const linkedCache = join(work, 'linked-app-data');
    await symlink(tempDir('real-app-data'), linkedCache);
    const m = await loadModelSessions(TINY_LDM_PATH, {
      cacheDir: linkedCache,
      configs: TINY_CONFIGS,
      components: ['textEncoder'],
      dtype: 'float16',
      optimizedModelCache: false,
    });
    try {
      const w = m.report.weights.textEncoder!;
      expect([w.mode, w.computeDType, w.cache]).toEqual(['converted', 'float16', 'miss']);
      expect(w.file).toMatch(/real-app-data-[^/]+\/weights\//);
      expect(w.convertedTensors).toBeGreaterThan(80);
      const out = await runLoaded(m, 'textEncoder');
      expect(out.dtype).toBe('float16');
      expect(
        relDiff(out, await directOutput(TINY_LDM_PATH, 'textEncoder', 'float16')),
      ).toBeLessThan(2e-3);
    } finally {
      await m.release();
    }
  });
});

describe('FileHashIndex', () => {
  it('hashes a file once per path, size and mtime, and follows symlinks', async () => {
    const dir = tempDir('hash');
    const file = join(dir, 'w.safetensors');
    await writeFile(file, 'some weights');
    const want = await sha256OfFile(file);
    expect(want).toBe(createHash('sha256').update('some weights').digest('hex'));
    const index = new FileHashIndex(join(dir, 'cache'));
    const a = await index.identify(file);
    expect([a.sha256, a.computed]).toEqual([want, true]);
    expect((await index.identify(file)).computed).toBe(false);
    // A later launch (a new index object over the same directory) still knows it.
    const again = new FileHashIndex(join(dir, 'cache'));
    await symlink(file, join(dir, 'link.safetensors'));
    const viaLink = await again.identify(join(dir, 'link.safetensors'));
    expect([viaLink.sha256, viaLink.computed, viaLink.path]).toEqual([want, false, file]);
    // Same size, new content and mtime: hashed again.
    await writeFile(file, 'other weight');
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    const changed = await again.identify(file);
    expect(changed.computed).toBe(true);
    expect(changed.sha256).not.toBe(want);
    expect(changed.sha256).toBe(await sha256OfFile(file));
    // A hash known from a verified download is trusted as long as size and mtime hold.
    const known = 'ab'.repeat(32);
    await again.record(file, known);
    expect(await again.identify(file)).toMatchObject({ sha256: known, computed: false });
    await expect(again.record(file, 'XYZ')).rejects.toThrow(/64 lowercase hex digits, got 'XYZ'/);
  });
});

describe('writeSafetensorsStreaming', () => {
  it('writes a valid file tensor by tensor, and leaves nothing behind when a tensor is wrong', async () => {
    const dir = tempDir('stream');
    const path = join(dir, 'out.safetensors');
    const values = Float32Array.from([1, 2, 3, 4, 5, 6]);
    await writeSafetensorsStreaming(
      path,
      [
        {
          name: 'b',
          dtype: 'float32',
          shape: [2, 3],
          produce: async () => new Uint8Array(values.buffer),
        },
        { name: 'a', dtype: 'float16', shape: [1], produce: async () => new Uint8Array([0, 0x3c]) },
      ],
      { note: 'x' },
    );
    const f = await openSafetensors(path);
    try {
      expect(f.names()).toEqual(['a', 'b']);
      expect(f.metadata).toEqual({ note: 'x' });
      expect(Array.from(await f.readFloat32('b'))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(await f.readFloat32('a'))).toEqual([1]);
    } finally {
      await f.close();
    }
    const bad = join(dir, 'bad.safetensors');
    await expect(
      writeSafetensorsStreaming(
        bad,
        [{ name: 'w', dtype: 'float32', shape: [4], produce: async () => new Uint8Array(8) }],
        {},
      ),
    ).rejects.toThrow("tensor 'w': float32 [4] needs 16 bytes, got 8");
    expect(await readdir(dir)).toEqual(['out.safetensors']);
    expect(existsSync(bad)).toBe(false);
    expect((await readFile(path)).byteLength).toBeGreaterThan(24);
  });
});
