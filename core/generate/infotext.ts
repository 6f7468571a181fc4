// A1111's "infotext": the `parameters` text of its PNGs, which WebUIs, Civitai and image browsers
// read back. Layout (modules/processing.py create_infotext):
//
//   <prompt, any number of lines>
//   Negative prompt: <negative, any number of lines>      (only when not empty)
//   Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, …
//
// The last line is `key: value` pairs joined by ", " in a fixed key order, then extension keys,
// then Version. A value with a comma, colon or newline is written as a JSON string.
// Reading follows infotext_utils.parse_generation_parameters.

export interface LoraHash {
  readonly name: string;
  /** A1111's short hash: the first 10 hex digits of the file's SHA-256. */
  readonly hash: string;
}

/** What one generation used; every field but the prompt is optional. */
export interface GenerationParams {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly steps?: number;
  readonly sampler?: string;
  /** A1111 ≥ 1.9 writes the noise schedule separately ("Karras", "Automatic", …). */
  readonly scheduleType?: string;
  readonly cfgScale?: number;
  readonly seed?: number;
  readonly width?: number;
  readonly height?: number;
  readonly modelHash?: string;
  readonly model?: string;
  readonly vaeHash?: string;
  readonly vae?: string;
  /** Written only together with a non-zero variationSeedStrength, as A1111 does. */
  readonly variationSeed?: number;
  readonly variationSeedStrength?: number;
  readonly denoisingStrength?: number;
  /** Written only when > 1 (A1111 omits the default 1). */
  readonly clipSkip?: number;
  readonly loraHashes?: readonly LoraHash[];
  readonly version?: string;
  /**
   * Every other key (hires fix, ADetailer, ControlNet, TI hashes, RNG …), in order. Keys that
   * A1111 itself writes at a fixed place ("Seed resize from", "RNG", …) are put there.
   */
  readonly extra?: Readonly<Record<string, string | number | boolean>>;
}

/** parseInfotext's result: the typed fields found, plus every other key as its raw text. */
export interface Infotext extends GenerationParams {
  readonly negativePrompt: string;
  /** 1 when the text has no "Clip skip" (A1111's rule: a missing Clip skip means 1). */
  readonly clipSkip: number;
  /** Unknown keys, and known keys whose value did not parse, with their unquoted text. */
  readonly extra: Record<string, string>;
}

type Kind = 'int' | 'float' | 'string';
type TypedKey = Exclude<keyof GenerationParams, 'prompt' | 'negativePrompt' | 'extra'>;

// Simple typed keys: infotext key → field and value kind.
const SIMPLE: readonly (readonly [string, TypedKey, Kind])[] = [
  ['Steps', 'steps', 'int'],
  ['Sampler', 'sampler', 'string'],
  ['Schedule type', 'scheduleType', 'string'],
  ['CFG scale', 'cfgScale', 'float'],
  ['Seed', 'seed', 'int'],
  ['Model hash', 'modelHash', 'string'],
  ['Model', 'model', 'string'],
  ['VAE hash', 'vaeHash', 'string'],
  ['VAE', 'vae', 'string'],
  ['Variation seed', 'variationSeed', 'int'],
  ['Variation seed strength', 'variationSeedStrength', 'float'],
  ['Denoising strength', 'denoisingStrength', 'float'],
  ['Clip skip', 'clipSkip', 'int'],
  ['Version', 'version', 'string'],
];
const TYPED_KEYS = new Set([...SIMPLE.map(([k]) => k), 'Size', 'Lora hashes']);

// The keys create_infotext writes before the extensions' ones, in its order.
const FIXED_ORDER = [
  'Steps',
  'Sampler',
  'Schedule type',
  'CFG scale',
  'Image CFG scale',
  'Seed',
  'Face restoration',
  'Size',
  'Model hash',
  'Model',
  'FP8 weight',
  'Cache FP16 weight for LoRA',
  'VAE hash',
  'VAE',
  'Variation seed',
  'Variation seed strength',
  'Seed resize from',
  'Denoising strength',
  'Conditional mask weight',
  'Clip skip',
  'ENSD',
  'Token merging ratio',
  'Token merging ratio hr',
  'Init image hash',
  'RNG',
  'Tiling',
];
const TRAILING = ['Version', 'User'];

// A key as parse_generation_parameters can read it back: `\w[\w \-/]+` (Unicode \w).
const KEY_RE = /^[\p{L}\p{N}_][\p{L}\p{N}_ \-/]+$/u;
// re_param: key, then a JSON-quoted value or anything up to the next comma.
const PARAM_RE = /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu;
const SIZE_RE = /^(\d+)x(\d+)$/;

/**
 * A1111's quote(), plus quoting of values that start with a quote or start or end with
 * whitespace (A1111 writes those bare and then cannot read them back unchanged).
 */
function quote(value: string): string {
  return /[,:\n]|^["\s]|\s$/.test(value) ? JSON.stringify(value) : value;
}

function unquote(value: string): string {
  if (value.length < 2 || value[0] !== '"' || value[value.length - 1] !== '"') return value;
  try {
    const v: unknown = JSON.parse(value);
    return typeof v === 'string' ? v : value;
  } catch {
    return value;
  }
}

function render(key: string, value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new Error(`infotext value of ${key} must be finite, got ${value}`);
    return String(value);
  }
  return value;
}

/** A1111's `parameters` text for a generation. */
export function formatInfotext(params: GenerationParams): string {
  const values = new Map<string, string | number | boolean>();
  for (const [key, field] of SIMPLE) {
    const v = params[field];
    if (v !== undefined && v !== null) values.set(key, v as string | number);
  }
  if ((params.width === undefined) !== (params.height === undefined))
    throw new Error(
      `infotext Size needs both width and height, got ${params.width}x${params.height}`,
    );
  if (params.width !== undefined) values.set('Size', `${params.width}x${params.height}`);
  if (!params.variationSeedStrength) {
    values.delete('Variation seed');
    values.delete('Variation seed strength');
  }
  if (params.clipSkip !== undefined && params.clipSkip <= 1) values.delete('Clip skip');
  if (params.loraHashes?.length) {
    // A1111 strips ':' and ',' from the names so the list stays parseable.
    const clean = (s: string) => s.replace(/[:,]/g, '');
    values.set(
      'Lora hashes',
      params.loraHashes.map((l) => `${clean(l.name)}: ${l.hash}`).join(', '),
    );
  }
  const extra = Object.entries(params.extra ?? {});
  for (const [key, v] of extra) {
    if (TYPED_KEYS.has(key))
      throw new Error(
        `infotext key ${JSON.stringify(key)} has its own field; do not pass it in extra`,
      );
    if (!KEY_RE.test(key) || key.startsWith('Negative prompt'))
      throw new Error(
        `infotext key ${JSON.stringify(key)} cannot be read back: keys are a letter, digit or '_' ` +
          "followed by letters, digits, spaces, '_', '-' or '/'",
      );
    if (v === undefined || v === null) continue;
    values.set(key, v);
  }
  const order = [
    ...FIXED_ORDER,
    ...extra.map(([k]) => k).filter((k) => !FIXED_ORDER.includes(k) && !TRAILING.includes(k)),
    'Lora hashes',
    ...TRAILING,
  ];
  const line = order
    .filter((k) => values.has(k))
    .map((k) => `${k}: ${quote(render(k, values.get(k)!))}`)
    .join(', ');
  const negative = params.negativePrompt ? `\nNegative prompt: ${params.negativePrompt}` : '';
  return `${params.prompt}${negative}\n${line}`.trim();
}

function convert(kind: Kind, raw: string): string | number | undefined {
  if (kind === 'string') return raw;
  const ok =
    kind === 'int' ? /^[+-]?\d+$/.test(raw) : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw);
  const n = Number(raw);
  return ok && Number.isFinite(n) && (kind === 'float' || Number.isSafeInteger(n)) ? n : undefined;
}

function parseLoraHashes(raw: string): LoraHash[] | undefined {
  const out: LoraHash[] = [];
  for (const item of raw.split(',')) {
    const colon = item.indexOf(':');
    if (colon < 0) return undefined;
    const name = item.slice(0, colon).trim();
    const hash = item.slice(colon + 1).trim();
    if (!name || !hash) return undefined;
    out.push({ name, hash });
  }
  return out;
}

// Pre-1.9 A1111 folded the schedule into the sampler name ("DPM++ 2M Karras").
const LEGACY_SCHEDULES = ['Karras', 'Exponential', 'SGM Uniform'];

/**
 * Read an A1111 `parameters` text (from any A1111/Forge PNG) into typed fields. Prompt and
 * negative prompt keep their line breaks (each line is trimmed, as A1111 does); the last line is
 * taken as parameters only when it holds at least 3 `key: value` pairs.
 */
export function parseInfotext(text: string): Infotext {
  const lines = text.trim().split('\n');
  let last = lines.pop() ?? '';
  if ([...last.matchAll(PARAM_RE)].length < 3) {
    lines.push(last);
    last = '';
  }
  // A1111 joins lines with '\n' except onto a still-empty text, so leading blank lines vanish.
  let prompt = '';
  let negative = '';
  let inNegative = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith('Negative prompt:')) {
      inNegative = true;
      line = line.slice('Negative prompt:'.length).trim();
    }
    if (inNegative) negative += (negative === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }

  const fields: Record<string, unknown> = {};
  const extra: Record<string, string> = {};
  for (const m of last.matchAll(PARAM_RE)) {
    const key = m[1];
    const raw = unquote(m[2]);
    const simple = SIMPLE.find(([k]) => k === key);
    let value: unknown;
    if (simple) value = convert(simple[2], raw);
    else if (key === 'Size') {
      const size = SIZE_RE.exec(raw);
      if (size) {
        fields.width = Number(size[1]);
        fields.height = Number(size[2]);
        continue;
      }
    } else if (key === 'Lora hashes') value = parseLoraHashes(raw);
    if (value === undefined) extra[key] = raw;
    else fields[simple ? simple[1] : 'loraHashes'] = value;
  }
  if (fields.scheduleType === undefined && typeof fields.sampler === 'string') {
    const sampler = fields.sampler;
    const legacy = LEGACY_SCHEDULES.find((s) => sampler.endsWith(` ${s}`));
    if (legacy) {
      fields.sampler = sampler.slice(0, -legacy.length - 1);
      fields.scheduleType = legacy;
    }
  }
  return {
    prompt,
    negativePrompt: negative,
    ...(fields as Partial<GenerationParams>),
    clipSkip: (fields.clipSkip as number | undefined) ?? 1,
    extra,
  };
}
