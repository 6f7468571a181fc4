import { useState, type FormEvent } from 'react';
import type { Dataset, Model, RunStatus, TrainingRun } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { EmptyState, QueryView } from '../components/states';
import { formatDate, formatNumber } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

const STATUS_LABEL: Record<RunStatus, string> = {
  draft: 'Draft',
  queued: 'Queued',
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

const RESOLUTIONS = [256, 384, 512, 640, 768, 1024];

export function TrainScreen() {
  const runs = useApiQuery('runs.list', {}, ['runs']);
  const datasets = useApiQuery('datasets.list', {}, ['datasets']);
  const checkpoints = useApiQuery('models.list', { kind: 'checkpoint' }, ['models']);
  return (
    <>
      <header className="screen-header">
        <h1>Train</h1>
        <p className="muted">
          Teach a LoRA a style or subject from one of your datasets, on top of a base checkpoint.
          Runs keep their settings, loss history and outputs.
        </p>
      </header>
      <NewRunForm
        datasets={datasets.data ?? []}
        checkpoints={checkpoints.data ?? []}
        loading={datasets.loading || checkpoints.loading}
        onCreated={runs.reload}
      />
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Training history</h2>
        <QueryView query={runs} what="training runs">
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No training runs yet" testId="runs-empty">
                Runs you set up appear here with their status, steps and last loss.
              </EmptyState>
            ) : (
              <RunTable
                runs={items}
                datasets={datasets.data ?? []}
                checkpoints={checkpoints.data ?? []}
                onRemoved={runs.reload}
              />
            )
          }
        </QueryView>
      </section>
    </>
  );
}

function NewRunForm(props: {
  datasets: Dataset[];
  checkpoints: Model[];
  loading: boolean;
  onCreated: () => void;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [name, setName] = useState('');
  const [datasetId, setDatasetId] = useState('');
  const [baseModelId, setBaseModelId] = useState('');
  const [maxSteps, setMaxSteps] = useState('1000');
  const [rank, setRank] = useState('16');
  const [learningRate, setLearningRate] = useState('0.0001');
  const [resolution, setResolution] = useState('512');

  const missing: string[] = [];
  if (!props.loading && props.datasets.length === 0) missing.push('a dataset (Datasets)');
  if (!props.loading && props.checkpoints.length === 0) missing.push('a checkpoint (Models)');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const created = await run('Could not save the training run', () =>
      transport.call('runs.create', {
        name,
        datasetId: Number(datasetId),
        baseModelId: Number(baseModelId),
        config: {
          maxSteps: Number(maxSteps),
          rank: Number(rank),
          alpha: Number(rank),
          learningRate: Number(learningRate),
          resolution: Number(resolution),
        },
      }),
    );
    if (created) {
      notify.success(`Run “${created.name}” saved as a draft`);
      setName('');
      props.onCreated();
    }
  };

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="new-run-heading">
      <h2 id="new-run-heading">New training run</h2>
      <p className="muted small">
        Saved as a draft with its settings; starting runs arrives with the trainer.
      </p>
      {missing.length > 0 && (
        <p className="notice" data-testid="train-missing">
          To set up a run you first need {missing.join(' and ')}.
        </p>
      )}
      <div className="field-row">
        <div className="field grow">
          <label htmlFor="run-name">Name</label>
          <input
            id="run-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            maxLength={200}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="run-dataset">Dataset</label>
          <select
            id="run-dataset"
            value={datasetId}
            onChange={(e) => setDatasetId(e.target.value)}
            required
          >
            <option value="">Choose…</option>
            {props.datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="run-base">Base checkpoint</label>
          <select
            id="run-base"
            value={baseModelId}
            onChange={(e) => setBaseModelId(e.target.value)}
            required
          >
            <option value="">Choose…</option>
            {props.checkpoints.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="run-steps">Steps</label>
          <input
            id="run-steps"
            type="number"
            min={1}
            value={maxSteps}
            onChange={(e) => setMaxSteps(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="run-rank">Rank (network dim)</label>
          <input
            id="run-rank"
            type="number"
            min={1}
            max={256}
            value={rank}
            onChange={(e) => setRank(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="run-lr">Learning rate</label>
          <input
            id="run-lr"
            type="number"
            min={0}
            step="any"
            value={learningRate}
            onChange={(e) => setLearningRate(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="run-resolution">Resolution</label>
          <select
            id="run-resolution"
            value={resolution}
            onChange={(e) => setResolution(e.target.value)}
          >
            {RESOLUTIONS.map((r) => (
              <option key={r} value={r}>
                {r} px
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={busy || missing.length > 0 || !name.trim()}
        >
          {busy ? 'Saving…' : 'Save draft'}
        </button>
      </div>
    </form>
  );
}

function RunTable(props: {
  runs: TrainingRun[];
  datasets: Dataset[];
  checkpoints: Model[];
  onRemoved: () => void;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const datasetName = new Map(props.datasets.map((d) => [d.id, d.name]));
  const modelName = new Map(props.checkpoints.map((m) => [m.id, m.name]));

  const remove = async (item: TrainingRun) => {
    const done = await run(`Could not delete “${item.name}”`, () =>
      transport.call('runs.remove', { id: item.id }),
    );
    if (done) {
      notify.success(`Run “${item.name}” deleted`);
      props.onRemoved();
    }
  };

  return (
    <table className="table" data-testid="runs-table">
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Dataset</th>
          <th scope="col">Base</th>
          <th scope="col" className="num">
            Steps
          </th>
          <th scope="col" className="num">
            Last loss
          </th>
          <th scope="col">Created</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.runs.map((item) => (
          <tr key={item.id}>
            <td className="strong">{item.name}</td>
            <td>
              <span className={`badge badge-${item.status}`}>{STATUS_LABEL[item.status]}</span>
              {item.error && <div className="small error-text">{item.error}</div>}
            </td>
            <td>
              {item.datasetId === null
                ? '—'
                : (datasetName.get(item.datasetId) ?? `#${item.datasetId}`)}
            </td>
            <td>
              {item.baseModelId === null
                ? '—'
                : (modelName.get(item.baseModelId) ?? `#${item.baseModelId}`)}
            </td>
            <td className="num">
              {item.lastStep ?? 0} / {item.config.maxSteps}
            </td>
            <td className="num">{formatNumber(item.lastLoss)}</td>
            <td>{formatDate(item.createdAt)}</td>
            <td className="row-actions">
              <ConfirmButton
                label="Delete"
                confirmLabel="Delete run?"
                disabled={busy || item.status === 'running'}
                onConfirm={() => remove(item)}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
