import { useEffect, useState } from 'react';
import type { Generation } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { GenerationImage, generationFileUrl } from '../components/GenerationImage';
import { EmptyState, QueryView } from '../components/states';
import { formatDate } from '../format';
import { SAMPLER_LABELS } from '../generate-form';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { hashFor } from '../routes';

const PAGE = 24;

/** Generations history: search by prompt, filter by checkpoint or LoRA, open, delete, reuse. */
export function HistoryScreen() {
  const [query, setQuery] = useState('');
  const [search, setSearch] = useState('');
  const [modelId, setModelId] = useState<number | ''>('');
  const [loraId, setLoraId] = useState<number | ''>('');
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<Generation | null>(null);
  const checkpoints = useApiQuery('models.list', { kind: 'checkpoint' }, ['models']);
  const loras = useApiQuery('models.list', { kind: 'lora' }, ['models']);
  const history = useApiQuery(
    'generations.search',
    {
      query: search,
      ...(modelId !== '' && { modelId }),
      ...(loraId !== '' && { loraId }),
      offset: page * PAGE,
      limit: PAGE,
    },
    ['generations'],
  );

  // Typing searches after a short pause, from the first page.
  useEffect(() => {
    const timer = setTimeout(() => {
      setSearch(query.trim());
      setPage(0);
    }, 250);
    return () => clearTimeout(timer);
  }, [query]);

  return (
    <>
      <header className="screen-header">
        <h1>History</h1>
        <p className="muted">
          Every image you generated, newest first, with the parameters it was made with.
        </p>
      </header>
      <div className="section-header">
        <label className="inline-field">
          Search
          <input
            type="search"
            aria-label="Search prompts"
            data-testid="history-search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="words in the prompt"
          />
        </label>
        <label className="inline-field">
          Checkpoint
          <select
            aria-label="Filter by checkpoint"
            value={modelId}
            onChange={(e) => {
              setModelId(e.target.value === '' ? '' : Number(e.target.value));
              setPage(0);
            }}
          >
            <option value="">All</option>
            {(checkpoints.data ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline-field">
          LoRA
          <select
            aria-label="Filter by LoRA"
            value={loraId}
            onChange={(e) => {
              setLoraId(e.target.value === '' ? '' : Number(e.target.value));
              setPage(0);
            }}
          >
            <option value="">Any</option>
            {(loras.data ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <QueryView query={history} what="the history">
        {({ items, total }) =>
          total === 0 ? (
            <EmptyState title="No images match" testId="history-empty">
              {search || modelId !== '' || loraId !== ''
                ? 'Change the search or the filters.'
                : 'Images you generate are listed here.'}
            </EmptyState>
          ) : (
            <div className="split">
              <div>
                <p className="muted small" data-testid="history-count">
                  {page * PAGE + 1}–{page * PAGE + items.length} of {total}
                </p>
                <ul className="gallery" data-testid="history-gallery">
                  {items.map((g) => (
                    <li key={g.id} className="gallery-item" data-testid="history-item">
                      <button
                        type="button"
                        className="quiet"
                        onClick={() => setOpen(g)}
                        aria-label={`Open image #${g.id}`}
                      >
                        <GenerationImage generation={g} className="gallery-image" />
                      </button>
                      <p className="gallery-prompt" title={g.params.prompt}>
                        {g.params.prompt || <span className="muted">(empty prompt)</span>}
                      </p>
                    </li>
                  ))}
                </ul>
                <div className="actions">
                  <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
                    Newer
                  </button>
                  <button
                    type="button"
                    disabled={(page + 1) * PAGE >= total}
                    onClick={() => setPage(page + 1)}
                  >
                    Older
                  </button>
                </div>
              </div>
              {open && <HistoryDetails generation={open} onClose={() => setOpen(null)} />}
            </div>
          )
        }
      </QueryView>
    </>
  );
}

function HistoryDetails(props: { generation: Generation; onClose: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const g = props.generation;
  const remove = async () => {
    const out = await run('Could not delete the image', () =>
      transport.call('generations.remove', { id: g.id, deleteFile: true }),
    );
    if (out) {
      notify.success(
        out.fileDeleted
          ? `Image #${g.id} deleted`
          : `Image #${g.id} removed from the history (its file is outside the app's folders and was kept)`,
      );
      props.onClose();
    }
  };
  return (
    <div className="panel" data-testid="history-details">
      <div className="section-header">
        <h2>Image #{g.id}</h2>
        <button type="button" className="quiet" onClick={props.onClose}>
          Close
        </button>
      </div>
      <GenerationImage generation={g} />
      <p className="small">
        {SAMPLER_LABELS[g.params.sampler]} · {g.params.steps} steps · CFG {g.params.cfgScale} ·{' '}
        {g.params.width}×{g.params.height} · seed <span className="mono">{g.seed}</span> ·{' '}
        {formatDate(g.createdAt)}
      </p>
      <pre className="infotext" data-testid="history-infotext">
        {g.params.infotext ?? g.params.prompt}
      </pre>
      <p className="muted small mono">{g.filePath}</p>
      {transport.kind === 'http' && (
        <p className="small">
          <a href={generationFileUrl(g.id)} target="_blank" rel="noreferrer">
            Open full size in a new tab
          </a>
        </p>
      )}
      <div className="actions">
        <button
          type="button"
          data-testid="send-to-generate"
          onClick={() => (window.location.hash = `${hashFor('generate')}?generation=${g.id}`)}
        >
          Send to Generate
        </button>
        <ConfirmButton
          label="Delete"
          confirmLabel="Delete file and entry?"
          disabled={busy}
          onConfirm={() => void remove()}
        />
      </div>
    </div>
  );
}
