// The Generate form: model and VAE, prompts, sampler settings, seed, size, batch, CLIP skip
// and LoRAs. State lives in the screen; this only edits it.

import type { FormEvent, ReactNode } from 'react';
import type { Model, Sampler } from '../../../core/api';
import {
  CUSTOM_SIZE,
  SAMPLER_IDS,
  SAMPLER_LABELS,
  SIZE_PRESETS,
  presetFor,
  type GenerateForm,
} from '../generate-form';
import { LoraPicker } from './LoraPicker';

function NumberField(props: {
  id: string;
  label: string;
  value: number;
  min: number;
  max: number;
  step?: number;
  onChange: (value: number) => void;
  children?: ReactNode;
}) {
  return (
    <div className="field narrow-field">
      <label htmlFor={props.id}>{props.label}</label>
      <div className="input-with-buttons">
        <input
          id={props.id}
          type="number"
          min={props.min}
          max={props.max}
          step={props.step ?? 1}
          value={Number.isNaN(props.value) ? '' : props.value}
          onChange={(e) => props.onChange(e.target.valueAsNumber)}
          required
        />
        {props.children}
      </div>
    </div>
  );
}

export function GenerateFormPanel(props: {
  form: GenerateForm;
  onChange: (patch: Partial<GenerateForm>) => void;
  checkpoints: Model[];
  vaes: Model[];
  loras: Model[];
  lastSeed: number | null;
  busy: boolean;
  onSubmit: () => void;
}) {
  const { form, onChange } = props;
  const preset = presetFor(form.width, form.height);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    props.onSubmit();
  };

  return (
    <form
      className="panel form"
      onSubmit={submit}
      aria-labelledby="generate-form-heading"
      noValidate
    >
      <h2 id="generate-form-heading">Prompt and settings</h2>
      <div className="field-row">
        <div className="field grow">
          <label htmlFor="gen-model">Checkpoint</label>
          <select
            id="gen-model"
            value={form.modelId ?? ''}
            onChange={(e) => onChange({ modelId: e.target.value ? Number(e.target.value) : null })}
            required
          >
            {form.modelId === null && <option value="">Choose a checkpoint…</option>}
            {props.checkpoints.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field grow">
          <label htmlFor="gen-vae">VAE</label>
          <select
            id="gen-vae"
            value={form.vaeId ?? ''}
            onChange={(e) => onChange({ vaeId: e.target.value ? Number(e.target.value) : null })}
          >
            <option value="">The checkpoint’s own</option>
            {props.vaes.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor="gen-prompt">Prompt</label>
        <textarea
          id="gen-prompt"
          rows={3}
          value={form.prompt}
          onChange={(e) => onChange({ prompt: e.target.value })}
          placeholder="a watercolor fox in a misty forest, (soft light:1.2), <lora:my_style:0.8>"
        />
      </div>
      <div className="field">
        <label htmlFor="gen-negative">Negative prompt</label>
        <textarea
          id="gen-negative"
          rows={2}
          value={form.negativePrompt}
          onChange={(e) => onChange({ negativePrompt: e.target.value })}
          placeholder="blurry, low quality"
        />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="gen-sampler">Sampler</label>
          <select
            id="gen-sampler"
            value={form.sampler}
            onChange={(e) => onChange({ sampler: e.target.value as Sampler })}
          >
            {SAMPLER_IDS.map((s) => (
              <option key={s} value={s}>
                {SAMPLER_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        <NumberField
          id="gen-steps"
          label="Steps"
          value={form.steps}
          min={1}
          max={150}
          onChange={(steps) => onChange({ steps })}
        />
        <NumberField
          id="gen-cfg"
          label="CFG scale"
          value={form.cfgScale}
          min={0}
          max={30}
          step={0.5}
          onChange={(cfgScale) => onChange({ cfgScale })}
        />
        <NumberField
          id="gen-seed"
          label="Seed (−1: random)"
          value={form.seed}
          min={-1}
          max={0xffff_ffff}
          onChange={(seed) => onChange({ seed })}
        >
          <button
            type="button"
            className="icon-button"
            title="Random seed (−1)"
            aria-label="Random seed"
            onClick={() => onChange({ seed: -1 })}
          >
            ⚄
          </button>
          <button
            type="button"
            className="icon-button"
            title={props.lastSeed === null ? 'No image yet' : `Reuse last seed (${props.lastSeed})`}
            aria-label="Reuse last seed"
            disabled={props.lastSeed === null}
            onClick={() => props.lastSeed !== null && onChange({ seed: props.lastSeed })}
          >
            ♻
          </button>
        </NumberField>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="gen-size">Size</label>
          <select
            id="gen-size"
            value={preset}
            onChange={(e) => {
              const p = SIZE_PRESETS.find((s) => s.id === e.target.value);
              if (p) onChange({ width: p.width, height: p.height });
            }}
          >
            {SIZE_PRESETS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
            <option value={CUSTOM_SIZE}>Custom</option>
          </select>
        </div>
        <NumberField
          id="gen-width"
          label="Width"
          value={form.width}
          min={64}
          max={2048}
          step={8}
          onChange={(width) => onChange({ width })}
        />
        <NumberField
          id="gen-height"
          label="Height"
          value={form.height}
          min={64}
          max={2048}
          step={8}
          onChange={(height) => onChange({ height })}
        />
      </div>
      <div className="field-row">
        <NumberField
          id="gen-batch-count"
          label="Batch count"
          value={form.batchCount}
          min={1}
          max={100}
          onChange={(batchCount) => onChange({ batchCount })}
        />
        <NumberField
          id="gen-batch-size"
          label="Batch size"
          value={form.batchSize}
          min={1}
          max={8}
          onChange={(batchSize) => onChange({ batchSize })}
        />
        <NumberField
          id="gen-clip-skip"
          label="CLIP skip"
          value={form.clipSkip}
          min={1}
          max={12}
          onChange={(clipSkip) => onChange({ clipSkip })}
        />
      </div>
      <LoraPicker
        loras={props.loras}
        value={form.loras}
        onChange={(loras) => onChange({ loras })}
      />
      <div className="actions">
        <button type="submit" className="primary" disabled={props.busy || form.modelId === null}>
          {props.busy ? 'Generating…' : 'Generate'}
        </button>
      </div>
    </form>
  );
}
