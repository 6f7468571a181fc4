import { useState, type FormEvent } from 'react';
import type { Dataset, Model, TrainingRun } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { DemoCard } from '../components/DemoCard';
import { EmptyState, QueryView } from '../components/states';
import { TrainRunPanel } from '../components/TrainRunPanel';
import { describeError, formatDate, formatNumber } from '../format';
import { useMutation } from '../mutation';
import { RUN_STATUS_LABEL as STATUS_LABEL } from '../run-status';
import { useNotify } from '../notifications';
import {
  DEFAULT_TRAIN_FORM,
  estimateVram,
  toRunConfig,
  TRAIN_PRESETS,
  type TrainForm,
} from '../train-form';

const RESOLUTIONS = [64, 128, 256, 384, 512, 640, 768, 1024];
const SCHEDULERS: TrainForm['lrScheduler'][] = [
  'constant',
  'constant_with_warmup',
  'linear',
  'cosine',
];

export function TrainScreen() {
  const runs = useApiQuery('runs.list', {}, ['runs']);
  const datasets = useApiQuery('datasets.list', {}, ['datasets']);
  const checkpoints = useApiQuery('models.list', { kind: 'checkpoint' }, ['models']);
  // `#/train?run=<id>` (the Library's link to the run a LoRA came from) opens that run.
  const [selected, setSelected] = useState<number | null>(() => {
    const id = Number(new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('run'));
    return Number.isInteger(id) && id > 0 ? id : null;
  });
  // Follow the newest active run unless the user picked one.
  const active = runs.data?.find((r) => r.status === 'running' || r.status === 'queued');
  const shownId = selected ?? active?.id ?? null;
  return (
    <>
      <header className="screen-header">
        <h1>Train</h1>
        <p className="muted">
          Teach a LoRA a style or subject from a dataset folder, on top of a base checkpoint. Runs
          keep their settings, loss history, checkpoints and outputs.
        </p>
      </header>
      <DemoCard />
      <NewRunForm
        datasets={datasets.data ?? []}
        checkpoints={checkpoints.data ?? []}
        loading={datasets.loading || checkpoints.loading}
        onStarted={(runId) => {
          setSelected(runId);
          runs.reload();
        }}
      />
      {shownId !== null && <TrainRunPanel runId={shownId} />}
      <section aria-labelledby="runs-heading">
        <h2 id="runs-heading">Training history</h2>
        <QueryView query={runs} what="training runs">
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No training runs yet" testId="runs-empty">
                Runs you start appear here with their status, steps and last loss.
              </EmptyState>
            ) : (
              <RunTable
                runs={items}
                datasets={datasets.data ?? []}
                checkpoints={checkpoints.data ?? []}
                selected={shownId}
                onSelect={setSelected}
                onChanged={runs.reload}
              />
            )
          }
        </QueryView>
      </section>
    </>
  );
}

function NumberField(props: {
  id: string;
  label: string;
  value: number;
  onChange: (v: number) => void;
  min?: number;
  max?: number;
  step?: string;
}) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        min={props.min}
        max={props.max}
        step={props.step ?? '1'}
        value={Number.isFinite(props.value) ? props.value : ''}
        onChange={(e) => props.onChange(e.target.valueAsNumber)}
      />
    </div>
  );
}

function NewRunForm(props: {
  datasets: Dataset[];
  checkpoints: Model[];
  loading: boolean;
  onStarted: (runId: number) => void;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const settings = useApiQuery('settings.get', {}, ['settings']);
  const [busy, setBusy] = useState(false);
  const [form, setForm] = useState<TrainForm>(DEFAULT_TRAIN_FORM);
  const [preset, setPreset] = useState(TRAIN_PRESETS[0].id);
  const [errors, setErrors] = useState<string | null>(null);
  const update = (patch: Partial<TrainForm>) => setForm((f) => ({ ...f, ...patch }));
  const vram = estimateVram(form);

  const choosePreset = (id: string) => {
    setPreset(id);
    const p = TRAIN_PRESETS.find((x) => x.id === id);
    if (p) update(p.values);
  };

  const missing = !props.loading && props.checkpoints.length === 0;

  // The API validates the config; its messages (one per bad field) are shown by the form too.
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setErrors(null);
    setBusy(true);
    const ep = settings.data?.executionProvider ?? 'auto';
    try {
      const started = await transport.call('runs.start', {
        name: form.name.trim() || undefined,
        config: toRunConfig(form, ep),
        // Rows the history table names, when the folder and model came from the pickers.
        baseModelId: props.checkpoints.find((m) => m.path === form.modelPath)?.id,
        datasetId: props.datasets.find((d) => d.sourceDir === form.datasetDir)?.id,
      });
      notify.success(`Training “${form.name.trim() || 'lora'}” started`);
      props.onStarted(started.runId);
    } catch (error) {
      setErrors(describeError(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="panel form" onSubmit={submit} noValidate aria-labelledby="new-run-heading">
      <h2 id="new-run-heading">New training run</h2>
      {missing && (
        <p className="notice" data-testid="train-missing">
          To train you first need a base checkpoint (Models).
        </p>
      )}
      <div className="field">
        <label htmlFor="run-preset">Preset</label>
        <select id="run-preset" value={preset} onChange={(e) => choosePreset(e.target.value)}>
          {TRAIN_PRESETS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field-row">
        <div className="field grow">
          <label htmlFor="run-name">Name</label>
          <input
            id="run-name"
            value={form.name}
            placeholder="my_lora"
            onChange={(e) => update({ name: e.target.value })}
            maxLength={200}
          />
        </div>
        <div className="field">
          <label htmlFor="run-base">Base checkpoint</label>
          <select
            id="run-base"
            value={form.modelPath}
            onChange={(e) => update({ modelPath: e.target.value })}
          >
            <option value="">Choose…</option>
            {props.checkpoints.map((m) => (
              <option key={m.id} value={m.path}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="run-dataset">Dataset</label>
          <select
            id="run-dataset"
            value={props.datasets.find((d) => d.sourceDir === form.datasetDir)?.id ?? ''}
            onChange={(e) => {
              const d = props.datasets.find((x) => String(x.id) === e.target.value);
              if (d?.sourceDir) update({ datasetDir: d.sourceDir });
            }}
          >
            <option value="">Folder below…</option>
            {props.datasets
              .filter((d) => d.sourceDir)
              .map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name}
                </option>
              ))}
          </select>
        </div>
        <div className="field grow">
          <label htmlFor="run-folder">Dataset folder</label>
          <input
            id="run-folder"
            className="mono"
            value={form.datasetDir}
            placeholder="/path/to/dataset (kohya: 10_subject/image.png + image.txt)"
            onChange={(e) => update({ datasetDir: e.target.value })}
          />
        </div>
      </div>
      <div className="field-row">
        <NumberField
          id="run-dim"
          label="Network dim (rank)"
          value={form.networkDim}
          min={1}
          max={1024}
          onChange={(v) => update({ networkDim: v })}
        />
        <NumberField
          id="run-alpha"
          label="Network alpha"
          value={form.networkAlpha}
          min={0}
          step="any"
          onChange={(v) => update({ networkAlpha: v })}
        />
        <NumberField
          id="run-lr"
          label="Learning rate"
          value={form.learningRate}
          min={0}
          step="any"
          onChange={(v) => update({ learningRate: v })}
        />
        <div className="field">
          <label htmlFor="run-scheduler">LR scheduler</label>
          <select
            id="run-scheduler"
            value={form.lrScheduler}
            onChange={(e) => update({ lrScheduler: e.target.value as TrainForm['lrScheduler'] })}
          >
            {SCHEDULERS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="run-resolution">Resolution</label>
          <select
            id="run-resolution"
            value={form.resolution}
            onChange={(e) => update({ resolution: Number(e.target.value) })}
          >
            {RESOLUTIONS.map((r) => (
              <option key={r} value={r}>
                {r} px
              </option>
            ))}
          </select>
        </div>
        <NumberField
          id="run-batch"
          label="Batch size"
          value={form.batchSize}
          min={1}
          max={64}
          onChange={(v) => update({ batchSize: v })}
        />
        <NumberField
          id="run-epochs"
          label="Epochs"
          value={form.epochs}
          min={1}
          onChange={(v) => update({ epochs: v })}
        />
        <NumberField
          id="run-steps"
          label="Max steps (0: by epochs)"
          value={form.maxSteps}
          min={0}
          onChange={(v) => update({ maxSteps: v })}
        />
        <NumberField
          id="run-save"
          label="Checkpoint every N epochs"
          value={form.saveEveryEpochs}
          min={0}
          onChange={(v) => update({ saveEveryEpochs: v })}
        />
        <NumberField
          id="run-seed"
          label="Seed"
          value={form.seed}
          min={0}
          onChange={(v) => update({ seed: v })}
        />
      </div>
      <div className="field-row">
        <label className="inline-field">
          <input
            type="checkbox"
            checked={form.shuffleCaption}
            onChange={(e) => update({ shuffleCaption: e.target.checked })}
          />
          Shuffle caption tags
        </label>
        <label className="inline-field">
          <input
            type="checkbox"
            checked={form.flipAug}
            onChange={(e) => update({ flipAug: e.target.checked })}
          />
          Flip augmentation
        </label>
        <NumberField
          id="run-dropout"
          label="Caption dropout rate"
          value={form.captionDropoutRate}
          min={0}
          max={1}
          step="any"
          onChange={(v) => update({ captionDropoutRate: v })}
        />
      </div>
      <div className="field-row">
        <label className="inline-field">
          <input
            type="checkbox"
            data-testid="train-text-encoder"
            checked={form.trainTextEncoder}
            onChange={(e) => update({ trainTextEncoder: e.target.checked })}
          />
          Train the text encoder too
        </label>
        {form.trainTextEncoder && (
          <NumberField
            id="run-te-lr"
            label="Text encoder LR"
            value={form.textEncoderLr}
            min={0}
            step="any"
            onChange={(v) => update({ textEncoderLr: v })}
          />
        )}
        <NumberField
          id="run-conv-dim"
          label="LoCon conv dim (0: off)"
          value={form.convDim}
          min={0}
          onChange={(v) => update({ convDim: v })}
        />
        {form.convDim > 0 && (
          <NumberField
            id="run-conv-alpha"
            label="LoCon conv alpha"
            value={form.convAlpha}
            min={0}
            step="any"
            onChange={(v) => update({ convAlpha: v })}
          />
        )}
        <NumberField
          id="run-grad-accum"
          label="Gradient accumulation steps"
          value={form.gradientAccumulation}
          min={1}
          onChange={(v) => update({ gradientAccumulation: v })}
        />
      </div>
      <p className="small muted" data-testid="vram-estimate">
        Estimated GPU memory: <strong>{vram.totalGb.toFixed(1)} GB</strong> (estimate: fp16 UNet{' '}
        {vram.weightsGb.toFixed(1)} GB + activations {vram.activationsGb.toFixed(1)} GB + LoRA and
        optimizer {vram.loraGb.toFixed(2)} GB + runtime {vram.runtimeGb.toFixed(1)} GB). On the CPU
        it is system memory.
        {form.trainTextEncoder
          ? ' The text encoder is trained, so text embeddings are computed per step inside the training step (no embedding cache; slower).'
          : (form.shuffleCaption || form.captionDropoutRate > 0) &&
            ' Captions change per step, so text embeddings are computed per step (slower).'}
      </p>
      {errors && (
        <p className="notice panel-error preline" role="alert" data-testid="train-errors">
          {errors}
        </p>
      )}
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={busy || missing || !form.modelPath || !form.datasetDir.trim()}
        >
          Start training
        </button>
      </div>
    </form>
  );
}

function RunTable(props: {
  runs: TrainingRun[];
  datasets: Dataset[];
  checkpoints: Model[];
  selected: number | null;
  onSelect: (id: number) => void;
  onChanged: () => void;
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
      props.onChanged();
    }
  };
  const start = async (item: TrainingRun) => {
    const started = await run(`Could not start “${item.name}”`, () =>
      transport.call('runs.start', { runId: item.id }),
    );
    if (started) {
      props.onSelect(item.id);
      props.onChanged();
    }
  };
  // A run a closed or crashed app left behind: one click continues it from its checkpoint.
  const resume = async (item: TrainingRun) => {
    const resumed = await run(`Could not resume “${item.name}”`, () =>
      transport.call('runs.resume', { id: item.id }),
    );
    if (resumed) {
      notify.success(`Resuming “${item.name}”`);
      props.onSelect(item.id);
      props.onChanged();
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
          <tr key={item.id} className={item.id === props.selected ? 'selected' : undefined}>
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
              {item.lastStep === null ? 0 : item.lastStep + 1} / {item.config.maxSteps}
            </td>
            <td className="num">{formatNumber(item.lastLoss)}</td>
            <td>{formatDate(item.createdAt)}</td>
            <td className="row-actions">
              <button type="button" onClick={() => props.onSelect(item.id)}>
                Show
              </button>
              {item.status === 'draft' && (
                <button type="button" disabled={busy} onClick={() => start(item)}>
                  Start
                </button>
              )}
              {item.status === 'interrupted' && (
                <button
                  type="button"
                  className="primary"
                  disabled={busy}
                  data-testid={`resume-run-${item.id}`}
                  onClick={() => resume(item)}
                >
                  Resume
                </button>
              )}
              <ConfirmButton
                label="Delete"
                confirmLabel="Delete run?"
                disabled={busy || ['running', 'queued', 'paused'].includes(item.status)}
                onConfirm={() => remove(item)}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
