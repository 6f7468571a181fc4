// Download a model from a Hugging Face repo (repo + file) or a direct URL, as a job with a
// progress bar (bytes, speed, time left) and Cancel. The core verifies and registers it.
import { useState, type FormEvent } from 'react';
import type { ApiInput, ModelKind } from '../../../core/api';
import { useTransport } from '../api';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';
import { JobBar } from './JobBar';

export function ModelDownload() {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [from, setFrom] = useState<'hf' | 'url'>('hf');
  const [repo, setRepo] = useState('');
  const [file, setFile] = useState('');
  const [url, setUrl] = useState('');
  const [sha256, setSha256] = useState('');
  const [kind, setKind] = useState<ModelKind | ''>('');
  const download = useJob((job) => {
    if (job.status === 'done') notify.success('Download finished and verified');
    if (job.status === 'error') notify.error('Download failed', new Error(job.error?.message));
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input: ApiInput<'models.download'> = {
      source:
        from === 'hf'
          ? { kind: 'hf', repo: repo.trim(), file: file.trim() }
          : { kind: 'url', url: url.trim() },
      ...(sha256.trim() && { sha256: sha256.trim() }),
      ...(kind && { kind }),
    };
    const started = await run('Could not start the download', () =>
      transport.call('models.download', input),
    );
    if (started) download.track(started.jobId);
  };

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="download-heading">
      <h2 id="download-heading">Download a model</h2>
      <div className="field-row">
        <label className="inline-field">
          <input type="radio" checked={from === 'hf'} onChange={() => setFrom('hf')} />
          Hugging Face
        </label>
        <label className="inline-field">
          <input type="radio" checked={from === 'url'} onChange={() => setFrom('url')} />
          Direct URL
        </label>
      </div>
      {from === 'hf' ? (
        <div className="field-row">
          <div className="field grow">
            <label htmlFor="download-repo">Repository</label>
            <input
              id="download-repo"
              value={repo}
              onChange={(e) => setRepo(e.target.value)}
              placeholder="stable-diffusion-v1-5/stable-diffusion-v1-5"
              spellCheck={false}
            />
          </div>
          <div className="field grow">
            <label htmlFor="download-file">File</label>
            <input
              id="download-file"
              value={file}
              onChange={(e) => setFile(e.target.value)}
              placeholder="v1-5-pruned-emaonly.safetensors"
              spellCheck={false}
            />
          </div>
        </div>
      ) : (
        <div className="field">
          <label htmlFor="download-url">URL of a .safetensors file</label>
          <input
            id="download-url"
            type="url"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            spellCheck={false}
          />
        </div>
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor="download-kind">Kind (picks the folder)</label>
          <select
            id="download-kind"
            value={kind}
            onChange={(e) => setKind(e.target.value as ModelKind | '')}
          >
            <option value="">Decide from the file</option>
            <option value="checkpoint">Checkpoint</option>
            <option value="vae">VAE</option>
            <option value="lora">LoRA</option>
          </select>
        </div>
        <div className="field grow">
          <label htmlFor="download-sha">SHA-256 (optional, checked after the download)</label>
          <input
            id="download-sha"
            value={sha256}
            onChange={(e) => setSha256(e.target.value)}
            spellCheck={false}
            className="mono"
          />
        </div>
      </div>
      {download.job && (
        <JobBar job={download.job} label="Download progress" onCancel={download.cancel} />
      )}
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={busy || download.active || (from === 'hf' ? !repo || !file : !url)}
        >
          Download
        </button>
      </div>
    </form>
  );
}
