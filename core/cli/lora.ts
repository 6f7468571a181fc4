// `lora-studio lora inspect FILE`: what a LoRA file holds (format, modules, ranks, alphas, ss_*
// metadata) and what of it this app cannot apply, by name.
import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import {
  convertLora,
  loadCheckpoint,
  readLoraFile,
  type ConvertedLora,
  type LoraComponent,
  type LoraIssue,
} from '../formats/index.js';
import {
  SD15_TEXT_ENCODER_CONFIG,
  SD15_UNET_CONFIG,
  bindLora,
  clipTextConfigFromJson,
  slotsFromSites,
  textEncoderModuleSites,
  unetConfigFromJson,
  unetModuleSites,
  type ClipTextConfig,
  type UNetConfig,
} from '../models/index.js';
import { parseConfigOverrides, type CliIo } from './eval.js';
import { formatBytes } from './options.js';

const stdoutIo: CliIo = { write: (t) => process.stdout.write(t) };
const LABEL: Record<LoraComponent, string> = { unet: 'UNet', text_encoder: 'text encoder' };
/** Metadata values longer than this (tag frequencies, dataset dirs) are cut in the text view. */
const VALUE_LIMIT = 160;

export interface LoraInspection {
  readonly file: string;
  readonly bytes: number;
  readonly format: ConvertedLora['format'];
  readonly metadata: Readonly<Record<string, string>>;
  readonly modules: readonly {
    component: LoraComponent;
    module: string;
    source: string;
    rank: number;
    alpha: number;
    alphaFromFile: boolean;
    inFeatures: number;
    outFeatures: number;
    kernel: readonly number[];
  }[];
  /** Understood but not applicable here (LyCORIS, unknown modules, non-targets, …). */
  readonly unsupported: readonly LoraIssue[];
  /** Keys no rule understood. */
  readonly unknownKeys: readonly string[];
  /** Modules the generation graphs would apply, per component. */
  readonly applicable: Readonly<Record<LoraComponent, number>>;
}

/**
 * Inspect a LoRA file against a model's module lists (SD1.5's when no model is given: kohya
 * names depend only on the SD1 topology; layer widths are then not checked).
 */
export async function inspectLora(
  path: string,
  model?: { unet: UNetConfig; textEncoder: ClipTextConfig },
): Promise<LoraInspection> {
  const cfg = model ?? { unet: SD15_UNET_CONFIG, textEncoder: SD15_TEXT_ENCODER_CONFIG };
  const sites = {
    unet: unetModuleSites(cfg.unet),
    text_encoder: textEncoderModuleSites(cfg.textEncoder),
  };
  const file = await readLoraFile(path);
  const lora = convertLora(
    file.tensors,
    {
      unet: sites.unet.map((s) => s.module),
      text_encoder: sites.text_encoder.map((s) => s.module),
    },
    file.metadata,
    path,
  );
  const unsupported: LoraIssue[] = [...lora.unsupported];
  const applicable = { unet: 0, text_encoder: 0 };
  for (const c of ['unet', 'text_encoder'] as const) {
    const b = bindLora(lora, slotsFromSites(sites[c]), c, path, {
      checkShapes: model !== undefined,
    });
    applicable[c] = b.bySlot.size;
    unsupported.push(...b.unsupported.slice(lora.unsupported.length));
  }
  return {
    file: path,
    bytes: (await stat(path)).size,
    format: lora.format,
    metadata: lora.metadata,
    modules: lora.modules.map((m) => ({
      component: m.component,
      module: m.module,
      source: m.source,
      rank: m.rank,
      alpha: m.alpha,
      alphaFromFile: m.alphaFromFile,
      inFeatures: m.down.shape[1],
      outFeatures: m.up.shape[0],
      kernel: m.down.shape.slice(2),
    })),
    unsupported,
    unknownKeys: lora.unknownKeys,
    applicable,
  };
}

/** "4 (120), 8 (8)": each distinct value with its count. */
function histogram(values: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${v} (${n})`).join(', ') || '—';
}

export function formatInspection(r: LoraInspection): string {
  const count = (c: LoraComponent) => r.modules.filter((m) => m.component === c).length;
  const cut = (v: string) =>
    v.length > VALUE_LIMIT ? `${v.slice(0, VALUE_LIMIT)}… (${v.length} chars)` : v;
  const meta = Object.entries(r.metadata).sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(0, ...meta.map(([k]) => k.length));
  const lines = [
    `file        ${r.file} (${formatBytes(r.bytes)})`,
    `format      ${r.format}`,
    `modules     ${count('unet')} UNet, ${count('text_encoder')} text encoder`,
    `applicable  ${r.applicable.unet} UNet, ${r.applicable.text_encoder} text encoder`,
    `ranks       ${histogram(r.modules.map((m) => m.rank))}`,
    `alphas      ${histogram(r.modules.map((m) => m.alpha))}` +
      (r.modules.some((m) => !m.alphaFromFile) ? ' (no alpha in the file: alpha = rank)' : ''),
    meta.length ? 'metadata' : 'metadata    (none)',
    ...meta.map(([k, v]) => `  ${k.padEnd(width)}  ${cut(v)}`),
    `modules (${r.modules.length}):`,
    ...r.modules.map(
      (m) =>
        `  ${LABEL[m.component].padEnd(12)} ${m.module}  rank ${m.rank}  alpha ${m.alpha}  ` +
        `scale ${+(m.alpha / m.rank).toPrecision(4)}  ${m.inFeatures} → ${m.outFeatures}` +
        (m.kernel.length ? ` (conv ${m.kernel.join('×')})` : ''),
    ),
  ];
  if (r.unsupported.length) {
    lines.push(`not applicable (${r.unsupported.length}):`);
    for (const u of r.unsupported) lines.push(`  ${u.name} — ${u.reason} [${u.keys.join(', ')}]`);
  }
  if (r.unknownKeys.length) {
    lines.push(`keys not understood (${r.unknownKeys.length}):`);
    for (const k of r.unknownKeys) lines.push(`  ${k}`);
  }
  return `${lines.join('\n')}\n`;
}

export function loraCommand(io: CliIo = stdoutIo): Command {
  const inspect = new Command('inspect')
    .description('show a LoRA file’s modules, ranks, alphas, metadata and what cannot be applied')
    .argument('<file>', 'LoRA .safetensors (kohya/A1111 or PEFT/diffusers)')
    .option(
      '--model <path>',
      'check against this checkpoint’s layer sizes (default: SD1.5 names only)',
    )
    .option('--config-overrides <json|file>', 'config fields a single-file model cannot show')
    .option('--json', 'print JSON')
    .action(
      async (file: string, f: { model?: string; configOverrides?: string; json?: boolean }) => {
        let model: { unet: UNetConfig; textEncoder: ClipTextConfig } | undefined;
        if (f.model) {
          const ckpt = await loadCheckpoint(f.model, {
            configs: f.configOverrides ? await parseConfigOverrides(f.configOverrides) : undefined,
          });
          await ckpt.close();
          model = {
            unet: unetConfigFromJson(ckpt.configs.unet),
            textEncoder: clipTextConfigFromJson(ckpt.configs.textEncoder),
          };
        }
        const r = await inspectLora(file, model);
        io.write(f.json ? `${JSON.stringify(r, null, 2)}\n` : formatInspection(r));
      },
    );
  return new Command('lora').description('LoRA file tools').addCommand(inspect);
}
