import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trainingConfigSchema } from '../../core/api.js';
import { openStore, type Store } from '../../core/store/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

const config = trainingConfigSchema.parse({ rank: 8 });
const params = {
  prompt: 'a cat',
  negativePrompt: '',
  sampler: 'euler' as const,
  steps: 20,
  cfgScale: 7,
  width: 512,
  height: 512,
  clipSkip: 1,
  loras: [],
};

describe('repositories', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = makeTempDir();
    store = openStore(dir);
  });
  afterEach(() => {
    store.close();
    removeDir(dir);
  });

  it('models: add, get, list by kind, update, remove; paths are unique', () => {
    const m = store.models.add({
      kind: 'checkpoint',
      family: 'sd15',
      name: 'base',
      path: '/m/base.safetensors',
      sizeBytes: 10,
      metadata: { source: 'test' },
    });
    store.models.add({
      kind: 'lora',
      family: 'sd15',
      name: 'l',
      path: '/m/l.safetensors',
      sizeBytes: 1,
    });
    expect(m).toMatchObject({
      id: 1,
      kind: 'checkpoint',
      hashes: {},
      metadata: { source: 'test' },
    });
    expect(store.models.getByPath('/m/base.safetensors')?.id).toBe(m.id);
    expect(store.models.list()).toHaveLength(2);
    expect(store.models.list({ kind: 'lora' }).map((x) => x.name)).toEqual(['l']);
    expect(store.models.update(m.id, { hashes: { sha256: 'ab' }, name: 'renamed' })).toMatchObject({
      name: 'renamed',
      hashes: { sha256: 'ab' },
      family: 'sd15',
    });
    expect(store.models.update(999, { name: 'x' })).toBeUndefined();
    expect(() =>
      store.models.add({
        kind: 'vae',
        family: 'sd15',
        name: 'dup',
        path: '/m/base.safetensors',
        sizeBytes: 0,
      }),
    ).toThrow(/UNIQUE/);
    expect(store.models.remove(m.id)).toBe(true);
    expect(store.models.remove(m.id)).toBe(false);
    expect(store.models.get(m.id)).toBeUndefined();
  });

  it('datasets: create, counts, update, remove cascades to images', () => {
    const d = store.datasets.create({ name: 'cats', description: 'my cat' });
    expect(d).toMatchObject({ name: 'cats', description: 'my cat', imageCount: 0 });
    store.images.addMany(d.id, [
      { path: '/d/1.png', caption: 'a cat' },
      { path: '/d/2.png', flags: { excluded: true } },
      { path: '/d/3.png' },
    ]);
    expect(store.datasets.get(d.id)).toMatchObject({
      imageCount: 3,
      excludedCount: 1,
      captionedCount: 1,
    });
    expect(store.datasets.getByName('cats')?.id).toBe(d.id);
    expect(store.datasets.update(d.id, { description: 'new' })).toMatchObject({
      name: 'cats',
      description: 'new',
    });
    expect(store.datasets.list().map((x) => x.name)).toEqual(['cats']);
    expect(store.datasets.remove(d.id)).toBe(true);
    expect(store.images.list(d.id).total).toBe(0);
    expect(store.datasets.get(d.id)).toBeUndefined();
  });

  it('images: add, filter, page, update caption and flags, remove', () => {
    const d = store.datasets.create({ name: 'set' });
    const [a, b] = store.images.addMany(d.id, [
      { path: '/x/a.png', caption: 'tag1, tag2', width: 512, height: 768, hash: 'ff00' },
      { path: '/x/b.png' },
    ]);
    expect(a).toMatchObject({
      datasetId: d.id,
      caption: 'tag1, tag2',
      flags: { excluded: false, keep: false },
      width: 512,
      height: 768,
      hash: 'ff00',
    });
    expect(store.images.list(d.id, { filter: 'uncaptioned' }).items.map((i) => i.id)).toEqual([
      b.id,
    ]);
    const page = store.images.list(d.id, { offset: 1, limit: 1 });
    expect(page).toMatchObject({ total: 2, items: [{ id: b.id }] });

    const updated = store.images.update(b.id, { caption: 'new', flags: { excluded: true } });
    expect(updated).toMatchObject({ caption: 'new', flags: { excluded: true, keep: false } });
    expect(store.images.update(b.id, { flags: { keep: true } })?.flags).toEqual({
      excluded: true,
      keep: true,
    });
    expect(store.images.list(d.id, { filter: 'excluded' }).total).toBe(1);
    expect(store.images.list(d.id, { filter: 'included' }).items.map((i) => i.id)).toEqual([a.id]);
    expect(store.images.update(12345, { caption: 'x' })).toBeUndefined();
    // One path once per dataset; a failing batch inserts nothing.
    expect(() =>
      store.images.addMany(d.id, [{ path: '/x/c.png' }, { path: '/x/a.png' }]),
    ).toThrow();
    expect(store.images.list(d.id).total).toBe(2);
    expect(store.images.remove(a.id)).toBe(true);
    expect(store.images.get(a.id)).toBeUndefined();
  });

  it('runs: create draft, steps, update lifecycle, remove', () => {
    const d = store.datasets.create({ name: 'set' });
    const m = store.models.add({
      kind: 'checkpoint',
      family: 'sd15',
      name: 'b',
      path: '/b',
      sizeBytes: 0,
    });
    const run = store.runs.create({ name: 'first', datasetId: d.id, baseModelId: m.id, config });
    expect(run).toMatchObject({ status: 'draft', config: { rank: 8 }, lastStep: null });
    store.runs.recordSteps(run.id, [
      { step: 1, loss: 0.5, lr: 1e-4 },
      { step: 2, loss: 0.4, lr: 1e-4 },
    ]);
    // A resume may rewrite a step.
    store.runs.recordSteps(run.id, [{ step: 2, loss: 0.3, lr: 1e-4 }]);
    expect(store.runs.steps(run.id).map((s) => [s.step, s.loss])).toEqual([
      [1, 0.5],
      [2, 0.3],
    ]);
    expect(store.runs.steps(run.id, { fromStep: 2 })).toHaveLength(1);
    expect(store.runs.get(run.id)).toMatchObject({ lastStep: 2, lastLoss: 0.3 });

    const started = new Date().toISOString();
    expect(store.runs.update(run.id, { status: 'running', startedAt: started })).toMatchObject({
      status: 'running',
      startedAt: started,
    });
    expect(store.runs.list({ status: 'running' })).toHaveLength(1);
    expect(store.runs.list({ datasetId: d.id + 1 })).toHaveLength(0);
    expect(() => store.runs.update(run.id, { status: 'bogus' as never })).toThrow(/CHECK/);

    // Deleting the base model keeps the run (its config says what it was trained on).
    store.models.remove(m.id);
    expect(store.runs.get(run.id)?.baseModelId).toBeNull();
    expect(store.runs.remove(run.id)).toBe(true);
    expect(store.runs.steps(run.id)).toEqual([]);
  });

  it('artifacts: add, list by run, survive their run, remove', () => {
    const run = store.runs.create({ name: 'r', datasetId: null, baseModelId: null, config });
    const a = store.artifacts.add({
      runId: run.id,
      name: 'cat.safetensors',
      path: '/out/cat.safetensors',
      sizeBytes: 1234,
      metadata: { ss_network_dim: '8' },
    });
    store.artifacts.add({
      runId: null,
      name: 'other',
      path: '/out/other.safetensors',
      sizeBytes: 1,
    });
    expect(store.artifacts.list({ runId: run.id })).toEqual([a]);
    expect(store.artifacts.list()).toHaveLength(2);
    store.runs.remove(run.id);
    expect(store.artifacts.get(a.id)?.runId).toBeNull();
    expect(store.artifacts.remove(a.id)).toBe(true);
    expect(store.artifacts.list()).toHaveLength(1);
  });

  it('generations: add, list newest first with total, remove', () => {
    const m = store.models.add({
      kind: 'checkpoint',
      family: 'sd15',
      name: 'b',
      path: '/b',
      sizeBytes: 0,
    });
    const g1 = store.generations.add({ modelId: m.id, filePath: '/o/1.png', seed: 1, params });
    const g2 = store.generations.add({
      modelId: null,
      filePath: '/o/2.png',
      seed: 4294967295,
      params,
    });
    const all = store.generations.list();
    expect(all.total).toBe(2);
    expect(all.items.map((g) => g.id)).toEqual([g2.id, g1.id]);
    expect(store.generations.list({ modelId: m.id }).items).toEqual([g1]);
    expect(store.generations.list({ limit: 1 }).items).toHaveLength(1);
    expect(store.generations.get(g2.id)).toMatchObject({
      seed: 4294967295,
      params: { prompt: 'a cat' },
    });
    expect(store.generations.remove(g1.id)).toBe(true);
    expect(store.generations.get(g1.id)).toBeUndefined();
  });

  it('settings: defaults, update, reset, and invalid stored values fall back', () => {
    expect(store.settings.getAll()).toMatchObject({ theme: 'system', executionProvider: 'auto' });
    expect(store.settings.update({ theme: 'dark', modelDirs: ['/models'] })).toMatchObject({
      theme: 'dark',
      modelDirs: ['/models'],
    });
    expect(() => store.settings.update({ bogus: 1 } as never)).toThrow(/unknown setting "bogus"/);
    store.db.prepare("UPDATE settings SET value = '\"neon\"' WHERE key = 'theme'").run();
    expect(store.settings.getAll().theme).toBe('system');
    expect(store.settings.reset('modelDirs').modelDirs).toEqual([]);
    store.settings.update({ executionProvider: 'cpu' });
    expect(store.settings.reset().executionProvider).toBe('auto');
  });
});
