// What leaves the library: Copy to… one of the configured A1111/ComfyUI LoRA folders, and
// Export for Civitai (file, preview, JSON + markdown card) into a folder the user names.

import { useState, type FormEvent } from 'react';
import type { ApiOutput, Model } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';

export function LoraActions(props: { lora: Model }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const targets = useApiQuery('library.copyTargets', {}, ['settings']);
  const [target, setTarget] = useState('');
  const [exportDir, setExportDir] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [exported, setExported] = useState<ApiOutput<'library.exportCivitai'> | null>(null);
  const folders = targets.data ?? [];
  const folder = target || folders[0]?.path || '';

  const copy = async () => {
    const out = await run('Could not copy the LoRA', () =>
      transport.call('library.copyTo', { id: props.lora.id, folder, overwrite }),
    );
    if (out) notify.success(`Copied to ${out.path}`);
  };

  const exportCivitai = async (event: FormEvent) => {
    event.preventDefault();
    const out = await run('Could not export the LoRA', () =>
      transport.call('library.exportCivitai', {
        id: props.lora.id,
        folder: exportDir.trim(),
        overwrite,
      }),
    );
    if (out) {
      setExported(out);
      notify.success(`Exported for Civitai into ${out.folder}`);
    }
  };

  return (
    <section aria-labelledby="lora-actions-heading">
      <h3 id="lora-actions-heading">Use it elsewhere</h3>
      <div className="field-row">
        <div className="field">
          <label htmlFor="copy-target">Copy to…</label>
          {folders.length === 0 ? (
            <p className="muted small" data-testid="copy-no-targets">
              No LoRA folder configured: add your A1111/ComfyUI folder under Settings → model
              folders.
            </p>
          ) : (
            <div className="input-with-buttons">
              <select id="copy-target" value={folder} onChange={(e) => setTarget(e.target.value)}>
                {folders.map((f) => (
                  <option key={f.path} value={f.path}>
                    {f.path} (
                    {f.layout === 'folder' ? 'folder' : f.layout === 'a1111' ? 'A1111' : 'ComfyUI'})
                  </option>
                ))}
              </select>
              <button type="button" disabled={busy} onClick={() => void copy()}>
                Copy
              </button>
            </div>
          )}
        </div>
      </div>
      <form className="form" onSubmit={exportCivitai} aria-label="Export for Civitai">
        <div className="field">
          <label htmlFor="export-folder">Export for Civitai into (absolute folder path)</label>
          <div className="input-with-buttons">
            <input
              id="export-folder"
              className="mono"
              value={exportDir}
              onChange={(e) => setExportDir(e.target.value)}
              placeholder="/home/me/civitai/my-lora"
              spellCheck={false}
              required
            />
            <button type="submit" disabled={busy || !exportDir.trim()}>
              Export for Civitai
            </button>
          </div>
        </div>
        <label className="inline-field">
          <input
            type="checkbox"
            checked={overwrite}
            onChange={(e) => setOverwrite(e.target.checked)}
          />
          Replace files that exist
        </label>
      </form>
      {exported && (
        <div className="notice small" data-testid="export-result">
          <p>
            Trigger words: {exported.triggerWords.length ? exported.triggerWords.join(', ') : '—'}
          </p>
          <ul className="mono">
            {[exported.safetensors, exported.preview, exported.json, exported.markdown]
              .filter((p): p is string => !!p)
              .map((p) => (
                <li key={p}>{p}</li>
              ))}
          </ul>
        </div>
      )}
    </section>
  );
}
