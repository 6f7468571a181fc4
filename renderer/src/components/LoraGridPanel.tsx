// One-click comparison grids of a LoRA: a strength sweep or before/after on a few prompts,
// rendered as a job (progress bar, cancel) and saved in the data dir; saved grids are listed.

import { useState, type FormEvent } from 'react';
import type { GridInfo, Model, Sampler } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { SAMPLER_IDS, SAMPLER_LABELS } from '../generate-form';
import { formatDate } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';
import { JobBar } from './JobBar';
import { LibraryImage } from './LibraryImage';

type GridKind = GridInfo['kind'];

function parseStrengths(text: string): number[] | null {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const values = parts.map(Number);
  return values.length && values.every((v) => Number.isFinite(v)) ? values : null;
}

export function LoraGridPanel(props: { lora: Model; grids: GridInfo[]; onRendered: () => void }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const checkpoints = useApiQuery('models.list', { kind: 'checkpoint' }, ['models']);
  const settings = useApiQuery('settings.get', {}, ['settings']);
  const [checkpointId, setCheckpointId] = useState<number | ''>('');
  const [prompts, setPrompts] = useState('');
  const [strengths, setStrengths] = useState('0, 0.25, 0.5, 0.75, 1');
  const [steps, setSteps] = useState(20);
  const [size, setSize] = useState(512);
  const [seed, setSeed] = useState(42);
  const [sampler, setSampler] = useState<Sampler>('euler_a');
  const job = useJob((j) => {
    if (j.status === 'done') {
      notify.success('Grid rendered');
      props.onRendered();
    }
    if (j.status === 'error') notify.error('The grid failed', new Error(j.error?.message));
  });
  const defaultId = settings.data?.defaultCheckpointId ?? null;
  const chosen = checkpointId === '' ? defaultId : checkpointId;

  const start = async (kind: GridKind) => {
    const list = prompts
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    if (list.length === 0)
      return notify.error('Give at least one prompt', new Error('one per line'));
    const values = parseStrengths(strengths);
    if (kind === 'strength-sweep' && !values)
      return notify.error('Strengths must be numbers', new Error('e.g. 0, 0.5, 1'));
    const started = await run('Could not start the grid', () =>
      transport.call('library.renderGrid', {
        id: props.lora.id,
        kind,
        ...(chosen !== null && { checkpointId: chosen }),
        prompts: list,
        ...(kind === 'strength-sweep' && values && { strengths: values }),
        steps,
        width: size,
        height: size,
        seed,
        sampler,
      }),
    );
    if (started) job.track(started.jobId);
  };

  return (
    <section aria-labelledby="grids-heading" data-testid="lora-grids">
      <h3 id="grids-heading">Comparison grids</h3>
      <form className="form" onSubmit={(e: FormEvent) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="grid-checkpoint">Checkpoint</label>
          <select
            id="grid-checkpoint"
            value={chosen ?? ''}
            onChange={(e) => setCheckpointId(e.target.value === '' ? '' : Number(e.target.value))}
          >
            {chosen === null && <option value="">Pick a checkpoint</option>}
            {(checkpoints.data ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
                {m.id === defaultId ? ' (default)' : ''}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="grid-prompts">Prompts (one per line)</label>
          <textarea
            id="grid-prompts"
            rows={3}
            value={prompts}
            onChange={(e) => setPrompts(e.target.value)}
            placeholder="a portrait of a woman, smiling"
          />
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor="grid-strengths">Strengths (sweep)</label>
            <input
              id="grid-strengths"
              value={strengths}
              onChange={(e) => setStrengths(e.target.value)}
            />
          </div>
          <div className="field narrow-field">
            <label htmlFor="grid-steps">Steps</label>
            <input
              id="grid-steps"
              type="number"
              min={1}
              max={150}
              value={steps}
              onChange={(e) => setSteps(Number(e.target.value))}
            />
          </div>
          <div className="field narrow-field">
            <label htmlFor="grid-size">Size</label>
            <input
              id="grid-size"
              type="number"
              min={64}
              max={2048}
              step={64}
              value={size}
              onChange={(e) => setSize(Number(e.target.value))}
            />
          </div>
          <div className="field narrow-field">
            <label htmlFor="grid-seed">Seed</label>
            <input
              id="grid-seed"
              type="number"
              min={0}
              value={seed}
              onChange={(e) => setSeed(Number(e.target.value))}
            />
          </div>
          <div className="field">
            <label htmlFor="grid-sampler">Sampler</label>
            <select
              id="grid-sampler"
              value={sampler}
              onChange={(e) => setSampler(e.target.value as Sampler)}
            >
              {SAMPLER_IDS.map((s) => (
                <option key={s} value={s}>
                  {SAMPLER_LABELS[s]}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="actions">
          <button
            type="button"
            className="primary"
            disabled={busy || job.active}
            onClick={() => void start('strength-sweep')}
          >
            Render strength sweep
          </button>
          <button
            type="button"
            disabled={busy || job.active}
            onClick={() => void start('before-after')}
          >
            Render before/after
          </button>
        </div>
      </form>
      {job.job && <JobBar job={job.job} label="Grid progress" onCancel={job.cancel} />}
      {props.grids.length === 0 ? (
        <p className="muted small">No grids yet for this LoRA.</p>
      ) : (
        <ul className="lora-list">
          {props.grids.map((g) => (
            <li key={g.id} data-testid="grid-item" data-grid-id={g.id}>
              <p className="small">
                <span className="strong">
                  {g.kind === 'strength-sweep' ? 'Strength sweep' : 'Before/after'}
                </span>{' '}
                <span className="muted">
                  · {g.columns.join(' · ')} · seed {g.seed} · {formatDate(g.createdAt)}
                </span>
              </p>
              <LibraryImage
                source={{ gridId: g.id }}
                alt={`${g.kind} grid of ${props.lora.name}`}
                style={{ maxWidth: '100%', height: 'auto' }}
                testId="grid-image"
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
