// The job runner on its own: one job at a time, progress that never goes down and ends at
// 100 %, cancellation of queued and running jobs, failures that name their cause.
import { describe, expect, it } from 'vitest';
import { apiEventSchema, type ApiEvent } from '../../core/api.js';
import { JobRunner, ServiceError, type JobHandle, type JobSpec } from '../../core/service/index.js';

function runner() {
  const events: ApiEvent[] = [];
  const jobs = new JobRunner({
    emit: (e) => events.push(apiEventSchema.parse(e)), // every event satisfies the contract
    keepFinished: 3,
  });
  const of = (jobId: string) =>
    events.filter((e) => 'jobId' in e && e.jobId === jobId) as (ApiEvent & { jobId: string })[];
  return { jobs, events, of };
}

/** A job body the test drives by hand. */
function manual() {
  let handle!: JobHandle;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const spec: JobSpec = {
    kind: 'generate',
    label: 'manual job',
    run: (h) =>
      new Promise((resolve, reject) => {
        handle = h;
        finish = () => resolve({ result: { ok: true } });
        fail = reject;
        h.signal.addEventListener('abort', () =>
          reject(Object.assign(new Error('stopped'), { name: 'AbortError' })),
        );
        markStarted();
      }),
  };
  return {
    spec,
    started,
    get handle() {
      return handle;
    },
    finish: () => finish(),
    fail: (err: unknown) => fail(err),
  };
}

const progressOf = (events: ApiEvent[]) =>
  events.flatMap((e) => (e.status === 'progress' ? [e.progress] : []));

describe('JobRunner', () => {
  it('reports initiate → progress… → done, never going down, ending at 100 %', async () => {
    const { jobs, of } = runner();
    const m = manual();
    const job = jobs.enqueue(m.spec);
    expect(job.status).toBe('queued');
    await m.started;
    expect(jobs.get(job.id).status).toBe('running');
    for (const p of [0.1, 0.4, 0.3, 0.35, 0.8]) m.handle.report({ progress: p, step: 1, total: 5 });
    m.handle.report({ progress: Number.NaN });
    m.finish();
    const settled = await jobs.whenSettled(job.id);
    expect(settled).toMatchObject({ status: 'done', progress: 1, error: null });
    const events = of(job.id);
    expect(events[0]).toMatchObject({ status: 'initiate', label: 'manual job', kind: 'generate' });
    expect(events.at(-1)).toMatchObject({ status: 'done', result: { ok: true } });
    const progress = progressOf(events);
    expect(progress).toEqual([0, 0.1, 0.4, 0.4, 0.4, 0.8, 0.8, 1]);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    }
    // The event before `done` says 100 %.
    expect(events.at(-2)).toMatchObject({ status: 'progress', progress: 1 });
  });

  it('runs one job at a time, in order', async () => {
    const { jobs } = runner();
    const a = manual();
    const b = manual();
    const ja = jobs.enqueue(a.spec);
    const jb = jobs.enqueue(b.spec);
    await a.started;
    await new Promise((r) => setTimeout(r, 10));
    expect(jobs.get(jb.id).status).toBe('queued');
    a.finish();
    await b.started;
    expect(jobs.get(ja.id).status).toBe('done');
    expect(jobs.get(jb.id).status).toBe('running');
    b.finish();
    await jobs.whenSettled(jb.id);
    expect(jobs.list().map((j) => j.id)).toEqual([jb.id, ja.id]);
    expect(jobs.list({ status: 'running' })).toEqual([]);
  });

  it('drops a queued job at once and stops a running one through its signal', async () => {
    const { jobs, of } = runner();
    const a = manual();
    const b = manual();
    const ja = jobs.enqueue(a.spec);
    const jb = jobs.enqueue(b.spec);
    await a.started;
    expect(jobs.cancel(jb.id).status).toBe('cancelled');
    const running = jobs.cancel(ja.id);
    expect(running).toMatchObject({ status: 'running', cancelRequested: true });
    expect(a.handle.signal.aborted).toBe(true);
    expect((await jobs.whenSettled(ja.id)).status).toBe('cancelled');
    expect(of(ja.id).at(-1)?.status).toBe('cancelled');
    expect(of(jb.id).map((e) => e.status)).toEqual(['initiate', 'cancelled']);
    // Finished jobs cannot be cancelled again; unknown ids are not found.
    expect(() => jobs.cancel(ja.id)).toThrow(/already cancelled/);
    expect(() => jobs.get('nope')).toThrow(ServiceError);
    expect(() => jobs.get('nope')).toThrow(/job "nope" does not exist/);
  });

  it('reports a failure with its cause, and goes on with the next job', async () => {
    const { jobs, of } = runner();
    const a = manual();
    const b = manual();
    const ja = jobs.enqueue(a.spec);
    const jb = jobs.enqueue(b.spec);
    await a.started;
    a.fail(new Error('UNet session: out of memory'));
    const failed = await jobs.whenSettled(ja.id);
    expect(failed.status).toBe('error');
    expect(failed.error).toEqual({
      code: 'internal',
      message: 'manual job failed: UNet session: out of memory',
    });
    expect(of(ja.id).at(-1)).toMatchObject({ status: 'error', error: failed.error });
    await b.started;
    b.fail(new ServiceError('bad_request', 'steps: too many'));
    expect((await jobs.whenSettled(jb.id)).error).toEqual({
      code: 'bad_request',
      message: 'steps: too many',
    });
  });

  it('attaches previews as PNG data URLs and keeps the latest for polling', async () => {
    const { jobs, of } = runner();
    const m = manual();
    const job = jobs.enqueue(m.spec);
    await m.started;
    m.handle.report({ progress: 0.5, previewPng: Uint8Array.of(0x89, 0x50, 0x4e, 0x47) });
    expect(jobs.get(job.id).preview).toBe('data:image/png;base64,iVBORw==');
    expect(of(job.id).at(-1)).toMatchObject({ preview: 'data:image/png;base64,iVBORw==' });
    m.finish();
    await jobs.whenSettled(job.id);
  });

  it('forgets the oldest finished jobs and refuses new ones once closed', async () => {
    const { jobs } = runner();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const job = jobs.enqueue({ kind: 'eval', label: `j${i}`, run: async () => ({}) });
      ids.push(job.id);
      await jobs.whenSettled(job.id);
    }
    expect(jobs.list().map((j) => j.label)).toEqual(['j4', 'j3', 'j2']);
    const m = manual();
    const open = jobs.enqueue(m.spec);
    await m.started;
    jobs.close();
    expect((await jobs.whenSettled(open.id)).status).toBe('cancelled');
    expect(() => jobs.enqueue(m.spec)).toThrow(/shutting down/);
  });
});
