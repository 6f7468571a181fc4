import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import { attr, type Graph } from '../../core/graph/ir.js';
import {
  cacheKey,
  OptimizedModelCache,
  Session,
  writeModel,
  type HostTensor,
} from '../../core/onnx/index.js';
import { f32bytes, mlpGraph, mlpReference, randomFloats } from './helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-cache-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const fresh = (): string => {
  const d = path.join(root, `d${++dirs}`);
  fs.mkdirSync(d);
  return d;
};
const entries = (dir: string): string[] => fs.readdirSync(dir);
const onlyEntry = (dir: string): string => {
  const keys = entries(dir).filter((n) => /^[0-9a-f]{64}$/.test(n));
  expect(keys).toHaveLength(1);
  return path.join(dir, keys[0]);
};
const floats = (t: HostTensor): number[] => Array.from(t.data as Float32Array);

// A small graph with work for the optimizer: Conv + a written-out normalisation + SiLU.
function convGraph(blocks: number, ch: number, seed = 1): Graph {
  const g = new GraphBuilder('conv');
  let x = g.input('x', 'float32', [1, ch, 8, 8]);
  for (let i = 0; i < blocks; i++) {
    const w = g.initializer(
      `w${i}`,
      'float32',
      [ch, ch, 3, 3],
      f32bytes(randomFloats(ch * ch * 9, seed + i).map((v) => v / 10)),
    );
    const y = g.op('Conv', [x, w], { pads: attr.ints([1, 1, 1, 1]) });
    const d = g.op('Sub', [y, g.op('ReduceMean', [y, g.ints([1])])]);
    const v = g.op('ReduceMean', [g.op('Mul', [d, d]), g.ints([1])]);
    const n = g.op('Div', [d, g.op('Sqrt', [g.op('Add', [v, g.constant(1e-5)])])]);
    x = g.op('Mul', [n, g.op('Sigmoid', [n])]);
  }
  g.output(x, 'y');
  return g.build();
}
const convFeed = (ch: number) => ({
  x: { dtype: 'float32' as const, shape: [1, ch, 8, 8], data: randomFloats(ch * 64, 99) },
});

describe('optimized-model disk cache', () => {
  it('cold start writes an entry, warm start loads it and computes the same (timings logged)', async () => {
    const size = 512;
    const layers = Array.from({ length: 50 }, (_, i) => ({
      w: randomFloats(size * size, i + 1).map((v) => v / 16),
      b: randomFloats(size, 100 + i),
    }));
    const g = mlpGraph(50, size, (i) => ({ w: f32bytes(layers[i].w), b: f32bytes(layers[i].b) }));
    const dir = fresh();
    const x = randomFloats(2 * size, 7);
    const feeds = { x: { dtype: 'float32' as const, shape: [2, size], data: x } };
    const plain = await Session.create(g);
    const cold = await Session.create(g, { cache: dir });
    const warm = await Session.create(g, { cache: dir });
    const keyed = await Session.create(g, { cache: { dir, key: 'mlp-50x512' } });
    const keyedWarm = await Session.create(g, { cache: { dir, key: 'mlp-50x512' } });
    expect([
      plain.info.cache,
      cold.info.cache,
      warm.info.cache,
      keyed.info.cache,
      keyedWarm.info.cache,
    ]).toEqual(['off', 'miss', 'hit', 'miss', 'hit']);
    const ms = (s: Session) => s.info.createMs.toFixed(0);
    console.log(
      `session creation, 50×(MatMul+Add) 512², 52.5 MB fp32: no cache ${ms(plain)} ms, cold+write ${ms(cold)} ms, ` +
        `warm (model hashed) ${ms(warm)} ms, warm (caller key) ${ms(keyedWarm)} ms`,
    );
    const ref = mlpReference(x, size, layers);
    const want = floats((await plain.run(feeds)).y);
    want.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 2));
    for (const s of [cold, warm, keyedWarm]) expect(floats((await s.run(feeds)).y)).toEqual(want);
    await Promise.all([plain, cold, warm, keyed, keyedWarm].map((s) => s.release()));
    const entry = path.join(dir, entries(dir).filter((n) => !n.startsWith('.'))[0]);
    expect(entries(entry).sort()).toEqual(['manifest.json', 'model.onnx', 'weights.bin']);
    expect(entries(dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('pays off where the optimizer has work: a conv graph (timings logged)', async () => {
    const g = convGraph(12, 64);
    const dir = fresh();
    const cold = await Session.create(g, { cache: { dir, key: 'conv' } });
    const warm = await Session.create(g, { cache: { dir, key: 'conv' } });
    console.log(
      `session creation, 12×(Conv 64ch + norm + SiLU): cold+write ${cold.info.createMs.toFixed(0)} ms, warm ${warm.info.createMs.toFixed(0)} ms`,
    );
    expect(warm.info.cache).toBe('hit');
    expect(floats((await warm.run(convFeed(64))).y)).toEqual(
      floats((await cold.run(convFeed(64))).y),
    );
    await Promise.all([cold.release(), warm.release()]);
  });

  it('keys on model bytes, EP, optimization level and external data identity', () => {
    const base = {
      model: new Uint8Array([1, 2, 3]),
      externalData: '',
      ep: 'cpu',
      ortVersion: '1.30.0',
      optimizationLevel: 'all',
    };
    const k = cacheKey(base);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...base })).toBe(k);
    for (const change of [
      { model: new Uint8Array([1, 2, 4]) },
      { externalData: 'file:w.bin:/m/w.bin:10:5' },
      { ep: 'cuda' },
      { deviceId: 1 },
      { ortVersion: '1.31.0' },
      { optimizationLevel: 'extended' },
      { model: 'caller-key' },
    ]) {
      expect(cacheKey({ ...base, ...change })).not.toBe(k);
    }
  });

  it('an optimized model with file external data finds its weights — and stands alone', async () => {
    const dir = fresh();
    const modelDir = fresh();
    const wFile = path.join(modelDir, 'w.safetensors');
    const build = (): Graph => {
      const g = new GraphBuilder('ext');
      const x = g.input('x', 'float32', [1, 256]);
      const w = g.initializer('w', 'float32', [256, 256], {
        location: 'w.safetensors',
        offset: 64,
        length: 256 * 256 * 4,
      });
      g.output(g.op('MatMul', [x, w]), 'y');
      return g.build();
    };
    const write = (seed: number) =>
      fs.writeFileSync(
        wFile,
        Buffer.concat([Buffer.alloc(64), f32bytes(randomFloats(256 * 256, seed))]),
      );
    const feeds = { x: { dtype: 'float32' as const, shape: [1, 256], data: randomFloats(256, 5) } };
    write(1);
    const cold = await Session.create(build(), { modelDir, cache: dir });
    const want = floats((await cold.run(feeds)).y);
    const warm = await Session.create(build(), { modelDir, cache: dir });
    expect(warm.info.cache).toBe('hit');
    expect(floats((await warm.run(feeds)).y)).toEqual(want);
    // New weights (same size, new mtime) → a new key, and the new values.
    await new Promise((r) => setTimeout(r, 20));
    write(2);
    const changed = await Session.create(build(), { modelDir, cache: dir });
    expect(changed.info.cache).toBe('miss');
    expect(floats((await changed.run(feeds)).y)).not.toEqual(want);
    await Promise.all([cold.release(), warm.release(), changed.release()]);
    // With a caller-provided identity the entry no longer needs the original file at all.
    const hashed = { dir, externalDataHash: 'sha256-of-checkpoint' };
    await (await Session.create(build(), { modelDir, cache: hashed })).release();
    fs.rmSync(wFile);
    const alone = await Session.create(build(), { modelDir, cache: hashed });
    expect(alone.info.cache).toBe('hit');
    expect(floats((await alone.run(feeds)).y)).not.toEqual(want); // seed-2 weights, from the cache
    await alone.release();
  });

  it('in-memory external data: hashed into the key, or skipped on warm start with a provided hash', async () => {
    const dir = fresh();
    const g = new GraphBuilder('mem');
    const x = g.input('x', 'float32', [1, 64]);
    g.output(
      g.op('MatMul', [
        x,
        g.initializer('w', 'float32', [64, 64], {
          location: 'virtual.bin',
          offset: 0,
          length: 64 * 64 * 4,
        }),
      ]),
      'y',
    );
    const graph = g.build();
    const data = (seed: number) => [
      { path: 'virtual.bin', data: f32bytes(randomFloats(64 * 64, seed)) },
    ];
    const feeds = { x: { dtype: 'float32' as const, shape: [1, 64], data: randomFloats(64, 3) } };
    const a = await Session.create(graph, { externalData: data(1), cache: dir });
    const a2 = await Session.create(graph, { externalData: data(1), cache: dir });
    const b = await Session.create(graph, { externalData: data(2), cache: dir });
    expect([a.info.cache, a2.info.cache, b.info.cache]).toEqual(['miss', 'hit', 'miss']);
    const want = floats((await a.run(feeds)).y);
    expect(floats((await a2.run(feeds)).y)).toEqual(want);
    const opts = { cache: { dir, externalDataHash: 'weights-v1' } };
    const c = await Session.create(graph, { ...opts, externalData: data(1) });
    const warmNoData = await Session.create(graph, opts);
    expect([c.info.cache, warmNoData.info.cache]).toEqual(['miss', 'hit']);
    expect(floats((await warmNoData.run(feeds)).y)).toEqual(want);
    await Promise.all([a, a2, b, c, warmNoData].map((s) => s.release()));
  });

  it('detects corrupt or incomplete entries, deletes and rebuilds them', async () => {
    const g = convGraph(2, 8);
    const dir = fresh();
    const opts = { cache: { dir, key: 'c' } };
    const ref = await Session.create(g);
    const want = floats((await ref.run(convFeed(8))).y);
    await ref.release();
    const check = async (expected: RegExp) => {
      const s = await Session.create(g, opts);
      expect(s.info.cache).toBe('rebuilt');
      expect(s.info.cacheNote).toMatch(expected);
      expect(floats((await s.run(convFeed(8))).y)).toEqual(want);
      await s.release();
      const again = await Session.create(g, opts);
      expect(again.info.cache).toBe('hit');
      await again.release();
    };
    await (await Session.create(g, opts)).release();
    const entry = onlyEntry(dir);
    const modelFile = path.join(entry, 'model.onnx');
    // 1. Bytes flipped in the graph file: its sha256 no longer matches.
    const bytes = fs.readFileSync(modelFile);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(modelFile, bytes);
    await check(/model\.onnx does not match its sha256/);
    // 2. Truncated weights.
    fs.truncateSync(path.join(entry, 'weights.bin'), 100);
    await check(/weights\.bin is 100 bytes/);
    // 3. An interrupted write: no manifest.
    fs.rmSync(path.join(entry, 'manifest.json'));
    await check(/no readable manifest/);
    // 4. Files consistent with the manifest, but not a model ORT can load.
    const junk = Buffer.from('not a model at all');
    fs.writeFileSync(modelFile, junk);
    const manifestFile = path.join(entry, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    manifest.files['model.onnx'] = {
      size: junk.length,
      sha256: createHash('sha256').update(junk).digest('hex'),
    };
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    await check(/cached model failed to load/);
  });

  it('publishes atomically: concurrent cold starts leave one entry and no temporaries', async () => {
    const g = convGraph(2, 8, 5);
    const dir = fresh();
    const stale = path.join(dir, '.tmp-1-stale');
    const recent = path.join(dir, '.tmp-2-recent');
    fs.mkdirSync(stale);
    fs.mkdirSync(recent);
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    fs.utimesSync(stale, old, old);
    new OptimizedModelCache(dir);
    expect(entries(dir)).toEqual(['.tmp-2-recent']); // a crashed writer's leftovers go, a live one's stay
    fs.rmSync(recent, { recursive: true });
    const [a, b] = await Promise.all([
      Session.create(g, { cache: dir }),
      Session.create(g, { cache: dir }),
    ]);
    expect([a.info.cache, b.info.cache].sort()).toEqual(['miss', 'miss']);
    expect(a.info.cacheNote ?? b.info.cacheNote).toBeUndefined();
    onlyEntry(dir);
    expect(entries(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    const c = await Session.create(g, { cache: dir });
    expect(c.info.cache).toBe('hit');
    await Promise.all([a.release(), b.release(), c.release()]);
  });

  it('serialised bytes and file paths are cached too', async () => {
    const g = convGraph(1, 4, 9);
    const dir = fresh();
    const file = path.join(fresh(), 'm.onnx');
    fs.writeFileSync(file, writeModel(g));
    const statuses: string[] = [];
    for (const model of [writeModel(g), writeModel(g), file, file]) {
      const s = await Session.create(model, { cache: dir });
      statuses.push(s.info.cache);
      await s.release();
    }
    // Same bytes → same key, whether handed over or read from the file.
    expect(statuses).toEqual(['miss', 'hit', 'hit', 'hit']);
  });

  it('runs uncached when ORT cannot save the optimized model (e.g. compiled EP partitions)', async () => {
    const g = convGraph(1, 4, 11);
    const dir = fresh();
    // Have ORT write into a directory that does not exist: its save fails during creation.
    const spy = vi
      .spyOn(OptimizedModelCache.prototype, 'store')
      .mockImplementation(async (_key, produce) => ({
        value: await produce(path.join(dir, 'missing', 'model.onnx'), 'weights.bin'),
        stored: true,
      }));
    try {
      const s = await Session.create(g, { cache: dir });
      expect(s.info.cache).toBe('miss');
      expect(s.info.cacheNote).toMatch(/optimized model could not be saved on cpu/);
      expect((await s.run(convFeed(4))).y.shape).toEqual([1, 4, 8, 8]);
      await s.release();
    } finally {
      spy.mockRestore();
    }
  });
});
