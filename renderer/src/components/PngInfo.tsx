// "PNG info": drop (or pick) a PNG from A1111, Forge or LoRA Studio and read the parameters
// it carries; they can then be sent to the form.

import { useState, type DragEvent } from 'react';
import type { ApiOutput } from '../../../core/api';
import { useTransport } from '../api';
import { ErrorPanel } from './states';

type Parsed = ApiOutput<'infotext.parse'>;

/** Base64 of a file's bytes, in chunks (String.fromCharCode cannot take megabytes at once). */
async function fileToBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function PngInfo(props: { onSend: (parsed: Parsed) => void }) {
  const transport = useTransport();
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ name: string; parsed: Parsed } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const read = async (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      if (file.type && file.type !== 'image/png') {
        throw new Error(`“${file.name}” is a ${file.type} file; PNG info reads PNG images only`);
      }
      const parsed = await transport.call('infotext.parse', { png: await fileToBase64(file) });
      setResult({ name: file.name, parsed });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    void read(event.dataTransfer.files[0]);
  };

  return (
    <div className="png-info">
      <label
        className={dragging ? 'drop-zone dragging' : 'drop-zone'}
        data-testid="png-info-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <input
          type="file"
          accept="image/png"
          className="visually-hidden"
          aria-label="PNG file to read"
          onChange={(e) => {
            void read(e.target.files?.[0]);
            e.target.value = '';
          }}
        />
        <strong>{busy ? 'Reading…' : 'Drop a PNG here, or click to choose one'}</strong>
        <span className="muted small">
          Images from LoRA Studio, A1111 and Forge carry their prompt and settings.
        </span>
      </label>
      {error !== null && <ErrorPanel title="Could not read the PNG info" error={error} />}
      {result && (
        <div className="panel" data-testid="png-info-result">
          <div className="section-header">
            <h3 className="strong">{result.name}</h3>
            <button type="button" className="primary" onClick={() => props.onSend(result.parsed)}>
              Send to prompt
            </button>
          </div>
          <pre className="infotext">{result.parsed.infotext}</pre>
        </div>
      )}
    </div>
  );
}
