// What a LoRA file says about itself, A1111-style: the training facts from its kohya `ss_*`
// (and `modelspec.*`) metadata, the tag frequency table, trigger words (its most frequent
// tags), and the Civitai card (JSON + markdown) built from them. Pure functions of metadata.

/** One labelled fact of the A1111 metadata view. */
export interface LoraFact {
  key: string;
  label: string;
  value: string;
}

export interface TagCount {
  tag: string;
  count: number;
}

// Label, then the metadata keys that may hold it (first present wins).
const FACTS: readonly (readonly [string, readonly string[]])[] = [
  ['Output name', ['ss_output_name', 'modelspec.title']],
  ['Base model', ['ss_sd_model_name']],
  ['Base model version', ['ss_base_model_version', 'modelspec.architecture']],
  ['Network module', ['ss_network_module']],
  ['Dim (rank)', ['ss_network_dim']],
  ['Alpha', ['ss_network_alpha']],
  ['Network args', ['ss_network_args']],
  ['Resolution', ['ss_resolution', 'modelspec.resolution']],
  ['Steps', ['ss_steps']],
  ['Max train steps', ['ss_max_train_steps']],
  ['Epochs', ['ss_epoch']],
  ['Train images', ['ss_num_train_images']],
  ['Batch size', ['ss_batch_size_per_device']],
  ['Optimizer', ['ss_optimizer']],
  ['Learning rate', ['ss_learning_rate']],
  ['UNet LR', ['ss_unet_lr']],
  ['Text encoder LR', ['ss_text_encoder_lr']],
  ['LR scheduler', ['ss_lr_scheduler']],
  ['Warmup steps', ['ss_lr_warmup_steps']],
  ['Mixed precision', ['ss_mixed_precision']],
  ['Clip skip', ['ss_clip_skip']],
  ['Seed', ['ss_seed']],
  ['Noise offset', ['ss_noise_offset']],
  ['Min SNR gamma', ['ss_min_snr_gamma']],
  ['Caption dropout', ['ss_caption_dropout_rate']],
  ['Shuffle captions', ['ss_shuffle_caption']],
  ['Training started', ['ss_training_started_at']],
  ['Training finished', ['ss_training_finished_at']],
];

const TIME_KEYS = new Set(['ss_training_started_at', 'ss_training_finished_at']);

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === '' || s === 'None' || s === 'null' ? null : s;
}

/** The A1111-style facts present in `metadata`, in a fixed order (absent ones left out). */
export function loraFacts(metadata: Readonly<Record<string, unknown>>): LoraFact[] {
  const out: LoraFact[] = [];
  for (const [label, keys] of FACTS) {
    for (const key of keys) {
      let value = text(metadata[key]);
      if (value === null) continue;
      if (TIME_KEYS.has(key) && Number.isFinite(Number(value)))
        value = new Date(Number(value) * 1000).toISOString();
      out.push({ key, label, value });
      break;
    }
  }
  return out;
}

/**
 * `ss_tag_frequency` ({ folder: { tag: count } }, as JSON text or object) merged over folders,
 * most frequent first (ties by tag). Unreadable values give an empty table.
 */
export function tagFrequency(metadata: Readonly<Record<string, unknown>>): TagCount[] {
  let raw = metadata.ss_tag_frequency;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch {
      return [];
    }
  }
  if (!raw || typeof raw !== 'object') return [];
  const counts = new Map<string, number>();
  for (const folder of Object.values(raw as Record<string, unknown>)) {
    if (!folder || typeof folder !== 'object') continue;
    for (const [tag, n] of Object.entries(folder as Record<string, unknown>)) {
      const t = tag.trim();
      if (!t || typeof n !== 'number' || !Number.isFinite(n)) continue;
      counts.set(t, (counts.get(t) ?? 0) + n);
    }
  }
  return [...counts]
    .map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
}

/** The `count` most frequent tags: what Civitai calls trigger words. */
export function triggerWords(metadata: Readonly<Record<string, unknown>>, count = 5): string[] {
  return tagFrequency(metadata)
    .slice(0, count)
    .map((t) => t.tag);
}

export interface CivitaiCardInput {
  name: string;
  fileName: string;
  metadata: Readonly<Record<string, unknown>>;
  /** The preview's file name, if one was written. */
  previewFile?: string | null;
  /** Hashes known for the file (e.g. sha256, autov2, autov3). */
  hashes?: Readonly<Record<string, string>>;
  /** The run it came from, if trained here. */
  run?: { id: number; name: string } | null;
}

export interface CivitaiCard {
  json: Record<string, unknown>;
  markdown: string;
}

/** The JSON and markdown card uploaded beside a LoRA: trigger words and training settings. */
export function civitaiCard(input: CivitaiCardInput): CivitaiCard {
  const facts = loraFacts(input.metadata);
  const triggers = triggerWords(input.metadata);
  const fact = (key: string) => facts.find((f) => f.key === key)?.value;
  const json: Record<string, unknown> = {
    name: input.name,
    type: 'LORA',
    file: input.fileName,
    baseModel: fact('ss_base_model_version') === 'sd_v2' ? 'SD 2.x' : 'SD 1.5',
    trainedWords: triggers,
    ...(input.previewFile ? { preview: input.previewFile } : {}),
    ...(input.hashes && Object.keys(input.hashes).length ? { hashes: { ...input.hashes } } : {}),
    ...(input.run ? { trainedWith: 'LoRA Studio', run: input.run } : {}),
    training: Object.fromEntries(facts.map((f) => [f.key, f.value])),
    tagFrequency: tagFrequency(input.metadata).slice(0, 50),
  };
  const lines = [
    `# ${input.name}`,
    '',
    `LoRA for ${String(json.baseModel)} · file \`${input.fileName}\``,
    '',
    '## Trigger words',
    '',
    triggers.length ? triggers.map((t) => `\`${t}\``).join(', ') : '(none recorded)',
    '',
    '## Training settings',
    '',
    '| setting | value |',
    '| --- | --- |',
    ...facts.map((f) => `| ${f.label} | ${f.value.replace(/\|/g, '\\|')} |`),
    '',
  ];
  if (input.previewFile) lines.push(`![preview](${input.previewFile})`, '');
  return { json, markdown: lines.join('\n') };
}
