// A generation under way: a progress bar, the step, the latest preview, and Cancel.

import type { TrackedJob } from '../use-generate-job';

const STATUS_TEXT: Record<TrackedJob['status'], string> = {
  queued: 'Waiting for the job before it…',
  running: 'Generating…',
  done: 'Done',
  error: 'Failed',
  cancelled: 'Cancelled',
};

export function JobProgress(props: { job: TrackedJob; onCancel: () => void; cancelling: boolean }) {
  const { job } = props;
  const percent = Math.round(job.progress * 100);
  const active = job.status === 'queued' || job.status === 'running';
  return (
    <div className="panel job-progress" data-testid="generate-progress" data-status={job.status}>
      <div className="job-progress-body">
        <div className="job-progress-text">
          <div className="section-header">
            <strong>{job.cancelRequested && active ? 'Stopping…' : STATUS_TEXT[job.status]}</strong>
            <span className="muted small" data-testid="generate-percent">
              {percent} %
            </span>
          </div>
          <progress max={1} value={job.progress} aria-label="Generation progress" />
          <p className="muted small" data-testid="generate-step">
            {job.message ?? (job.total ? `Step ${job.step ?? 0} of ${job.total}` : '\u00a0')}
          </p>
          {active && (
            <div className="actions">
              <button
                type="button"
                className="danger"
                onClick={props.onCancel}
                disabled={props.cancelling || job.cancelRequested}
              >
                Cancel
              </button>
            </div>
          )}
        </div>
        {job.preview && (
          <img
            className="job-preview"
            src={job.preview}
            alt="Preview of the image being generated"
            data-testid="generate-preview"
          />
        )}
      </div>
    </div>
  );
}
