// Dataset preparation through the service: datasets.import (a job over core/dataset's importer,
// rows + skipped list in the store, the source folder untouched, cancellable), datasets.scanText
// (the real PP-OCRv4 model on tiny generated images), datasets.exportKohya (folder layout,
// no silent overwrite) and the flagged-unless-kept training filter.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../core/api.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fingerprint, photoJpeg, solidPng, svg } from '../dataset/helpers.js';
import { fakeGenerate } from './fake-generate.js';

async function settle(service: ApiService, jobId: string) {
  for (;;) {
    const job = await service.call('jobs.get', { jobId });
    if (['done', 'error', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const TEXT_SVG = svg(
  320,
  240,
  '<rect width="320" height="240" fill="#fff"/><text x="16" y="70" font-family="DejaVu Sans, sans-serif" font-size="34" fill="#111">Hello, world</text><text x="16" y="150" font-family="DejaVu Sans, sans-serif" font-size="34" fill="#111">SALE 50%</text>',
);

describe('dataset methods (service)', () => {
  let base: string;
  let service: ApiService;
  let src: string;
  const events: ApiEvent[] = [];

  beforeAll(async () => {
    base = makeTempDir();
    service = createApiService({ dataDir: path.join(base, 'data'), generate: fakeGenerate().fn });
    service.onEvent((e) => events.push(e));
    src = path.join(base, 'src');
    fs.mkdirSync(path.join(src, '5_tabby cat'), { recursive: true });
    fs.writeFileSync(path.join(src, '5_tabby cat', 'one.png'), await solidPng(40, 30, '#a33'));
    fs.writeFileSync(path.join(src, '5_tabby cat', 'one.txt'), 'a red cat\n');
    fs.writeFileSync(path.join(src, 'two.jpg'), await photoJpeg(48, 32));
    fs.writeFileSync(path.join(src, 'two.txt'), 'a photo');
    fs.writeFileSync(path.join(src, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really'));
    fs.writeFileSync(path.join(src, 'empty.jpg'), Buffer.alloc(0));
    fs.writeFileSync(path.join(src, 'readme.md'), '# notes');
    fs.writeFileSync(path.join(src, 'lonely.txt'), 'no image');
  });
  afterAll(() => {
    service.close();
    removeDir(base);
  });

  let datasetId: number;

  it('imports a folder as a job: rows, exact skipped list, progress, source untouched', async () => {
    const before = fingerprint(src);
    datasetId = (await service.call('datasets.create', { name: 'cats' })).id;
    const { jobId } = await service.call('datasets.import', { datasetId, folder: src });
    const job = await settle(service, jobId);
    expect(job).toMatchObject({ status: 'done', progress: 1, step: 4, total: 4 });
    expect(fingerprint(src)).toEqual(before);

    const dataset = await service.call('datasets.get', { id: datasetId });
    expect(dataset).toMatchObject({
      imageCount: 2,
      captionedCount: 2,
      sourceDir: src,
      workDir: path.join(base, 'data', 'datasets', String(datasetId)),
    });
    expect(dataset.skipped.map((s) => [s.relPath, s.reason])).toEqual([
      ['broken.png', 'corrupt'],
      ['empty.jpg', 'empty'],
      ['lonely.txt', 'orphan-caption'],
      ['readme.md', 'unsupported'],
    ]);
    expect(dataset.skipped.every((s) => s.message.length > 5)).toBe(true);

    const { items } = await service.call('images.list', { datasetId });
    const byRel = Object.fromEntries(items.map((i) => [i.relPath, i]));
    expect(byRel['5_tabby cat/one.png']).toMatchObject({
      caption: 'a red cat',
      repeats: 5,
      className: 'tabby cat',
      format: 'png',
      width: 40,
      height: 30,
      textRatio: null,
    });
    expect(byRel['two.jpg']).toMatchObject({ caption: 'a photo', repeats: 1, className: null });
    for (const image of items) {
      expect(image.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(fs.existsSync(image.workPath!)).toBe(true);
      expect(image.workPath!.startsWith(dataset.workDir!)).toBe(true);
      expect((await sharp(image.thumbPath!).metadata()).format).toBe('webp');
    }
    const progress = events.filter((e) => e.status === 'progress' && e.jobId === jobId);
    expect(progress.length).toBeGreaterThanOrEqual(4);
  });

  it('keeps edited captions on re-import and adds no duplicate rows', async () => {
    const { items } = await service.call('images.list', { datasetId });
    const one = items.find((i) => i.relPath === '5_tabby cat/one.png')!;
    await service.call('images.update', { id: one.id, caption: 'edited', flags: { keep: true } });
    const { jobId } = await service.call('datasets.import', { datasetId, folder: src });
    expect((await settle(service, jobId)).status).toBe('done');
    const again = await service.call('images.list', { datasetId });
    expect(again.total).toBe(2);
    expect(again.items.find((i) => i.id === one.id)).toMatchObject({
      caption: 'edited',
      flags: { keep: true },
    });
  });

  it('cancels an import through jobs.cancel', async () => {
    const big = path.join(base, 'big');
    fs.mkdirSync(big);
    for (let i = 0; i < 40; i++) {
      fs.writeFileSync(path.join(big, `p${i}.jpg`), await photoJpeg(64, 64, i + 1));
    }
    const id = (await service.call('datasets.create', { name: 'big' })).id;
    const { jobId } = await service.call('datasets.import', { datasetId: id, folder: big });
    await service.call('jobs.cancel', { jobId });
    expect((await settle(service, jobId)).status).toBe('cancelled');
    expect((await service.call('datasets.get', { id })).sourceDir).toBeNull();
  });

  it('refuses a folder that does not exist, naming it', async () => {
    const { jobId } = await service.call('datasets.import', {
      datasetId,
      folder: path.join(base, 'nope'),
    });
    const job = await settle(service, jobId);
    expect(job.status).toBe('error');
    expect(job.error?.message).toMatch(/nope' is not a folder/);
  });

  it('exports a kohya folder and refuses to overwrite without the flag', async () => {
    const out = path.join(base, 'kohya');
    const res = await service.call('datasets.exportKohya', { datasetId, folder: out });
    expect(res).toMatchObject({ subfolders: ['1_cats', '5_tabby cat'], images: 2, captions: 2 });
    expect(fs.readdirSync(path.join(out, '5_tabby cat')).sort()).toEqual(['one.png', 'one.txt']);
    expect(fs.readdirSync(path.join(out, '1_cats')).sort()).toEqual(['two.jpg', 'two.txt']);
    expect(fs.readFileSync(path.join(out, '5_tabby cat', 'one.txt'), 'utf8')).toBe('edited\n');
    expect(fs.readFileSync(path.join(out, '1_cats', 'two.jpg'))).toEqual(
      fs.readFileSync(path.join(src, 'two.jpg')),
    );
    await expect(
      service.call('datasets.exportKohya', { datasetId, folder: out }),
    ).rejects.toMatchObject({ code: 'conflict', message: /already exist.*overwrite: true/ });
    const again = await service.call('datasets.exportKohya', {
      datasetId,
      folder: out,
      overwrite: true,
    });
    expect(again.images).toBe(2);
  });

  it('scans for text with the real model: a text image is flagged, a plain one is not', async () => {
    const folder = path.join(base, 'ocr');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'text.png'), await sharp(TEXT_SVG).png().toBuffer());
    fs.writeFileSync(path.join(folder, 'plain.png'), await solidPng(320, 240, '#4a7'));
    const id = (await service.call('datasets.create', { name: 'ocr' })).id;
    expect(
      (
        await settle(
          service,
          (await service.call('datasets.import', { datasetId: id, folder })).jobId,
        )
      ).status,
    ).toBe('done');

    const { jobId } = await service.call('datasets.scanText', { datasetId: id });
    const job = await settle(service, jobId);
    expect(job.status, job.error?.message).toBe('done');
    const rows = (await service.call('images.list', { datasetId: id })).items;
    const text = rows.find((r) => r.relPath === 'text.png')!;
    const plain = rows.find((r) => r.relPath === 'plain.png')!;
    expect(text.textFlagged).toBe(true);
    expect(text.textRatio).toBeGreaterThan(0.005);
    expect(plain).toMatchObject({ textFlagged: false, textRatio: 0 });

    // Flagged images leave training unless kept.
    const included = async () =>
      (await service.call('images.list', { datasetId: id, filter: 'included' })).items.map(
        (i) => i.relPath,
      );
    expect(await included()).toEqual(['plain.png']);
    expect((await service.call('datasets.get', { id })).flaggedCount).toBe(1);
    await service.call('images.update', { id: text.id, flags: { keep: true } });
    expect(await included()).toEqual(['plain.png', 'text.png']);

    // A new threshold re-flags from the stored ratios.
    const high = await service.call('datasets.scanText', { datasetId: id, flagRatio: 1 });
    expect((await settle(service, high.jobId)).status).toBe('done');
    const after = (await service.call('images.list', { datasetId: id })).items;
    expect(after.find((r) => r.id === text.id)).toMatchObject({
      textFlagged: false,
      textRatio: text.textRatio,
    });
  }, 25_000);
});
