// The quality report (datasets.quality, kept and re-read with datasets.report): near-duplicates,
// too-small, blurry and odd-aspect images with the core's keep/exclude suggestion for each. The
// artist accepts or overrides each suggestion, then applies the decisions in one go.

import { useEffect, useState } from 'react';
import type { Dataset, DatasetImage } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { formatDate } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';

interface Suggestion {
  id: number;
  action: 'exclude' | 'keep';
  reasons: string[];
}

type Decision = 'exclude' | 'keep' | 'ignore';

function suggestionsOf(report: unknown): Suggestion[] | null {
  const list = (report as { suggestions?: unknown } | undefined)?.suggestions;
  return Array.isArray(list) ? (list as Suggestion[]) : null;
}

export function DatasetQualityPanel(props: { dataset: Dataset; images: DatasetImage[] }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const stored = useApiQuery('datasets.report', { id: props.dataset.id }, ['datasets']);
  const { reload } = stored;
  const [decisions, setDecisions] = useState<Record<number, Decision>>({});
  const job = useJob((j) => {
    if (j.status === 'done') reload();
    if (j.status === 'error') notify.error('Quality report failed', new Error(j.error?.message));
  });
  const suggestions = stored.data ? suggestionsOf(stored.data.report) : null;
  // A new report starts from its own suggestions.
  const reportAt = stored.data?.createdAt;
  useEffect(() => setDecisions({}), [reportAt]);
  const names = new Map(props.images.map((i) => [i.id, i.relPath ?? i.path]));
  const present = (suggestions ?? []).filter((s) => names.has(s.id));
  const decided = (s: Suggestion): Decision => decisions[s.id] ?? s.action;

  const start = async () => {
    const started = await run('Could not start the quality report', () =>
      transport.call('datasets.quality', { datasetId: props.dataset.id }),
    );
    if (started) job.track(started.jobId);
  };

  const apply = async () => {
    let excluded = 0;
    let kept = 0;
    const done = await run('Could not apply the decisions', async () => {
      for (const s of present) {
        const d = decided(s);
        if (d === 'ignore') continue;
        // Keep pins the image: automatic filters (dedup, OCR) never exclude it afterwards.
        const flags = d === 'exclude' ? { excluded: true } : { excluded: false, keep: true };
        await transport.call('images.update', { id: s.id, flags });
        if (d === 'exclude') excluded++;
        else kept++;
      }
      return true;
    });
    if (done) notify.success(`${excluded} image(s) excluded, ${kept} kept`);
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
        {present.length > 0 && (
          <button type="button" onClick={apply} disabled={busy} data-testid="quality-apply">
            Apply {present.length} decision{present.length === 1 ? '' : 's'}
          </button>
        )}
        {stored.data && (
          <span className="muted small">Report of {formatDate(stored.data.createdAt)}</span>
        )}
      </div>
      {suggestions && present.length === 0 && (
        <p className="muted small">No duplicates, tiny, blurry or odd-shaped images found.</p>
      )}
      {present.length > 0 && (
        <ul data-testid="quality-suggestions">
          {present.map((s) => (
            <li key={s.id} data-testid="quality-suggestion">
              <span className="mono">{names.get(s.id)}</span> —{' '}
              <span className="muted">{s.reasons.join(' ')}</span>{' '}
              <select
                aria-label={`Decision for ${names.get(s.id)}`}
                value={decided(s)}
                onChange={(e) =>
                  setDecisions((d) => ({ ...d, [s.id]: e.target.value as Decision }))
                }
                data-testid="quality-decision"
              >
                <option value="exclude">
                  Exclude{s.action === 'exclude' ? ' (suggested)' : ''}
                </option>
                <option value="keep">Keep{s.action === 'keep' ? ' (suggested)' : ''}</option>
                <option value="ignore">Leave as is</option>
              </select>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
