// Comparison grids for a LoRA: a strength sweep (rows = prompts, columns = strengths) and a
// before/after pair (columns = without / with the LoRA). Every cell is one txt2img run of the
// generation path with the same seed, so a grid is reproducible and the strength-0 column is
// the image without the LoRA; the labelled sheet is composed with sharp (SVG text).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  generate,
  type GenerateOptions,
  type GenerateParams,
  type GeneratedImage,
  type GenerationEngine,
  type SamplerName,
  type GenerateEp,
} from '../generate/index.js';

/** The generation path as a function (the service's pipeline or a test double). */
export type GenerateImagesFn = (
  params: GenerateParams,
  opts: GenerateOptions,
) => Promise<GeneratedImage[]>;

export interface GridOptions {
  /** Base checkpoint: single-file `.safetensors` or diffusers folder. */
  modelPath: string;
  vaePath?: string;
  /** The LoRA `.safetensors` file compared. */
  lora: string;
  /** One row per prompt (1…16). */
  prompts: string[];
  /** Every cell uses this seed (default 42). */
  seed?: number;
  steps?: number;
  width?: number;
  height?: number;
  /** A1111 sampler name (default 'Euler a'). */
  sampler?: SamplerName;
  cfgScale?: number;
  negativePrompt?: string;
  clipSkip?: number;
  ep?: GenerateEp;
  signal?: AbortSignal;
  /** After each cell: cells done and the cell count. */
  onProgress?: (done: number, total: number) => void;
}

export interface StrengthSweepOptions extends GridOptions {
  /** Columns (default [0, 0.25, 0.5, 0.75, 1]). */
  strengths?: number[];
}

export interface GridCell {
  prompt: string;
  /** LoRA strength of the cell; null for the "without LoRA" column. */
  strength: number | null;
  seed: number;
  /** The cell's PNG (with its A1111 `parameters` text). */
  image: Buffer;
}

export interface GridResult {
  /** The labelled sheet (PNG). */
  png: Buffer;
  width: number;
  height: number;
  /** Column labels, left to right; rows are the prompts. */
  columns: string[];
  /** Row-major: cells[row * columns.length + column]. */
  cells: GridCell[];
}

export const DEFAULT_STRENGTHS: readonly number[] = Object.freeze([0, 0.25, 0.5, 0.75, 1]);
const MAX_PROMPTS = 16;
const MAX_COLUMNS = 12;

const LABEL_FONT = 14;
const HEADER_HEIGHT = 28;
const ROW_LABEL_WIDTH = 180;
const GAP = 4;

/**
 * Strength sweep of a LoRA: one row per prompt, one column per strength, same seed everywhere.
 * `engine` is a GenerationEngine (sessions stay warm across cells) or a generate function.
 *
 * @example
 *   const { png, cells } = await renderStrengthSweep(engine, {
 *     modelPath, lora, prompts: ['a cat', 'a house'], strengths: [0, 0.5, 1], seed: 1,
 *     steps: 20, width: 512, height: 512, sampler: 'Euler a', cfgScale: 7, negativePrompt: '',
 *   });
 */
export async function renderStrengthSweep(
  engine: GenerationEngine | GenerateImagesFn,
  opts: StrengthSweepOptions,
): Promise<GridResult> {
  const strengths = opts.strengths ?? [...DEFAULT_STRENGTHS];
  if (strengths.length === 0 || strengths.length > MAX_COLUMNS)
    throw new RangeError(`strengths: give 1…${MAX_COLUMNS} values (got ${strengths.length})`);
  for (const s of strengths)
    if (!Number.isFinite(s) || s < -10 || s > 10)
      throw new RangeError(`strengths: ${s} is outside −10…10`);
  return renderGrid(engine, opts, strengths);
}

/**
 * Before/after of a LoRA: one row per prompt, columns "without LoRA" and "with LoRA" (at
 * `strength`, default 1), same seed in both.
 */
export async function renderBeforeAfter(
  engine: GenerationEngine | GenerateImagesFn,
  opts: GridOptions & { strength?: number },
): Promise<GridResult> {
  return renderGrid(engine, opts, [null, opts.strength ?? 1]);
}

function columnLabel(strength: number | null): string {
  return strength === null ? 'without LoRA' : `strength ${strength}`;
}

async function renderGrid(
  engine: GenerationEngine | GenerateImagesFn,
  opts: GridOptions,
  columns: (number | null)[],
): Promise<GridResult> {
  const prompts = opts.prompts;
  if (prompts.length === 0 || prompts.length > MAX_PROMPTS)
    throw new RangeError(`prompts: give 1…${MAX_PROMPTS} prompts (got ${prompts.length})`);
  const run: GenerateImagesFn =
    typeof engine === 'function' ? engine : (params, o) => generate(engine, params, o);
  const seed = opts.seed ?? 42;
  const total = prompts.length * columns.length;
  const work = await mkdtemp(join(tmpdir(), 'lora-studio-grid-'));
  const cells: GridCell[] = [];
  try {
    for (const prompt of prompts) {
      for (const strength of columns) {
        const params: GenerateParams = {
          modelPath: opts.modelPath,
          ...(opts.vaePath !== undefined && { vaePath: opts.vaePath }),
          prompt,
          negativePrompt: opts.negativePrompt ?? '',
          sampler: opts.sampler ?? 'Euler a',
          steps: opts.steps ?? 20,
          cfgScale: opts.cfgScale ?? 7,
          seed,
          width: opts.width ?? 512,
          height: opts.height ?? 512,
          batchCount: 1,
          batchSize: 1,
          clipSkip: opts.clipSkip ?? 1,
          loras: strength === null ? [] : [{ path: opts.lora, strength }],
          ep: opts.ep ?? 'auto',
          outputDir: join(work, String(cells.length)),
        };
        const [image] = await run(params, { signal: opts.signal });
        if (!image) throw new Error(`the pipeline returned no image for "${prompt}"`);
        cells.push({ prompt, strength, seed: image.seed, image: await readFile(image.path) });
        opts.onProgress?.(cells.length, total);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const labels = columns.map(columnLabel);
  const sheet = await composeGrid(cells, prompts, labels);
  return { ...sheet, columns: labels, cells };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A prompt cut into lines that fit the row label column (at most `maxLines`). */
function wrap(text: string, perLine: number, maxLines: number): string[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const next = line ? `${line} ${word}` : word;
    if (next.length <= perLine) line = next;
    else {
      if (line) lines.push(line);
      line = word.length > perLine ? `${word.slice(0, perLine - 1)}…` : word;
    }
  }
  if (line) lines.push(line);
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] = `${lines[maxLines - 1].slice(0, perLine - 1)}…`;
  }
  return lines.length ? lines : ['(empty prompt)'];
}

async function composeGrid(
  cells: readonly GridCell[],
  prompts: readonly string[],
  columns: readonly string[],
): Promise<{ png: Buffer; width: number; height: number }> {
  const meta = await sharp(cells[0].image).metadata();
  const cw = meta.width ?? 0;
  const ch = meta.height ?? 0;
  // A column is as wide as its longest label needs (small cells would crowd the labels).
  const longest = Math.max(...columns.map((c) => c.length));
  const slot = Math.max(cw, Math.ceil(longest * LABEL_FONT * 0.6) + 8);
  const width = ROW_LABEL_WIDTH + columns.length * (slot + GAP) + GAP;
  const height = HEADER_HEIGHT + prompts.length * (ch + GAP) + GAP;
  const x = (c: number) => ROW_LABEL_WIDTH + GAP + c * (slot + GAP) + Math.floor((slot - cw) / 2);
  const y = (r: number) => HEADER_HEIGHT + GAP + r * (ch + GAP);
  const lineHeight = LABEL_FONT + 3;
  const maxLines = Math.max(1, Math.floor(ch / lineHeight));
  const text: string[] = [];
  columns.forEach((label, c) =>
    text.push(
      `<text x="${x(c) + cw / 2}" y="${HEADER_HEIGHT - 9}" text-anchor="middle">${escapeXml(label)}</text>`,
    ),
  );
  prompts.forEach((prompt, r) => {
    const lines = wrap(prompt, Math.floor((ROW_LABEL_WIDTH - 12) / (LABEL_FONT * 0.55)), maxLines);
    lines.forEach((line, i) =>
      text.push(`<text x="6" y="${y(r) + LABEL_FONT + i * lineHeight}">${escapeXml(line)}</text>`),
    );
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<g font-family="sans-serif" font-size="${LABEL_FONT}" fill="#222">${text.join('')}</g></svg>`;
  const png = await sharp({
    create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } },
  })
    .composite([
      { input: Buffer.from(svg), left: 0, top: 0 },
      ...cells.map((cell, i) => ({
        input: cell.image,
        left: x(i % columns.length),
        top: y(Math.floor(i / columns.length)),
      })),
    ])
    .png()
    .toBuffer();
  return { png, width, height };
}
