// OCR overlay preview: every scanned image that has text boxes, drawn over its thumbnail, and
// which of them the threshold flags, updated live while the slider moves (the ratios are
// stored; nothing is re-measured until "Scan for text" applies the threshold).

import type { DatasetImage } from '../../../core/api';
import { useApiQuery } from '../api';
import { Thumbnail } from './DatasetImageGrid';

export function DatasetTextOverlay(props: {
  datasetId: number;
  images: DatasetImage[];
  /** Share of the image (0…1) at or over which an image is flagged. */
  flagRatio: number;
}) {
  const boxes = useApiQuery('datasets.textBoxes', { id: props.datasetId }, ['images']);
  const byId = new Map(props.images.map((i) => [i.id, i]));
  const measured = (boxes.data?.images ?? []).filter((m) => byId.has(m.id));
  const scanned = props.images.filter((i) => i.textRatio !== null);
  const wouldFlag = scanned.filter((i) => (i.textRatio ?? 0) >= props.flagRatio).length;
  const withText = measured.filter((m) => m.boxes.length > 0);
  if (!scanned.length) return null;
  return (
    <div data-testid="text-overlay">
      <p className="small" data-testid="live-flagged">
        At this threshold {wouldFlag} of {scanned.length} scanned image
        {scanned.length === 1 ? '' : 's'} would be flagged.
      </p>
      {withText.length > 0 && (
        <div className="gallery">
          {withText.map((m) => {
            const flagged = m.textRatio >= props.flagRatio;
            return (
              <figure
                key={m.id}
                className="gallery-item"
                data-testid="text-overlay-item"
                data-flagged={flagged}
              >
                <div style={{ position: 'relative' }}>
                  <Thumbnail image={byId.get(m.id)!} />
                  <svg
                    viewBox={`0 0 ${m.width} ${m.height}`}
                    preserveAspectRatio="xMidYMid meet"
                    style={{ position: 'absolute', inset: 0, width: '100%', height: '100%' }}
                    role="img"
                    aria-label={`${m.boxes.length} text box${m.boxes.length === 1 ? '' : 'es'}`}
                  >
                    {m.boxes.map((b, k) => (
                      <rect
                        key={k}
                        x={b.x}
                        y={b.y}
                        width={b.width}
                        height={b.height}
                        fill={flagged ? 'rgba(220,40,40,0.25)' : 'rgba(240,200,40,0.2)'}
                        stroke={flagged ? '#e33' : '#eb3'}
                        strokeWidth={Math.max(1, m.width / 200)}
                        data-testid="text-box"
                      >
                        {b.text && <title>{b.text}</title>}
                      </rect>
                    ))}
                  </svg>
                </div>
                <figcaption className="muted small">
                  {(m.textRatio * 100).toFixed(1)} % text{flagged ? ' · flagged' : ''}
                </figcaption>
              </figure>
            );
          })}
        </div>
      )}
    </div>
  );
}
