// Run one component of a checkpoint on given tensors: the engine behind `lora-studio eval`.
// Graphs are built for the inputs' actual shapes (any batch, non-square latents); weights stay
// in the user's files (ONNX external data beside them); LoRAs are fed as graph inputs.
import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  loadCheckpoint,
  loadLoraFile,
  type ConfigOverrides,
  type LoadedCheckpoint,
} from '../../formats/index.js';
import { float16BitsToFloat32, type Graph } from '../../graph/index.js';
import {
  Session,
  type ExecutionProviderChoice,
  type HostTensor,
  type SessionInfo,
  type SessionOptions,
} from '../../onnx/index.js';
import { buildClipTextGraph, clipTextConfigFromJson } from '../clip/index.js';
import {
  knownModules,
  loraGraphInputs,
  LoraSession,
  type AppliedLora,
  type LoraApplyReport,
  type LoraSlot,
} from '../lora/index.js';
import type { Adapter } from '../nn.js';
import { ClipTokenizer } from '../tokenizer/index.js';
import { buildUnetGraph, unetConfigFromJson } from '../unet/index.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, vaeConfigFromJson } from '../vae/index.js';
import { checkpointWeights, type WeightSource } from '../weights.js';
import {
  prepareTextInputs,
  prepareUnetInputs,
  prepareVaeInputs,
  type ComponentConfigs,
  type EvalComponent,
  type EvalTensor,
  type PreparedInputs,
} from './inputs.js';

export interface EvalLora {
  readonly path: string;
  readonly strength: number;
}

export interface EvalOptions {
  readonly component: EvalComponent;
  /** Single-file .safetensors checkpoint or diffusers folder. */
  readonly model: string;
  /** External VAE file replacing the checkpoint's. */
  readonly vae?: string;
  /** Config fields a single file cannot show (norm groups, heads, …). */
  readonly configOverrides?: ConfigOverrides;
  /** Input tensors by the component's input name. */
  readonly inputs?: ReadonlyMap<string, EvalTensor>;
  /** text-encoder: prompts to tokenize instead of `input_ids` (one row each). */
  readonly prompts?: readonly string[];
  /** Tokenizer folder (default: the diffusers folder's own, else SD1.x's). */
  readonly tokenizerDir?: string;
  /** text-encoder: A1111 clip skip (1 = last layer). */
  readonly clipSkip?: number;
  readonly ep?: ExecutionProviderChoice;
  /** Compute dtype of the text encoder and UNet (the VAE always runs in float32). */
  readonly dtype?: 'float32' | 'float16';
  /** unet / text-encoder: LoRAs to apply, stacked. */
  readonly loras?: readonly EvalLora[];
  /** Apply what can be applied when a LoRA has unsupported modules (default: refuse). */
  readonly allowPartialLora?: boolean;
  /** VAE: latents at UNet scale (multiplied by the config's scaling factor). */
  readonly scaledLatents?: boolean;
}

export interface EvalResult {
  /** Float outputs as float32 (whatever the compute dtype); `input_ids` when prompts were given. */
  readonly outputs: Record<string, HostTensor>;
  readonly executionProvider: string;
  readonly skippedProviders: readonly { ep: string; reason: string }[];
  readonly dtype: 'float32' | 'float16';
  readonly lora?: LoraApplyReport;
  readonly timings: { load: number; build: number; session: number; run: number };
}

/** Weights that point into the component's file, resolved through symlinks (ORT refuses those). */
async function fileWeights(
  ckpt: LoadedCheckpoint,
  part: 'unet' | 'vae' | 'textEncoder',
): Promise<{ weights: WeightSource; modelDir: string }> {
  const comp = ckpt.components[part];
  const real = await realpath(comp.file);
  return { weights: checkpointWeights(comp, () => basename(real)), modelDir: dirname(real) };
}

function toFloat32Output(t: HostTensor): HostTensor {
  if (t.dtype !== 'float16') return t;
  return {
    dtype: 'float32',
    shape: t.shape,
    data: Float32Array.from(t.data as Uint16Array, float16BitsToFloat32),
  };
}

async function tokenize(
  prompts: readonly string[],
  ckpt: LoadedCheckpoint,
  cfg: ComponentConfigs,
  dir: string | undefined,
): Promise<PreparedInputs> {
  const tok = await ClipTokenizer.load(dir ?? ckpt.tokenizerDir);
  if (tok.vocabSize > cfg.textEncoder.vocabSize)
    throw new Error(
      `the tokenizer has ${tok.vocabSize} tokens but the text encoder only ${cfg.textEncoder.vocabSize}; ` +
        'pass the model’s own tokenizer folder (--tokenizer)',
    );
  const T = cfg.textEncoder.maxPositions;
  const rows = prompts.map((p) => tok.encodeForModel(p, T));
  return {
    feeds: {
      input_ids: {
        dtype: 'int64',
        shape: [rows.length, T],
        data: BigInt64Array.from(rows.flat(), (x) => BigInt(x)),
      },
    },
    dims: { batch: rows.length, seqLen: T },
  };
}

interface Built {
  graph: Graph;
  modelDir: string;
  lora?: { slots: readonly LoraSlot[]; component: 'unet' | 'text_encoder' };
}

/** Run one component of a checkpoint (see EvalOptions). */
export async function evalComponent(o: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const dtype = o.dtype ?? 'float32';
  const isVae = o.component === 'vae-encode' || o.component === 'vae-decode';
  if (isVae && dtype !== 'float32')
    throw new Error(`${o.component} runs in float32 only (the SD VAE overflows in float16)`);
  if (isVae && o.loras?.length)
    throw new Error(`LoRAs apply to the unet and the text-encoder, not to ${o.component}`);
  if (o.prompts?.length && o.component !== 'text-encoder')
    throw new Error(`prompts are input to the text-encoder, not to ${o.component}`);
  const ckpt = await loadCheckpoint(o.model, { vae: o.vae, configs: o.configOverrides });
  try {
    const cfg: ComponentConfigs = {
      unet: unetConfigFromJson(ckpt.configs.unet),
      vae: vaeConfigFromJson(ckpt.configs.vae),
      textEncoder: clipTextConfigFromJson(ckpt.configs.textEncoder),
    };
    const get = (name: string) => o.inputs?.get(name);
    let prepared: PreparedInputs;
    if (o.component === 'text-encoder')
      prepared = o.prompts?.length
        ? await tokenize(o.prompts, ckpt, cfg, o.tokenizerDir)
        : prepareTextInputs(get, cfg);
    else if (o.component === 'unet') prepared = prepareUnetInputs(get, cfg, dtype);
    else prepared = prepareVaeInputs(o.component, get, cfg);
    // LoRA files are read before anything is built, so a bad file fails fast.
    const loras = o.loras?.length ? await readLoras(o.loras, cfg) : [];
    const t1 = performance.now();

    const built = await build(o, ckpt, cfg, prepared, dtype);
    const t2 = performance.now();
    const sessionOpts: SessionOptions = { ep: o.ep ?? 'cpu', modelDir: built.modelDir };
    let run: (f: Record<string, HostTensor>) => Promise<Record<string, HostTensor>>;
    let release: () => Promise<void>;
    let info: SessionInfo;
    let lora: LoraApplyReport | undefined;
    if (built.lora) {
      const s = await LoraSession.create(
        built.graph,
        built.lora.slots,
        built.lora.component,
        sessionOpts,
      );
      run = (f) => s.run(f);
      release = () => s.release();
      info = s.session.info;
      try {
        lora = applyLoras(s, loras, o.allowPartialLora ?? false);
      } catch (e) {
        await release();
        throw e;
      }
    } else {
      const s = await Session.create(built.graph, sessionOpts);
      run = (f) => s.run(f);
      release = () => s.release();
      info = s.info;
    }
    const t3 = performance.now();
    let raw: Record<string, HostTensor>;
    try {
      raw = await run(prepared.feeds);
    } finally {
      await release();
    }
    const t4 = performance.now();
    const outputs: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(raw)) outputs[k] = toFloat32Output(v);
    if (o.prompts?.length) outputs.input_ids = prepared.feeds.input_ids;
    return {
      outputs,
      executionProvider: info.executionProvider,
      skippedProviders: info.skippedProviders,
      dtype: isVae ? 'float32' : dtype,
      lora,
      timings: { load: t1 - t0, build: t2 - t1, session: t3 - t2, run: t4 - t3 },
    };
  } finally {
    await ckpt.close();
  }
}

async function build(
  o: EvalOptions,
  ckpt: LoadedCheckpoint,
  cfg: ComponentConfigs,
  p: PreparedInputs,
  dtype: 'float32' | 'float16',
): Promise<Built> {
  const { batch, height, width, seqLen } = p.dims;
  const withLora = (o.loras?.length ?? 0) > 0;
  if (o.component === 'unet') {
    const { weights, modelDir } = await fileWeights(ckpt, 'unet');
    const li = withLora ? loraGraphInputs('unet') : undefined;
    const graph = buildUnetGraph(cfg.unet, weights, {
      dtype,
      batch,
      height,
      width,
      seqLen,
      adapter: li?.adapter,
    });
    return { graph, modelDir, lora: li && { slots: li.slots, component: 'unet' } };
  }
  if (o.component === 'text-encoder') {
    const { weights, modelDir } = await fileWeights(ckpt, 'textEncoder');
    const li = withLora ? loraGraphInputs('text_encoder') : undefined;
    const adapter: Adapter | undefined = li?.adapter;
    const graph = buildClipTextGraph(cfg.textEncoder, weights, {
      dtype,
      batch,
      seqLen,
      clipSkip: o.clipSkip,
      withLastHiddenState: true,
      adapter,
    });
    return { graph, modelDir, lora: li && { slots: li.slots, component: 'text_encoder' } };
  }
  const { weights, modelDir } = await fileWeights(ckpt, 'vae');
  const vaeOpts = {
    batch,
    height,
    width,
    scalingFactor: o.scaledLatents ? cfg.vae.scalingFactor : undefined,
  };
  const graph =
    o.component === 'vae-encode'
      ? buildVaeEncoderGraph(cfg.vae, weights, vaeOpts)
      : buildVaeDecoderGraph(cfg.vae, weights, vaeOpts);
  return { graph, modelDir };
}

/** Read and convert LoRA files against the model's module lists. */
async function readLoras(list: readonly EvalLora[], cfg: ComponentConfigs): Promise<AppliedLora[]> {
  const known = knownModules(cfg);
  return Promise.all(
    list.map(async (l) => ({
      lora: await loadLoraFile(l.path, known),
      strength: l.strength,
      name: basename(l.path),
    })),
  );
}

/** Apply converted LoRAs; parts that cannot be applied are refused unless `partial`. */
function applyLoras(
  s: LoraSession,
  loras: readonly AppliedLora[],
  partial: boolean,
): LoraApplyReport {
  const applied = s.setLoras(loras);
  // Keys no converter rule understood are listed with the unsupported parts, never dropped.
  const unknown = loras.flatMap((l) =>
    l.lora.unknownKeys.map((k) => ({
      lora: l.name ?? 'LoRA',
      name: k,
      reason: 'key not understood',
      keys: [k],
    })),
  );
  const report = { ...applied, unsupported: [...applied.unsupported, ...unknown] };
  if (report.unsupported.length && !partial) {
    const lines = report.unsupported.map((u) => `${u.lora}: ${u.name} — ${u.reason}`);
    throw new Error(
      `${lines.length} LoRA part(s) cannot be applied (--lora-partial / allowPartialLora applies the rest):\n  ` +
        lines.slice(0, 40).join('\n  ') +
        (lines.length > 40 ? `\n  … and ${lines.length - 40} more` : ''),
    );
  }
  return report;
}
