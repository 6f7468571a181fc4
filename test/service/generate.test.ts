// generate.start and the jobs API in the service, with the pipeline injected (a test double
// that writes real PNGs): requests checked against the registry, events, rows written,
// cancellation, failures, infotext.parse and images as base64.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiEventSchema, type ApiEvent } from '../../core/api.js';
import { getPngText } from '../../core/formats/index.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { fakeGenerate, solidPng, type FakeGenerate } from './fake-generate.js';

const TINY_SD = path.resolve('test/fixtures/tiny_sd');
const LORA_FIXTURE = path.resolve('test/fixtures/lora/lora_kohya.safetensors');

describe('generate.start and jobs', () => {
  let dir: string;
  let service: ApiService;
  let fake: FakeGenerate;
  let events: ApiEvent[];

  const open = (f: FakeGenerate) => {
    fake = f;
    service = createApiService({ dataDir: dir, generate: f.fn });
    events = [];
    service.onEvent((e) => events.push(apiEventSchema.parse(e)));
  };
  const jobEvents = (jobId: string) => events.filter((e) => 'jobId' in e && e.jobId === jobId);
  const checkpoint = () =>
    service.call('models.add', { path: TINY_SD, kind: 'checkpoint', name: 'tiny' });
  const fail = async (method: string, input: unknown) => {
    const out = await service.dispatch(method, input);
    if (out.ok) throw new Error(`${method} unexpectedly succeeded`);
    return out.error;
  };

  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => {
    service.close();
    removeDir(dir);
  });

  it('runs a job: progress events rise to 100 %, then each image is a generations row', async () => {
    open(fakeGenerate());
    const model = await checkpoint();
    const { jobId } = await service.call('generate.start', {
      modelId: model.id,
      prompt: 'a red fox',
      negativePrompt: 'blurry',
      sampler: 'dpmpp_2m_karras',
      steps: 4,
      width: 64,
      height: 64,
      seed: 42,
      batchCount: 2,
      batchSize: 2,
      previewEvery: 2,
    });
    const job = await service.call('jobs.get', { jobId });
    expect(['queued', 'running']).toContain(job.status);
    await waitFor(() => events.some((e) => e.status === 'done' && e.jobId === jobId));

    const mine = jobEvents(jobId);
    expect(mine[0]).toMatchObject({ status: 'initiate', kind: 'generate' });
    expect(mine.at(-1)).toMatchObject({ status: 'done', result: { generationIds: [1, 2, 3, 4] } });
    const progress = mine.flatMap((e) => (e.status === 'progress' ? [e] : []));
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].progress).toBeGreaterThanOrEqual(progress[i - 1].progress);
    }
    expect(progress.at(-1)?.progress).toBe(1);
    expect(progress.filter((p) => p.preview?.startsWith('data:image/png;base64,'))).toHaveLength(4);
    // Two batches of two, four steps each: half-way after the first batch.
    expect(progress.find((p) => p.message === 'Image 1–2 of 4 · step 4 of 4')?.progress).toBe(0.5);

    // What the pipeline was asked for: our sampler id as A1111's name, outputs in the data dir.
    const [params] = fake.calls;
    expect(params).toMatchObject({
      modelPath: TINY_SD,
      sampler: 'DPM++ 2M Karras',
      seed: 42,
      ep: 'auto',
      negativePrompt: 'blurry',
    });
    expect(params.outputDir.startsWith(path.join(dir, 'outputs', 'txt2img'))).toBe(true);

    const done = await service.call('jobs.get', { jobId });
    expect(done).toMatchObject({ status: 'done', progress: 1, generationIds: [1, 2, 3, 4] });
    expect(done.generations.map((g) => g.seed)).toEqual([42, 43, 44, 45]);
    const [first] = done.generations;
    expect(first).toMatchObject({
      modelId: model.id,
      params: {
        prompt: 'a red fox',
        sampler: 'dpmpp_2m_karras',
        steps: 4,
        width: 64,
        height: 64,
        modelPath: TINY_SD,
      },
    });
    expect(first.params.infotext).toMatch(/Seed: 42, Size: 64x64/);
    expect(fs.existsSync(first.filePath)).toBe(true);
    const listed = await service.call('generations.list', {});
    expect(listed.total).toBe(4);
    expect(events.some((e) => e.status === 'changed' && e.entity === 'generations')).toBe(true);

    // The PNG comes back as base64 when asked for.
    const withImage = await service.call('generations.get', { id: first.id, withImage: true });
    const png = Buffer.from(withImage.image!, 'base64');
    expect(getPngText(png, 'parameters')).toBe(first.params.infotext);
    expect((await service.call('generations.get', { id: first.id })).image).toBeUndefined();
  });

  it('cancels a running job mid-way and keeps the images it finished', async () => {
    open(fakeGenerate({ holdAtTick: 7 }));
    const model = await checkpoint();
    const { jobId } = await service.call('generate.start', {
      modelId: model.id,
      prompt: 'x',
      steps: 5,
      width: 64,
      height: 64,
      batchCount: 3,
    });
    await fake.reached(7); // batch 2 of 3, step 2 of 5
    const cancelling = await service.call('jobs.cancel', { jobId });
    expect(cancelling).toMatchObject({ status: 'running', cancelRequested: true });
    fake.release();
    await waitFor(() => events.some((e) => e.status === 'cancelled' && e.jobId === jobId));
    const job = await service.call('jobs.get', { jobId });
    expect(job.status).toBe('cancelled');
    expect(job.progress).toBeLessThan(1);
    // The first image was finished before the cancel took effect at the next step.
    expect(job.generationIds).toHaveLength(1);
    expect(jobEvents(jobId).some((e) => e.status === 'done')).toBe(false);
    expect((await fail('jobs.cancel', { jobId })).code).toBe('conflict');
  });

  it('reports a pipeline failure naming its cause, and writes no rows', async () => {
    const error = Object.assign(new Error('unknown LoRA tag <lora:nope:1> (registered: none)'), {
      name: 'GenerateParamsError',
    });
    open(fakeGenerate({ failAtTick: { tick: 2, error } }));
    const model = await checkpoint();
    const { jobId } = await service.call('generate.start', {
      modelId: model.id,
      prompt: '<lora:nope:1> a cat',
      steps: 3,
      width: 64,
      height: 64,
    });
    await waitFor(() => events.some((e) => e.status === 'error' && e.jobId === jobId));
    const job = await service.call('jobs.get', { jobId });
    expect(job.status).toBe('error');
    expect(job.error).toEqual({
      code: 'bad_request',
      message: expect.stringMatching(/^Generate 1 image: .*failed: unknown LoRA tag <lora:nope:1>/),
    });
    expect((await service.call('generations.list', {})).total).toBe(0);
  });

  it('checks the request before queueing: models, kinds, files, sizes', async () => {
    open(fakeGenerate());
    const base = { prompt: 'p', width: 64, height: 64 };
    expect((await fail('generate.start', base)).message).toMatch(
      /modelId: give modelId \(a registered checkpoint\) or modelPath/,
    );
    expect((await fail('generate.start', { ...base, modelId: 99 })).message).toBe(
      'modelId: model #99 does not exist',
    );
    const lora = path.join(dir, 'style.safetensors');
    fs.copyFileSync(LORA_FIXTURE, lora); // models.add reads the kind from the header
    const loraModel = await service.call('models.add', { path: lora, kind: 'lora' });
    expect((await fail('generate.start', { ...base, modelId: loraModel.id })).message).toMatch(
      /model #\d+ \("style"\) is a lora, not a checkpoint/,
    );
    const missing = path.join(dir, 'gone.safetensors');
    expect((await fail('generate.start', { ...base, modelPath: missing })).message).toBe(
      `modelPath: no such file or folder "${missing}"`,
    );
    const model = await checkpoint();
    const bad = await fail('generate.start', {
      ...base,
      modelId: model.id,
      width: 100,
      sampler: 'plms',
      loras: [{ strength: 1 }],
    });
    expect(bad.code).toBe('bad_request');
    expect(bad.message).toMatch(/width: must be a multiple of 8 \(got 100\)/);
    expect(bad.message).toMatch(/sampler: .*"euler_a"/);
    expect(bad.message).toMatch(/loras\.0: give modelId/);
    expect(
      (await fail('generate.start', { ...base, modelId: model.id, loras: [{ modelId: model.id }] }))
        .message,
    ).toMatch(/loras\.0\.modelId: model #\d+ \("tiny"\) is a checkpoint, not a lora/);
    expect(fake.calls).toHaveLength(0);
    expect(await service.call('jobs.list', {})).toEqual([]);
  });

  it('passes LoRAs, VAE, settings and prompt-tag lookup to the pipeline', async () => {
    open(fakeGenerate());
    const out = makeTempDir();
    try {
      await service.call('settings.set', { outputDir: out, executionProvider: 'cpu' });
      const model = await checkpoint();
      const loraFile = path.join(dir, 'Ink_Style.safetensors');
      fs.copyFileSync(LORA_FIXTURE, loraFile);
      const lora = await service.call('models.add', { path: loraFile, kind: 'lora', name: 'ink' });
      const { jobId } = await service.call('generate.start', {
        modelId: model.id,
        vaePath: path.join(TINY_SD, 'vae'),
        prompt: 'a <lora:ink_style:0.5> cat',
        loras: [{ modelId: lora.id, strength: 0.8 }],
        steps: 1,
        width: 64,
        height: 64,
      });
      await waitFor(() => events.some((e) => e.status === 'done' && e.jobId === jobId));
      const [params] = fake.calls;
      expect(params).toMatchObject({
        vaePath: path.join(TINY_SD, 'vae'),
        loras: [{ path: loraFile, strength: 0.8 }],
        ep: 'cpu',
      });
      expect(params.outputDir.startsWith(path.join(out, 'txt2img'))).toBe(true);
      const job = await service.call('jobs.get', { jobId });
      expect(job.generations[0].params.loras).toEqual([{ path: loraFile, strength: 0.8 }]);
      expect(job.generations[0].filePath.startsWith(out)).toBe(true);
    } finally {
      removeDir(out);
    }
  });

  it('parses A1111 parameters from a PNG or a text, naming what is missing', async () => {
    open(fakeGenerate());
    const text =
      'masterpiece, <lora:ink:0.7> fox\nNegative prompt: blurry\n' +
      'Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, ' +
      'Size: 512x768, Model hash: abcdef1234, Model: dreamshaper_8, Clip skip: 2, ' +
      'Lora hashes: "ink: 0123456789", Version: v1.10.1';
    const png = Buffer.from(await solidPng(8, 8, text)).toString('base64');
    const fromPng = await service.call('infotext.parse', { png });
    expect(fromPng.infotext).toBe(text);
    expect(fromPng.params).toMatchObject({
      prompt: 'masterpiece, <lora:ink:0.7> fox',
      negativePrompt: 'blurry',
      sampler: 'dpmpp_2m_karras',
      samplerName: 'DPM++ 2M (Karras)',
      steps: 28,
      cfgScale: 6.5,
      seed: 1234,
      width: 512,
      height: 768,
      clipSkip: 2,
      model: 'dreamshaper_8',
      loraHashes: [{ name: 'ink', hash: '0123456789' }],
    });
    const dataUrl = await service.call('infotext.parse', { png: `data:image/png;base64,${png}` });
    expect(dataUrl.params.seed).toBe(1234);
    const fromText = await service.call('infotext.parse', {
      text: 'a cat\nSteps: 5, Sampler: Euler a, Seed: 7',
    });
    expect(fromText.params).toMatchObject({ prompt: 'a cat', sampler: 'euler_a', steps: 5 });

    const plain = Buffer.from(await solidPng(8, 8)).toString('base64');
    expect((await fail('infotext.parse', { png: plain })).message).toMatch(
      /this PNG has no A1111 "parameters" text \(it has no text chunks\)/,
    );
    expect((await fail('infotext.parse', { png: 'aGVsbG8=' })).message).toMatch(/png: not a PNG/);
    expect((await fail('infotext.parse', {})).message).toMatch(/give png \(base64\) or text/);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}
