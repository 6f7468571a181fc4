import { useState, type FormEvent } from 'react';
import type { Dataset } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { EmptyState, QueryView } from '../components/states';
import { formatDate } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

export function DatasetsScreen() {
  const datasets = useApiQuery('datasets.list', {}, ['datasets', 'images']);
  return (
    <>
      <header className="screen-header">
        <h1>Datasets</h1>
        <p className="muted">
          A dataset is the set of images (and their captions) a LoRA learns from.
        </p>
      </header>
      <CreateDatasetForm onCreated={datasets.reload} />
      <section aria-labelledby="datasets-list-heading">
        <h2 id="datasets-list-heading">Your datasets</h2>
        <QueryView query={datasets} what="datasets">
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No datasets yet" testId="datasets-empty">
                Create one above. Importing a folder of images (with dedup, text filtering and
                captioning) arrives with the import pipeline.
              </EmptyState>
            ) : (
              <DatasetTable datasets={items} onRemoved={datasets.reload} />
            )
          }
        </QueryView>
      </section>
    </>
  );
}

function CreateDatasetForm(props: { onCreated: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await run('Could not create the dataset', () =>
      transport.call('datasets.create', { name, description }),
    );
    if (created) {
      notify.success(`Dataset “${created.name}” created`);
      setName('');
      setDescription('');
      props.onCreated();
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
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create dataset'}
        </button>
      </div>
    </form>
  );
}

function DatasetTable(props: { datasets: Dataset[]; onRemoved: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();

  const remove = async (dataset: Dataset) => {
    const done = await run(`Could not delete “${dataset.name}”`, () =>
      transport.call('datasets.remove', { id: dataset.id }),
    );
    if (done) {
      notify.success(`Dataset “${dataset.name}” deleted (image files were left alone)`);
      props.onRemoved();
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
