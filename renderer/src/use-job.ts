// Follows any job by id: progress, message and outcome from its events, plus a jobs.get
// snapshot at start (events before the subscription may have been missed).

import { useEffect, useRef, useState } from 'react';
import type { ApiError, JobStatus } from '../../core/api';
import { useApiEvents, useTransport } from './api';

export interface JobView {
  id: string;
  status: JobStatus;
  progress: number;
  message: string | null;
  error: ApiError | null;
  cancelRequested: boolean;
  result: unknown;
}

const FINISHED: readonly JobStatus[] = ['done', 'error', 'cancelled'];

export function isJobActive(job: JobView | null): boolean {
  return job !== null && !FINISHED.includes(job.status);
}

export function useJob(jobId: string | null, onFinished?: (job: JobView) => void): JobView | null {
  const transport = useTransport();
  const [job, setJob] = useState<JobView | null>(null);

  const update = (patch: Partial<JobView>) =>
    setJob((current) => {
      if (!current || !jobId) return current;
      if (FINISHED.includes(current.status)) return current; // a finished job stays finished
      return { ...current, ...patch, progress: Math.max(current.progress, patch.progress ?? 0) };
    });

  const finishedRef = useRef(onFinished);
  finishedRef.current = onFinished;
  const finished = job !== null && FINISHED.includes(job.status);
  useEffect(() => {
    if (finished && job) finishedRef.current?.(job);
    // Once per job: `finished` flips false → true a single time for each id.
    // eslint-disable-next-line
  }, [finished, job?.id]);

  useEffect(() => {
    if (!jobId) {
      setJob(null);
      return;
    }
    setJob({
      id: jobId,
      status: 'queued',
      progress: 0,
      message: null,
      error: null,
      cancelRequested: false,
      result: undefined,
    });
    let cancelled = false;
    transport.call('jobs.get', { jobId }).then(
      (j) =>
        !cancelled &&
        update({
          status: j.status,
          progress: j.progress,
          message: j.message,
          error: j.error,
          cancelRequested: j.cancelRequested,
        }),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [jobId, transport]);

  useApiEvents((event) => {
    if (!jobId || !('jobId' in event) || event.jobId !== jobId) return;
    if (event.status === 'progress') {
      update({ status: 'running', progress: event.progress, message: event.message ?? null });
    } else if (event.status === 'done') {
      update({ status: 'done', progress: 1, result: event.result });
    } else if (event.status === 'error') {
      update({ status: 'error', error: event.error });
    } else if (event.status === 'cancelled') {
      update({ status: 'cancelled' });
    }
  });

  return job;
}
