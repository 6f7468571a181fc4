// One LoRA of the library, A1111-style: its training facts (ss_* metadata), tag frequency,
// the run it came from with its sample images by step, comparison grids, and the ways out.

import type { LoraDetails as Details } from '../../../core/api';
import { useApiQuery } from '../api';
import { formatBytes } from '../format';
import { hashFor } from '../routes';
import { LibraryImage } from './LibraryImage';
import { LoraActions } from './LoraActions';
import { LoraGridPanel } from './LoraGridPanel';
import { QueryView } from './states';
import { TagFrequencyTable } from './TagFrequencyTable';

export function LoraDetails(props: { id: number }) {
  const details = useApiQuery('library.lora', { id: props.id }, ['models', 'artifacts', 'runs']);
  return (
    <div className="panel model-details" data-testid="lora-details">
      <QueryView query={details} what="the LoRA">
        {(d) => <DetailsBody details={d} onRendered={details.reload} />}
      </QueryView>
    </div>
  );
}

function DetailsBody(props: { details: Details; onRendered: () => void }) {
  const { details } = props;
  const { model } = details;
  const bySteps = new Map<number, Details['samples']>();
  for (const s of details.samples) bySteps.set(s.step, [...(bySteps.get(s.step) ?? []), s]);
  return (
    <>
      <h2>{model.name}</h2>
      <p className="muted small mono">{model.path}</p>
      <p className="small">
        {formatBytes(model.sizeBytes)}
        {model.hashes.autov2 ? (
          <>
            {' '}
            · AutoV2 <span className="mono">{model.hashes.autov2}</span>
          </>
        ) : null}
        {details.run ? (
          <>
            {' '}
            · trained here:{' '}
            <a href={`${hashFor('train')}?run=${details.run.id}`}>
              run #{details.run.id} “{details.run.name}”
            </a>{' '}
            ({details.run.status})
          </>
        ) : (
          ' · imported'
        )}
      </p>
      {details.triggerWords.length > 0 && (
        <p className="small" data-testid="trigger-words">
          Trigger words:{' '}
          {details.triggerWords.map((t) => (
            <span key={t} className="tag">
              {t}
            </span>
          ))}
        </p>
      )}
      <section aria-labelledby="lora-facts-heading">
        <h3 id="lora-facts-heading">Training metadata</h3>
        {details.facts.length === 0 ? (
          <p className="muted small">The file carries no training metadata (ss_*).</p>
        ) : (
          <dl className="details" data-testid="lora-facts">
            {details.facts.map((f) => (
              <div key={f.key} className="details-row" title={f.key}>
                <dt>{f.label}</dt>
                <dd>{f.value}</dd>
              </div>
            ))}
          </dl>
        )}
      </section>
      <section aria-labelledby="lora-tags-heading">
        <h3 id="lora-tags-heading">Tag frequency</h3>
        <TagFrequencyTable tags={details.tagFrequency} />
      </section>
      {details.samples.length > 0 && (
        <section aria-labelledby="lora-samples-heading">
          <h3 id="lora-samples-heading">Samples by step</h3>
          {[...bySteps].map(([step, samples]) => (
            <div key={step} data-testid="sample-step">
              <p className="small strong">Step {step}</p>
              <ul className="gallery">
                {samples.map((s) => (
                  <li key={s.index} className="gallery-item">
                    <LibraryImage
                      source={{ loraId: model.id, sample: s.index }}
                      alt={s.prompt ?? `sample at step ${step}`}
                      className="gallery-image"
                    />
                    {s.prompt && <p className="muted small">{s.prompt}</p>}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </section>
      )}
      <LoraGridPanel lora={model} grids={details.grids} onRendered={props.onRendered} />
      <LoraActions lora={model} />
    </>
  );
}
