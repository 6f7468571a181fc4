import { useState } from 'react';
import { useApiQuery } from '../api';
import { LoraDetails } from '../components/LoraDetails';
import { EmptyState, QueryView } from '../components/states';
import { formatBytes } from '../format';
import { hashFor } from '../routes';

export function LibraryScreen() {
  const loras = useApiQuery('library.loras', {}, ['models', 'artifacts', 'runs']);
  const [selected, setSelected] = useState<number | null>(null);
  const [filter, setFilter] = useState('');
  return (
    <>
      <header className="screen-header">
        <h1>Library</h1>
        <p className="muted">
          Every LoRA you trained here or registered on the Models screen, with what its file says
          about its training, comparison grids, and the ways to use it elsewhere. Generated images
          are under <a href={hashFor('history')}>History</a>.
        </p>
      </header>
      <section aria-labelledby="loras-heading">
        <div className="section-header">
          <h2 id="loras-heading">LoRAs</h2>
          <label className="inline-field">
            Find
            <input
              aria-label="Filter LoRAs"
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
              placeholder="name or trigger word"
            />
          </label>
        </div>
        <QueryView query={loras} what="LoRAs">
          {(items) => {
            const needle = filter.trim().toLowerCase();
            const shown = items.filter(
              (e) =>
                !needle ||
                e.model.name.toLowerCase().includes(needle) ||
                e.triggerWords.some((t) => t.toLowerCase().includes(needle)),
            );
            return items.length === 0 ? (
              <EmptyState title="No LoRAs yet" testId="loras-empty">
                Train one on the Train screen, or register <code>.safetensors</code> LoRAs on the
                Models screen (scan your A1111/ComfyUI LoRA folder).
              </EmptyState>
            ) : (
              // The list is short; the details (tables, grids) need the room.
              <div
                className="split"
                style={{ gridTemplateColumns: 'minmax(220px, 1fr) minmax(0, 2fr)' }}
              >
                <table className="table" data-testid="loras-table">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Source</th>
                      <th scope="col" className="num">
                        Size
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((e) => (
                      <tr
                        key={e.model.id}
                        aria-selected={e.model.id === selected}
                        data-testid="lora-row"
                      >
                        <td>
                          <button
                            type="button"
                            className="quiet strong"
                            onClick={() => setSelected(e.model.id)}
                          >
                            {e.model.name}
                          </button>
                          {e.triggerWords.length > 0 && (
                            <div className="muted small">{e.triggerWords.join(', ')}</div>
                          )}
                        </td>
                        <td className="small">
                          {e.run ? `run #${e.run.id} ${e.run.name}` : 'imported'}
                          {e.model.missing ? ' · file missing' : ''}
                        </td>
                        <td className="num">{formatBytes(e.model.sizeBytes)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {selected !== null && shown.some((e) => e.model.id === selected) && (
                  <LoraDetails id={selected} />
                )}
              </div>
            );
          }}
        </QueryView>
      </section>
    </>
  );
}
