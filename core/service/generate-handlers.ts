// Image generation, the job queue, and reading A1111 PNG info.
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  SAMPLERS,
  SAMPLER_LABELS,
  type Generation,
  type ParsedInfotext,
  type Sampler,
} from '../api.js';
import { PNG_SIGNATURE, PngFormatError, getPngText, readPngText } from '../formats/index.js';
import { parseInfotext } from '../generate/index.js';
import { badRequest, notFound } from './errors.js';
import { generationJob, prepareGeneration } from './generation-job.js';
import type { Handlers } from './context.js';
import type { Store } from '../store/index.js';

type GenerateMethods =
  'generate.start' | 'infotext.parse' | 'jobs.list' | 'jobs.get' | 'jobs.cancel';

/** Our sampler id for an A1111 sampler name (+ its separate schedule type since A1111 1.9). */
export function samplerFromA1111(
  name: string | undefined,
  scheduleType?: string,
): Sampler | undefined {
  if (!name) return undefined;
  const full = scheduleType && scheduleType !== 'Automatic' ? `${name} ${scheduleType}` : name;
  const byLabel = (label: string) =>
    SAMPLERS.find((s) => SAMPLER_LABELS[s].toLowerCase() === label.toLowerCase());
  return byLabel(full) ?? byLabel(name);
}

export function parseInfotextForApi(text: string): ParsedInfotext {
  const info = parseInfotext(text);
  const sampler = samplerFromA1111(info.sampler, info.scheduleType);
  return {
    prompt: info.prompt,
    negativePrompt: info.negativePrompt,
    ...(sampler && { sampler }),
    ...(info.sampler !== undefined && {
      samplerName: info.scheduleType ? `${info.sampler} (${info.scheduleType})` : info.sampler,
    }),
    ...(info.steps !== undefined && { steps: info.steps }),
    ...(info.cfgScale !== undefined && { cfgScale: info.cfgScale }),
    ...(info.seed !== undefined && { seed: info.seed }),
    ...(info.width !== undefined && { width: info.width, height: info.height }),
    clipSkip: info.clipSkip,
    ...(info.model !== undefined && { model: info.model }),
    ...(info.modelHash !== undefined && { modelHash: info.modelHash }),
    ...(info.vae !== undefined && { vae: info.vae }),
    ...(info.denoisingStrength !== undefined && { denoisingStrength: info.denoisingStrength }),
    loraHashes: (info.loraHashes ?? []).map((l) => ({ name: l.name, hash: l.hash })),
    extra: info.extra,
  };
}

function pngParameters(base64: string): string {
  const png = Buffer.from(base64.replace(/^data:[^,]*,/, ''), 'base64');
  let text: string | undefined;
  try {
    text = getPngText(png, 'parameters');
  } catch (err) {
    if (err instanceof PngFormatError) throw badRequest(`png: ${err.message}`);
    throw err;
  }
  if (text === undefined) {
    const keys = readPngText(png).map((e) => e.keyword);
    throw badRequest(
      `png: this PNG has no A1111 "parameters" text ` +
        `(${keys.length ? `its text chunks: ${keys.join(', ')}` : 'it has no text chunks'}); ` +
        'only images saved by LoRA Studio, A1111, Forge or compatible tools carry one',
    );
  }
  return text;
}

// What a generated image may be (the defaultOutputFormat setting): its name and first bytes.
const IMAGE_KINDS: readonly { ext: RegExp; ok: (head: Uint8Array) => boolean }[] = [
  { ext: /^\.png$/, ok: (h) => PNG_SIGNATURE.every((b, i) => h[i] === b) },
  { ext: /^\.jpe?g$/, ok: (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff },
  {
    ext: /^\.webp$/,
    ok: (h) =>
      Buffer.from(h.subarray(0, 4)).toString('latin1') === 'RIFF' &&
      Buffer.from(h.subarray(8, 12)).toString('latin1') === 'WEBP',
  },
];

/** `file` with symlinks resolved, if it is a regular PNG/JPEG/WebP file by name and bytes. */
async function pngFile(file: string): Promise<string | null> {
  const real = await fs.realpath(file).catch(() => null);
  const kind = real && IMAGE_KINDS.find((k) => k.ext.test(path.extname(real).toLowerCase()));
  if (!real || !kind) return null;
  const handle = await fs.open(real, 'r').catch(() => null);
  if (!handle) return null;
  try {
    if (!(await handle.stat()).isFile()) return null;
    const head = new Uint8Array(12);
    const { bytesRead } = await handle.read(head, 0, 12, 0);
    return bytesRead >= 8 && kind.ok(head) ? real : null;
  } finally {
    await handle.close();
  }
}

/**
 * The image file of a generations row, if it is still a PNG on disk. Only rows the service
 * wrote are looked up: a path is never taken from a request.
 */
export async function generationImageFile(store: Store, id: number): Promise<string | null> {
  const generation = store.generations.get(id);
  return generation ? pngFile(generation.filePath) : null;
}

export async function generationImageBase64(generation: Generation): Promise<string> {
  const file = await pngFile(generation.filePath);
  if (!file) {
    throw notFound(
      `generation #${generation.id}: its image is missing or not a PNG (${generation.filePath})`,
    );
  }
  return (await fs.readFile(file)).toString('base64');
}

export const generateHandlers: Pick<Handlers, GenerateMethods> = {
  'generate.start': async (input, ctx) => {
    const prepared = await prepareGeneration(input, ctx);
    const job = ctx.jobs.enqueue(generationJob(input, prepared, ctx.generate, ctx));
    return { jobId: job.id };
  },

  'infotext.parse': (input) => {
    const infotext = input.png !== undefined ? pngParameters(input.png) : input.text!;
    return { infotext, params: parseInfotextForApi(infotext) };
  },

  'jobs.list': (input, ctx) => ctx.jobs.list(input),

  'jobs.get': (input, ctx) => {
    const job = ctx.jobs.get(input.jobId);
    const generations = job.generationIds.flatMap((id) => ctx.store.generations.get(id) ?? []);
    return { ...job, generations };
  },

  'jobs.cancel': (input, ctx) => ctx.jobs.cancel(input.jobId),
};
