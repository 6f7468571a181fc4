// Captioning through the service: datasets.caption as a job (local tagger / BLIP files, a
// registry model fetched from a loopback Hub, modes, trigger word, cancel changes nothing),
// datasets.setCaptions as the undo, and the results kept after a job: datasets.report and
// datasets.textBoxes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent, CaptionChange } from '../../core/api.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { startCdn, startHub, type TestServer } from '../hub/hub-server.js';
import { fakeGenerate } from '../service/fake-generate.js';
import {
  TINY_TAGS_CSV,
  TINY_VOCAB,
  tinyId,
  writeTinyBlipDecoder,
  writeTinyBlipVision,
  writeTinyTagger,
} from './caption-models.js';
import { photoJpeg, solidPng, svg } from './helpers.js';

async function settle(service: ApiService, jobId: string) {
  for (;;) {
    const job = await service.call('jobs.get', { jobId });
    if (['done', 'error', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('captioning jobs (service)', () => {
  let base: string;
  let models: string;
  let service: ApiService;
  let datasetId: number;
  const events: ApiEvent[] = [];
  const servers: TestServer[] = [];
  let tagger: { source: 'tagger-files'; modelPath: string; tagsPath: string };

  const captions = async () =>
    (await service.call('images.list', { datasetId })).items.map((i) => i.caption);
  const doneResult = (jobId: string) =>
    events.find((e) => e.status === 'done' && e.jobId === jobId) as
      { result: { changes: CaptionChange[]; captioned: number; skipped: number } } | undefined;

  beforeAll(async () => {
    base = makeTempDir('caption-job-');
    models = path.join(base, 'models');
    fs.mkdirSync(models);
    tagger = {
      source: 'tagger-files',
      modelPath: writeTinyTagger(models, 11),
      tagsPath: path.join(models, 'selected_tags.csv'),
    };
    fs.writeFileSync(tagger.tagsPath, TINY_TAGS_CSV);
    service = createApiService({ dataDir: path.join(base, 'data'), generate: fakeGenerate().fn });
    service.onEvent((e) => events.push(e));
    const src = path.join(base, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.jpg'), await photoJpeg(64, 48, 1));
    fs.writeFileSync(path.join(src, 'a.txt'), 'my cat');
    fs.writeFileSync(path.join(src, 'b.jpg'), await photoJpeg(48, 64, 2));
    fs.writeFileSync(path.join(src, 'c.png'), await solidPng(40, 40, '#3a6'));
    datasetId = (await service.call('datasets.create', { name: 'cap' })).id;
    const { jobId } = await service.call('datasets.import', { datasetId, folder: src });
    expect((await settle(service, jobId)).status).toBe('done');
  });
  afterAll(async () => {
    service.close();
    await Promise.all(servers.map((s) => s.close()));
    removeDir(base);
  });

  it('tags only the empty captions, trigger word first, progress up to 100 %', async () => {
    const { jobId } = await service.call('datasets.caption', {
      datasetId,
      model: tagger,
      mode: 'only-empty',
      triggerWord: 'sks',
      tagger: { generalThreshold: 0, characterThreshold: 1, maxTags: 3 },
    });
    const job = await settle(service, jobId);
    expect(job).toMatchObject({ status: 'done', kind: 'caption', progress: 1, step: 3, total: 3 });
    const progress = events.filter((e) => e.status === 'progress' && e.jobId === jobId);
    const values = progress.map((e) => (e as { progress: number }).progress);
    expect(values).toEqual([...values].sort((x, y) => x - y));
    const [a, b, c] = await captions();
    expect(a).toBe('my cat');
    for (const cap of [b, c]) {
      expect(cap.split(', ')[0]).toBe('sks');
      expect(cap.split(', ')).toHaveLength(4);
    }
    const r = doneResult(jobId)!.result;
    expect(r).toMatchObject({ captioned: 2, skipped: 1 });
    expect(r.changes.map((ch) => ch.before)).toEqual(['', '']);
  });

  it('appends new tags, and datasets.setCaptions undoes the job from its changes', async () => {
    const before = await captions();
    const { jobId } = await service.call('datasets.caption', {
      datasetId,
      model: tagger,
      mode: 'append',
      tagger: { generalThreshold: 0, characterThreshold: 1, maxTags: 5 },
    });
    expect((await settle(service, jobId)).status).toBe('done');
    const after = await captions();
    expect(after[0].startsWith('my cat, ')).toBe(true);
    const { changes } = doneResult(jobId)!.result;
    expect(changes.length).toBeGreaterThan(0);
    const undo = await service.call('datasets.setCaptions', {
      datasetId,
      captions: changes.map((ch) => ({ id: ch.id, caption: ch.before })),
    });
    expect(undo.updated).toBe(changes.length);
    expect(await captions()).toEqual(before);
    await expect(
      service.call('datasets.setCaptions', { datasetId, captions: [{ id: 99_999, caption: 'x' }] }),
    ).rejects.toThrow(/99999 not in dataset/);
  });

  it('writes BLIP sentences with overwrite (tiny decoder that says "a cats on the sofa.")', async () => {
    const dir = path.join(models, 'blip');
    fs.mkdirSync(dir);
    const words = ['[DEC]', 'a', 'cat', '##s', 'on', 'the', 'sofa', '.', '[SEP]'];
    const tokenizerPath = path.join(dir, 'vocab.txt');
    fs.writeFileSync(tokenizerPath, TINY_VOCAB.join('\n'));
    const { jobId } = await service.call('datasets.caption', {
      datasetId,
      model: {
        source: 'blip-files',
        visionModelPath: writeTinyBlipVision(dir),
        decoderModelPath: writeTinyBlipDecoder(dir, {
          vocabSize: TINY_VOCAB.length,
          successor: new Map(words.slice(0, -1).map((w, i) => [tinyId(w), tinyId(words[i + 1])])),
        }),
        tokenizerPath,
      },
      mode: 'overwrite',
      triggerWord: 'zzk',
    });
    expect((await settle(service, jobId)).status).toBe('done');
    expect(new Set(await captions())).toEqual(new Set(['zzk, a cats on the sofa.']));
  });

  it('downloads a registry tagger from the Hub, then captions; a cancel changes nothing', async () => {
    const files = new Map([
      ['model.onnx', fs.readFileSync(tagger.modelPath)],
      ['selected_tags.csv', Buffer.from(TINY_TAGS_CSV)],
    ]);
    const cdn = await startCdn(files);
    const hold: { hang?: boolean } = { hang: true };
    const hub = await startHub('SmilingWolf/wd-swinv2-tagger-v3', files, cdn.url, hold);
    servers.push(cdn, hub);
    await service.call('settings.set', { huggingFaceEndpoint: hub.url });
    const before = await captions();
    const model = { source: 'registry', id: 'wd-swinv2-tagger-v3' } as const;
    // The Hub hangs: the job sits in its download until cancelled.
    const held = await service.call('datasets.caption', { datasetId, model, mode: 'overwrite' });
    await new Promise((r) => setTimeout(r, 100));
    await service.call('jobs.cancel', { jobId: held.jobId });
    expect((await settle(service, held.jobId)).status).toBe('cancelled');
    expect(await captions()).toEqual(before);

    hold.hang = false;
    const { jobId } = await service.call('datasets.caption', {
      datasetId,
      model,
      mode: 'overwrite',
    });
    const job = await settle(service, jobId);
    expect(job.status, job.error?.message).toBe('done');
    const listed = await service.call('datasets.captionModels', {});
    expect(listed.find((m) => m.id === 'wd-swinv2-tagger-v3')?.downloaded).toBe(true);
    expect(listed.find((m) => m.id === 'blip-image-captioning-base')?.downloaded).toBe(false);
    await expect(
      service.call('datasets.caption', { datasetId, model: { source: 'registry', id: 'nope' } }),
    ).rejects.toThrow(/"nope" is not a caption model/);
  });

  it('keeps the quality report and the OCR boxes for later screens', async () => {
    expect(await service.call('datasets.report', { id: datasetId })).toBeNull();
    const q = await service.call('datasets.quality', { datasetId });
    expect((await settle(service, q.jobId)).status).toBe('done');
    const stored = await service.call('datasets.report', { id: datasetId });
    expect(stored?.report).toMatchObject({ datasetId, suggestions: expect.any(Array) });

    const text = svg(
      320,
      240,
      '<rect width="320" height="240" fill="#fff"/><text x="16" y="90" font-family="DejaVu Sans, sans-serif" font-size="40" fill="#111">Hello world</text>',
    );
    const src2 = path.join(base, 'src2');
    fs.mkdirSync(src2);
    fs.writeFileSync(
      path.join(src2, 'text.png'),
      await (await import('sharp')).default(text).png().toBuffer(),
    );
    const ds = (await service.call('datasets.create', { name: 'ocr' })).id;
    const imp = await service.call('datasets.import', { datasetId: ds, folder: src2 });
    expect((await settle(service, imp.jobId)).status).toBe('done');
    const scan = await service.call('datasets.scanText', { datasetId: ds });
    expect((await settle(service, scan.jobId)).status).toBe('done');
    const { images } = await service.call('datasets.textBoxes', { id: ds });
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ width: 320, height: 240 });
    expect(images[0].boxes.length).toBeGreaterThan(0);
    expect(images[0].textRatio).toBeGreaterThan(0.005);
  });
});
