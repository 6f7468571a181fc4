// One training run, live: status, step / ETA / it/s, the loss chart (raw + smoothed) and the
// learning-rate curve, Pause / Resume / Cancel, and the exported LoRA with "Open in Generate".
// Pause is cancel-with-checkpoint; Resume continues exactly from that checkpoint.
import { useEffect, useState } from 'react';
import type { ApiEvent } from '../../../core/api';
import { useApiEvents, useApiQuery, useTransport } from '../api';
import { formatNumber } from '../format';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { hashFor } from '../routes';
import { RUN_STATUS_LABEL as STATUS_LABEL } from '../run-status';
import { formatDuration } from '../train-form';
import { LineChart, type SeriesPoint } from './LossChart';

type Progress = Extract<ApiEvent, { status: 'progress' }>;

interface Live {
  step?: number;
  total?: number;
  epoch?: number;
  itPerSec?: number;
  etaSeconds?: number;
  skippedSteps?: number;
  dynamicCaptions?: boolean;
  message?: string;
  /** 0-based step → loss and lr, from events (the stored series arrives with runs.get). */
  points: Map<number, { loss: number; lr: number }>;
}

export function TrainRunPanel(props: { runId: number }) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const details = useApiQuery('runs.get', { id: props.runId }, ['runs', 'artifacts']);
  const loras = useApiQuery('models.list', { kind: 'lora' }, ['models']);
  const [live, setLive] = useState<Live>({ points: new Map() });

  useEffect(() => setLive({ points: new Map() }), [props.runId]);

  useApiEvents((event) => {
    if (event.status !== 'progress' || event.runId !== props.runId) return;
    const e: Progress = event;
    setLive((prev) => {
      const points = new Map(prev.points);
      if (e.step !== undefined && e.loss !== undefined && e.lr !== undefined)
        points.set(e.step - 1, { loss: e.loss, lr: e.lr });
      return {
        points,
        step: e.step ?? prev.step,
        total: e.total ?? prev.total,
        epoch: e.epoch ?? prev.epoch,
        itPerSec: e.itPerSec ?? prev.itPerSec,
        etaSeconds: e.etaSeconds ?? prev.etaSeconds,
        skippedSteps: e.skippedSteps ?? prev.skippedSteps,
        dynamicCaptions: e.dynamicCaptions ?? prev.dynamicCaptions,
        message: e.message ?? prev.message,
      };
    });
  });

  const r = details.data;
  if (!r) return null;

  const series = new Map<number, { loss: number; lr: number }>();
  for (const s of r.steps) series.set(s.step, { loss: s.loss, lr: s.lr });
  for (const [step, v] of live.points) series.set(step, v);
  const sorted = [...series.entries()].sort((a, b) => a[0] - b[0]);
  const loss: SeriesPoint[] = sorted.map(([step, v]) => ({ step, value: v.loss }));
  const lr: SeriesPoint[] = sorted.map(([step, v]) => ({ step, value: v.lr }));

  const active = r.status === 'running' || r.status === 'queued';
  const canResume =
    r.status === 'paused' ||
    r.status === 'cancelled' ||
    r.status === 'failed' ||
    r.status === 'interrupted';
  const done = sorted.length ? sorted[sorted.length - 1][0] + 1 : 0;
  const total = live.total ?? r.config.maxSteps;
  const artifact = r.artifacts[0];
  const loraModel = artifact && loras.data?.find((m) => m.path === artifact.path);
  const trainsTextEncoder = r.runConfig?.network_train_unet_only === false;
  const dynamic =
    live.dynamicCaptions ??
    Boolean(r.runConfig?.shuffle_caption || r.runConfig?.caption_dropout_rate || trainsTextEncoder);

  const act = (label: string, action: () => Promise<unknown>) =>
    run(label, action).then((res) => res !== undefined && details.reload());
  const pause = () =>
    act('Could not pause the run', () => transport.call('runs.cancel', { id: r.id, pause: true }));
  const cancel = () =>
    act('Could not cancel the run', () => transport.call('runs.cancel', { id: r.id }));
  const resume = () =>
    act('Could not resume the run', async () => {
      const res = await transport.call('runs.resume', { id: r.id });
      notify.success(`Resuming “${r.name}”`);
      return res;
    });

  return (
    <section
      className="panel train-run"
      data-testid="train-run"
      data-status={r.status}
      aria-labelledby="train-run-heading"
    >
      <div className="section-header">
        <h2 id="train-run-heading">{r.name}</h2>
        <span className={`badge badge-${r.status}`} data-testid="train-run-status">
          {STATUS_LABEL[r.status]}
        </span>
      </div>
      <progress
        max={total || 1}
        value={Math.min(done, total || 1)}
        aria-label="Training progress"
      />
      <dl className="train-stats" data-testid="train-stats">
        <div>
          <dt>Step</dt>
          <dd data-testid="train-step">
            {done} / {total}
          </dd>
        </div>
        <div>
          <dt>Epoch</dt>
          <dd>{live.epoch === undefined ? '—' : live.epoch + 1}</dd>
        </div>
        <div>
          <dt>Loss</dt>
          <dd>{formatNumber(loss.at(-1)?.value)}</dd>
        </div>
        <div>
          <dt>LR</dt>
          <dd>{formatNumber(lr.at(-1)?.value, 3)}</dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd>{live.itPerSec === undefined ? '—' : `${live.itPerSec.toFixed(2)} it/s`}</dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd>{active ? formatDuration(live.etaSeconds) : '—'}</dd>
        </div>
        <div>
          <dt>Skipped (fp16 overflow)</dt>
          <dd>{live.skippedSteps ?? 0}</dd>
        </div>
      </dl>
      {active && live.message && <p className="small muted">{live.message}</p>}
      {dynamic && (
        <p className="small muted" data-testid="train-dynamic-captions">
          {trainsTextEncoder
            ? 'The text encoder is trained (its LoRA runs inside the step graph): text embeddings are computed per step, not cached.'
            : 'Captions change every step (shuffle / dropout): text embeddings are computed per step.'}
        </p>
      )}
      {r.error && <p className="small error-text">{r.error}</p>}
      <div className="charts">
        <LineChart title="Loss (raw and smoothed)" points={loss} smooth testId="loss-chart" />
        <LineChart title="Learning rate" points={lr} testId="lr-chart" />
      </div>
      <div className="actions">
        {active && (
          <>
            <button type="button" disabled={busy} onClick={pause}>
              Pause
            </button>
            <button type="button" className="danger" disabled={busy} onClick={cancel}>
              Cancel
            </button>
          </>
        )}
        {canResume && (
          <button type="button" className="primary" disabled={busy} onClick={resume}>
            Resume
          </button>
        )}
        {r.status === 'paused' && (
          <button type="button" className="danger" disabled={busy} onClick={cancel}>
            Cancel
          </button>
        )}
      </div>
      {r.status === 'paused' && (
        <p className="small muted">
          Paused at a checkpoint (LoRA + optimizer state); Resume continues from it exactly.
        </p>
      )}
      {artifact && (
        <div className="train-output" data-testid="train-output">
          <p>
            Final LoRA:{' '}
            <span className="mono" data-testid="train-output-path">
              {artifact.path}
            </span>
          </p>
          <p className="small muted">
            Exported in kohya format (lora_down / lora_up / alpha with ss_* training metadata): it
            loads in A1111 / Forge, ComfyUI and diffusers and uploads to Civitai as is. Checkpoints
            and the full config (run.json) stay in the run&apos;s folder.
          </p>
          <div className="actions">
            <button
              type="button"
              className="primary"
              data-testid="open-in-generate"
              onClick={() => {
                // Generate adds the LoRA named by `?lora=` (when it is a registered model).
                window.location.hash = loraModel
                  ? `${hashFor('generate')}?lora=${loraModel.id}`
                  : hashFor('generate');
              }}
            >
              Open in Generate
            </button>
          </div>
        </div>
      )}
      {r.samples.length > 0 && (
        <ul className="small muted" data-testid="train-samples">
          {r.samples.map((s) => (
            <li key={`${s.step}-${s.path}`}>
              Step {s.step}: <span className="mono">{s.path}</span>
              {s.prompt && ` — ${s.prompt}`}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
