// Every contract method, over the real HTTP transport. The case table is typed by the method
// list, and a runtime check compares it with API_METHOD_NAMES: a new method without a case
// fails both the typecheck and this test.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_METHOD_NAMES,
  apiMethods,
  trainingConfigSchema,
  type ApiInput,
  type ApiMethodName,
  type ApiOutput,
} from '../../core/api.js';
import { startHarness, type Harness } from './harness.js';
import { fakeGenerate, solidPng } from '../service/fake-generate.js';
import { saveQualityReport, saveTextBoxes } from '../../core/service/dataset-results.js';
import { TINY_TAGS_CSV, writeTinyTagger } from '../dataset/caption-models.js';

const TINY_SD = path.resolve('test/fixtures/tiny_sd');
const LORA_FIXTURE = path.resolve('test/fixtures/lora/lora_kohya.safetensors');
// Jobs whose prompt says "hold" wait at their first step until the test ends.
const pipeline = fakeGenerate({ holdAtTick: 1, holdIf: (p) => p.prompt === 'hold' });

async function startJob(h: Harness, prompt: string) {
  return h.service.call('generate.start', {
    modelPath: TINY_SD,
    prompt,
    steps: 2,
    width: 64,
    height: 64,
  });
}

interface Case<M extends ApiMethodName> {
  input(h: Harness): ApiInput<M> | Promise<ApiInput<M>>;
  check(out: ApiOutput<M>, h: Harness): void | Promise<void>;
}

let counter = 0;
let captionDatasetId = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

function seedModel(h: Harness, kind: 'checkpoint' | 'lora' = 'checkpoint') {
  const name = unique('model');
  return h.service.store.models.add({
    kind,
    family: 'sd15',
    name,
    path: path.join(h.dir, `${name}.safetensors`),
    sizeBytes: 0,
  });
}

function seedDataset(h: Harness, images = 0) {
  const dataset = h.service.store.datasets.create({ name: unique('dataset') });
  h.service.store.images.addMany(
    dataset.id,
    Array.from({ length: images }, (_, i) => ({ path: `/images/${i}.png`, caption: `c${i}` })),
  );
  return dataset;
}

const WEBP_LIKE = 'RIFF\0\0\0\0WEBPVP8 ';

/** One imported-looking image row whose working copy and thumbnail are real files. */
function seedImported(h: Harness, extra: { caption?: string } = {}) {
  const dataset = seedDataset(h);
  const name = unique('img');
  const workPath = path.join(h.dir, 'datasets', 'seeded', `${name}.png`);
  const thumbPath = path.join(h.dir, 'datasets', 'seeded', `${name}.webp`);
  fs.mkdirSync(path.dirname(workPath), { recursive: true });
  fs.writeFileSync(workPath, 'png bytes');
  // The thumbnail route serves only WebP files: RIFF….WEBP is all it checks.
  fs.writeFileSync(thumbPath, WEBP_LIKE);
  const [imageId] = h.service.store.images.upsertImported(dataset.id, [
    {
      path: `/src/${name}.png`,
      relPath: `3_cat/${name}.png`,
      workPath,
      thumbPath,
      format: 'png',
      repeats: 3,
      className: 'cat',
      sha256: 'ab'.repeat(32),
      width: 8,
      height: 8,
      caption: extra.caption ?? null,
    },
  ]);
  return { dataset, imageId, name };
}

function seedRun(h: Harness) {
  return h.service.store.runs.create({
    name: unique('run'),
    datasetId: seedDataset(h).id,
    baseModelId: seedModel(h).id,
    config: trainingConfigSchema.parse({}),
  });
}

function seedGeneration(h: Harness) {
  const filePath = path.join(h.dir, `${unique('gen')}.png`);
  fs.writeFileSync(filePath, 'png');
  return h.service.store.generations.add({
    modelId: null,
    filePath,
    seed: 7,
    params: {
      prompt: 'a cat',
      negativePrompt: '',
      sampler: 'euler',
      steps: 20,
      cfgScale: 7,
      width: 512,
      height: 512,
      clipSkip: 1,
      loras: [],
    },
  });
}

const cases: { [M in ApiMethodName]: Case<M> } = {
  'system.info': {
    input: () => ({}),
    check: (out, h) => {
      expect(out.dataDir).toBe(h.dir);
      expect(out.executionProviders.map((p) => p.name)).toContain('cpu');
      expect(out.cpuCount).toBeGreaterThan(0);
    },
  },
  'settings.get': {
    input: () => ({}),
    check: (out) => expect(out.executionProvider).toBe('auto'),
  },
  'settings.set': {
    input: () => ({ theme: 'dark', modelDirs: ['/models'] }),
    check: (out, h) => {
      expect(out).toMatchObject({ theme: 'dark', modelDirs: ['/models'] });
      expect(h.service.store.settings.getAll().theme).toBe('dark');
    },
  },
  'models.list': {
    input: (h) => {
      seedModel(h, 'lora');
      return { kind: 'lora' };
    },
    check: (out) => {
      expect(out.length).toBeGreaterThan(0);
      expect(out.every((m) => m.kind === 'lora')).toBe(true);
    },
  },
  'models.add': {
    input: (h) => {
      const file = path.join(h.dir, 'added.safetensors');
      fs.copyFileSync(LORA_FIXTURE, file);
      return { path: file };
    },
    check: (out) => {
      expect(out).toMatchObject({ name: 'added', kind: 'lora', supported: true, missing: false });
      expect(out.metadata.ss_network_dim).toBe('4');
    },
  },
  'models.remove': {
    input: (h) => ({ id: seedModel(h).id }),
    check: (out, h) => {
      expect(out.fileDeleted).toBe(false);
      expect(h.service.store.models.get(out.id)).toBeUndefined();
    },
  },
  'models.scan': {
    input: (h) => {
      const root = path.join(h.dir, unique('a1111'));
      fs.mkdirSync(path.join(root, 'models', 'Lora'), { recursive: true });
      fs.copyFileSync(LORA_FIXTURE, path.join(root, 'models', 'Lora', 'scanned.safetensors'));
      return { folders: [root] };
    },
    check: async (out, h) => {
      const done = await waitForJob(h, out.jobId);
      expect(done.status).toBe('done');
      const names = h.service.store.models.list({ kind: 'lora' }).map((m) => m.name);
      expect(names).toContain('scanned');
    },
  },
  'models.suggestFolders': {
    input: (h) => {
      const root = path.join(h.dir, unique('webui'));
      fs.mkdirSync(path.join(root, 'models', 'Stable-diffusion'), { recursive: true });
      return { root };
    },
    check: (out) =>
      expect(out).toContainEqual(expect.objectContaining({ role: 'checkpoint', layout: 'a1111' })),
  },
  'models.hashes': {
    input: async (h) => {
      const file = path.join(h.dir, `${unique('hashed')}.safetensors`);
      fs.copyFileSync(LORA_FIXTURE, file);
      return { id: (await h.service.call('models.add', { path: file })).id };
    },
    check: async (out, h) => {
      expect((await waitForJob(h, out.jobId)).status).toBe('done');
      const row = h.service.store.models.list().find((m) => m.hashes.autov3);
      expect(row?.hashes.autov2).toMatch(/^[0-9a-f]{10}$/);
    },
  },
  'models.download': {
    // Nothing listens on the discard port: the job ends with a clear offline error.
    input: () => ({ source: { kind: 'url', url: 'http://127.0.0.1:9/x.safetensors' } }),
    check: async (out, h) => {
      const done = await waitForJob(h, out.jobId);
      expect(done.status).toBe('error');
      expect(done.error?.message).toMatch(/x\.safetensors/);
    },
  },
  'models.setDefault': {
    input: (h) => ({ id: seedModel(h).id }),
    check: (out, h) =>
      expect(out.defaultCheckpointId).toBe(h.service.store.settings.getAll().defaultCheckpointId),
  },
  'datasets.list': {
    input: (h) => {
      seedDataset(h);
      return {};
    },
    check: (out) => expect(out.length).toBeGreaterThan(0),
  },
  'datasets.create': {
    input: () => ({ name: 'created via http', description: 'd' }),
    check: (out) => expect(out).toMatchObject({ name: 'created via http', imageCount: 0 }),
  },
  'datasets.get': {
    input: (h) => ({ id: seedDataset(h, 2).id }),
    check: (out) => expect(out.imageCount).toBe(2),
  },
  'datasets.remove': {
    input: (h) => ({ id: seedDataset(h, 1).id }),
    check: (out, h) => expect(h.service.store.datasets.get(out.id)).toBeUndefined(),
  },
  'datasets.import': {
    input: async (h) => {
      const folder = path.join(h.dir, unique('import-src'));
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, 'a.png'), await solidPng(16, 16));
      fs.writeFileSync(path.join(folder, 'a.txt'), 'a grey square');
      fs.writeFileSync(path.join(folder, 'notes.md'), 'not an image');
      return { datasetId: seedDataset(h).id, folder };
    },
    check: async (out, h) => {
      expect(out.jobId).toMatch(/^import-/);
      expect(await waitForJob(h, out.jobId)).toMatchObject({ status: 'done', progress: 1 });
      const dataset = h.service.store.datasets.list().find((d) => d.sourceDir !== null)!;
      expect(dataset.skipped.map((s) => [s.relPath, s.reason])).toEqual([
        ['notes.md', 'unsupported'],
      ]);
      const [image] = h.service.store.images.list(dataset.id).items;
      expect(image).toMatchObject({ relPath: 'a.png', caption: 'a grey square', width: 16 });
    },
  },
  'datasets.scanText': {
    input: (h) => {
      const { dataset, imageId } = seedImported(h);
      // Already measured: the job only re-flags, without loading the OCR model.
      h.service.store.images.setTextScan(imageId, 0.02, false);
      return { datasetId: dataset.id, flagRatio: 0.01 };
    },
    check: async (out, h) => {
      expect(await waitForJob(h, out.jobId)).toMatchObject({ status: 'done' });
      const flagged = h.service.store.datasets.list().filter((d) => d.flaggedCount === 1);
      expect(flagged).toHaveLength(1);
    },
  },
  'datasets.quality': {
    input: async (h) => {
      const { dataset } = seedImported(h);
      // Two copies of one real image: the report pairs them as near-duplicates.
      const png = await solidPng(64, 64);
      const [first] = h.service.store.images.list(dataset.id).items;
      fs.writeFileSync(first.workPath!, png);
      const copy = path.join(h.dir, 'datasets', 'seeded', `${unique('copy')}.png`);
      fs.writeFileSync(copy, png);
      h.service.store.images.upsertImported(dataset.id, [
        {
          path: '/src/copy.png',
          relPath: 'copy.png',
          workPath: copy,
          thumbPath: copy,
          format: 'png',
          repeats: 1,
          className: null,
          sha256: 'ef'.repeat(32),
          width: 64,
          height: 64,
          caption: null,
        },
      ]);
      return { datasetId: dataset.id, minSide: 32 };
    },
    check: async (out, h) => {
      const result = new Promise<unknown>((resolve) => {
        const off = h.service.onEvent((e) => {
          if (e.status === 'done' && e.jobId === out.jobId) {
            off();
            resolve(e.result);
          }
        });
      });
      expect(await waitForJob(h, out.jobId)).toMatchObject({ status: 'done' });
      const report = (await result) as { duplicates: { keep: number; drop: number[] }[] };
      expect(report.duplicates).toHaveLength(1);
      expect(report.duplicates[0].drop).toHaveLength(1);
    },
  },
  'datasets.captionModels': {
    input: () => ({}),
    check: (out) => {
      expect(out.map((m) => m.id)).toContain('blip-image-captioning-base');
      expect(out.every((m) => !m.downloaded)).toBe(true);
    },
  },
  'datasets.caption': {
    input: async (h) => {
      const { dataset } = seedImported(h, { caption: 'keep me' });
      captionDatasetId = dataset.id;
      const [image] = h.service.store.images.list(dataset.id).items;
      fs.writeFileSync(image.workPath!, await solidPng(32, 32));
      const dir = fs.mkdtempSync(path.join(h.dir, 'tagger-'));
      const tagsPath = path.join(dir, 'selected_tags.csv');
      fs.writeFileSync(tagsPath, TINY_TAGS_CSV);
      return {
        datasetId: dataset.id,
        model: { source: 'tagger-files', modelPath: writeTinyTagger(dir, 11), tagsPath },
        mode: 'append',
        triggerWord: 'sks',
        tagger: { generalThreshold: 0, characterThreshold: 1 },
      };
    },
    check: async (out, h) => {
      expect(await waitForJob(h, out.jobId)).toMatchObject({ status: 'done' });
      const [image] = h.service.store.images.list(captionDatasetId).items;
      // Trigger first, the old caption kept, then every general tag (threshold 0), no character.
      expect(image.caption).toMatch(/^sks, keep me, /);
      expect(image.caption.split(', ')).toEqual(expect.arrayContaining(['1girl', 'long hair']));
      expect(image.caption).not.toMatch(/miku/);
    },
  },
  'datasets.setCaptions': {
    input: (h) => {
      const dataset = seedDataset(h, 2);
      const [a, b] = h.service.store.images.list(dataset.id).items;
      return {
        datasetId: dataset.id,
        captions: [
          { id: a.id, caption: 'new a' },
          { id: b.id, caption: b.caption },
        ],
      };
    },
    check: (out) => {
      expect(out.updated).toBe(1);
      expect(out.changes[0]).toMatchObject({ before: 'c0', after: 'new a' });
    },
  },
  'datasets.report': {
    input: async (h) => {
      const { dataset } = seedImported(h);
      await saveQualityReport(h.dir, dataset.id, { suggestions: [] });
      return { id: dataset.id };
    },
    check: (out) => expect(out?.report).toEqual({ suggestions: [] }),
  },
  'datasets.textBoxes': {
    input: async (h) => {
      const { dataset, imageId } = seedImported(h);
      h.service.store.images.setTextScan(imageId, 0.25, true);
      const box = { x: 1, y: 2, width: 4, height: 2, score: 0.9, text: 'hi' };
      await saveTextBoxes(
        h.dir,
        dataset.id,
        new Map([[imageId, { width: 8, height: 8, textRatio: 0.25, boxes: [box] }]]),
      );
      return { id: dataset.id };
    },
    check: (out) => {
      expect(out.images).toHaveLength(1);
      expect(out.images[0]).toMatchObject({ width: 8, textRatio: 0.25, boxes: [{ text: 'hi' }] });
    },
  },
  'datasets.exportKohya': {
    input: (h) => ({
      datasetId: seedImported(h, { caption: 'a cat' }).dataset.id,
      folder: path.join(h.dir, unique('kohya')),
    }),
    check: (out) => {
      expect(out).toMatchObject({ subfolders: ['3_cat'], images: 1, captions: 1 });
      const files = fs.readdirSync(path.join(out.folder, '3_cat')).sort();
      expect(files).toHaveLength(2);
      expect(files[1]).toMatch(/\.txt$/);
    },
  },
  'images.thumbnail': {
    input: (h) => ({ id: seedImported(h).imageId }),
    check: (out) => expect(Buffer.from(out.data, 'base64').toString()).toBe(WEBP_LIKE),
  },
  'images.list': {
    input: (h) => ({ datasetId: seedDataset(h, 3).id, limit: 2 }),
    check: (out) => {
      expect(out.total).toBe(3);
      expect(out.items).toHaveLength(2);
    },
  },
  'images.update': {
    input: (h) => {
      const dataset = seedDataset(h, 1);
      const [image] = h.service.store.images.list(dataset.id).items;
      return { id: image.id, caption: 'edited', flags: { keep: true } };
    },
    check: (out) =>
      expect(out).toMatchObject({ caption: 'edited', flags: { keep: true, excluded: false } }),
  },
  'runs.list': {
    input: (h) => ({ datasetId: seedRun(h).datasetId ?? undefined }),
    check: (out) => expect(out).toHaveLength(1),
  },
  'runs.get': {
    input: (h) => {
      const run = seedRun(h);
      h.service.store.runs.recordSteps(run.id, [
        { step: 1, loss: 0.25, lr: 1e-4 },
        { step: 2, loss: 0.2, lr: 1e-4 },
      ]);
      // The sample gallery index core/train writes next to the run's checkpoints.
      const samples = path.join(h.dir, 'runs', String(run.id), 'samples');
      fs.mkdirSync(samples, { recursive: true });
      const round = { step: 2, createdAt: '', images: [{ file: 'step-2-0.png', prompt: 'a fox' }] };
      fs.writeFileSync(
        path.join(samples, 'index.json'),
        JSON.stringify({ version: 1, rounds: [round] }),
      );
      return { id: run.id };
    },
    check: (out) => {
      expect(out.steps.map((s) => s.loss)).toEqual([0.25, 0.2]);
      expect(out.steps.map((s) => s.lr)).toEqual([1e-4, 1e-4]);
      expect(out).toMatchObject({ lastStep: 2, lastLoss: 0.2, artifacts: [], jobId: null });
      expect(out.samples).toEqual([
        { step: 2, prompt: 'a fox', path: expect.stringMatching(/samples\/step-2-0\.png$/) },
      ]);
    },
  },
  'runs.create': {
    input: (h) => ({
      name: 'draft via http',
      datasetId: seedDataset(h).id,
      baseModelId: seedModel(h).id,
      config: { rank: 4, resolution: 256 },
    }),
    check: (out) =>
      expect(out).toMatchObject({
        status: 'draft',
        config: { rank: 4, resolution: 256, alpha: 16 },
      }),
  },
  'runs.remove': {
    input: (h) => ({ id: seedRun(h).id }),
    check: (out, h) => expect(h.service.store.runs.get(out.id)).toBeUndefined(),
  },
  'runs.start': {
    // A draft whose checkpoint file is missing: the job is queued, then fails in the trainer.
    // Its dataset has one imported image (a draft trains on a snapshot of what is included).
    input: (h) => {
      const { dataset } = seedImported(h, { caption: 'a cat' });
      const run = h.service.store.runs.create({
        name: unique('run'),
        datasetId: dataset.id,
        baseModelId: seedModel(h).id,
        config: trainingConfigSchema.parse({}),
      });
      h.service.store.datasets.setImport(run.datasetId!, {
        sourceDir: h.dir,
        workDir: h.dir,
        skipped: [],
      });
      return { runId: run.id };
    },
    check: async (out, h) => {
      expect(out.jobId).toMatch(/^train-/);
      const job = await waitForJob(h, out.jobId);
      expect(job.status).toBe('error');
      expect(h.service.store.runs.get(out.runId)?.status).toBe('failed');
    },
  },
  'runs.cancel': {
    input: (h) => {
      const run = seedRun(h);
      h.service.store.runs.update(run.id, { status: 'paused' });
      return { id: run.id };
    },
    check: (out) => expect(out.status).toBe('cancelled'),
  },
  'runs.resume': {
    // A stopped run without a checkpoint starts over from its saved run.json.
    input: (h) => {
      const run = seedRun(h);
      h.service.store.runs.update(run.id, { status: 'cancelled' });
      const dir = path.join(h.dir, 'runs', String(run.id));
      fs.mkdirSync(dir, { recursive: true });
      const empty = path.join(dir, 'empty');
      fs.mkdirSync(empty);
      const config = { pretrained_model_name_or_path: TINY_SD, train_data_dir: empty };
      fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(config));
      return { id: run.id };
    },
    check: async (out, h) => {
      expect(out.jobId).toMatch(/^train-/);
      // The dataset folder is empty: the job ends with an error that says so.
      const job = await waitForJob(h, out.jobId);
      expect(job.error?.message).toMatch(/holds no images/);
    },
  },
  'artifacts.list': {
    input: (h) => {
      const run = seedRun(h);
      h.service.store.artifacts.add({
        runId: run.id,
        name: 'x.safetensors',
        path: path.join(h.dir, unique('artifact')),
        sizeBytes: 3,
      });
      return { runId: run.id };
    },
    check: (out) => expect(out.map((a) => a.name)).toEqual(['x.safetensors']),
  },
  'generations.list': {
    input: (h) => {
      seedGeneration(h);
      return { limit: 10 };
    },
    check: (out) => expect(out.total).toBeGreaterThan(0),
  },
  'generations.get': {
    input: (h) => ({ id: seedGeneration(h).id }),
    check: (out) => expect(out).toMatchObject({ seed: 7, params: { prompt: 'a cat' } }),
  },
  'generate.start': {
    input: () => ({ modelPath: TINY_SD, prompt: 'a fox', steps: 2, width: 64, height: 64 }),
    check: async (out, h) => {
      expect(out.jobId).toMatch(/^generate-/);
      const done = await waitForJob(h, out.jobId);
      expect(done).toMatchObject({ status: 'done', progress: 1 });
      expect(done.generations[0].params).toMatchObject({ prompt: 'a fox', width: 64 });
    },
  },
  'infotext.parse': {
    input: () => ({
      text: 'a fox\nNegative prompt: blur\nSteps: 9, Sampler: DDIM, CFG scale: 5, Seed: 3',
    }),
    check: (out) =>
      expect(out.params).toMatchObject({
        prompt: 'a fox',
        negativePrompt: 'blur',
        sampler: 'ddim',
        steps: 9,
        cfgScale: 5,
        seed: 3,
      }),
  },
  'jobs.list': {
    input: async (h) => {
      await startJob(h, 'listed');
      return { kind: 'generate' };
    },
    check: (out) => expect(out.map((j) => j.label)).toContain('Generate 1 image: listed'),
  },
  'jobs.get': {
    input: async (h) => {
      const { jobId } = await startJob(h, 'polled');
      await waitForJob(h, jobId);
      return { jobId };
    },
    check: (out) => {
      expect(out).toMatchObject({ status: 'done', progress: 1, step: 2, total: 2 });
      expect(out.generations).toHaveLength(1);
      expect(out.generationIds).toEqual([out.generations[0].id]);
    },
  },
  'jobs.cancel': {
    input: async (h) => ({ jobId: (await startJob(h, 'hold')).jobId }),
    check: async (out, h) => {
      // A queued job is dropped at once; a running one is asked to stop.
      expect(out.status === 'cancelled' || out.cancelRequested).toBe(true);
      const settled = await waitForJob(h, out.id);
      expect(settled.status).toBe('cancelled');
    },
  },
  'generations.remove': {
    input: (h) => ({ id: seedGeneration(h).id, deleteFile: true }),
    check: (out, h) => {
      expect(out.fileDeleted).toBe(true);
      expect(h.service.store.generations.get(out.id)).toBeUndefined();
    },
  },
  'library.loras': {
    input: (h) => {
      seedModel(h, 'lora');
      return {};
    },
    check: (out) => expect(out.some((e) => e.model.kind === 'lora' && e.run === null)).toBe(true),
  },
  'library.lora': {
    input: async (h) => {
      const file = path.join(h.dir, `${unique('lib')}.safetensors`);
      fs.copyFileSync(LORA_FIXTURE, file);
      return { id: (await h.service.call('models.add', { path: file })).id };
    },
    check: (out) => {
      expect(out.facts).toContainEqual({ key: 'ss_network_dim', label: 'Dim (rank)', value: '4' });
      expect(out.grids).toEqual([]);
    },
  },
  'library.renderGrid': {
    input: async (h) => {
      const file = path.join(h.dir, `${unique('grid')}.safetensors`);
      fs.copyFileSync(LORA_FIXTURE, file);
      const lora = await h.service.call('models.add', { path: file });
      const ckpt = await h.service.call('models.add', { path: TINY_SD, kind: 'checkpoint' });
      return {
        id: lora.id,
        kind: 'before-after',
        checkpointId: ckpt.id,
        prompts: ['a cat'],
        steps: 2,
        width: 64,
        height: 64,
      };
    },
    check: async (out, h) => {
      const done = await waitForJob(h, out.jobId);
      expect(done.status).toBe('done');
    },
  },
  'library.image': {
    input: async (h) => {
      const lora = seedModel(h, 'lora');
      const { saveGrid } = await import('../../core/library/index.js');
      const png = Buffer.from(await solidPng(8, 8));
      const grid = await saveGrid(
        h.dir,
        { loraModelId: lora.id, kind: 'before-after', seed: 1, settings: {} },
        { png, width: 8, height: 8, columns: ['a'], cells: [] },
      );
      return { gridId: grid.id };
    },
    check: (out) => expect(Buffer.from(out.data, 'base64').subarray(1, 4).toString()).toBe('PNG'),
  },
  'library.copyTargets': {
    input: async (h) => {
      const dir = path.join(h.dir, unique('copy'), 'Lora');
      fs.mkdirSync(dir, { recursive: true });
      await h.service.call('settings.set', { modelDirs: [dir] });
      return {};
    },
    check: (out) => expect(out.map((t) => t.layout)).toEqual(['folder']),
  },
  'library.copyTo': {
    input: async (h) => {
      const dir = path.join(h.dir, unique('copyto'), 'loras');
      fs.mkdirSync(dir, { recursive: true });
      await h.service.call('settings.set', { modelDirs: [dir] });
      const file = path.join(h.dir, `${unique('tocopy')}.safetensors`);
      fs.copyFileSync(LORA_FIXTURE, file);
      return { id: (await h.service.call('models.add', { path: file })).id, folder: dir };
    },
    check: (out) => expect(fs.existsSync(out.path)).toBe(true),
  },
  'library.exportCivitai': {
    input: async (h) => {
      const file = path.join(h.dir, `${unique('civitai')}.safetensors`);
      fs.copyFileSync(LORA_FIXTURE, file);
      const id = (await h.service.call('models.add', { path: file })).id;
      return { id, folder: path.join(h.dir, unique('export')) };
    },
    check: (out) => {
      expect(fs.existsSync(out.safetensors) && fs.existsSync(out.json)).toBe(true);
      expect(out.preview).toBeNull();
    },
  },
  'generations.search': {
    input: (h) => {
      seedGeneration(h);
      return { query: 'CAT' };
    },
    check: (out) => {
      expect(out.total).toBeGreaterThan(0);
      expect(out.items.every((g) => g.params.prompt.includes('cat'))).toBe(true);
    },
  },
  'demo.start': {
    input: () => ({ steps: 1 }),
    // The whole demo is test/e2e/demo.test.ts; here: it starts as a demo job and cancels cleanly.
    check: async (out, h) => {
      expect((await h.service.call('jobs.get', { jobId: out.jobId })).kind).toBe('demo');
      await h.service.call('jobs.cancel', { jobId: out.jobId });
      const done = await waitForJob(h, out.jobId);
      expect(done.status).toBe('cancelled');
      const left = await h.service.call('jobs.list', { status: 'running' });
      expect(left.filter((j) => j.kind !== 'generate')).toEqual([]);
    },
  },
};

async function waitForJob(h: Harness, jobId: string) {
  for (;;) {
    const job = await h.service.call('jobs.get', { jobId });
    if (['done', 'error', 'cancelled'].includes(job.status)) return job;
    if (job.status === 'running' && job.cancelRequested) pipeline.release();
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('contract over HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ generate: pipeline.fn });
  });
  afterAll(async () => {
    await h.close();
    pipeline.release();
  });

  it('has a round-trip case for every method', () => {
    expect(Object.keys(cases).sort()).toEqual([...API_METHOD_NAMES].sort());
  });

  for (const method of API_METHOD_NAMES) {
    it(`${method} round-trips`, async () => {
      const c = cases[method] as Case<ApiMethodName>;
      const res = await h.api(method, await c.input(h));
      const body = res.json() as { ok: boolean; result: unknown };
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(body.ok).toBe(true);
      // The wire value satisfies the contract's output schema exactly.
      const parsed = apiMethods[method].output.parse(body.result);
      await c.check(parsed as never, h);
    });
  }
});
