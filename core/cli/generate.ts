// `lora-studio generate`: txt2img / img2img from a terminal, on the same engine as the app.
// Prints the written image paths, one per line (stdout); progress and warnings go to stderr.
import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  CancelledError,
  GENERATE_EPS,
  GenerationEngine,
  generate,
  type GenerateEp,
  type GenerateParams,
} from '../generate/index.js';
import { SAMPLER_NAMES, type SamplerName } from '../schedulers/index.js';
import { resolveDataDir } from '../store/index.js';
import { parseConfigOverrides, parseLoraArg, type CliIo } from './eval.js';
import { dataDirOption } from './options.js';

const stdoutIo: CliIo = { write: (t) => process.stdout.write(t) };
const stderrIo: CliIo = { write: (t) => process.stderr.write(t) };

function intArg(what: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^[-+]?\d+$/.test(v.trim()) || n < min)
      throw new InvalidArgumentError(`"${v}" is not ${what} (an integer ≥ ${min})`);
    return n;
  };
}

function numberArg(what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(`"${v}" is not ${what} (a number)`);
    return n;
  };
}

/** `<lora:name:w>` → `<dir>/name.safetensors` (case-insensitive), for each --lora-dir. */
export async function loraResolver(
  dirs: readonly string[],
): Promise<(name: string) => string | undefined> {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      throw new Error(`--lora-dir ${dir} cannot be read (${(e as Error).message})`, { cause: e });
    }
    for (const n of names)
      if (extname(n).toLowerCase() === '.safetensors') {
        const key = basename(n, extname(n)).toLowerCase();
        if (!byName.has(key)) byName.set(key, join(dir, n));
      }
  }
  return (name) => byName.get(name.toLowerCase());
}

interface GenerateFlags {
  model: string;
  vae?: string;
  prompt: string;
  negative: string;
  sampler: SamplerName;
  steps: number;
  cfg: number;
  seed: number;
  width: number;
  height: number;
  batchCount: number;
  batchSize: number;
  clipSkip: number;
  lora: { path: string; strength: number }[];
  loraDir: string[];
  initImage?: string;
  strength?: number;
  ep: GenerateEp;
  out: string;
  saveLatents?: boolean;
  dataDir?: string;
  configOverrides?: string;
  tokenizer?: string;
  json?: boolean;
  quiet?: boolean;
}

export function generateCommand(io: CliIo = stdoutIo, err: CliIo = stderrIo): Command {
  return new Command('generate')
    .description('generate images (txt2img, or img2img with --init-image); prints the PNG paths')
    .requiredOption('--model <path>', 'single-file .safetensors checkpoint or diffusers folder')
    .option('--vae <file>', 'external VAE .safetensors replacing the checkpoint’s')
    .option(
      '--prompt <text>',
      'prompt, A1111 syntax: (word:1.2), [word], BREAK, <lora:name:0.8>',
      '',
    )
    .option('--negative <text>', 'negative prompt', '')
    .addOption(
      new Option('--sampler <name>', 'sampler').choices([...SAMPLER_NAMES]).default('Euler a'),
    )
    .option('--steps <n>', 'sampling steps', intArg('a step count', 1), 20)
    .option('--cfg <scale>', 'CFG scale (1 = no guidance)', numberArg('a CFG scale'), 7)
    .option('--seed <n>', 'seed; −1 picks one (printed with --json)', intArg('a seed', -1), -1)
    .option('--width <px>', 'image width (multiple of 64 for SD1.x)', intArg('a width', 8), 512)
    .option('--height <px>', 'image height (multiple of 64 for SD1.x)', intArg('a height', 8), 512)
    .option('--batch-count <n>', 'batches run one after another', intArg('a batch count', 1), 1)
    .option('--batch-size <n>', 'images denoised together', intArg('a batch size', 1), 1)
    .option('--clip-skip <n>', 'A1111 clip skip (1 = last layer)', intArg('a clip skip', 1), 1)
    .option(
      '--lora <file[:strength]>',
      'apply a LoRA (repeatable: stacked)',
      (v: string, prev: { path: string; strength: number }[] = []) => [...prev, parseLoraArg(v)],
      [],
    )
    .option(
      '--lora-dir <dir>',
      'where <lora:name:w> tags in the prompt are looked up as name.safetensors (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .option('--init-image <file>', 'img2img: the starting picture (PNG, JPEG, WebP)')
    .option('--strength <x>', 'img2img denoising strength in (0, 1]', numberArg('a strength'))
    .addOption(
      new Option('--ep <name>', 'execution provider').choices([...GENERATE_EPS]).default('auto'),
    )
    .requiredOption('--out <dir>', 'output folder (created when missing)')
    .option('--save-latents', 'also write the initial noise and final latents (.safetensors)')
    .addOption(dataDirOption())
    .option(
      '--config-overrides <json|file>',
      'config fields a single file cannot show, e.g. {"unet":{"norm_num_groups":8}}',
    )
    .option(
      '--tokenizer <dir>',
      'tokenizer folder (vocab.json + merges.txt) for a file without one',
    )
    .option('--json', 'print a JSON array of the written images instead of paths')
    .option('--quiet', 'no progress on stderr')
    .action(async (f: GenerateFlags) => {
      if (f.strength !== undefined && !f.initImage)
        throw new Error('--strength is for img2img; give --init-image too');
      const params: GenerateParams = {
        modelPath: f.model,
        vaePath: f.vae,
        prompt: f.prompt,
        negativePrompt: f.negative,
        sampler: f.sampler,
        steps: f.steps,
        cfgScale: f.cfg,
        seed: f.seed,
        width: f.width,
        height: f.height,
        batchCount: f.batchCount,
        batchSize: f.batchSize,
        clipSkip: f.clipSkip,
        loras: f.lora,
        ep: f.ep,
        outputDir: f.out,
        saveLatents: f.saveLatents,
        ...(f.initImage
          ? {
              initImage: new Uint8Array(await readFile(f.initImage)),
              denoisingStrength: f.strength ?? 0.75,
            }
          : {}),
      };
      const engine = new GenerationEngine({
        cacheDir: join(resolveDataDir({ flag: f.dataDir }), 'cache'),
        configs: f.configOverrides ? await parseConfigOverrides(f.configOverrides) : undefined,
        tokenizerDir: f.tokenizer,
      });
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      try {
        const images = await generate(engine, params, {
          signal: abort.signal,
          resolveLora: f.loraDir.length ? await loraResolver(f.loraDir) : undefined,
          onWarning: (m) => err.write(`warning: ${m}\n`),
          onProgress: f.quiet
            ? undefined
            : (p) => {
                if (p.step > 0)
                  err.write(
                    `image ${p.imageIndex + 1}/${p.imageCount}: step ${p.step}/${p.totalSteps}\n`,
                  );
              },
        });
        if (f.json) io.write(`${JSON.stringify(images, null, 2)}\n`);
        else io.write(images.map((i) => `${i.path}\n`).join(''));
      } catch (e) {
        if (e instanceof CancelledError) {
          for (const i of e.completed) io.write(`${i.path}\n`);
          process.exitCode = 130;
          err.write(`${e.message}\n`);
          return;
        }
        throw e;
      } finally {
        process.off('SIGINT', onSigint);
        await engine.dispose();
      }
    });
}
