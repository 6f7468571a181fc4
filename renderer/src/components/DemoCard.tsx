// "Try the demo": trains a LoRA on the built-in tiny model and sample dataset (CPU, a few
// minutes) and shows the before/after grid and the strength sweep. Its import, OCR and training
// jobs also appear in the job bar; Cancel stops whichever is running.

import { useTransport } from '../api';
import { useMutation } from '../mutation';
import { useJob } from '../use-job';
import { LibraryImage } from './LibraryImage';

/** The parts of the demo report (core/demo DemoReport) this card shows. */
interface DemoResult {
  outputDir: string;
  lora: string;
  gridIds: { beforeAfter: string; strengthSweep: string } | null;
  training: { steps: number; startLoss: number; endLoss: number; seconds: number };
  images: { imported: number; flaggedByOcr: number };
  closeness: { before: number; after: number };
}

function isDemoResult(v: unknown): v is DemoResult {
  return !!v && typeof v === 'object' && 'closeness' in v && 'training' in v && 'lora' in v;
}

export function DemoCard() {
  const transport = useTransport();
  const { busy, run } = useMutation();
  const { job, track, cancel, active } = useJob();
  const start = () =>
    run('Could not start the demo', async () => {
      const { jobId } = await transport.call('demo.start', { steps: 600 });
      track(jobId);
    });
  const result = job?.status === 'done' && isDemoResult(job.result) ? job.result : null;
  const f = (v: number) => v.toFixed(3);
  return (
    <section className="panel" aria-labelledby="demo-heading" data-testid="demo-card">
      <div className="section-header">
        <h2 id="demo-heading">Try the demo</h2>
        {active ? (
          <button type="button" className="danger" onClick={() => void cancel()}>
            Cancel
          </button>
        ) : (
          <button type="button" onClick={start} disabled={busy} data-testid="demo-start">
            {job ? 'Run the demo again' : 'Try the demo'}
          </button>
        )}
      </div>
      <p className="muted small">
        Trains a LoRA that teaches the built-in tiny model a shape it has never seen (pink stars),
        on this computer&apos;s CPU in a few minutes, then compares images without and with it.
        Nothing is downloaded.
      </p>
      {job && (
        <div data-testid="demo-progress" data-status={job.status}>
          <progress max={1} value={job.progress} aria-label="Demo progress" />
          <p className="muted small" data-testid="demo-message">
            {job.status === 'error'
              ? (job.error?.message ?? 'The demo failed')
              : job.status === 'cancelled'
                ? 'Cancelled'
                : (job.message ?? 'Starting…')}
          </p>
        </div>
      )}
      {result && (
        <div data-testid="demo-result">
          <p className="small">
            {result.images.imported} images imported, {result.images.flaggedByOcr} left out by the
            OCR filter; {result.training.steps} steps in {Math.round(result.training.seconds)} s,
            loss {f(result.training.startLoss)} → {f(result.training.endLoss)}. Colour distance to
            the dataset: {f(result.closeness.before)} without the LoRA, {f(result.closeness.after)}{' '}
            with it.
          </p>
          <p className="muted small">
            Saved in <code>{result.outputDir}</code>; the LoRA is in the Library.
          </p>
          {result.gridIds && (
            <div className="demo-grids">
              <figure>
                <LibraryImage
                  source={{ gridId: result.gridIds.beforeAfter }}
                  alt="Before and after: the same prompts without and with the LoRA"
                  testId="demo-before-after"
                />
                <figcaption className="muted small">Before / after</figcaption>
              </figure>
              <figure>
                <LibraryImage
                  source={{ gridId: result.gridIds.strengthSweep }}
                  alt="LoRA strength sweep 0, 0.5 and 1"
                  testId="demo-sweep"
                />
                <figcaption className="muted small">Strength 0, 0.5, 1</figcaption>
              </figure>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
