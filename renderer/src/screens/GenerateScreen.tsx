import { useApiQuery } from '../api';
import { EmptyState, QueryView } from '../components/states';
import { hashFor } from '../routes';

export function GenerateScreen() {
  const checkpoints = useApiQuery('models.list', { kind: 'checkpoint' }, ['models']);
  const loras = useApiQuery('models.list', { kind: 'lora' }, ['models']);
  return (
    <>
      <header className="screen-header">
        <h1>Generate</h1>
        <p className="muted">
          Try your LoRAs: pick a checkpoint, stack LoRAs with a strength each, write a prompt and
          get PNGs that carry their settings (A1111-style), so any WebUI can read them.
        </p>
      </header>
      <EmptyState title="Image generation is not in this version yet" testId="generate-empty">
        <p>
          It needs the generation engine (text encoder, sampler loop over the UNet with your LoRAs,
          VAE decode), which is still being built. Until then this screen shows what it will work
          with.
        </p>
      </EmptyState>
      <section aria-labelledby="generate-ready-heading">
        <h2 id="generate-ready-heading">What you have ready</h2>
        <QueryView query={checkpoints} what="checkpoints">
          {(items) => (
            <p data-testid="generate-checkpoints">
              {items.length === 0 ? (
                <>
                  No checkpoint registered yet — add one under{' '}
                  <a href={hashFor('models')}>Models</a>.
                </>
              ) : (
                <>
                  {items.length} checkpoint{items.length === 1 ? '' : 's'}:{' '}
                  {items.map((m) => m.name).join(', ')}
                </>
              )}
            </p>
          )}
        </QueryView>
        <QueryView query={loras} what="LoRAs">
          {(items) => (
            <p>
              {items.length === 0
                ? 'No LoRA registered yet: train one, or register one you downloaded under Models.'
                : `${items.length} LoRA${items.length === 1 ? '' : 's'}: ${items.map((m) => m.name).join(', ')}`}
            </p>
          )}
        </QueryView>
      </section>
    </>
  );
}
