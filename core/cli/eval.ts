// `lora-studio eval`: run one component of a model (text encoder, UNet, VAE encoder or decoder)
// on tensors from a safetensors file and write its outputs to another — for checking a model, a
// LoRA or an execution provider against reference tensors from any other implementation.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  parseSafetensors,
  writeSafetensors,
  type ConfigOverrides,
  type TensorToWrite,
} from '../formats/index.js';
import {
  EVAL_COMPONENTS,
  EVAL_INPUT_NAMES,
  evalComponent,
  expectedInputs,
  type EvalComponent,
  type EvalLora,
  type EvalResult,
  type EvalTensor,
} from '../models/index.js';
import { assertExecutionProviderChoice, type ExecutionProviderChoice } from '../onnx/index.js';

export interface CliIo {
  write(text: string): void;
}

const stdoutIo: CliIo = { write: (t) => process.stdout.write(t) };

const collect = (value: string, prev: string[] = []): string[] => [...prev, value];

/** `file.safetensors:0.8` → path + strength (no suffix: 1). A Windows drive colon is not a strength. */
export function parseLoraArg(value: string): EvalLora {
  const m = /^(.*):([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i.exec(value);
  const path = m ? m[1] : value;
  const strength = m ? Number(m[2]) : 1;
  if (!path || !Number.isFinite(strength))
    throw new InvalidArgumentError(
      `"${value}" is not FILE[:STRENGTH] (e.g. style.safetensors:0.8)`,
    );
  return { path, strength };
}

function parseClipSkip(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1)
    throw new InvalidArgumentError(
      `"${value}" is not a clip skip (valid: 1, 2, …; 1 = last layer)`,
    );
  return n;
}

function parseEp(value: string): ExecutionProviderChoice {
  try {
    return assertExecutionProviderChoice(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** Inline JSON, or the path of a JSON file: {"unet": {...}, "vae": {...}, "textEncoder": {...}}. */
export async function parseConfigOverrides(value: string): Promise<ConfigOverrides> {
  const text = value.trimStart().startsWith('{') ? value : await readFile(value, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`--config-overrides is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const valid = ['unet', 'vae', 'textEncoder', 'text_encoder'];
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`--config-overrides must be a JSON object with keys ${valid.join(', ')}`);
  const bad = Object.keys(json).filter((k) => !valid.includes(k));
  if (bad.length)
    throw new Error(
      `--config-overrides: unknown key(s) ${bad.join(', ')}; valid: ${valid.join(', ')}`,
    );
  const o = json as Record<string, ConfigOverrides['unet']>;
  return {
    unet: o.unet,
    vae: o.vae as ConfigOverrides['vae'],
    textEncoder: (o.textEncoder ?? o.text_encoder) as ConfigOverrides['textEncoder'],
  };
}

/** Input name → tensor name in the file, from `--map input=tensor` options. */
function parseMaps(component: EvalComponent, maps: readonly string[]): Map<string, string> {
  const names = EVAL_INPUT_NAMES[component];
  const out = new Map<string, string>();
  for (const m of maps) {
    const eq = m.indexOf('=');
    const input = m.slice(0, eq);
    if (eq <= 0 || eq === m.length - 1)
      throw new Error(`--map "${m}" is not INPUT=TENSOR (e.g. timestep=timestep_a)`);
    if (!names.includes(input))
      throw new Error(
        `--map "${m}": ${component} has no input '${input}'; inputs: ${names.join(', ')}`,
      );
    out.set(input, m.slice(eq + 1));
  }
  return out;
}

/** The component's inputs from a safetensors file, renamed by --map; names every gap. */
export async function readEvalInputs(
  path: string,
  component: EvalComponent,
  maps: readonly string[] = [],
): Promise<Map<string, EvalTensor>> {
  const rename = parseMaps(component, maps);
  const r = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const inputs = new Map<string, EvalTensor>();
  const missing: string[] = [];
  for (const input of EVAL_INPUT_NAMES[component]) {
    const tensor = rename.get(input) ?? input;
    if (!r.has(tensor)) {
      missing.push(tensor === input ? `'${input}'` : `'${tensor}' (for ${input})`);
      continue;
    }
    const info = r.info(tensor);
    inputs.set(input, { dtype: info.dtype, shape: info.shape, bytes: await r.read(tensor) });
  }
  if (missing.length) {
    throw new Error(
      `${path} has no ${missing.join(', ')}; it holds: ${r.names().join(', ') || 'no tensors'}\n` +
        `  ${component} expects:\n    ${expectedInputs(component).join('\n    ')}\n` +
        '  (use --map INPUT=TENSOR for other names)',
    );
  }
  return inputs;
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

function summary(component: EvalComponent, r: EvalResult, out: string): string {
  const lines = [
    `${component} on ${r.executionProvider} (${r.dtype}) in ${Math.round(r.timings.run)} ms ` +
      `(build ${Math.round(r.timings.build)} ms, session ${Math.round(r.timings.session)} ms)`,
  ];
  for (const s of r.skippedProviders) lines.push(`  skipped ${s.ep}: ${s.reason}`);
  for (const l of r.lora?.applied ?? [])
    lines.push(
      `  LoRA ${l.name} × ${l.strength}: ${l.modules} module(s)` +
        (l.otherComponent ? ` (${l.otherComponent} for the other model left out)` : ''),
    );
  for (const u of r.lora?.unsupported ?? [])
    lines.push(`  not applied: ${u.lora}: ${u.name} — ${u.reason}`);
  for (const [k, v] of Object.entries(r.outputs))
    lines.push(`  ${k} ${v.dtype} ${shapeText(v.shape)}`);
  lines.push(`wrote ${out}`);
  return `${lines.join('\n')}\n`;
}

interface EvalFlags {
  component: EvalComponent;
  model: string;
  vae?: string;
  inputs?: string;
  out: string;
  map: string[];
  prompt: string[];
  tokenizer?: string;
  clipSkip?: number;
  ep: ExecutionProviderChoice;
  dtype: 'float32' | 'float16';
  lora: EvalLora[];
  loraPartial?: boolean;
  scaledLatents?: boolean;
  configOverrides?: string;
  json?: boolean;
}

export function evalCommand(io: CliIo = stdoutIo): Command {
  return new Command('eval')
    .description('run one model component on tensors from a .safetensors file; write its outputs')
    .addOption(
      new Option('--component <name>', 'what to run')
        .choices(EVAL_COMPONENTS)
        .makeOptionMandatory(),
    )
    .requiredOption('--model <path>', 'single-file .safetensors checkpoint or diffusers folder')
    .option('--vae <file>', 'external VAE .safetensors replacing the checkpoint’s')
    .option('--inputs <file>', 'input tensors (.safetensors), named as the component’s inputs')
    .requiredOption('--out <file>', 'where to write the outputs (.safetensors, float32)')
    .option(
      '--map <input=tensor>',
      'take an input from a differently named tensor (repeatable)',
      collect,
      [],
    )
    .option(
      '--prompt <text>',
      'text-encoder: a prompt to tokenize (repeatable: one row each)',
      collect,
      [],
    )
    .option('--tokenizer <dir>', 'tokenizer folder (vocab.json + merges.txt) for --prompt')
    .option('--clip-skip <n>', 'text-encoder: A1111 clip skip (1 = last layer)', parseClipSkip)
    .option('--ep <name>', 'execution provider: auto, cpu, webgpu, cuda, dml', parseEp, 'cpu')
    .addOption(
      new Option('--dtype <dtype>', 'compute dtype (text-encoder, unet)')
        .choices(['float32', 'float16'])
        .default('float32'),
    )
    .option(
      '--lora <file[:strength]>',
      'unet/text-encoder: apply a LoRA (repeatable: stacked)',
      (v: string, prev: EvalLora[] = []) => [...prev, parseLoraArg(v)],
      [],
    )
    .option('--lora-partial', 'apply a LoRA even when some of its modules cannot be applied')
    .option('--scaled-latents', 'VAE: latents at UNet scale (× the config’s scaling_factor)')
    .option(
      '--config-overrides <json|file>',
      'config fields a single file cannot show, e.g. {"unet":{"norm_num_groups":8}}',
    )
    .option('--json', 'print a JSON summary instead of text')
    .addHelpText(
      'after',
      `\nInputs by component:\n${EVAL_COMPONENTS.map((c) => `  ${c}:\n    ${expectedInputs(c).join('\n    ')}`).join('\n')}`,
    )
    .action(async (f: EvalFlags) => {
      const prompts = f.prompt;
      if (!f.inputs && !(f.component === 'text-encoder' && prompts.length))
        throw new Error(
          `--inputs is required for ${f.component}` +
            (f.component === 'text-encoder' ? ' (or give --prompt)' : ''),
        );
      const inputs =
        f.inputs && !prompts.length
          ? await readEvalInputs(f.inputs, f.component, f.map)
          : undefined;
      const result = await evalComponent({
        component: f.component,
        model: f.model,
        vae: f.vae,
        configOverrides: f.configOverrides
          ? await parseConfigOverrides(f.configOverrides)
          : undefined,
        inputs,
        prompts,
        tokenizerDir: f.tokenizer,
        clipSkip: f.clipSkip,
        ep: f.ep,
        dtype: f.dtype,
        loras: f.lora,
        allowPartialLora: f.loraPartial,
        scaledLatents: f.scaledLatents,
      });
      const tensors: Record<string, TensorToWrite> = {};
      for (const [k, v] of Object.entries(result.outputs))
        tensors[k] = { dtype: v.dtype, shape: v.shape, data: v.data };
      const metadata: Record<string, string> = {
        component: f.component,
        model: basename(f.model),
        execution_provider: result.executionProvider,
        dtype: result.dtype,
      };
      if (f.clipSkip) metadata.clip_skip = String(f.clipSkip);
      if (f.lora.length)
        metadata.loras = f.lora.map((l) => `${basename(l.path)}:${l.strength}`).join(',');
      await writeSafetensors(f.out, tensors, metadata);
      if (f.json) {
        const outputs = Object.fromEntries(
          Object.entries(result.outputs).map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape }]),
        );
        io.write(`${JSON.stringify({ ...result, outputs, out: f.out }, null, 2)}\n`);
      } else io.write(summary(f.component, result, f.out));
    });
}
