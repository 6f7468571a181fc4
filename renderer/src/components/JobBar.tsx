// A registry job under way (scan, hashes, download): a bar, the job's own words, and Cancel.
import type { JobState } from '../use-job';

export function JobBar(props: { job: JobState; label: string; onCancel?: () => void }) {
  const { job } = props;
  const active = job.status === 'queued' || job.status === 'running';
  return (
    <div className="job-bar" data-testid="job-bar" data-status={job.status}>
      <progress max={1} value={job.progress} aria-label={props.label} />
      <span className="muted small">
        {Math.round(job.progress * 100)} %{job.message ? ` · ${job.message}` : ''}
        {job.status === 'error' && job.error ? ` · ${job.error.message}` : ''}
        {job.status === 'cancelled' ? ' · cancelled' : ''}
      </span>
      {active && props.onCancel && (
        <button type="button" className="danger" onClick={props.onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}
