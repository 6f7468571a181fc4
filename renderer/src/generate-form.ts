// The Generate screen's form as plain data: defaults, size presets, the request it sends,
// and how A1111 parameters (a PNG's infotext, a gallery image) fill it in.

import type { ApiInput, Model, ParsedInfotext, Sampler } from '../../core/api';

/**
 * A1111's sampler names (the renderer imports only types from core/api.ts, so the table is
 * repeated here; the Record type makes the compiler flag a sampler added there).
 */
export const SAMPLER_LABELS: Readonly<Record<Sampler, string>> = Object.freeze({
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
});
export const SAMPLER_IDS = Object.keys(SAMPLER_LABELS) as Sampler[];

export interface LoraEntry {
  modelId: number;
  strength: number;
}

export interface GenerateForm {
  modelId: number | null;
  /** null: the checkpoint's own VAE. */
  vaeId: number | null;
  prompt: string;
  negativePrompt: string;
  sampler: Sampler;
  steps: number;
  cfgScale: number;
  /** -1: random. */
  seed: number;
  width: number;
  height: number;
  batchCount: number;
  batchSize: number;
  clipSkip: number;
  loras: LoraEntry[];
}

export const DEFAULT_FORM: GenerateForm = {
  modelId: null,
  vaeId: null,
  prompt: '',
  negativePrompt: '',
  sampler: 'euler_a',
  steps: 20,
  cfgScale: 7,
  seed: -1,
  width: 512,
  height: 512,
  batchCount: 1,
  batchSize: 1,
  clipSkip: 1,
  loras: [],
};

export const SIZE_PRESETS = [
  { id: '512x512', label: '512 × 512 (square)', width: 512, height: 512 },
  { id: '512x768', label: '512 × 768 (portrait)', width: 512, height: 768 },
  { id: '768x512', label: '768 × 512 (landscape)', width: 768, height: 512 },
  { id: '64x64', label: '64 × 64 (tiny demo model)', width: 64, height: 64 },
] as const;

export const CUSTOM_SIZE = 'custom';

export function presetFor(width: number, height: number): string {
  return SIZE_PRESETS.find((p) => p.width === width && p.height === height)?.id ?? CUSTOM_SIZE;
}

export function toRequest(form: GenerateForm): ApiInput<'generate.start'> {
  return {
    ...(form.modelId !== null && { modelId: form.modelId }),
    ...(form.vaeId !== null && { vaeId: form.vaeId }),
    prompt: form.prompt,
    negativePrompt: form.negativePrompt,
    sampler: form.sampler,
    steps: form.steps,
    cfgScale: form.cfgScale,
    seed: form.seed,
    width: form.width,
    height: form.height,
    batchCount: form.batchCount,
    batchSize: form.batchSize,
    clipSkip: form.clipSkip,
    loras: form.loras.map((l) => ({ modelId: l.modelId, strength: l.strength })),
  };
}

/** The file or folder name without its extension: what A1111 writes as "Model". */
function stem(file: string): string {
  const name = file.split(/[\\/]/).filter(Boolean).pop() ?? file;
  return name.replace(/\.[^.]+$/, '');
}

/** The registered checkpoint an infotext's "Model" names, by display name or file name. */
export function matchCheckpoint(name: string | undefined, checkpoints: Model[]): Model | undefined {
  if (!name) return undefined;
  const wanted = name.toLowerCase();
  return checkpoints.find(
    (m) => m.name.toLowerCase() === wanted || stem(m.path).toLowerCase() === wanted,
  );
}

export interface AppliedParams {
  form: GenerateForm;
  /** What could not be taken over, for the user to see. */
  notes: string[];
}

/** Fills the form from parsed A1111 parameters; fields the text lacks keep their value. */
export function applyParsed(
  form: GenerateForm,
  params: ParsedInfotext,
  checkpoints: Model[],
): AppliedParams {
  const notes: string[] = [];
  const next: GenerateForm = {
    ...form,
    prompt: params.prompt,
    negativePrompt: params.negativePrompt,
    clipSkip: params.clipSkip,
  };
  if (params.sampler && SAMPLER_IDS.includes(params.sampler)) {
    next.sampler = params.sampler;
  } else if (params.samplerName) {
    notes.push(`sampler “${params.samplerName}” is not available here; kept ${form.sampler}`);
  }
  if (params.steps !== undefined) next.steps = params.steps;
  if (params.cfgScale !== undefined) next.cfgScale = params.cfgScale;
  if (params.seed !== undefined) next.seed = params.seed;
  if (params.width !== undefined && params.height !== undefined) {
    next.width = params.width;
    next.height = params.height;
  }
  if (params.model) {
    const model = matchCheckpoint(params.model, checkpoints);
    if (model) next.modelId = model.id;
    else notes.push(`checkpoint “${params.model}” is not registered; kept the current one`);
  }
  return { form: next, notes };
}
