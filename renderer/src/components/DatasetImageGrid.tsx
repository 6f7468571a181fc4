// The images of a dataset: thumbnails with editable captions (saved on blur), Exclude / Keep
// toggles, the OCR flag badge, and the bulk caption tools (find/replace, add/remove a tag over
// the selection or all, tag counts with click-to-filter, undo of the last caption change).

import { useEffect, useMemo, useState } from 'react';
import type { CaptionChange, DatasetImage } from '../../../core/api';
import { useTransport } from '../api';
import { addTag, removeTag, replaceText, splitTags, tagFrequency } from '../caption-tools';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

export function thumbFileUrl(id: number): string {
  return `/files/thumbs/${id}.webp`;
}

export function Thumbnail(props: { image: DatasetImage }) {
  const transport = useTransport();
  const { image } = props;
  const [src, setSrc] = useState<string | null>(
    transport.kind === 'http' ? thumbFileUrl(image.id) : null,
  );
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (transport.kind === 'http') return;
    let cancelled = false;
    transport.call('images.thumbnail', { id: image.id }).then(
      (t) => !cancelled && setSrc(`data:${t.mime};base64,${t.data}`),
      () => !cancelled && setFailed(true),
    );
    return () => {
      cancelled = true;
    };
  }, [transport, image.id]);
  if (failed || !image.thumbPath) {
    return (
      <div className="image-missing muted small" role="img" aria-label="No thumbnail">
        No thumbnail
      </div>
    );
  }
  if (!src) return <div className="image-loading" aria-busy="true" />;
  return (
    <img
      className="gallery-image"
      src={src}
      alt={image.caption || image.relPath || 'Dataset image'}
      onError={() => setFailed(true)}
      data-testid="image-thumb"
    />
  );
}

/** Caption edits made elsewhere (auto-captioning) that join the undo history; `seq` orders them. */
export interface ExternalCaptionEdit {
  seq: number;
  label: string;
  changes: CaptionChange[];
}

export function DatasetImageGrid(props: {
  datasetId: number;
  images: DatasetImage[];
  external?: ExternalCaptionEdit | null;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set());
  const [tagFilter, setTagFilter] = useState<string | null>(null);
  const [find, setFind] = useState('');
  const [replacement, setReplacement] = useState('');
  const [tag, setTag] = useState('');
  const [history, setHistory] = useState<{ label: string; changes: CaptionChange[] }[]>([]);
  const { external } = props;
  useEffect(() => {
    if (external?.changes.length) {
      setHistory((h) => [...h.slice(-49), { label: external.label, changes: external.changes }]);
    }
  }, [external]);

  const tags = useMemo(() => tagFrequency(props.images.map((i) => i.caption)), [props.images]);
  const shown = tagFilter
    ? props.images.filter((i) => splitTags(i.caption).includes(tagFilter))
    : props.images;
  const targets = selected.size ? shown.filter((i) => selected.has(i.id)) : shown;

  const save = async (changes: CaptionChange[], label: string, record = true) => {
    const real = changes.filter((c) => c.before !== c.after);
    if (!real.length) {
      notify.success(`${label}: no caption changed`);
      return;
    }
    const done = await run(`Could not save captions (${label})`, async () => {
      // One call, one transaction: a bulk edit (or its undo) is never half applied.
      await transport.call('datasets.setCaptions', {
        datasetId: props.datasetId,
        captions: real.map((c) => ({ id: c.id, caption: c.after })),
      });
      return true;
    });
    if (done && record) setHistory((h) => [...h.slice(-49), { label, changes: real }]);
  };

  const bulk = (label: string, edit: (caption: string) => string) =>
    save(
      targets.map((i) => ({ id: i.id, before: i.caption, after: edit(i.caption) })),
      label,
    );

  const undo = async () => {
    const last = history.at(-1);
    if (!last) return;
    setHistory((h) => h.slice(0, -1));
    await save(
      last.changes.map((c) => ({ id: c.id, before: c.after, after: c.before })),
      `Undo ${last.label}`,
      false,
    );
  };

  const setFlag = (image: DatasetImage, flags: { excluded?: boolean; keep?: boolean }) =>
    run('Could not change the image', () =>
      transport.call('images.update', { id: image.id, flags }),
    );

  const toggleSelected = (id: number) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const scope = selected.size ? `${targets.length} selected` : `all ${targets.length} shown`;

  return (
    <section className="panel" aria-labelledby="images-heading" data-testid="image-section">
      <div className="section-header">
        <h2 id="images-heading">Images</h2>
        <div className="actions">
          <button
            type="button"
            onClick={undo}
            disabled={busy || history.length === 0}
            data-testid="undo-button"
          >
            {history.length ? `Undo ${history.at(-1)!.label}` : 'Undo'}
          </button>
        </div>
      </div>

      <div className="field-row">
        <div className="field">
          <label htmlFor="caption-find">Find</label>
          <input
            id="caption-find"
            value={find}
            onChange={(e) => setFind(e.target.value)}
            data-testid="find-input"
          />
        </div>
        <div className="field">
          <label htmlFor="caption-replace">Replace with</label>
          <input
            id="caption-replace"
            value={replacement}
            onChange={(e) => setReplacement(e.target.value)}
            data-testid="replace-input"
          />
        </div>
        <div className="actions">
          <button
            type="button"
            disabled={busy || !find}
            onClick={() => bulk(`replace “${find}”`, (c) => replaceText(c, find, replacement))}
            data-testid="replace-button"
          >
            Replace in {scope}
          </button>
        </div>
      </div>

      <div className="field-row">
        <div className="field">
          <label htmlFor="caption-tag">Tag</label>
          <input
            id="caption-tag"
            value={tag}
            onChange={(e) => setTag(e.target.value)}
            placeholder="e.g. my_trigger"
            data-testid="tag-input"
          />
        </div>
        <div className="actions">
          <button
            type="button"
            disabled={busy || !tag.trim()}
            onClick={() => bulk(`add “${tag.trim()}”`, (c) => addTag(c, tag))}
            data-testid="add-tag"
          >
            Add to {scope}
          </button>
          <button
            type="button"
            disabled={busy || !tag.trim()}
            onClick={() => bulk(`remove “${tag.trim()}”`, (c) => removeTag(c, tag))}
            data-testid="remove-tag"
          >
            Remove from {scope}
          </button>
          {selected.size > 0 && (
            <button type="button" onClick={() => setSelected(new Set())}>
              Clear selection
            </button>
          )}
        </div>
      </div>

      {tags.length > 0 && (
        <div className="tag-list" data-testid="tag-frequency" aria-label="Tags by frequency">
          {tagFilter && (
            <button type="button" className="tag active" onClick={() => setTagFilter(null)}>
              Showing “{tagFilter}” · show all
            </button>
          )}
          {tags.slice(0, 60).map((t) => (
            <button
              type="button"
              key={t.tag}
              className={t.tag === tagFilter ? 'tag active' : 'tag'}
              onClick={() => setTagFilter(t.tag === tagFilter ? null : t.tag)}
              data-testid="tag-chip"
            >
              {t.tag} <span className="muted">{t.count}</span>
            </button>
          ))}
        </div>
      )}

      <div className="gallery dataset-grid" data-testid="image-grid">
        {shown.map((image) => {
          const flagged = image.textFlagged === true;
          const leftOut = image.flags.excluded || (flagged && !image.flags.keep);
          return (
            <figure
              key={image.id}
              className={leftOut ? 'gallery-item left-out' : 'gallery-item'}
              data-testid="image-card"
              data-rel-path={image.relPath ?? ''}
            >
              <Thumbnail image={image} />
              <figcaption className="gallery-caption">
                <div className="section-header">
                  <label className="small">
                    <input
                      type="checkbox"
                      checked={selected.has(image.id)}
                      onChange={() => toggleSelected(image.id)}
                    />{' '}
                    {image.relPath ?? image.path}
                  </label>
                  {flagged && (
                    <span
                      className="badge badge-failed"
                      title={`Text covers ${((image.textRatio ?? 0) * 100).toFixed(1)} % of the image`}
                      data-testid="text-badge"
                    >
                      Text {((image.textRatio ?? 0) * 100).toFixed(1)} %
                    </span>
                  )}
                </div>
                <textarea
                  key={`${image.id}:${image.caption}`}
                  defaultValue={image.caption}
                  rows={3}
                  aria-label={`Caption of ${image.relPath ?? image.id}`}
                  data-testid="caption-input"
                  onBlur={(e) =>
                    e.target.value !== image.caption &&
                    save(
                      [{ id: image.id, before: image.caption, after: e.target.value }],
                      'caption edit',
                    )
                  }
                />
                <div className="actions">
                  <button
                    type="button"
                    aria-pressed={image.flags.excluded}
                    onClick={() => setFlag(image, { excluded: !image.flags.excluded })}
                    data-testid="exclude-toggle"
                  >
                    {image.flags.excluded ? 'Include' : 'Exclude'}
                  </button>
                  <button
                    type="button"
                    aria-pressed={image.flags.keep}
                    onClick={() => setFlag(image, { keep: !image.flags.keep })}
                    title="Kept images are never left out by the text filter"
                    data-testid="keep-toggle"
                  >
                    {image.flags.keep ? 'Kept' : 'Keep'}
                  </button>
                  {leftOut && <span className="muted small">not trained</span>}
                </div>
              </figcaption>
            </figure>
          );
        })}
      </div>
    </section>
  );
}
