import { useState, type FormEvent } from 'react';
import type { Dataset } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { DatasetEditor } from '../components/DatasetEditor';
import { EmptyState, QueryView } from '../components/states';
import { formatDate } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

export function DatasetsScreen() {
  const datasets = useApiQuery('datasets.list', {}, ['datasets', 'images']);
  const [open, setOpen] = useState<{ id: number; importJobId: string | null } | null>(null);
  const opened = (id: number, importJobId: string | null = null) => {
    datasets.reload();
    setOpen({ id, importJobId });
  };
  return (
    <>
      <header className="screen-header">
        <h1>Datasets</h1>
        <p className="muted">
          A dataset is the set of images (and their captions) a LoRA learns from.
        </p>
      </header>
      <CreateDatasetForm onCreated={opened} />
      <section aria-labelledby="datasets-list-heading">
        <h2 id="datasets-list-heading">Your datasets</h2>
        <QueryView query={datasets} what="datasets">
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No datasets yet" testId="datasets-empty">
                Create one above, with the folder of images (and .txt captions) to import.
              </EmptyState>
            ) : (
              <DatasetTable
                datasets={items}
                openId={open?.id ?? null}
                onOpen={(id) => setOpen({ id, importJobId: null })}
                onRemoved={(id) => {
                  if (open?.id === id) setOpen(null);
                  datasets.reload();
                }}
              />
            )
          }
        </QueryView>
      </section>
      {open && (
        <DatasetEditor
          key={`${open.id}:${open.importJobId ?? ''}`}
          datasetId={open.id}
          importJobId={open.importJobId}
        />
      )}
    </>
  );
}

function CreateDatasetForm(props: { onCreated: (id: number, importJobId?: string) => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [folder, setFolder] = useState('');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await run('Could not create the dataset', () =>
      transport.call('datasets.create', { name, description }),
    );
    if (created) {
      notify.success(`Dataset “${created.name}” created`);
      setName('');
      setDescription('');
      // The folder is imported as a job; the opened dataset shows its progress.
      const started = folder.trim()
        ? await run('Could not start the import', () =>
            transport.call('datasets.import', { datasetId: created.id, folder: folder.trim() }),
          )
        : undefined;
      setFolder('');
      props.onCreated(created.id, started?.jobId);
    }
  };

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="new-dataset-heading">
      <h2 id="new-dataset-heading">New dataset</h2>
      <div className="field">
        <label htmlFor="dataset-name">Name</label>
        <input
          id="dataset-name"
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="e.g. ink-sketches"
          maxLength={200}
          required
        />
      </div>
      <div className="field">
        <label htmlFor="dataset-description">Description (optional)</label>
        <textarea
          id="dataset-description"
          name="description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          rows={2}
          placeholder="What the images show, the style you are after…"
        />
      </div>
      <div className="field">
        <label htmlFor="dataset-folder">Images folder (optional, absolute path; only read)</label>
        <input
          id="dataset-folder"
          name="folder"
          value={folder}
          onChange={(e) => setFolder(e.target.value)}
          placeholder="/home/me/pictures/ink-sketches"
          data-testid="dataset-folder"
        />
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create dataset'}
        </button>
      </div>
    </form>
  );
}

function DatasetTable(props: {
  datasets: Dataset[];
  openId: number | null;
  onOpen: (id: number) => void;
  onRemoved: (id: number) => void;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();

  const remove = async (dataset: Dataset) => {
    const done = await run(`Could not delete “${dataset.name}”`, () =>
      transport.call('datasets.remove', { id: dataset.id }),
    );
    if (done) {
      notify.success(`Dataset “${dataset.name}” deleted (image files were left alone)`);
      props.onRemoved(dataset.id);
    }
  };

  return (
    <table className="table" data-testid="datasets-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col" className="num">
            Images
          </th>
          <th scope="col" className="num">
            Captioned
          </th>
          <th scope="col" className="num">
            Excluded
          </th>
          <th scope="col">Updated</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.datasets.map((dataset) => (
          <tr key={dataset.id}>
            <td>
              <div className="strong">{dataset.name}</div>
              {dataset.description && <div className="muted small">{dataset.description}</div>}
            </td>
            <td className="num">{dataset.imageCount}</td>
            <td className="num">{dataset.captionedCount}</td>
            <td className="num">{dataset.excludedCount}</td>
            <td>{formatDate(dataset.updatedAt)}</td>
            <td className="row-actions">
              <button
                type="button"
                onClick={() => props.onOpen(dataset.id)}
                aria-pressed={props.openId === dataset.id}
                data-testid="dataset-open"
              >
                Open
              </button>
              <ConfirmButton
                label="Delete"
                confirmLabel={`Delete “${dataset.name}”?`}
                disabled={busy}
                onConfirm={() => remove(dataset)}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
