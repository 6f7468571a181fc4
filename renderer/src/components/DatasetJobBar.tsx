// A dataset job under way (import, text scan, captioning): status, bar, message, Cancel.

import { useEffect, useState } from 'react';
import type { JobState } from '../use-job';

export function DatasetJobBar(props: {
  job: JobState;
  active: boolean;
  label: string;
  testId: string;
  onCancel: () => Promise<void>;
}) {
  const [cancelling, setCancelling] = useState(false);
  const { job, active } = props;
  useEffect(() => setCancelling(false), [job.jobId]);
  return (
    <div className="job-progress" data-testid={props.testId} data-status={job.status}>
      <div className="section-header">
        <strong>{active ? (cancelling ? 'Stopping…' : props.label) : job.status}</strong>
        <span className="muted small">{Math.round(job.progress * 100)} %</span>
      </div>
      <progress max={1} value={job.progress} aria-label={`${props.label} progress`} />
      <p className="muted small">{job.error?.message ?? job.message ?? '\u00a0'}</p>
      {active && (
        <div className="actions">
          <button
            type="button"
            className="danger"
            disabled={cancelling}
            onClick={() => {
              setCancelling(true);
              void props.onCancel();
            }}
            data-testid={`${props.testId}-cancel`}
          >
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}
