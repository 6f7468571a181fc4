// Recent generations with their settings; each can send its parameters back to the form.

import type { Generation } from '../../../core/api';
import { formatDate } from '../format';
import { SAMPLER_LABELS } from '../generate-form';
import { GenerationImage } from './GenerationImage';

export function GenerationGallery(props: {
  items: Generation[];
  total: number;
  /** Rows of the job just finished, shown first and marked. */
  latestIds: readonly number[];
  onSendToPrompt: (generation: Generation) => void;
  onUseSeed: (seed: number) => void;
}) {
  const latest = new Set(props.latestIds);
  const items = [
    ...props.items.filter((g) => latest.has(g.id)),
    ...props.items.filter((g) => !latest.has(g.id)),
  ];
  return (
    <>
      <p className="muted small">
        {props.total > items.length
          ? `The ${items.length} newest of ${props.total} images (all of them are under Library).`
          : `${props.total} image${props.total === 1 ? '' : 's'}.`}
      </p>
      <ul className="gallery" data-testid="generate-gallery">
        {items.map((g) => (
          <li
            key={g.id}
            className={latest.has(g.id) ? 'gallery-item latest' : 'gallery-item'}
            data-testid="gallery-item"
            data-generation-id={g.id}
          >
            <GenerationImage generation={g} className="gallery-image" />
            <div className="gallery-caption">
              <p className="gallery-prompt" title={g.params.prompt}>
                {g.params.prompt || <span className="muted">(empty prompt)</span>}
              </p>
              <p className="muted small">
                {SAMPLER_LABELS[g.params.sampler]} · {g.params.steps} steps · CFG{' '}
                {g.params.cfgScale} · {g.params.width}×{g.params.height}
              </p>
              <p className="muted small">
                Seed <span className="mono">{g.seed}</span> · {formatDate(g.createdAt)}
              </p>
              <div className="actions">
                <button type="button" onClick={() => props.onSendToPrompt(g)}>
                  Send to prompt
                </button>
                <button type="button" className="quiet" onClick={() => props.onUseSeed(g.seed)}>
                  Use seed
                </button>
              </div>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}
