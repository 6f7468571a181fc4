// One dataset opened: import a folder (job with progress + Cancel), the files the import
// skipped and why, auto-captioning, the OCR text scan with its threshold and overlay preview,
// the quality report, kohya export, and the image grid.

import { useEffect, useState, type FormEvent } from 'react';
import type { Dataset, DatasetImage } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';
import { DatasetJobBar as JobBar } from './DatasetJobBar';
import { DatasetCaptionPanel } from './DatasetCaptionPanel';
import { DatasetImageGrid, type ExternalCaptionEdit } from './DatasetImageGrid';
import { DatasetTextOverlay } from './DatasetTextOverlay';
import { DatasetQualityPanel } from './DatasetQualityPanel';
import { QueryView } from './states';

function ImportPanel(props: { dataset: Dataset; autoJobId: string | null }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [folder, setFolder] = useState(props.dataset.sourceDir ?? '');
  const { sourceDir } = props.dataset;
  // Filled in once an import has recorded its folder (unless the user typed one meanwhile).
  useEffect(() => {
    if (sourceDir) setFolder((current) => current || sourceDir);
  }, [sourceDir]);
  const job = useJob((j) => {
    if (j.status === 'done') notify.success(`Import into “${props.dataset.name}” finished`);
    if (j.status === 'error') notify.error('Import failed', new Error(j.error?.message));
  });
  const { track } = job;
  // An import started together with the dataset (the create form) is followed from here.
  useEffect(() => {
    if (props.autoJobId) track(props.autoJobId);
  }, [props.autoJobId, track]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const started = await run('Could not start the import', () =>
      transport.call('datasets.import', { datasetId: props.dataset.id, folder: folder.trim() }),
    );
    if (started) job.track(started.jobId);
  };

  const skipped = props.dataset.skipped;
  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="import-heading">
      <h2 id="import-heading">Import images</h2>
      <div className="field">
        <label htmlFor="import-folder">
          Folder (absolute path; it is only read, never changed)
        </label>
        <input
          id="import-folder"
          value={folder}
          onChange={(e) => setFolder(e.target.value)}
          placeholder="/home/me/pictures/ink-sketches"
          data-testid="import-folder"
          required
        />
      </div>
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={busy || !folder.trim() || job.active}
          data-testid="import-button"
        >
          Import
        </button>
      </div>
      {job.job && (
        <JobBar
          job={job.job}
          active={job.active}
          label="Importing…"
          testId="import-progress"
          onCancel={job.cancel}
        />
      )}
      {skipped.length > 0 && (
        <details className="details" open data-testid="skipped-list">
          <summary>
            {skipped.length} file{skipped.length === 1 ? '' : 's'} skipped
          </summary>
          <ul>
            {skipped.map((s) => (
              <li key={s.relPath} data-testid="skipped-item">
                <span className="mono">{s.relPath}</span> — <strong>{s.reason}</strong>:{' '}
                <span className="muted">{s.message}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </form>
  );
}

function ScanPanel(props: { dataset: Dataset; images: DatasetImage[] }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [percent, setPercent] = useState(0.5);
  const job = useJob((j) => {
    if (j.status === 'error') notify.error('Text scan failed', new Error(j.error?.message));
  });
  const scan = async () => {
    const started = await run('Could not start the text scan', () =>
      transport.call('datasets.scanText', {
        datasetId: props.dataset.id,
        flagRatio: percent / 100,
      }),
    );
    if (started) job.track(started.jobId);
  };
  return (
    <section className="panel form" aria-labelledby="scan-heading">
      <h2 id="scan-heading">Text filter</h2>
      <p className="muted small">
        Flags images where text (watermarks, captions, signatures) covers at least the threshold.
        Flagged images are left out of training unless you press Keep. Moving the threshold and
        scanning again re-uses the measurements.
      </p>
      <div className="field">
        <label htmlFor="scan-threshold">Threshold: {percent.toFixed(1)} % of the image</label>
        <input
          id="scan-threshold"
          type="range"
          min={0.1}
          max={10}
          step={0.1}
          value={percent}
          onChange={(e) => setPercent(Number(e.target.value))}
          data-testid="scan-threshold"
        />
      </div>
      <div className="actions">
        <button
          type="button"
          onClick={scan}
          disabled={busy || job.active || props.dataset.imageCount === 0}
          data-testid="scan-button"
        >
          Scan for text
        </button>
        <span className="muted small" data-testid="flagged-count">
          {props.dataset.flaggedCount} flagged
        </span>
      </div>
      {job.job && (
        <JobBar
          job={job.job}
          active={job.active}
          label="Scanning…"
          testId="scan-progress"
          onCancel={job.cancel}
        />
      )}
      <DatasetTextOverlay
        datasetId={props.dataset.id}
        images={props.images}
        flagRatio={percent / 100}
      />
    </section>
  );
}

function ExportPanel(props: { dataset: Dataset }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [folder, setFolder] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const done = await run('Could not export', () =>
      transport.call('datasets.exportKohya', {
        datasetId: props.dataset.id,
        folder: folder.trim(),
        overwrite,
      }),
    );
    if (done) {
      notify.success(
        `Exported ${done.images} images (${done.captions} captions) into ${done.subfolders.join(', ')}`,
      );
    }
  };
  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="export-heading">
      <h2 id="export-heading">Export as kohya folder</h2>
      <div className="field">
        <label htmlFor="export-folder">Folder (one subfolder per repeat group, like 5_cat)</label>
        <input
          id="export-folder"
          value={folder}
          onChange={(e) => setFolder(e.target.value)}
          placeholder="/home/me/train/ink-sketches"
          data-testid="export-folder"
          required
        />
      </div>
      <label className="small">
        <input
          type="checkbox"
          checked={overwrite}
          onChange={(e) => setOverwrite(e.target.checked)}
        />{' '}
        Replace files that already exist
      </label>
      <div className="actions">
        <button type="submit" disabled={busy || !folder.trim()} data-testid="export-button">
          Export as kohya folder
        </button>
      </div>
    </form>
  );
}

export function DatasetEditor(props: { datasetId: number; importJobId: string | null }) {
  const dataset = useApiQuery('datasets.get', { id: props.datasetId }, ['datasets', 'images']);
  const images = useApiQuery('images.list', { datasetId: props.datasetId, limit: 1000 }, [
    'images',
  ]);
  const [external, setExternal] = useState<ExternalCaptionEdit | null>(null);
  return (
    <div data-testid="dataset-editor">
      <QueryView query={dataset} what="the dataset">
        {(d) => (
          <>
            <header className="section-header">
              <h2>{d.name}</h2>
              <span className="muted small">
                {d.imageCount} images · {d.captionedCount} captioned · {d.excludedCount} excluded
                {d.flaggedCount ? ` · ${d.flaggedCount} flagged for text` : ''}
              </span>
            </header>
            <ImportPanel key={d.id} dataset={d} autoJobId={props.importJobId} />
            <DatasetCaptionPanel
              dataset={d}
              onCaptioned={(label, changes) =>
                setExternal((e) => ({ seq: (e?.seq ?? 0) + 1, label, changes }))
              }
            />
            <ScanPanel dataset={d} images={images.data?.items ?? []} />
            <DatasetQualityPanel dataset={d} images={images.data?.items ?? []} />
            <ExportPanel dataset={d} />
          </>
        )}
      </QueryView>
      <QueryView query={images} what="images">
        {(list) => (
          <DatasetImageGrid datasetId={props.datasetId} images={list.items} external={external} />
        )}
      </QueryView>
    </div>
  );
}
