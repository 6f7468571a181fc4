// Auto-captioning (datasets.caption): a WD14-style tagger or BLIP, from the hub (downloaded on
// first use) or from local files; mode overwrite / append / only-empty, a trigger word, and the
// tagger's thresholds. When the job is done its changes go to the editor's undo history.

import { useState, type FormEvent } from 'react';
import type { ApiInput, CaptionChange, CaptionMode, Dataset } from '../../../core/api';
import { useApiQuery, useTransport } from '../api';
import { useMutation } from '../mutation';
import { useNotify } from '../notifications';
import { useJob } from '../use-job';
import { DatasetJobBar as JobBar } from './DatasetJobBar';

type ModelChoice = ApiInput<'datasets.caption'>['model'];
const LOCAL_TAGGER = 'local-tagger';
const LOCAL_BLIP = 'local-blip';

const MODES: { value: CaptionMode; label: string }[] = [
  { value: 'only-empty', label: 'Only images without a caption' },
  { value: 'append', label: 'Append new tags to the caption' },
  { value: 'overwrite', label: 'Overwrite every caption' },
];

function changesOf(result: unknown): CaptionChange[] {
  const list = (result as { changes?: unknown } | undefined)?.changes;
  return Array.isArray(list) ? (list as CaptionChange[]) : [];
}

export function DatasetCaptionPanel(props: {
  dataset: Dataset;
  onCaptioned: (label: string, changes: CaptionChange[]) => void;
}) {
  const transport = useTransport();
  const notify = useNotify();
  const { busy, run } = useMutation();
  const models = useApiQuery('datasets.captionModels', {}, []);
  const [choice, setChoice] = useState('wd-swinv2-tagger-v3');
  const [paths, setPaths] = useState({
    model: '',
    tags: '',
    vision: '',
    decoder: '',
    tokenizer: '',
  });
  const [mode, setMode] = useState<CaptionMode>('only-empty');
  const [trigger, setTrigger] = useState('');
  const [general, setGeneral] = useState(0.35);
  const [character, setCharacter] = useState(0.85);
  const [includeRating, setIncludeRating] = useState(false);
  const [blacklist, setBlacklist] = useState('');
  const [maxTags, setMaxTags] = useState('');
  const [maxTokens, setMaxTokens] = useState(30);

  const entry = models.data?.find((m) => m.id === choice);
  const isTagger = choice === LOCAL_TAGGER || entry?.kind === 'tagger';
  const job = useJob((j) => {
    if (j.status === 'done') {
      const changes = changesOf(j.result);
      notify.success(`Captioning finished: ${changes.length} caption(s) changed`);
      if (changes.length) props.onCaptioned('auto-caption', changes);
    }
    if (j.status === 'error') notify.error('Captioning failed', new Error(j.error?.message));
  });

  const model = (): ModelChoice => {
    if (choice === LOCAL_TAGGER) {
      return { source: 'tagger-files', modelPath: paths.model.trim(), tagsPath: paths.tags.trim() };
    }
    if (choice === LOCAL_BLIP) {
      return {
        source: 'blip-files',
        visionModelPath: paths.vision.trim(),
        decoderModelPath: paths.decoder.trim(),
        tokenizerPath: paths.tokenizer.trim(),
      };
    }
    return { source: 'registry', id: choice };
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const started = await run('Could not start captioning', () =>
      transport.call('datasets.caption', {
        datasetId: props.dataset.id,
        model: model(),
        mode,
        triggerWord: trigger.trim() || undefined,
        tagger: {
          generalThreshold: general,
          characterThreshold: character,
          includeRating,
          blacklist: blacklist
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean),
          maxTags: maxTags ? Number(maxTags) : undefined,
        },
        captioner: { maxTokens },
      }),
    );
    if (started) job.track(started.jobId);
  };

  const pathField = (key: keyof typeof paths, label: string, placeholder: string) => (
    <div className="field" key={key}>
      <label htmlFor={`caption-${key}`}>{label}</label>
      <input
        id={`caption-${key}`}
        value={paths[key]}
        onChange={(e) => setPaths((p) => ({ ...p, [key]: e.target.value }))}
        placeholder={placeholder}
        data-testid={`caption-path-${key}`}
        required
      />
    </div>
  );

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby="caption-heading">
      <h2 id="caption-heading">Auto-caption</h2>
      <div className="field">
        <label htmlFor="caption-model">Model</label>
        <select
          id="caption-model"
          value={choice}
          onChange={(e) => setChoice(e.target.value)}
          data-testid="caption-model"
        >
          {(models.data ?? []).map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
              {m.downloaded ? '' : ' — downloads on first use'}
            </option>
          ))}
          <option value={LOCAL_TAGGER}>Tagger files on this machine (model.onnx + CSV)</option>
          <option value={LOCAL_BLIP}>BLIP files on this machine</option>
        </select>
      </div>
      {choice === LOCAL_TAGGER && (
        <>
          {pathField('model', 'Tagger ONNX file', '/models/wd-tagger/model.onnx')}
          {pathField('tags', 'selected_tags.csv', '/models/wd-tagger/selected_tags.csv')}
        </>
      )}
      {choice === LOCAL_BLIP && (
        <>
          {pathField('vision', 'Vision model', '/models/blip/onnx/vision_model.onnx')}
          {pathField('decoder', 'Text decoder', '/models/blip/onnx/text_decoder_model_merged.onnx')}
          {pathField('tokenizer', 'tokenizer.json or vocab.txt', '/models/blip/tokenizer.json')}
        </>
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor="caption-mode">Mode</label>
          <select
            id="caption-mode"
            value={mode}
            onChange={(e) => setMode(e.target.value as CaptionMode)}
            data-testid="caption-mode"
          >
            {MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="caption-trigger">Trigger word (first in every caption)</label>
          <input
            id="caption-trigger"
            value={trigger}
            onChange={(e) => setTrigger(e.target.value)}
            placeholder="e.g. sks style"
            maxLength={200}
            data-testid="caption-trigger"
          />
        </div>
      </div>
      {isTagger ? (
        <>
          <div className="field-row">
            <div className="field">
              <label htmlFor="caption-general">General tags from {general.toFixed(2)}</label>
              <input
                id="caption-general"
                type="range"
                min={0}
                max={1}
                step={0.01}
                value={general}
                onChange={(e) => setGeneral(Number(e.target.value))}
                data-testid="caption-general"
              />
            </div>
            <div className="field">
              <label htmlFor="caption-character">Character tags from {character.toFixed(2)}</label>
              <input
                id="caption-character"
                type="range"
                min={0}
                max={1}
                step={0.01}
                value={character}
                onChange={(e) => setCharacter(Number(e.target.value))}
                data-testid="caption-character"
              />
            </div>
          </div>
          <div className="field-row">
            <div className="field">
              <label htmlFor="caption-blacklist">Never write (comma-separated)</label>
              <input
                id="caption-blacklist"
                value={blacklist}
                onChange={(e) => setBlacklist(e.target.value)}
                placeholder="e.g. simple background, watermark"
              />
            </div>
            <div className="field">
              <label htmlFor="caption-max-tags">Most tags (empty: no limit)</label>
              <input
                id="caption-max-tags"
                type="number"
                min={1}
                max={500}
                value={maxTags}
                onChange={(e) => setMaxTags(e.target.value)}
              />
            </div>
          </div>
          <label className="small">
            <input
              type="checkbox"
              checked={includeRating}
              onChange={(e) => setIncludeRating(e.target.checked)}
            />{' '}
            Write the rating (general / sensitive / …) as a tag
          </label>
        </>
      ) : (
        <div className="field">
          <label htmlFor="caption-max-tokens">Longest caption (tokens)</label>
          <input
            id="caption-max-tokens"
            type="number"
            min={1}
            max={100}
            value={maxTokens}
            onChange={(e) => setMaxTokens(Number(e.target.value))}
          />
        </div>
      )}
      <div className="actions">
        <button
          type="submit"
          className="primary"
          disabled={busy || job.active || props.dataset.imageCount === 0}
          data-testid="caption-button"
        >
          Caption images
        </button>
      </div>
      {job.job && (
        <JobBar
          job={job.job}
          active={job.active}
          label="Captioning…"
          testId="caption-progress"
          onCancel={job.cancel}
        />
      )}
    </form>
  );
}
