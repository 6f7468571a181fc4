import { useState, type FormEvent } from 'react';
import type { Model, ModelFamily, ModelKind } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { JobBar } from '../components/JobBar';
import { FAMILY_LABEL, KIND_LABEL, ModelDetails } from '../components/ModelDetails';
import { ModelDownload } from '../components/ModelDownload';
import { EmptyState, QueryView } from '../components/states';
import { formatBytes } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';

const KINDS: { id: ModelKind; label: string }[] = [
  { id: 'checkpoint', label: 'Checkpoint' },
  { id: 'vae', label: 'VAE' },
  { id: 'lora', label: 'LoRA' },
];

const FAMILIES: { id: ModelFamily; label: string }[] = [
  { id: 'unknown', label: 'Not sure' },
  { id: 'sd15', label: 'SD 1.5' },
  { id: 'sd2', label: 'SD 2.x' },
  { id: 'sdxl', label: 'SDXL' },
];

export function ModelsScreen() {
  const notify = useNotify();
  const transport = useTransport();
  const { busy, run } = useMutation();
  const [kind, setKind] = useState<ModelKind | 'all'>('all');
  const [family, setFamily] = useState<ModelFamily | 'all'>('all');
  const [selected, setSelected] = useState<number | null>(null);
  const models = useApiQuery('models.list', kind === 'all' ? {} : { kind }, ['models']);
  const settings = useApiQuery('settings.get', {}, ['settings']);
  const scan = useJob((job) => {
    if (job.status === 'error') notify.error('The scan failed', new Error(job.error?.message));
    if (job.status === 'done') notify.success('Model folders scanned');
  });
  const folders = settings.data?.modelDirs ?? [];

  const rescan = async () => {
    const started = await run('Could not start the scan', () => transport.call('models.scan', {}));
    if (started) scan.track(started.jobId);
  };

  return (
    <>
      <header className="screen-header">
        <h1>Models</h1>
        <p className="muted">
          Checkpoints, VAEs and LoRAs on your disk. LoRA Studio remembers where they are; it never
          copies or moves them.
        </p>
      </header>
      <section aria-labelledby="models-list-heading">
        <div className="section-header">
          <h2 id="models-list-heading">Library</h2>
          <label className="inline-field">
            Kind
            <select
              aria-label="Filter by kind"
              value={kind}
              onChange={(e) => setKind(e.target.value as ModelKind | 'all')}
            >
              <option value="all">All kinds</option>
              {KINDS.map((k) => (
                <option key={k.id} value={k.id}>
                  {k.label}s
                </option>
              ))}
            </select>
          </label>
          <label className="inline-field">
            Family
            <select
              aria-label="Filter by family"
              value={family}
              onChange={(e) => setFamily(e.target.value as ModelFamily | 'all')}
            >
              <option value="all">All families</option>
              {FAMILIES.map((f) => (
                <option key={f.id} value={f.id}>
                  {FAMILY_LABEL[f.id]}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            onClick={rescan}
            disabled={busy || scan.active || folders.length === 0}
            title={
              folders.length ? folders.join('\n') : 'Add model folders in Settings to scan them'
            }
          >
            {scan.active ? 'Scanning…' : 'Rescan folders'}
          </button>
        </div>
        {folders.length === 0 && (
          <p className="muted small">
            No model folders yet: add your A1111 or ComfyUI folders in Settings, then Rescan.
          </p>
        )}
        {scan.job && <JobBar job={scan.job} label="Scan progress" onCancel={scan.cancel} />}
        <QueryView query={models} what="models">
          {(items) => {
            const shown = items.filter((m) => family === 'all' || m.family === family);
            const current = shown.find((m) => m.id === selected);
            return shown.length === 0 ? (
              <EmptyState title="No models registered" testId="models-empty">
                Scan your model folders, download a model, or add the path of a Stable Diffusion
                checkpoint (<code>.safetensors</code>) below.
              </EmptyState>
            ) : (
              <div className="split">
                <ModelTable models={shown} selected={selected} onSelect={setSelected} />
                {current && <ModelDetails model={current} settings={settings.data} />}
              </div>
            );
          }}
        </QueryView>
      </section>
      <ModelDownload />
      <AddModelForm onAdded={models.reload} />
    </>
  );
}

function AddModelForm(props: { onAdded: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [path, setPath] = useState('');
  const [kind, setKind] = useState<ModelKind | ''>('');
  const [family, setFamily] = useState<ModelFamily>('unknown');
  const [name, setName] = useState('');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmedName = name.trim();
    const added = await run('Could not register the model', () =>
      transport.call('models.add', {
        path: path.trim(),
        ...(kind && { kind }),
        ...(family !== 'unknown' && { family }),
        ...(trimmedName ? { name: trimmedName } : {}),
      }),
    );
    if (added) {
      notify.success(`Model “${added.name}” registered`);
      setPath('');
      setName('');
      props.onAdded();
    }
  };

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="add-model-heading">
      <h2 id="add-model-heading">Register a model</h2>
      <div className="field">
        <label htmlFor="model-path">File or diffusers folder (absolute path)</label>
        <input
          id="model-path"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          placeholder="/home/me/models/v1-5-pruned-emaonly.safetensors"
          spellCheck={false}
          required
        />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="model-kind">Kind</label>
          <select
            id="model-kind"
            value={kind}
            onChange={(e) => setKind(e.target.value as ModelKind | '')}
          >
            <option value="">From the file (needed for folders)</option>
            {KINDS.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="model-family">Base family</label>
          <select
            id="model-family"
            value={family}
            onChange={(e) => setFamily(e.target.value as ModelFamily)}
          >
            {FAMILIES.map((f) => (
              <option key={f.id} value={f.id}>
                {f.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field grow">
          <label htmlFor="model-name">Display name (optional)</label>
          <input id="model-name" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || !path.trim()}>
          {busy ? 'Registering…' : 'Register model'}
        </button>
      </div>
    </form>
  );
}

function ModelTable(props: {
  models: Model[];
  selected: number | null;
  onSelect: (id: number) => void;
}) {
  return (
    <table className="table" data-testid="models-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Kind</th>
          <th scope="col">Family</th>
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {props.models.map((model) => (
          <tr
            key={model.id}
            data-testid={`model-row-${model.name}`}
            className={model.id === props.selected ? 'selected' : undefined}
            aria-selected={model.id === props.selected}
            onClick={() => props.onSelect(model.id)}
          >
            <td>
              <button
                type="button"
                className="link strong"
                onClick={() => props.onSelect(model.id)}
              >
                {model.name}
              </button>
              <div className="muted small mono" title={model.path}>
                {model.path}
              </div>
            </td>
            <td>{KIND_LABEL[model.kind]}</td>
            <td>{FAMILY_LABEL[model.family]}</td>
            <td className="num">{formatBytes(model.sizeBytes)}</td>
            <td>
              {model.missing ? (
                <span className="badge badge-failed">Missing</span>
              ) : model.supported ? (
                <span className="badge badge-completed">Usable</span>
              ) : (
                <span className="badge badge-draft" title={model.reason ?? undefined}>
                  Not supported
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
