// Follows one generate job: its events (progress, preview) as they arrive, plus a jobs.get
// snapshot after starting, after `done` (for the rows) and after a reconnect (events may have
// been missed). Snapshots and events may arrive out of order: a finished job stays finished
// and progress never goes back.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiError, ApiEvent, ApiInput, Generation, JobStatus } from '../../core/api';
import { useApiEvents, useTransport } from './api';

export interface TrackedJob {
  id: string;
  status: JobStatus;
  progress: number;
  message: string | null;
  step: number | null;
  total: number | null;
  preview: string | null;
  error: ApiError | null;
  cancelRequested: boolean;
  generations: Generation[];
}

const FINISHED: readonly JobStatus[] = ['done', 'error', 'cancelled'];

export const isFinished = (status: JobStatus): boolean => FINISHED.includes(status);

function merge(current: TrackedJob, update: Partial<TrackedJob>): TrackedJob {
  const status =
    isFinished(current.status) && update.status && !isFinished(update.status)
      ? current.status
      : (update.status ?? current.status);
  return {
    ...current,
    ...update,
    status,
    progress: Math.max(current.progress, update.progress ?? 0),
    preview: update.preview ?? current.preview,
    error: update.error ?? current.error,
    generations: update.generations?.length ? update.generations : current.generations,
  };
}

function fromEvent(event: ApiEvent): Partial<TrackedJob> | null {
  switch (event.status) {
    case 'initiate':
      return { status: 'queued' };
    case 'progress':
      return {
        status: 'running',
        progress: event.progress,
        ...(event.message !== undefined && { message: event.message }),
        ...(event.step !== undefined && { step: event.step }),
        ...(event.total !== undefined && { total: event.total }),
        ...(event.preview !== undefined && { preview: event.preview }),
      };
    case 'done':
      return { status: 'done', progress: 1 };
    case 'error':
      return { status: 'error', error: event.error };
    case 'cancelled':
      return { status: 'cancelled' };
    default:
      return null;
  }
}

export function useGenerateJob(): {
  job: TrackedJob | null;
  start(request: ApiInput<'generate.start'>): Promise<void>;
  cancel(): Promise<void>;
} {
  const transport = useTransport();
  const [job, setJob] = useState<TrackedJob | null>(null);
  const current = useRef<string | null>(null);

  const update = useCallback((id: string, patch: Partial<TrackedJob>) => {
    setJob((previous) => (previous && previous.id === id ? merge(previous, patch) : previous));
  }, []);

  const sync = useCallback(
    async (id: string) => {
      const snapshot = await transport.call('jobs.get', { jobId: id });
      update(id, snapshot);
    },
    [transport, update],
  );

  const follow = useCallback((id: string) => {
    current.current = id;
    setJob({
      id,
      status: 'queued',
      progress: 0,
      message: null,
      step: null,
      total: null,
      preview: null,
      error: null,
      cancelRequested: false,
      generations: [],
    });
  }, []);

  useApiEvents((event) => {
    const id = current.current;
    if (!id || !('jobId' in event) || event.jobId !== id) return;
    const patch = fromEvent(event);
    if (patch) update(id, patch);
    if (event.status === 'done') void sync(id).catch(() => undefined);
  });

  // Back on the screen while a job runs (or after a reload): pick it up again.
  useEffect(() => {
    let cancelled = false;
    void transport.call('jobs.list', { kind: 'generate' }).then(
      (jobs) => {
        const active = jobs.find((j) => !isFinished(j.status));
        if (!cancelled && active && !current.current) {
          follow(active.id);
          void sync(active.id).catch(() => undefined);
        }
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [transport, follow, sync]);

  useEffect(() => {
    let previous = transport.connection();
    return transport.onConnectionChange((next) => {
      const id = current.current;
      if (next === 'connected' && previous !== 'connected' && id) {
        void sync(id).catch(() => undefined);
      }
      previous = next;
    });
  }, [transport, sync]);

  const start = useCallback(
    async (request: ApiInput<'generate.start'>) => {
      const { jobId } = await transport.call('generate.start', request);
      follow(jobId);
      // Events sent before the reply named the job are in this snapshot.
      await sync(jobId);
    },
    [transport, follow, sync],
  );

  const cancel = useCallback(async () => {
    const id = current.current;
    if (!id) return;
    const job = await transport.call('jobs.cancel', { jobId: id });
    update(id, job);
  }, [transport, update]);

  return { job, start, cancel };
}
