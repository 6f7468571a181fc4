// The LoRA library and history methods on the service (pipeline injected: a double that writes
// real PNGs): LoRA details with their run, grids as jobs saved in the data dir, Copy to…,
// the Civitai export, history search, and the settings generation follows.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trainingConfigSchema } from '../../core/api.js';
import { readUserComment } from '../../core/library/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { TINY_SD, writeLoraWithMetadata } from '../library/lora-fixture.js';
import { fakeGenerate, solidPng, type FakeGenerate } from './fake-generate.js';

let dir: string;
let service: ApiService;
let fake: FakeGenerate;

beforeEach(() => {
  dir = makeTempDir();
  fake = fakeGenerate();
  service = createApiService({ dataDir: dir, generate: fake.fn });
});
afterEach(() => {
  service.close();
  removeDir(dir);
});

const fail = async (method: string, input: unknown) => {
  const out = await service.dispatch(method, input);
  if (out.ok) throw new Error(`${method} unexpectedly succeeded`);
  return out.error;
};

async function waitForJob(jobId: string) {
  for (;;) {
    const job = await service.call('jobs.get', { jobId });
    if (['done', 'error', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function addLora(name = 'cats') {
  const file = writeLoraWithMetadata(path.join(dir, 'loras', `${name}.safetensors`));
  return service.call('models.add', { path: file });
}
const addCheckpoint = () => service.call('models.add', { path: TINY_SD, kind: 'checkpoint' });

describe('library.loras / library.lora', () => {
  it('shows facts, tag frequency, trigger words and the run that exported the file', async () => {
    const lora = await addLora();
    const ckpt = await addCheckpoint();
    const { store } = service;
    const ds = store.datasets.create({ name: 'cats' });
    const run = store.runs.create({
      name: 'cats v1',
      datasetId: ds.id,
      baseModelId: ckpt.id,
      config: trainingConfigSchema.parse({}),
    });
    store.artifacts.add({ runId: run.id, name: 'cats', path: lora.path, sizeBytes: 1 });

    const [entry] = await service.call('library.loras', {});
    expect(entry).toMatchObject({
      model: { id: lora.id },
      run: { id: run.id, name: 'cats v1', status: 'draft' },
      triggerWords: ['cat', 'sitting', 'orange fur', 'dog', 'grass'],
    });
    const details = await service.call('library.lora', { id: lora.id });
    expect(details.facts.find((f) => f.label === 'Epochs')?.value).toBe('3');
    expect(details.tagFrequency[0]).toEqual({ tag: 'cat', count: 10 });
    expect(details.samples).toEqual([]);
    expect((await fail('library.lora', { id: ckpt.id })).message).toMatch(
      /is a checkpoint, not a lora/,
    );
    expect((await fail('library.lora', { id: 999 })).code).toBe('not_found');
  });
});

describe('run samples', () => {
  it('lists a run’s samples by step, serves them, and exports the newest as the preview', async () => {
    const lora = await addLora();
    const ckpt = await addCheckpoint();
    const { store } = service;
    const run = store.runs.create({
      name: 'cats v2',
      datasetId: store.datasets.create({ name: 'd' }).id,
      baseModelId: ckpt.id,
      config: trainingConfigSchema.parse({}),
    });
    store.artifacts.add({ runId: run.id, name: 'cats', path: lora.path, sizeBytes: 1 });
    const samplesDir = path.join(dir, 'runs', String(run.id), 'samples');
    fs.mkdirSync(samplesDir, { recursive: true });
    const at = new Date().toISOString();
    const png = (w: number) => solidPng(w, w);
    fs.writeFileSync(path.join(samplesDir, 's100.png'), await png(16));
    fs.writeFileSync(path.join(samplesDir, 's200.png'), await png(24));
    fs.writeFileSync(
      path.join(samplesDir, 'index.json'),
      JSON.stringify({
        version: 1,
        rounds: [
          { step: 100, createdAt: at, images: [{ file: 's100.png', prompt: 'a cat' }] },
          { step: 200, createdAt: at, images: [{ file: 's200.png', prompt: 'a cat' }] },
        ],
      }),
    );
    const details = await service.call('library.lora', { id: lora.id });
    expect(details.samples.map((s) => [s.step, s.index, s.prompt])).toEqual([
      [100, 0, 'a cat'],
      [200, 1, 'a cat'],
    ]);
    const img = await service.call('library.image', { loraId: lora.id, sample: 1 });
    expect((await sharp(Buffer.from(img.data, 'base64')).metadata()).width).toBe(24);
    expect((await fail('library.image', { loraId: lora.id, sample: 2 })).code).toBe('not_found');
    const out = await service.call('library.exportCivitai', {
      id: lora.id,
      folder: path.join(dir, 'export'),
    });
    expect((await sharp(out.preview!).metadata()).width).toBe(24);
    expect(JSON.parse(fs.readFileSync(out.json, 'utf8')).run).toEqual({
      id: run.id,
      name: 'cats v2',
    });
  });
});

describe('library.renderGrid', () => {
  it('renders a strength sweep as a job, saves it and serves its images', async () => {
    const lora = await addLora();
    const ckpt = await addCheckpoint();
    const { jobId } = await service.call('library.renderGrid', {
      id: lora.id,
      kind: 'strength-sweep',
      checkpointId: ckpt.id,
      prompts: ['a cat', 'a dog'],
      strengths: [0, 1],
      seed: 5,
      steps: 2,
      width: 64,
      height: 64,
    });
    const job = await waitForJob(jobId);
    expect(job).toMatchObject({ status: 'done', kind: 'eval', progress: 1 });
    expect(fake.calls.map((c) => [c.prompt, c.seed, c.loras[0]?.strength])).toEqual([
      ['a cat', 5, 0],
      ['a cat', 5, 1],
      ['a dog', 5, 0],
      ['a dog', 5, 1],
    ]);
    const { grids } = await service.call('library.lora', { id: lora.id });
    expect(grids).toHaveLength(1);
    expect(grids[0]).toMatchObject({ kind: 'strength-sweep', prompts: ['a cat', 'a dog'] });
    const sheet = await service.call('library.image', { gridId: grids[0].id });
    const meta = await sharp(Buffer.from(sheet.data, 'base64')).metadata();
    expect([meta.width, meta.height]).toEqual([grids[0].width, grids[0].height]);
    expect(await service.gridImagePath(grids[0].id, 3)).toMatch(/cell-3\.png$/);
    expect((await fail('library.image', { gridId: grids[0].id, cell: 4 })).code).toBe('not_found');
  });

  it('uses the default checkpoint, and says how to set one when there is none', async () => {
    const lora = await addLora();
    const input = {
      id: lora.id,
      kind: 'before-after',
      prompts: ['x'],
      steps: 1,
      width: 64,
      height: 64,
    };
    expect((await fail('library.renderGrid', input)).message).toMatch(
      /checkpointId: give a checkpoint \(no default checkpoint is set/,
    );
    const ckpt = await addCheckpoint();
    await service.call('models.setDefault', { id: ckpt.id });
    const { jobId } = await service.call('library.renderGrid', input as never);
    expect((await waitForJob(jobId)).status).toBe('done');
    expect(fake.calls.map((c) => [c.modelPath, c.loras.length])).toEqual([
      [TINY_SD, 0],
      [TINY_SD, 1],
    ]);
  });
});

describe('Copy to… and Export for Civitai', () => {
  it('copies only into configured LoRA folders (A1111 install or a Lora folder)', async () => {
    const lora = await addLora();
    const webui = path.join(dir, 'webui');
    fs.mkdirSync(path.join(webui, 'models', 'Stable-diffusion'), { recursive: true });
    fs.mkdirSync(path.join(webui, 'models', 'Lora'), { recursive: true });
    await service.call('settings.set', { modelDirs: [webui] });
    const targets = await service.call('library.copyTargets', {});
    expect(targets).toEqual([{ path: path.join(webui, 'models', 'Lora'), layout: 'a1111' }]);
    const out = await service.call('library.copyTo', { id: lora.id, folder: targets[0].path });
    expect(out.path).toBe(path.join(webui, 'models', 'Lora', 'cats.safetensors'));
    expect((await fail('library.copyTo', { id: lora.id, folder: targets[0].path })).code).toBe(
      'conflict',
    );
    const err = await fail('library.copyTo', { id: lora.id, folder: dir });
    expect(err.message).toContain(`is not a configured LoRA folder (valid: ${targets[0].path})`);
  });

  it('exports the file, a preview from the newest grid and the card', async () => {
    const lora = await addLora();
    const ckpt = await addCheckpoint();
    const { jobId } = await service.call('library.renderGrid', {
      id: lora.id,
      kind: 'before-after',
      checkpointId: ckpt.id,
      prompts: ['a cat'],
      steps: 1,
      width: 64,
      height: 64,
    });
    await waitForJob(jobId);
    const folder = path.join(dir, 'export');
    const out = await service.call('library.exportCivitai', { id: lora.id, folder });
    expect(out.preview).toBe(path.join(folder, 'cats.preview.png'));
    expect((await sharp(out.preview!).metadata()).width).toBe(64);
    expect(out.triggerWords.slice(0, 2)).toEqual(['cat', 'sitting']);
    expect(fs.readFileSync(out.markdown, 'utf8')).toContain('## Trigger words');
    expect((await fail('library.exportCivitai', { id: lora.id, folder })).code).toBe('conflict');
    await service.call('library.exportCivitai', { id: lora.id, folder, overwrite: true });
  });
});

describe('generations.search', () => {
  it('searches prompts, filters by model and LoRA, pages newest first', async () => {
    const lora = await addLora();
    const ckpt = await addCheckpoint();
    const add = (
      prompt: string,
      loras: { path: string; strength: number }[] = [],
      modelId: number | null = null,
    ) =>
      service.store.generations.add({
        modelId,
        filePath: path.join(dir, `${prompt}.png`),
        seed: 1,
        params: {
          prompt,
          negativePrompt: '',
          sampler: 'euler',
          steps: 1,
          cfgScale: 7,
          width: 64,
          height: 64,
          clipSkip: 1,
          loras,
        },
      });
    add('a red fox');
    add('100% fox_tail', [{ path: lora.path, strength: 0.8 }], ckpt.id);
    add('a blue bird', [], ckpt.id);
    const prompts = (r: { items: { params: { prompt: string } }[] }) =>
      r.items.map((g) => g.params.prompt);
    expect(prompts(await service.call('generations.search', { query: 'FOX' }))).toEqual([
      '100% fox_tail',
      'a red fox',
    ]);
    // LIKE wildcards in the query are literal characters.
    expect(prompts(await service.call('generations.search', { query: '0%' }))).toEqual([
      '100% fox_tail',
    ]);
    expect(prompts(await service.call('generations.search', { query: 'x_t' }))).toEqual([
      '100% fox_tail',
    ]);
    expect(prompts(await service.call('generations.search', { loraId: lora.id }))).toEqual([
      '100% fox_tail',
    ]);
    expect(prompts(await service.call('generations.search', { modelId: ckpt.id }))).toEqual([
      'a blue bird',
      '100% fox_tail',
    ]);
    const page = await service.call('generations.search', { limit: 1, offset: 1 });
    expect([page.total, prompts(page)]).toEqual([3, ['100% fox_tail']]);
    expect((await fail('generations.search', { loraId: ckpt.id })).code).toBe('bad_request');
  });
});

describe('settings generation follows', () => {
  it('writes webp with the infotext in EXIF UserComment; png keeps the parameters chunk', async () => {
    const ckpt = await addCheckpoint();
    await service.call('settings.set', { defaultOutputFormat: 'webp' });
    const { jobId } = await service.call('generate.start', {
      modelId: ckpt.id,
      prompt: 'a cat',
      steps: 1,
      width: 64,
      height: 64,
      seed: 3,
    });
    const job = await waitForJob(jobId);
    const [gen] = job.generations;
    expect(gen.filePath).toMatch(/\.webp$/);
    const bytes = fs.readFileSync(gen.filePath);
    expect((await sharp(bytes).metadata()).format).toBe('webp');
    expect(await readUserComment(bytes)).toBe(gen.params.infotext);
    expect(fs.existsSync(gen.filePath.replace(/\.webp$/, '.png'))).toBe(false);
  });

  it('uses the default checkpoint when a request names none, else refuses naming the fix', async () => {
    expect((await fail('generate.start', { prompt: 'a cat' })).message).toMatch(
      /modelId: give modelId \(a registered checkpoint\) or modelPath \(no default checkpoint is set/,
    );
    const ckpt = await addCheckpoint();
    await service.call('models.setDefault', { id: ckpt.id });
    const { jobId } = await service.call('generate.start', {
      prompt: 'a cat',
      steps: 1,
      width: 64,
      height: 64,
    });
    expect((await waitForJob(jobId)).generations[0].modelId).toBe(ckpt.id);
    expect(fake.calls[0].modelPath).toBe(TINY_SD);
  });

  it('refuses invalid values, naming the valid ones', async () => {
    expect((await fail('settings.set', { defaultOutputFormat: 'gif' })).message).toMatch(
      /png.*jpeg.*webp/,
    );
    expect((await fail('settings.set', { cpuThreads: -1 })).message).toMatch(/cpuThreads/);
  });
});
