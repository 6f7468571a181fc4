import { useState, type FormEvent } from 'react';
import type { Model, ModelFamily, ModelKind } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { EmptyState, QueryView } from '../components/states';
import { formatBytes, formatDate } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

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

const FAMILY_LABEL = Object.fromEntries(FAMILIES.map((f) => [f.id, f.label])) as Record<
  ModelFamily,
  string
>;
const KIND_LABEL = Object.fromEntries(KINDS.map((k) => [k.id, k.label])) as Record<
  ModelKind,
  string
>;

export function ModelsScreen() {
  const [kind, setKind] = useState<ModelKind | 'all'>('all');
  const models = useApiQuery('models.list', kind === 'all' ? {} : { kind }, ['models']);
  return (
    <>
      <header className="screen-header">
        <h1>Models</h1>
        <p className="muted">
          Checkpoints, VAEs and LoRAs already on your disk. LoRA Studio remembers where they are; it
          never copies or moves them.
        </p>
      </header>
      <AddModelForm onAdded={models.reload} />
      <section aria-labelledby="models-list-heading">
        <div className="section-header">
          <h2 id="models-list-heading">Registered models</h2>
          <label className="inline-field">
            Show
            <select value={kind} onChange={(e) => setKind(e.target.value as ModelKind | 'all')}>
              <option value="all">All kinds</option>
              {KINDS.map((k) => (
                <option key={k.id} value={k.id}>
                  {k.label}s
                </option>
              ))}
            </select>
          </label>
        </div>
        <QueryView query={models} what="models">
          {(items) =>
            items.length === 0 ? (
              <EmptyState title="No models registered" testId="models-empty">
                Add the path of a Stable Diffusion checkpoint (<code>.safetensors</code>, as
                downloaded from Civitai or Hugging Face) to train LoRAs on it.
              </EmptyState>
            ) : (
              <ModelTable models={items} onRemoved={models.reload} />
            )
          }
        </QueryView>
      </section>
    </>
  );
}

function AddModelForm(props: { onAdded: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [path, setPath] = useState('');
  const [kind, setKind] = useState<ModelKind>('checkpoint');
  const [family, setFamily] = useState<ModelFamily>('unknown');
  const [name, setName] = useState('');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmedName = name.trim();
    const added = await run('Could not register the model', () =>
      transport.call('models.add', {
        path: path.trim(),
        kind,
        family,
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
            onChange={(e) => setKind(e.target.value as ModelKind)}
          >
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

function ModelTable(props: { models: Model[]; onRemoved: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();

  const remove = async (model: Model) => {
    const done = await run(`Could not forget “${model.name}”`, () =>
      transport.call('models.remove', { id: model.id }),
    );
    if (done) {
      notify.success(`Forgot “${model.name}” (the file is still on disk)`);
      props.onRemoved();
    }
  };

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
          <th scope="col">Added</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.models.map((model) => (
          <tr key={model.id}>
            <td>
              <div className="strong">{model.name}</div>
              <div className="muted small mono" title={model.path}>
                {model.path}
              </div>
            </td>
            <td>{KIND_LABEL[model.kind]}</td>
            <td>{FAMILY_LABEL[model.family]}</td>
            <td className="num">{formatBytes(model.sizeBytes)}</td>
            <td>{formatDate(model.addedAt)}</td>
            <td className="row-actions">
              <ConfirmButton
                label="Forget"
                confirmLabel="Forget it?"
                disabled={busy}
                onConfirm={() => remove(model)}
              />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
