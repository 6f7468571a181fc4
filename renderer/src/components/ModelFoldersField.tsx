// The model folders setting: a list to add to and remove from, and suggestions read from an
// A1111/Forge or ComfyUI install (its models/Stable-diffusion, Lora, VAE… sub-folders).
import { useState } from 'react';
import { useTransport } from '../api';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

export function ModelFoldersField(props: { value: string[]; onChange: (next: string[]) => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const [draft, setDraft] = useState('');
  const [root, setRoot] = useState('');
  const add = (paths: string[]) => {
    const next = [...props.value];
    for (const p of paths) if (p && !next.includes(p)) next.push(p);
    props.onChange(next);
  };

  const suggest = async () => {
    const found = await run('Could not look into that folder', () =>
      transport.call('models.suggestFolders', { root: root.trim() }),
    );
    if (!found) return;
    if (found.length === 0) {
      notify.error('No model folders found', new Error(`${root} has no A1111/ComfyUI layout`));
      return;
    }
    add(found.filter((f) => f.role !== 'embedding').map((f) => f.path));
    setRoot('');
  };

  return (
    <fieldset className="field" data-testid="model-folders">
      <legend>Model folders (scanned by Models → Rescan)</legend>
      {props.value.length === 0 && <p className="muted small">None yet.</p>}
      <ul className="plain-list">
        {props.value.map((dir) => (
          <li key={dir} className="inline-field">
            <span className="mono">{dir}</span>
            <button
              type="button"
              className="quiet"
              aria-label={`Remove ${dir}`}
              onClick={() => props.onChange(props.value.filter((d) => d !== dir))}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <div className="field-row">
        <input
          aria-label="Folder to add"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="/home/me/stable-diffusion-webui/models/Lora"
          spellCheck={false}
          className="mono grow"
        />
        <button
          type="button"
          disabled={!draft.trim()}
          onClick={() => {
            add([draft.trim()]);
            setDraft('');
          }}
        >
          Add folder
        </button>
      </div>
      <div className="field-row">
        <input
          aria-label="A1111 or ComfyUI install folder"
          value={root}
          onChange={(e) => setRoot(e.target.value)}
          placeholder="/home/me/stable-diffusion-webui"
          spellCheck={false}
          className="mono grow"
        />
        <button type="button" disabled={busy || !root.trim()} onClick={suggest}>
          Suggest from an A1111/ComfyUI folder
        </button>
      </div>
    </fieldset>
  );
}
