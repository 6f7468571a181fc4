// Sample images during training, as kohya's --sample_every_n_steps: each round exports the
// current LoRA (fp32, kohya keys) to a temporary file in the run's samples folder and generates
// one image per sample prompt through core/generate. One GenerationEngine serves the whole run:
// the LoRA is a matter of graph inputs, so rounds after the first create no session (as long as
// the prompts keep one image size). Images are `<runDir>/samples/step-<n>-<k>.png` (A1111
// infotext inside); `<runDir>/samples/index.json` lists every round for a gallery by step:
//   { "version": 1, "rounds": [{ "step": n, "images": [{ "file", "prompt", "seed", ... }] }] }
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate, GenerationEngine, type GenerateEp } from '../../generate/index.js';
import { isSamplerName, SAMPLER_NAMES, type SamplerName } from '../../schedulers/index.js';
import { exportKohyaLora, type LoraParams } from '../kohya-export.js';
import type { RunConfig } from './config.js';

/** One sample prompt with kohya's per-line options resolved. */
export interface SamplePrompt {
  prompt: string;
  negativePrompt: string;
  steps: number;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
}

export interface SamplePromptDefaults {
  /** Default 20 (kohya: 30; fewer keeps a CPU run's rounds short). */
  steps?: number;
  /** Default 7.5 (kohya's). */
  cfgScale?: number;
  /** The run seed: every round uses the same noise. */
  seed: number;
  /** The run resolution. */
  width: number;
  height: number;
}

const OPTIONS: Record<string, keyof SamplePrompt> = {
  n: 'negativePrompt',
  s: 'steps',
  l: 'cfgScale',
  d: 'seed',
  w: 'width',
  h: 'height',
};

/**
 * Parse one kohya sample-prompt line: `prompt --n negative --s steps --l cfg --d seed --w width
 * --h height` (any order, each optional). Unknown options are an error naming the valid ones.
 */
export function parseSamplePrompt(line: string, d: SamplePromptDefaults): SamplePrompt {
  const parts = line.split(/\s--(?=[a-z]+\b)/);
  const out: SamplePrompt = {
    prompt: parts[0].trim(),
    negativePrompt: '',
    steps: d.steps ?? 20,
    cfgScale: d.cfgScale ?? 7.5,
    seed: d.seed,
    width: d.width,
    height: d.height,
  };
  for (const part of parts.slice(1)) {
    const m = /^([a-z]+)\s*([\s\S]*)$/.exec(part)!;
    const key = OPTIONS[m[1]];
    if (!key)
      throw new Error(
        `sample prompt "${line}": unknown option --${m[1]}; valid: ${Object.keys(OPTIONS)
          .map((k) => `--${k}`)
          .join(', ')}`,
      );
    const value = m[2].trim();
    if (key === 'negativePrompt') {
      out.negativePrompt = value;
      continue;
    }
    const n = Number(value);
    const int = key !== 'cfgScale';
    if (value === '' || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n < 0)
      throw new Error(
        `sample prompt "${line}": --${m[1]} needs a ${int ? 'whole ' : ''}number ≥ 0, got "${value}"`,
      );
    out[key as Exclude<keyof SamplePrompt, 'prompt' | 'negativePrompt'>] = n;
  }
  if (!out.prompt) throw new Error(`sample prompt "${line}" has no prompt text`);
  for (const k of ['width', 'height'] as const)
    if (out[k] < 64 || out[k] % 64 !== 0)
      throw new Error(`sample prompt "${line}": ${k} must be a multiple of 64, got ${out[k]}`);
  if (out.steps < 1) throw new Error(`sample prompt "${line}": --s must be ≥ 1, got ${out.steps}`);
  return out;
}

export interface SampleImageRecord {
  /** File name inside the samples folder. */
  file: string;
  prompt: string;
  negativePrompt: string;
  seed: number;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  sampler: SamplerName;
}

export interface SampleIndex {
  version: 1;
  rounds: { step: number; createdAt: string; images: SampleImageRecord[] }[];
}

export const samplesDirOf = (runDir: string) => join(runDir, 'samples');
export const SAMPLE_INDEX_FILE = 'index.json';

/** The gallery index of a run (empty when it has no samples). */
export async function readSampleIndex(runDir: string): Promise<SampleIndex> {
  try {
    const raw = await readFile(join(samplesDirOf(runDir), SAMPLE_INDEX_FILE), 'utf8');
    return JSON.parse(raw) as SampleIndex;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, rounds: [] };
    throw e;
  }
}

export interface TrainingSamplerOptions {
  runDir: string;
  modelPath: string;
  /** Raw prompt lines (kohya syntax). */
  prompts: readonly string[];
  sampler: string;
  defaults: SamplePromptDefaults;
  clipSkip: number;
  /** LoRA export settings (rank, alpha) of the run. */
  rank: number;
  alpha: number;
  /** Shown in the infotext's LoRA name. */
  outputName: string;
  ep: GenerateEp;
  dtype: 'float32' | 'float16';
  cacheDir: string;
  tokenizerDir?: string;
  signal?: AbortSignal;
}

const GENERATE_EPS: readonly GenerateEp[] = ['auto', 'cuda', 'dml', 'webgpu', 'cpu'];

/** A training EP choice as generation's (an EP generation does not name falls back to auto). */
export const generateEpOf = (ep: string): GenerateEp =>
  (GENERATE_EPS as readonly string[]).includes(ep) ? (ep as GenerateEp) : 'auto';

/** Sample rounds of one run on one warm GenerationEngine. */
export class TrainingSampler {
  readonly engine: GenerationEngine;
  readonly prompts: readonly SamplePrompt[];
  readonly sampler: SamplerName;
  private readonly dir: string;

  constructor(private readonly o: TrainingSamplerOptions) {
    if (!isSamplerName(o.sampler))
      throw new Error(
        `sample_sampler "${o.sampler}" is unknown; valid: ${SAMPLER_NAMES.join(', ')}`,
      );
    if (o.prompts.length === 0) throw new Error('sampling needs at least one sample prompt');
    this.sampler = o.sampler;
    this.prompts = o.prompts.map((l) => parseSamplePrompt(l, o.defaults));
    this.dir = samplesDirOf(o.runDir);
    this.engine = new GenerationEngine({
      cacheDir: o.cacheDir,
      dtype: o.dtype,
      tokenizerDir: o.tokenizerDir,
      keepWarm: true,
    });
  }

  /** Generate one image per prompt with `lora` applied; returns the PNG paths (prompt order). */
  async round(step: number, lora: LoraParams): Promise<string[]> {
    const stem = `${this.o.outputName}-step${String(step).padStart(8, '0')}`;
    // The LoRA file and generate()'s numbered PNGs live in a scratch folder removed afterwards;
    // the file's name is what the infotext's "Lora hashes" shows.
    const tmpDir = join(this.dir, `.tmp-step-${step}`);
    const loraPath = join(tmpDir, `${stem}.safetensors`);
    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true });
    await exportKohyaLora(loraPath, lora, {
      rank: this.o.rank,
      alpha: this.o.alpha,
      precision: 'fp32',
    });
    const paths: string[] = [];
    const records: SampleImageRecord[] = [];
    try {
      for (const [k, p] of this.prompts.entries()) {
        const [img] = await generate(
          this.engine,
          {
            modelPath: this.o.modelPath,
            prompt: p.prompt,
            negativePrompt: p.negativePrompt,
            sampler: this.sampler,
            steps: p.steps,
            cfgScale: p.cfgScale,
            seed: p.seed,
            width: p.width,
            height: p.height,
            batchCount: 1,
            batchSize: 1,
            clipSkip: this.o.clipSkip,
            loras: [{ path: loraPath, strength: 1 }],
            ep: this.o.ep,
            outputDir: tmpDir,
          },
          { signal: this.o.signal },
        );
        const file = `step-${step}-${k}.png`;
        const path = join(this.dir, file);
        await rename(img.path, path);
        paths.push(path);
        records.push({ file, ...p, sampler: this.sampler });
      }
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
    await this.record(step, records);
    return paths;
  }

  /** Add (or replace, after a resume) the round of `step` in index.json, written atomically. */
  private async record(step: number, images: SampleImageRecord[]): Promise<void> {
    const index = await readSampleIndex(this.o.runDir);
    index.rounds = index.rounds.filter((r) => r.step !== step);
    index.rounds.push({ step, createdAt: new Date().toISOString(), images });
    index.rounds.sort((a, b) => a.step - b.step);
    const path = join(this.dir, SAMPLE_INDEX_FILE);
    await writeFile(`${path}.tmp`, JSON.stringify(index, null, 2));
    await rename(`${path}.tmp`, path);
  }

  async dispose(): Promise<void> {
    await this.engine.dispose();
  }
}

/** The sampler of a run whose config asks for samples (undefined when sampling is off). */
export function runSampler(
  c: RunConfig,
  where: { runDir: string; cacheDir: string; dtype: 'float32' | 'float16'; tokenizerDir?: string },
  signal?: AbortSignal,
): TrainingSampler | undefined {
  if (c.sample_every_n_steps === 0 && !c.sample_at_first) return undefined;
  return new TrainingSampler({
    ...where,
    modelPath: c.pretrained_model_name_or_path,
    prompts: c.sample_prompts,
    sampler: c.sample_sampler,
    defaults: { seed: c.seed, width: c.resolution, height: c.resolution },
    clipSkip: c.clip_skip,
    rank: c.network_dim,
    alpha: c.network_alpha,
    outputName: c.output_name,
    ep: generateEpOf(c.ep),
    signal,
  });
}
