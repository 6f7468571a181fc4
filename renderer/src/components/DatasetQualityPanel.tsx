// The quality report (datasets.quality): near-duplicates, too-small, blurry and odd-aspect
// images with the core's keep/exclude suggestion for each; one button applies the exclusions.

import { useState } from 'react';
import type { Dataset, DatasetImage } from '../../../core/api';
import { useTransport } from '../api';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';

interface Suggestion {
  id: number;
  action: 'exclude' | 'keep';
  reasons: string[];
}

function suggestionsOf(result: unknown): Suggestion[] | null {
  const list = (result as { suggestions?: unknown } | undefined)?.suggestions;
  return Array.isArray(list) ? (list as Suggestion[]) : null;
}

export function DatasetQualityPanel(props: { dataset: Dataset; images: DatasetImage[] }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [applied, setApplied] = useState(false);
  const job = useJob((j) => {
    if (j.status === 'error') notify.error('Quality report failed', new Error(j.error?.message));
  });
  const suggestions = job.job?.status === 'done' ? suggestionsOf(job.job.result) : null;
  const toExclude = (suggestions ?? []).filter((s) => s.action === 'exclude');
  const names = new Map(props.images.map((i) => [i.id, i.relPath ?? i.path]));

  const start = async () => {
    setApplied(false);
    const started = await run('Could not start the quality report', () =>
      transport.call('datasets.quality', { datasetId: props.dataset.id }),
    );
    if (started) job.track(started.jobId);
  };

  const apply = async () => {
    const done = await run('Could not exclude the images', async () => {
      for (const s of toExclude) {
        await transport.call('images.update', { id: s.id, flags: { excluded: true } });
      }
      return true;
    });
    if (done) {
      setApplied(true);
      notify.success(`${toExclude.length} image(s) excluded`);
    }
  };

  return (
    <section className="panel form" aria-labelledby="quality-heading" data-testid="quality-panel">
      <h2 id="quality-heading">Quality check</h2>
      <div className="actions">
        <button
          type="button"
          onClick={start}
          disabled={busy || job.active || props.dataset.imageCount === 0}
          data-testid="quality-button"
        >
          {job.active
            ? `Checking… ${Math.round((job.job?.progress ?? 0) * 100)} %`
            : 'Check quality'}
        </button>
        {toExclude.length > 0 && !applied && (
          <button type="button" onClick={apply} disabled={busy} data-testid="quality-apply">
            Exclude {toExclude.length} suggested
          </button>
        )}
      </div>
      {suggestions && suggestions.length === 0 && (
        <p className="muted small">No duplicates, tiny, blurry or odd-shaped images found.</p>
      )}
      {suggestions && suggestions.length > 0 && (
        <ul data-testid="quality-suggestions">
          {suggestions.map((s) => (
            <li key={s.id}>
              <span className="mono">{names.get(s.id) ?? `#${s.id}`}</span> —{' '}
              <strong>{s.action}</strong>: <span className="muted">{s.reasons.join(' ')}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
