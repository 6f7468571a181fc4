// Follows one core job by its id through the event stream: status, progress, message, result.
// Used by the model registry's jobs (scan, hashes, download); generation has its own hook.
import { useCallback, useRef, useState } from 'react';
import type { ApiError, JobStatus } from '../../core/api';
import { useApiEvents, useTransport } from './api';

export interface JobState {
  jobId: string;
  status: JobStatus;
  progress: number;
  step: number | null;
  total: number | null;
  message: string | null;
  error: ApiError | null;
  result: unknown;
}

export function useJob(onFinished?: (job: JobState) => void): {
  job: JobState | null;
  track: (jobId: string) => void;
  cancel: () => Promise<void>;
  active: boolean;
} {
  const transport = useTransport();
  const [job, setJob] = useState<JobState | null>(null);
  const onFinishedRef = useRef(onFinished);
  onFinishedRef.current = onFinished;
  // The latest state, for callbacks that run between renders.
  const jobRef = useRef<JobState | null>(null);
  const update = useCallback((next: JobState) => {
    jobRef.current = next;
    setJob(next);
  }, []);

  useApiEvents((event) => {
    const job = jobRef.current;
    if (!('jobId' in event) || !job || event.jobId !== job.jobId) return;
    if (job.status !== 'queued' && job.status !== 'running') return;
    let next: JobState | null = null;
    if (event.status === 'progress') {
      next = {
        ...job,
        status: 'running',
        progress: event.progress,
        step: event.step ?? job.step,
        total: event.total ?? job.total,
        message: event.message ?? job.message,
      };
    } else if (event.status === 'done') {
      next = { ...job, status: 'done', progress: 1, result: event.result };
    } else if (event.status === 'error') {
      next = { ...job, status: 'error', error: event.error };
    } else if (event.status === 'cancelled') {
      next = { ...job, status: 'cancelled' };
    }
    if (!next) return;
    update(next);
    if (next.status !== 'running') onFinishedRef.current?.(next);
  });

  const track = useCallback(
    (jobId: string) => {
      update({
        jobId,
        status: 'queued',
        progress: 0,
        step: null,
        total: null,
        message: null,
        error: null,
        result: undefined,
      });
      // A short job may have finished before its id came back: ask once where it stands.
      void transport.call('jobs.get', { jobId }).then(
        (j) => {
          if (j.status !== 'done' && j.status !== 'error' && j.status !== 'cancelled') return;
          const done: JobState = {
            jobId,
            status: j.status,
            progress: j.progress,
            step: j.step,
            total: j.total,
            message: j.message,
            error: j.error,
            result: undefined,
          };
          const current = jobRef.current;
          if (current?.jobId !== jobId || current.status === j.status) return;
          update(done);
          onFinishedRef.current?.(done);
        },
        () => undefined,
      );
    },
    [transport, update],
  );

  const cancel = useCallback(async () => {
    const current = jobRef.current;
    if (current) {
      await transport.call('jobs.cancel', { jobId: current.jobId }).catch(() => undefined);
    }
  }, [transport]);

  return { job, track, cancel, active: job?.status === 'queued' || job?.status === 'running' };
}
