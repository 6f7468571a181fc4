// Training through the API: runs.start on the tiny SD model and a generated 4-image folder,
// progress events, the exported LoRA registered as a model, cancel with a checkpoint, resume.
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../core/api.js';
import { createApiService, type ApiService } from '../../core/service/index.js';
import { runDirOf } from '../../core/train/index.js';
import { makeTinyDataset, tinyConfig } from '../train/run-helpers.js';

type Progress = Extract<ApiEvent, { status: 'progress' }>;

describe('training runs through the API (tiny SD)', () => {
  let service: ApiService;
  let root: string;
  const events: ApiEvent[] = [];

  const waitJob = async (jobId: string) => {
    for (;;) {
      const job = await service.call('jobs.get', { jobId });
      if (['done', 'error', 'cancelled'].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const progressOf = (jobId: string) =>
    events.filter((e): e is Progress => e.status === 'progress' && e.jobId === jobId);

  beforeAll(async () => {
    let dataDir: string;
    ({ root, dataDir } = await makeTinyDataset());
    service = createApiService({ dataDir });
    service.onEvent((e) => events.push(e));
  });
  afterAll(() => service?.close());

  it('rejects a bad config with messages that name the fields', async () => {
    const bad = service.call('runs.start', {
      config: tinyConfig(root, { network_dim: 0, resolution: 100 }),
    });
    await expect(bad).rejects.toMatchObject({ code: 'bad_request' });
    await expect(bad).rejects.toThrow(/network_dim.*\n.*resolution: must be a multiple of 64/s);
    await expect(
      service.call('runs.start', { config: tinyConfig(`${root}-missing`) }),
    ).rejects.toThrow(/train_data_dir: .* does not exist/);
  });

  it('runs a job: monotonic progress with loss/lr/speed, LoRA exported and registered', async () => {
    const { jobId, runId } = await service.call('runs.start', {
      name: 'api run',
      config: tinyConfig(root, { save_every_n_steps: 0 }),
    });
    expect(service.store.runs.get(runId)?.status).toMatch(/queued|running/);
    const job = await waitJob(jobId);
    expect(job.status, job.error?.message).toBe('done');

    const steps = progressOf(jobId).filter((e) => e.loss !== undefined);
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    const progress = progressOf(jobId).map((e) => e.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    for (const e of steps) {
      expect(e).toMatchObject({ total: 4, runId, skippedSteps: 0, dynamicCaptions: false });
      expect(Number.isFinite(e.loss)).toBe(true);
      expect(e.lr).toBeCloseTo(1e-3, 9);
      expect(e.itPerSec).toBeGreaterThan(0);
      expect(e.etaSeconds).toBeGreaterThanOrEqual(0);
    }
    expect(steps.at(-1)?.etaSeconds).toBe(0);

    const run = await service.call('runs.get', { id: runId });
    expect(run).toMatchObject({ status: 'completed', name: 'api run', jobId: null });
    expect(run.config).toMatchObject({ resolution: 64, rank: 4, maxSteps: 4 });
    expect(run.steps.map((s) => s.step)).toEqual([0, 1, 2, 3]);
    expect(run.steps.map((s) => s.loss)).toEqual(steps.map((e) => e.loss));
    expect(run.runConfig).toMatchObject({ network_dim: 4, resolution: 64 });
    expect(run.artifacts).toHaveLength(1);
    const loras = await service.call('models.list', { kind: 'lora' });
    const model = loras.find((m) => m.path === run.artifacts[0].path);
    expect(model, 'the exported LoRA is a model row').toBeDefined();
  }, 90_000);

  it('cancel stops with a checkpoint (pause), resume completes the run', async () => {
    const { jobId, runId } = await service.call('runs.start', {
      config: tinyConfig(root, {
        output_name: 'paused',
        max_train_steps: 4,
        save_every_n_steps: 0,
      }),
    });
    // Pause after the first step is reported.
    let cancelled: Promise<unknown> | undefined;
    const off = service.onEvent((e) => {
      if (!cancelled && e.status === 'progress' && e.jobId === jobId && e.step === 1)
        cancelled = service.call('runs.cancel', { id: runId, pause: true });
    });
    const job = await waitJob(jobId);
    off();
    await cancelled;
    expect(job.status).toBe('cancelled');
    const paused = await service.call('runs.get', { id: runId });
    expect(paused.status).toBe('paused');
    const stoppedAt = paused.steps.length;
    expect(stoppedAt).toBeGreaterThanOrEqual(1);
    expect(stoppedAt).toBeLessThan(4);
    const files = await readdir(runDirOf(service.dataDir, runId));
    expect(files).toContain(`state-step${String(stoppedAt).padStart(8, '0')}.safetensors`);
    await expect(service.call('runs.start', { runId })).rejects.toMatchObject({
      code: 'conflict',
    });

    const resumed = await service.call('runs.resume', { id: runId });
    expect(resumed.runId).toBe(runId);
    const done = await waitJob(resumed.jobId);
    expect(done.status, done.error?.message).toBe('done');
    const resumedSteps = progressOf(resumed.jobId)
      .filter((e) => e.loss !== undefined)
      .map((e) => e.step);
    expect(resumedSteps[0]).toBe(stoppedAt + 1);
    expect(resumedSteps.at(-1)).toBe(4);
    const run = await service.call('runs.get', { id: runId });
    expect(run.status).toBe('completed');
    expect(run.steps.map((s) => s.step)).toEqual([0, 1, 2, 3]);
    await expect(service.call('runs.resume', { id: runId })).rejects.toMatchObject({
      code: 'conflict',
    });
  }, 90_000);
});
