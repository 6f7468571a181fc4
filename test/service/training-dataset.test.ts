// A run started on an imported dataset trains on what the app shows: a kohya snapshot in the
// run's folder without the excluded images and with the captions as edited — never on the
// untouched source folder.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { runDirOf } from '../../core/train/index.js';
import { makeTinyDataset, tinyConfig } from '../train/run-helpers.js';

describe('runs.start on an imported dataset', () => {
  let service: ApiService;
  let root: string;
  let dataDir: string;

  const waitJob = async (jobId: string) => {
    for (;;) {
      const job = await service.call('jobs.get', { jobId });
      if (['done', 'error', 'cancelled'].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    ({ root, dataDir } = await makeTinyDataset());
    service = createApiService({ dataDir });
  });
  afterAll(() => service?.close());

  it('trains on a snapshot: excluded image left out, edited caption used', async () => {
    const dataset = await service.call('datasets.create', { name: 'tiny' });
    const imp = await service.call('datasets.import', { datasetId: dataset.id, folder: root });
    expect((await waitJob(imp.jobId)).status).toBe('done');
    const { items } = await service.call('images.list', { datasetId: dataset.id });
    expect(items).toHaveLength(4);
    const [first, second] = [...items].sort((a, b) =>
      (a.relPath ?? '').localeCompare(b.relPath ?? ''),
    );
    await service.call('images.update', { id: first.id, flags: { excluded: true } });
    await service.call('images.update', { id: second.id, caption: 'edited in the app, purple' });

    const { jobId, runId } = await service.call('runs.start', {
      datasetId: dataset.id,
      config: tinyConfig(root, { max_train_steps: 1 }),
    });
    const job = await waitJob(jobId);
    expect(job.status, job.error?.message).toBe('done');

    const run = await service.call('runs.get', { id: runId });
    const trained = String(run.runConfig?.train_data_dir);
    expect(trained).toBe(path.join(runDirOf(dataDir, runId), 'dataset'));
    const [sub] = await readdir(trained);
    const files = await readdir(path.join(trained, sub));
    expect(files.filter((f) => f.endsWith('.png'))).toHaveLength(3);
    const captions = await Promise.all(
      files
        .filter((f) => f.endsWith('.txt'))
        .map((f) => readFile(path.join(trained, sub, f), 'utf8')),
    );
    expect(captions).toContain('edited in the app, purple\n');
    expect(captions.join('')).not.toContain(first.caption);
    // The source folder itself is untouched: still 4 images and the old caption.
    const source = await readdir(path.join(root, '1_tiny'));
    expect(source.filter((f) => f.endsWith('.png'))).toHaveLength(4);
  }, 60_000);

  it('refuses a dataset with nothing left to train on', async () => {
    const dataset = await service.call('datasets.create', { name: 'all excluded' });
    const imp = await service.call('datasets.import', { datasetId: dataset.id, folder: root });
    await waitJob(imp.jobId);
    for (const img of (await service.call('images.list', { datasetId: dataset.id })).items)
      await service.call('images.update', { id: img.id, flags: { excluded: true } });
    await expect(
      service.call('runs.start', { datasetId: dataset.id, config: tinyConfig(root) }),
    ).rejects.toThrow(/no image left to train on/);
    expect((await service.call('runs.list', {})).filter((r) => r.datasetId === dataset.id)).toEqual(
      [],
    );
  });
});
