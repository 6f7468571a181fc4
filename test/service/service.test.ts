// The service behind both transports: validation messages and the rules handlers enforce.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../core/api.js';
import { trainingConfigSchema } from '../../core/api.js';
import { createApiService, ServiceError, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';

describe('api service', () => {
  let dir: string;
  let outside: string;
  let service: ApiService;
  beforeEach(() => {
    dir = makeTempDir();
    outside = makeTempDir();
    service = createApiService({ dataDir: dir });
  });
  afterEach(() => {
    service.close();
    removeDir(dir);
    removeDir(outside);
  });

  const fail = async (method: string, input: unknown) => {
    const out = await service.dispatch(method, input);
    if (out.ok) throw new Error(`${method} unexpectedly succeeded`);
    return out.error;
  };

  it('call() returns typed results and throws ServiceError with a code', async () => {
    const dataset = await service.call('datasets.create', { name: 'typed' });
    expect(dataset.name).toBe('typed');
    const err = await service.call('datasets.get', { id: 424242 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ code: 'not_found', message: 'dataset #424242 does not exist' });
  });

  it('names the bad value and the valid ones', async () => {
    expect(await fail('models.list', { kind: 'embedding' })).toEqual({
      code: 'bad_request',
      message: expect.stringMatching(/kind: .*"checkpoint"\|"vae"\|"lora".*got "embedding"/),
    });
    expect((await fail('images.update', { id: 1 })).message).toMatch(/nothing to update/);
    expect(
      (await fail('models.add', { path: 'relative.safetensors', kind: 'lora' })).message,
    ).toMatch(/path: must be an absolute path/);
    expect((await fail('datasets.create', {})).message).toMatch(/name: .*\(missing\)/);
  });

  it('models.add refuses missing files, pickles, other extensions and bare folders', async () => {
    const ckpt = path.join(dir, 'old.ckpt');
    fs.writeFileSync(ckpt, 'x');
    const txt = path.join(dir, 'notes.txt');
    fs.writeFileSync(txt, 'x');
    const folder = path.join(dir, 'folder');
    fs.mkdirSync(folder);
    expect(
      await fail('models.add', { path: path.join(dir, 'nope.safetensors'), kind: 'lora' }),
    ).toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/no such file/),
    });
    expect((await fail('models.add', { path: ckpt, kind: 'checkpoint' })).message).toMatch(
      /pickled/,
    );
    expect((await fail('models.add', { path: txt, kind: 'vae' })).message).toMatch(
      /"\.txt".*valid: \.safetensors/,
    );
    expect((await fail('models.add', { path: folder, kind: 'checkpoint' })).message).toMatch(
      /model_index\.json/,
    );
    expect((await fail('models.add', { path: folder, kind: 'lora' })).message).toMatch(
      /not a folder/,
    );
  });

  it('models.add accepts a diffusers folder, sizing it, and refuses registering it twice', async () => {
    const folder = path.join(dir, 'sd15-diffusers');
    fs.mkdirSync(path.join(folder, 'unet'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'model_index.json'), '{}');
    fs.writeFileSync(path.join(folder, 'unet', 'w.safetensors'), Buffer.alloc(100));
    const model = await service.call('models.add', { path: folder, kind: 'checkpoint' });
    expect(model).toMatchObject({ name: 'sd15-diffusers', sizeBytes: 102, family: 'unknown' });
    expect(await fail('models.add', { path: folder, kind: 'checkpoint' })).toMatchObject({
      code: 'conflict',
    });
  });

  it('runs.create needs an existing dataset and a checkpoint; runs.remove spares active runs', async () => {
    const dataset = await service.call('datasets.create', { name: 'd' });
    const lora = service.store.models.add({
      kind: 'lora',
      family: 'sd15',
      name: 'l',
      path: '/l.safetensors',
      sizeBytes: 0,
    });
    expect(
      await fail('runs.create', { name: 'r', datasetId: 999, baseModelId: lora.id }),
    ).toMatchObject({ code: 'not_found', message: expect.stringMatching(/^datasetId:/) });
    expect(
      await fail('runs.create', { name: 'r', datasetId: dataset.id, baseModelId: lora.id }),
    ).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/is a lora/) });

    const run = service.store.runs.create({
      name: 'busy',
      datasetId: dataset.id,
      baseModelId: null,
      config: trainingConfigSchema.parse({}),
    });
    service.store.runs.update(run.id, { status: 'running' });
    expect(await fail('runs.remove', { id: run.id })).toMatchObject({ code: 'conflict' });
    service.store.runs.update(run.id, { status: 'cancelled' });
    expect(await service.call('runs.remove', { id: run.id })).toEqual({ id: run.id });
  });

  it('generations.remove deletes files only inside the data dir', async () => {
    const params = {
      prompt: 'p',
      sampler: 'euler' as const,
      steps: 1,
      cfgScale: 1,
      width: 64,
      height: 64,
    };
    const foreign = path.join(outside, 'keep.png');
    fs.writeFileSync(foreign, 'x');
    const own = path.join(dir, 'mine.png');
    fs.writeFileSync(own, 'x');
    const a = service.store.generations.add({
      modelId: null,
      filePath: foreign,
      seed: 1,
      params: { ...params, negativePrompt: '', clipSkip: 1, loras: [] },
    });
    const b = service.store.generations.add({
      modelId: null,
      filePath: own,
      seed: 1,
      params: { ...params, negativePrompt: '', clipSkip: 1, loras: [] },
    });
    expect(await service.call('generations.remove', { id: a.id, deleteFile: true })).toEqual({
      id: a.id,
      fileDeleted: false,
    });
    expect(fs.existsSync(foreign)).toBe(true);
    expect(await service.call('generations.remove', { id: b.id, deleteFile: true })).toEqual({
      id: b.id,
      fileDeleted: true,
    });
    expect(fs.existsSync(own)).toBe(false);
  });

  it('emits a changed event per mutation, and listeners can unsubscribe', async () => {
    const events: ApiEvent[] = [];
    const off = service.onEvent((e) => events.push(e));
    service.onEvent(() => {
      throw new Error('a broken listener does not break the call');
    });
    await service.call('settings.set', { theme: 'light' });
    const dataset = await service.call('datasets.create', { name: 'evt' });
    off();
    await service.call('datasets.remove', { id: dataset.id });
    expect(events.map((e) => e.status === 'changed' && [e.entity, e.ids])).toEqual([
      ['settings', []],
      ['datasets', [dataset.id]],
    ]);
  });
});
