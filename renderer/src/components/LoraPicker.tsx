// Stack registered LoRAs, each with a strength (A1111's multiplier: 1 = as trained, 0 = off,
// negative values push away from what it learned).

import { useState } from 'react';
import type { Model } from '../../../core/api';
import { hashFor } from '../routes';
import type { LoraEntry } from '../generate-form';

const MIN = -1;
const MAX = 2;

export function LoraPicker(props: {
  loras: Model[];
  value: LoraEntry[];
  onChange: (next: LoraEntry[]) => void;
}) {
  const [choice, setChoice] = useState('');
  const byId = new Map(props.loras.map((m) => [m.id, m]));
  const available = props.loras.filter((m) => !props.value.some((l) => l.modelId === m.id));

  const add = () => {
    const id = Number(choice);
    if (!id) return;
    props.onChange([...props.value, { modelId: id, strength: 1 }]);
    setChoice('');
  };
  const set = (index: number, strength: number) =>
    props.onChange(props.value.map((l, i) => (i === index ? { ...l, strength } : l)));
  const remove = (index: number) => props.onChange(props.value.filter((_, i) => i !== index));

  return (
    <fieldset className="lora-picker" data-testid="lora-picker">
      <legend>LoRAs</legend>
      {props.loras.length === 0 ? (
        <p className="muted small">
          No LoRA registered: train one, or register a downloaded one under{' '}
          <a href={hashFor('models')}>Models</a>. A <code>&lt;lora:name:0.8&gt;</code> tag in the
          prompt works too.
        </p>
      ) : (
        <div className="field-row">
          <select
            aria-label="LoRA to add"
            value={choice}
            onChange={(e) => setChoice(e.target.value)}
            disabled={available.length === 0}
          >
            <option value="">{available.length ? 'Choose a LoRA…' : 'All LoRAs added'}</option>
            {available.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
          <button type="button" onClick={add} disabled={!choice}>
            Add LoRA
          </button>
        </div>
      )}
      {props.value.length > 0 && (
        <ul className="lora-list">
          {props.value.map((entry, index) => {
            const model = byId.get(entry.modelId);
            const name = model?.name ?? `model #${entry.modelId} (no longer registered)`;
            const id = `lora-strength-${entry.modelId}`;
            return (
              <li key={entry.modelId} className="lora-row">
                <label htmlFor={id} className="lora-name" title={model?.path}>
                  {name}
                </label>
                <input
                  id={id}
                  type="range"
                  min={MIN}
                  max={MAX}
                  step={0.05}
                  value={entry.strength}
                  onChange={(e) => set(index, e.target.valueAsNumber)}
                />
                <input
                  type="number"
                  aria-label={`${name} strength`}
                  className="narrow"
                  min={-10}
                  max={10}
                  step={0.05}
                  value={entry.strength}
                  onChange={(e) => set(index, e.target.valueAsNumber)}
                />
                <button
                  type="button"
                  className="quiet"
                  onClick={() => remove(index)}
                  aria-label={`Remove ${name}`}
                >
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </fieldset>
  );
}
