// The job runner: long work (a generation, later training or captioning) queued and run one at
// a time off the request path. Each job reports through ApiEvents with its jobId:
//   initiate → progress… → done | error | cancelled
// Progress never goes down, and a job that succeeds always says 100 % before `done` (the
// transformers.js convention, so a UI's bar cannot stick at 97 % or jump back).
import { randomUUID } from 'node:crypto';
import type { ApiError, ApiEvent, Job, JobKind, JobStatus } from '../api.js';
import { ServiceError, conflict, notFound } from './errors.js';

export interface JobProgressUpdate {
  /** 0…1 of the whole job; lower values than already reported are ignored. */
  progress: number;
  step?: number;
  total?: number;
  message?: string;
  /** An intermediate image (PNG bytes), sent as a data URL. */
  previewPng?: Uint8Array;
  /** Training figures carried as they are by the progress event (loss, lr, it/s, ETA, …). */
  metrics?: TrainProgressMetrics;
}

export type TrainProgressMetrics = Partial<
  Pick<
    Extract<ApiEvent, { status: 'progress' }>,
    | 'loss'
    | 'lr'
    | 'itPerSec'
    | 'etaSeconds'
    | 'epoch'
    | 'skippedSteps'
    | 'runId'
    | 'dynamicCaptions'
  >
>;

export interface JobHandle {
  readonly id: string;
  /** Aborted by jobs.cancel and by the service closing. */
  readonly signal: AbortSignal;
  report(update: JobProgressUpdate): void;
  /** Rows the job wrote; kept even when it ends cancelled or failed later. */
  addGenerations(ids: readonly number[]): void;
}

export interface JobOutcome {
  /** Carried by the `done` event; default `{ generationIds }`. */
  result?: Record<string, unknown>;
}

export interface JobSpec {
  kind: JobKind;
  label: string;
  run(job: JobHandle): Promise<JobOutcome>;
}

export interface JobDetails extends Job {
  /** Latest preview as `data:image/png;base64,…`. */
  preview: string | null;
}

interface JobRecord {
  job: Job;
  spec: JobSpec;
  controller: AbortController;
  preview: string | null;
  settled: Promise<void>;
  settle: () => void;
}

export interface JobRunnerOptions {
  emit(event: ApiEvent): void;
  /** Finished jobs kept for jobs.get/list; older ones are forgotten. Default 100. */
  keepFinished?: number;
}

const FINISHED: ReadonlySet<JobStatus> = new Set(['done', 'error', 'cancelled']);

function isCancellation(err: unknown, signal: AbortSignal): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return signal.aborted || name === 'AbortError' || name === 'CancelledError';
}

/** What a failed job reports: the cause in words, with a ServiceError's own code. */
export function jobError(label: string, err: unknown): ApiError {
  if (err instanceof ServiceError) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  // Parameters the pipeline cannot run are the caller's to fix, not an internal fault.
  const code = (err as Error | null)?.name === 'GenerateParamsError' ? 'bad_request' : 'internal';
  return { code, message: `${label} failed: ${message}` };
}

export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

export class JobRunner {
  private readonly records = new Map<string, JobRecord>();
  private readonly queue: JobRecord[] = [];
  private running: JobRecord | null = null;
  private readonly detached = new Set<JobRecord>();
  private closed = false;
  private readonly keepFinished: number;

  constructor(private readonly opts: JobRunnerOptions) {
    this.keepFinished = opts.keepFinished ?? 100;
  }

  /**
   * Queues a job and returns its id at once; it starts when the ones before it are finished.
   * A `detached` job starts at once beside the queue: for coordinators (the demo) that queue
   * other jobs and wait for them — queued, they would wait for themselves.
   */
  enqueue(spec: JobSpec, opts: { detached?: boolean } = {}): Job {
    if (this.closed) throw conflict('the service is shutting down; no new jobs are accepted');
    const now = new Date().toISOString();
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const record: JobRecord = {
      job: {
        id: `${spec.kind}-${randomUUID()}`,
        kind: spec.kind,
        label: spec.label,
        status: 'queued',
        progress: 0,
        step: null,
        total: null,
        message: null,
        cancelRequested: false,
        error: null,
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        generationIds: [],
      },
      spec,
      controller: new AbortController(),
      preview: null,
      settled,
      settle,
    };
    this.records.set(record.job.id, record);
    this.event(record, { status: 'initiate', label: spec.label });
    if (opts.detached) {
      this.detached.add(record);
      queueMicrotask(() => void this.start(record).finally(() => this.detached.delete(record)));
    } else {
      this.queue.push(record);
      queueMicrotask(() => this.pump());
    }
    return { ...record.job };
  }

  get(id: string): JobDetails {
    const record = this.require(id);
    return { ...record.job, preview: record.preview };
  }

  list(filter: { kind?: JobKind; status?: JobStatus } = {}): Job[] {
    return [...this.records.values()]
      .map((r) => r.job)
      .filter(
        (j) =>
          (!filter.kind || j.kind === filter.kind) &&
          (!filter.status || j.status === filter.status),
      )
      .map((j) => ({ ...j }))
      .reverse(); // newest first
  }

  /** Drops a queued job, or asks a running one to stop (it ends as `cancelled`). */
  cancel(id: string): Job {
    const record = this.require(id);
    const { job } = record;
    if (FINISHED.has(job.status)) {
      throw conflict(
        `job ${id} is already ${job.status}; only queued or running jobs can be cancelled`,
      );
    }
    if (job.status === 'queued') {
      this.queue.splice(this.queue.indexOf(record), 1);
      record.controller.abort();
      this.finish(record, 'cancelled');
    } else {
      job.cancelRequested = true;
      record.controller.abort();
    }
    return { ...job };
  }

  /** Resolves when the job has finished, whatever the outcome. */
  async whenSettled(id: string): Promise<Job> {
    const record = this.require(id);
    await record.settled;
    return { ...record.job };
  }

  /** Cancels everything; jobs still running see their signal aborted. */
  close(): void {
    this.closed = true;
    for (const record of [...this.queue]) this.cancel(record.job.id);
    for (const record of [this.running, ...this.detached]) {
      if (!record) continue;
      record.job.cancelRequested = true;
      record.controller.abort();
    }
  }

  private require(id: string): JobRecord {
    const record = this.records.get(id);
    if (!record) throw notFound(`job ${JSON.stringify(id)} does not exist (or finished long ago)`);
    return record;
  }

  private pump(): void {
    if (this.running) return;
    const record = this.queue.shift();
    if (!record) return;
    this.running = record;
    void this.start(record).finally(() => {
      this.running = null;
      this.pump();
    });
  }

  private async start(record: JobRecord): Promise<void> {
    const { job, controller } = record;
    job.status = 'running';
    job.startedAt = new Date().toISOString();
    this.report(record, { progress: 0 });
    const handle: JobHandle = {
      id: job.id,
      signal: controller.signal,
      report: (update) => {
        if (job.status === 'running') this.report(record, update);
      },
      addGenerations: (ids) => {
        job.generationIds = [...job.generationIds, ...ids];
      },
    };
    try {
      const outcome = await record.spec.run(handle);
      // The last word of a successful job is 100 %.
      this.report(record, {
        progress: 1,
        step: job.total ?? undefined,
        total: job.total ?? undefined,
      });
      this.finish(
        record,
        'done',
        undefined,
        outcome.result ?? { generationIds: job.generationIds },
      );
    } catch (err) {
      if (isCancellation(err, controller.signal)) this.finish(record, 'cancelled');
      else this.finish(record, 'error', jobError(job.label, err));
    }
  }

  private report(record: JobRecord, update: JobProgressUpdate): void {
    const { job } = record;
    const progress = Math.min(
      1,
      Math.max(job.progress, Number.isFinite(update.progress) ? update.progress : 0),
    );
    job.progress = progress;
    if (update.step !== undefined) job.step = update.step;
    if (update.total !== undefined) job.total = update.total;
    if (update.message !== undefined) job.message = update.message;
    const preview = update.previewPng ? pngDataUrl(update.previewPng) : undefined;
    if (preview) record.preview = preview;
    this.event(record, {
      status: 'progress',
      progress,
      ...(update.step !== undefined && { step: update.step }),
      ...(update.total !== undefined && { total: update.total }),
      ...(update.message !== undefined && { message: update.message }),
      ...update.metrics,
      ...(preview && { preview }),
    });
  }

  private finish(
    record: JobRecord,
    status: 'done' | 'error' | 'cancelled',
    error?: ApiError,
    result?: unknown,
  ) {
    const { job } = record;
    job.status = status;
    job.finishedAt = new Date().toISOString();
    if (status === 'done') job.progress = 1;
    if (status === 'error') job.error = error ?? null;
    if (status === 'done') this.event(record, { status: 'done', result });
    else if (status === 'error') this.event(record, { status: 'error', error: job.error! });
    else this.event(record, { status: 'cancelled' });
    record.settle();
    this.forgetOld();
  }

  private forgetOld(): void {
    const finished = [...this.records.values()].filter((r) => FINISHED.has(r.job.status));
    for (const r of finished.slice(0, Math.max(0, finished.length - this.keepFinished))) {
      this.records.delete(r.job.id);
    }
  }

  private event(
    record: JobRecord,
    body: DistributiveOmit<JobEvent, 'jobId' | 'kind' | 'at'>,
  ): void {
    const event = {
      ...body,
      jobId: record.job.id,
      kind: record.job.kind,
      at: new Date().toISOString(),
    };
    this.opts.emit(event as ApiEvent);
  }
}

type JobEvent = Extract<ApiEvent, { jobId: string; kind: JobKind }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
