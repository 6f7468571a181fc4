// The details pane of one registered model: what its header says, its hashes (computed on
// demand, as a job), its metadata (kohya's ss_* keys with readable names), and its actions.
import { useState } from 'react';
import type { Model, Settings } from '../../../core/api';
import { useTransport } from '../api';
import { formatBytes, formatDate } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';
import { ConfirmButton } from './ConfirmButton';
import { JobBar } from './JobBar';

export const FAMILY_LABEL: Record<Model['family'], string> = {
  sd15: 'SD 1.5',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  unknown: 'Unknown',
};
export const KIND_LABEL: Record<Model['kind'], string> = {
  checkpoint: 'Checkpoint',
  vae: 'VAE',
  lora: 'LoRA',
};

// kohya-ss training metadata: the keys users look for, named in words.
const METADATA_LABEL: Record<string, string> = {
  ss_network_dim: 'Network rank (dim)',
  ss_network_alpha: 'Network alpha',
  ss_network_module: 'Network module',
  ss_network_args: 'Network arguments',
  ss_base_model_version: 'Base model',
  ss_sd_model_name: 'Trained on',
  ss_resolution: 'Resolution',
  ss_learning_rate: 'Learning rate',
  ss_unet_lr: 'U-Net learning rate',
  ss_text_encoder_lr: 'Text encoder learning rate',
  ss_lr_scheduler: 'LR scheduler',
  ss_optimizer: 'Optimizer',
  ss_max_train_steps: 'Training steps',
  ss_num_epochs: 'Epochs',
  ss_epoch: 'Epoch',
  ss_batch_size_per_device: 'Batch size',
  ss_num_train_images: 'Training images',
  ss_clip_skip: 'Clip skip',
  ss_mixed_precision: 'Precision',
  ss_seed: 'Seed',
  ss_output_name: 'Output name',
  ss_training_comment: 'Comment',
  sshs_model_hash: 'Model hash (sshs)',
  sshs_legacy_hash: 'Legacy hash (sshs)',
  'modelspec.title': 'Title',
  'modelspec.architecture': 'Architecture',
  'studio.familyReason': 'Why this family',
  'studio.dtype': 'Weights dtype',
  'studio.tensorCount': 'Tensors',
  'studio.parameterCount': 'Parameters',
  'studio.loraFormat': 'LoRA layout',
};

const HASH_LABEL: [string, string][] = [
  ['autov2', 'AutoV2 (model hash)'],
  ['autov3', 'AutoV3 (LoRA hash)'],
  ['legacy', 'Legacy (AutoV1)'],
  ['sha256', 'SHA-256'],
];

export function ModelDetails(props: { model: Model; settings: Settings | undefined }) {
  const { model, settings } = props;
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [deleteFile, setDeleteFile] = useState(false);
  const hashJob = useJob((job) => {
    if (job.status === 'error') notify.error('Hashing failed', new Error(job.error?.message));
  });
  const fileName = model.path.split(/[\\/]/).pop() ?? model.path;
  const isDefault =
    settings?.defaultCheckpointId === model.id || settings?.defaultVaeId === model.id;

  const computeHashes = async () => {
    const started = await run('Could not start hashing', () =>
      transport.call('models.hashes', { id: model.id }),
    );
    if (started) hashJob.track(started.jobId);
  };
  const setDefault = async () => {
    const done = await run('Could not set the default', () =>
      transport.call('models.setDefault', { id: model.id }),
    );
    if (done) notify.success(`“${model.name}” is now the default ${KIND_LABEL[model.kind]}`);
  };
  const remove = async () => {
    const done = await run(`Could not remove “${model.name}”`, () =>
      transport.call(
        'models.remove',
        deleteFile ? { id: model.id, deleteFile: true, confirm: fileName } : { id: model.id },
      ),
    );
    if (done) {
      notify.success(
        done.fileDeleted
          ? `Deleted ${fileName} and forgot it`
          : `Forgot “${model.name}” (the file is still on disk)`,
      );
    }
  };

  const metadata = Object.entries(model.metadata).sort(([a], [b]) => a.localeCompare(b));
  return (
    <aside className="panel model-details" data-testid="model-details" aria-label="Model details">
      <h2>{model.name}</h2>
      <dl className="details">
        <Row term="Kind" value={KIND_LABEL[model.kind]} />
        <Row term="Family" value={FAMILY_LABEL[model.family]} />
        <Row
          term="Usable"
          value={model.supported ? 'Yes' : `No — ${model.reason ?? 'not supported'}`}
        />
        {model.missing && <Row term="File" value="Missing (not found by the last scan)" />}
        <Row term="Size" value={formatBytes(model.sizeBytes)} />
        <Row term="Path" value={model.path} mono />
        {model.preview && <Row term="Preview image" value={model.preview} mono />}
        <Row term="Added" value={formatDate(model.addedAt)} />
      </dl>

      <h3>Hashes</h3>
      <dl className="details" data-testid="model-hashes">
        {HASH_LABEL.filter(([key]) => model.hashes[key]).map(([key, label]) => (
          <Row key={key} term={label} value={model.hashes[key]} mono />
        ))}
      </dl>
      {Object.keys(model.hashes).length === 0 && (
        <p className="muted small">Not computed yet (reads the whole file once).</p>
      )}
      {hashJob.job && hashJob.active && (
        <JobBar job={hashJob.job} label="Hashing progress" onCancel={hashJob.cancel} />
      )}
      <div className="actions">
        <button type="button" onClick={computeHashes} disabled={busy || hashJob.active}>
          {Object.keys(model.hashes).length ? 'Recompute hashes' : 'Compute hashes'}
        </button>
        {model.kind !== 'lora' && (
          <button type="button" onClick={setDefault} disabled={busy || isDefault}>
            {isDefault ? `Default ${KIND_LABEL[model.kind]}` : 'Set as default'}
          </button>
        )}
      </div>

      <h3>Metadata</h3>
      {metadata.length === 0 ? (
        <p className="muted small">The file carries no metadata.</p>
      ) : (
        <table className="table compact" data-testid="model-metadata">
          <tbody>
            {metadata.map(([key, value]) => (
              <tr key={key}>
                <th scope="row">
                  {METADATA_LABEL[key] ?? key}
                  <div className="muted small mono">{key}</div>
                </th>
                <td className="mono small">
                  {typeof value === 'string' ? value : JSON.stringify(value)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3>Remove</h3>
      <label className="inline-field">
        <input
          type="checkbox"
          checked={deleteFile}
          onChange={(e) => setDeleteFile(e.target.checked)}
        />
        Also delete {fileName} from the disk
      </label>
      <div className="actions">
        <ConfirmButton
          label={deleteFile ? 'Delete the file' : 'Forget'}
          confirmLabel={deleteFile ? `Delete ${fileName} for good?` : 'Forget it?'}
          disabled={busy}
          onConfirm={remove}
        />
      </div>
    </aside>
  );
}

function Row(props: { term: string; value: string; mono?: boolean }) {
  return (
    <div className="details-row">
      <dt>{props.term}</dt>
      <dd className={props.mono ? 'mono' : undefined}>{props.value}</dd>
    </div>
  );
}
