import { useEffect, useState } from 'react';
import type { Generation, ParsedInfotext } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { GenerateFormPanel } from '../components/GenerateFormPanel';
import { GenerationGallery } from '../components/GenerationGallery';
import { JobProgress } from '../components/JobProgress';
import { PngInfo } from '../components/PngInfo';
import { EmptyState, ErrorPanel, QueryView } from '../components/states';
import { applyParsed, DEFAULT_FORM, toRequest, type GenerateForm } from '../generate-form';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { hashFor } from '../routes';
import { isFinished, useGenerateJob } from '../use-generate-job';

const GALLERY_SIZE = 24;

export function GenerateScreen() {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const checkpoints = useApiQuery('models.list', { kind: 'checkpoint' }, ['models']);
  const vaes = useApiQuery('models.list', { kind: 'vae' }, ['models']);
  const loras = useApiQuery('models.list', { kind: 'lora' }, ['models']);
  const gallery = useApiQuery('generations.list', { limit: GALLERY_SIZE }, ['generations']);
  const { job, start, cancel } = useGenerateJob();
  const [form, setForm] = useState<GenerateForm>(DEFAULT_FORM);
  const [cancelling, setCancelling] = useState(false);

  const update = (patch: Partial<GenerateForm>) => setForm((f) => ({ ...f, ...patch }));

  // Pick the first checkpoint once there is one (and again if the chosen one is forgotten).
  const checkpointList = checkpoints.data;
  useEffect(() => {
    if (!checkpointList) return;
    setForm((f) =>
      f.modelId !== null && checkpointList.some((m) => m.id === f.modelId)
        ? f
        : { ...f, modelId: checkpointList[0]?.id ?? null },
    );
  }, [checkpointList]);

  // `#/generate?lora=<model id>` (Train's "Open in Generate") adds that LoRA once it is listed.
  const loraList = loras.data;
  useEffect(() => {
    const wanted = Number(
      new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('lora'),
    );
    if (!loraList || !loraList.some((m) => m.id === wanted)) return;
    setForm((f) =>
      f.loras.some((l) => l.modelId === wanted)
        ? f
        : { ...f, loras: [...f.loras, { modelId: wanted, strength: 1 }] },
    );
  }, [loraList]);

  // `#/generate?generation=<id>` (History's "Send to Generate") fills the form from that image.
  const [sentFrom] = useState(() =>
    Number(new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('generation')),
  );
  useEffect(() => {
    if (!sentFrom || !checkpointList) return;
    let cancelled = false;
    transport.call('generations.get', { id: sentFrom }).then(
      (g) => !cancelled && void sendGeneration(g),
      (error: unknown) => !cancelled && notify.error('Could not open that image', error),
    );
    return () => {
      cancelled = true;
    };
    // Once, when the checkpoints are known (the form matches the image's model against them).
  }, [sentFrom, checkpointList === undefined]);

  const running = job !== null && !isFinished(job.status);
  const latestIds = job?.status === 'done' ? job.generations.map((g) => g.id) : [];
  const lastSeed = job?.generations[0]?.seed ?? gallery.data?.items[0]?.seed ?? null;

  const generate = () =>
    run('Could not start the generation', async () => {
      await start(toRequest(form));
    });

  const onCancel = async () => {
    setCancelling(true);
    await run('Could not cancel the generation', cancel);
    setCancelling(false);
  };

  const sendParsed = (params: ParsedInfotext, source: string) => {
    const applied = applyParsed(form, params, checkpointList ?? []);
    setForm(applied.form);
    notify.success(
      `Parameters from ${source} are in the form` +
        (applied.notes.length ? ` (${applied.notes.join('; ')})` : ''),
    );
    document.getElementById('gen-prompt')?.focus();
  };

  const sendGeneration = async (g: Generation) => {
    if (g.params.infotext) {
      const parsed = await run('Could not read the image’s parameters', () =>
        transport.call('infotext.parse', { text: g.params.infotext! }),
      );
      if (parsed) sendParsed(parsed.params, `image #${g.id}`);
      return;
    }
    // Rows written before infotexts were stored: take their columns.
    setForm((f) => ({
      ...f,
      prompt: g.params.prompt,
      negativePrompt: g.params.negativePrompt,
      sampler: g.params.sampler,
      steps: g.params.steps,
      cfgScale: g.params.cfgScale,
      seed: g.seed,
      width: g.params.width,
      height: g.params.height,
      clipSkip: g.params.clipSkip,
    }));
    notify.success(`Parameters from image #${g.id} are in the form`);
  };

  return (
    <>
      <header className="screen-header">
        <h1>Generate</h1>
        <p className="muted">
          Try your LoRAs: pick a checkpoint, stack LoRAs with a strength each, write a prompt and
          get PNGs that carry their settings (A1111-style), so any WebUI can read them.
        </p>
      </header>
      <QueryView query={checkpoints} what="checkpoints">
        {(items) =>
          items.length === 0 ? (
            <EmptyState title="Add a checkpoint to generate images" testId="generate-empty">
              <p data-testid="generate-checkpoints">
                No checkpoint registered yet — add one under <a href={hashFor('models')}>Models</a>{' '}
                (a Stable Diffusion 1.x <code>.safetensors</code> file or diffusers folder). Then
                come back here.
              </p>
            </EmptyState>
          ) : (
            <GenerateFormPanel
              form={form}
              onChange={update}
              checkpoints={items}
              vaes={vaes.data ?? []}
              loras={loras.data ?? []}
              lastSeed={lastSeed}
              busy={busy || running}
              onSubmit={() => void generate()}
            />
          )
        }
      </QueryView>

      {job && (
        <section aria-label="Progress">
          <JobProgress job={job} onCancel={() => void onCancel()} cancelling={cancelling} />
          {job.status === 'error' && job.error && (
            <ErrorPanel title="The generation failed" error={new Error(job.error.message)} />
          )}
        </section>
      )}

      <section aria-labelledby="gallery-heading">
        <h2 id="gallery-heading">Results</h2>
        <QueryView query={gallery} what="generated images">
          {({ items, total }) =>
            items.length === 0 ? (
              <EmptyState title="No images yet" testId="gallery-empty">
                Generated images appear here with their settings; each PNG also carries them for
                A1111, Forge and Civitai.
              </EmptyState>
            ) : (
              <GenerationGallery
                items={items}
                total={total}
                latestIds={latestIds}
                onSendToPrompt={(g) => void sendGeneration(g)}
                onUseSeed={(seed) => update({ seed })}
              />
            )
          }
        </QueryView>
      </section>

      <section aria-labelledby="png-info-heading">
        <h2 id="png-info-heading">PNG info</h2>
        <PngInfo onSend={(parsed) => sendParsed(parsed.params, 'the PNG')} />
      </section>
    </>
  );
}
