// GenerationEngine: the one place generation creates ONNX sessions. It keeps at most one warm
// session per graph (text encoder, UNet, VAE encoder, VAE decoder), keyed by what the graph was
// built for (model, VAE, EP, dtype, size, clip skip), so a second generation with the same
// settings creates none, and a change of size or model replaces only the graphs it affects
// (never two UNets in memory). Sessions come from core/models' loadModelSessions: weights read
// in place from the checkpoint, converted copies and ORT-optimised models cached in cacheDir.
import { realpath, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import {
  assertFiniteLora,
  convertLora,
  loadCheckpoint,
  LoraFormatError,
  CheckpointError,
  SafetensorsError,
  readLoraFile,
  type ConfigOverrides,
  type ConvertedLora,
  type KnownModules,
} from '../../formats/index.js';
import {
  ClipTokenizer,
  clipTextConfigFromJson,
  FileHashIndex,
  knownModules,
  loadModelSessions,
  loraGraphInputs,
  unetConfigFromJson,
  vaeConfigFromJson,
  type ModelConfigs,
  type ModelGraphName,
  type ModelGraphOptions,
  type ModelSessions,
} from '../../models/index.js';
import { resolveExecutionProviders, type Session } from '../../onnx/index.js';
import { resolveDataDir } from '../../store/index.js';
import type { GenerateEp } from '../types.js';
import { GenerateParamsError } from './errors.js';
import { autoV2, LoraHashCache } from './hashes.js';
import { LoraInputs } from './lora-inputs.js';

export interface GenerationEngineOptions {
  /**
   * Folder for derived files: sha256 index, converted weights, optimised models (default
   * `<data dir>/cache`, the data dir from $LORA_STUDIO_DATA or the OS app-data folder).
   */
  cacheDir?: string;
  /** Keep sessions between generate() calls (default true); false releases them after each. */
  keepWarm?: boolean;
  /** UNet / text-encoder compute dtype (default float32 when the CPU EP comes first, else float16). */
  dtype?: 'float32' | 'float16';
  /** Config fields a single-file checkpoint cannot show (odd group or head counts). */
  configs?: ConfigOverrides;
  /** Weights memory-mapped instead of repacked by ORT (less memory, slower convolutions). */
  lowMemory?: boolean;
  /** ORT intra-op threads (default: ORT's choice, all cores). */
  intraOpNumThreads?: number;
  /** Cache ORT-optimised models on disk (default true). */
  optimizedModelCache?: boolean;
  /**
   * Tokenizer folder (vocab.json + merges.txt) for checkpoints without one; default: a diffusers
   * folder's own tokenizer, else the SD1.x tokenizer.
   */
  tokenizerDir?: string;
}

export interface EngineStats {
  /** Sessions created over the engine's life. */
  sessionsCreated: number;
  sessionsReleased: number;
  /** LoRA files read and converted (cache misses). */
  loraLoads: number;
}

/** What the engine knows about a checkpoint without any session. */
export interface ModelInfo {
  readonly key: string;
  readonly path: string;
  readonly vaePath?: string;
  /** A1111's "Model" field: the file (or folder) name without extension. */
  readonly name: string;
  readonly configs: ModelConfigs;
  readonly tokenizer: ClipTokenizer;
  /** The file whose AutoV2 hash is the model hash (the UNet's file for a diffusers folder). */
  readonly hashFile: string;
}

export interface SessionSpec {
  readonly ep: GenerateEp;
  /** Latent height and width (UNet, VAE). */
  readonly latentHeight?: number;
  readonly latentWidth?: number;
  readonly clipSkip?: number;
}

/** A warm session and what it was built for. */
export interface WarmSession {
  readonly part: ModelGraphName;
  readonly key: string;
  readonly session: Session;
  readonly dtype: 'float32' | 'float16';
  /** Present for the UNet and the text encoder (LoRA inputs). */
  readonly lora?: LoraInputs;
  readonly executionProvider: string;
  readonly loaded: ModelSessions;
}

export interface LoadedLora {
  readonly lora: ConvertedLora;
  /** A1111 AutoV3 (12 hex digits). */
  readonly hash: string;
  readonly path: string;
}

const LORA_CACHE_SIZE = 16;
const MODEL_CACHE_SIZE = 4;

/** Image pixels per latent pixel (8 for the SD VAE). */
export const vaeFactor = (c: ModelConfigs): number => 2 ** (c.vae.blockOutChannels.length - 1);

export class GenerationEngine {
  keepWarm: boolean;
  readonly stats: EngineStats = { sessionsCreated: 0, sessionsReleased: 0, loraLoads: 0 };
  private readonly warm = new Map<ModelGraphName, WarmSession>();
  private readonly models = new Map<string, Promise<ModelInfo>>();
  private readonly known = new Map<string, KnownModules>();
  private readonly loras = new Map<string, Promise<LoadedLora>>();
  private readonly hashIndex: FileHashIndex;
  private readonly loraHashes = new LoraHashCache();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  readonly cacheDir: string;

  constructor(readonly options: GenerationEngineOptions = {}) {
    this.cacheDir = options.cacheDir ?? join(resolveDataDir(), 'cache');
    this.keepWarm = options.keepWarm ?? true;
    this.hashIndex = new FileHashIndex(this.cacheDir);
  }

  /**
   * Apply the user's settings: `keepWarm` from the next generation, `intraOpNumThreads` (0 or
   * undefined: ORT's choice) for sessions created from now on (warm ones keep theirs).
   */
  configure(opts: { keepWarm?: boolean; intraOpNumThreads?: number }): void {
    if (opts.keepWarm !== undefined) this.keepWarm = opts.keepWarm;
    if ('intraOpNumThreads' in opts)
      this.options.intraOpNumThreads = opts.intraOpNumThreads || undefined;
  }

  /** Run `fn` after every earlier exclusive call finished (one generation at a time). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('this GenerationEngine was disposed'));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The compute dtype sessions on `ep` get. */
  dtypeFor(ep: GenerateEp): 'float32' | 'float16' {
    if (this.options.dtype) return this.options.dtype;
    return resolveExecutionProviders(ep).candidates[0] === 'cpu' ? 'float32' : 'float16';
  }

  /** Configs, tokenizer and names of a checkpoint (headers only), cached per file version. */
  async model(modelPath: string, vaePath?: string): Promise<ModelInfo> {
    const ident = async (p: string) => {
      try {
        const s = await stat(p);
        return `${resolve(p)}@${s.size}:${s.mtimeMs}`;
      } catch {
        throw new GenerateParamsError(`model file or folder not found: ${p}`);
      }
    };
    const key = `${await ident(modelPath)}|${vaePath ? await ident(vaePath) : ''}`;
    let p = this.models.get(key);
    if (!p) {
      p = this.readModel(key, modelPath, vaePath);
      this.models.set(key, p);
      p.catch(() => this.models.delete(key));
      // A few models are plenty (each holds its tokenizer); drop the oldest.
      while (this.models.size > MODEL_CACHE_SIZE) {
        const oldest = this.models.keys().next().value!;
        this.models.delete(oldest);
        this.known.delete(oldest);
      }
    }
    return p;
  }

  private async readModel(key: string, path: string, vaePath?: string): Promise<ModelInfo> {
    let ckpt: Awaited<ReturnType<typeof loadCheckpoint>>;
    try {
      ckpt = await loadCheckpoint(path, { vae: vaePath, configs: this.options.configs });
    } catch (e) {
      // A pickle, an SDXL file, a truncated download: the user's file, so a request error.
      if (e instanceof CheckpointError || e instanceof SafetensorsError)
        throw new GenerateParamsError(e.message, { cause: e });
      throw e;
    }
    try {
      const configs: ModelConfigs = {
        textEncoder: clipTextConfigFromJson(ckpt.configs.textEncoder),
        unet: unetConfigFromJson(ckpt.configs.unet),
        vae: vaeConfigFromJson(ckpt.configs.vae),
      };
      const tokenizer = await ClipTokenizer.load(ckpt.tokenizerDir ?? this.options.tokenizerDir);
      if (tokenizer.vocabSize > configs.textEncoder.vocabSize)
        throw new GenerateParamsError(
          `${path}: the tokenizer has ${tokenizer.vocabSize} tokens but the text encoder only ` +
            `${configs.textEncoder.vocabSize}; give the model's own tokenizer folder`,
        );
      return {
        key,
        path,
        vaePath,
        name: basename(path, extname(path)),
        configs,
        tokenizer,
        hashFile: ckpt.format === 'single-file' ? path : ckpt.components.unet.file,
      };
    } finally {
      await ckpt.close();
    }
  }

  /** A1111 "Model hash" (AutoV2) of a model; the sha256 is remembered in cacheDir. */
  modelHash(model: ModelInfo): Promise<string> {
    return autoV2(this.hashIndex, model.hashFile);
  }

  /** A1111 "VAE hash" of an external VAE file. */
  vaeHash(file: string): Promise<string> {
    return autoV2(this.hashIndex, file);
  }

  /** The warm session for `part`, created (replacing a stale one) when the spec changed. */
  async session(part: ModelGraphName, model: ModelInfo, spec: SessionSpec): Promise<WarmSession> {
    const dtype = part.startsWith('vae') ? 'float32' : this.dtypeFor(spec.ep);
    const size = `${spec.latentHeight}x${spec.latentWidth}`;
    const key = [
      part,
      model.key,
      spec.ep,
      dtype,
      part === 'textEncoder' ? `skip${spec.clipSkip}` : size,
    ].join('|');
    const current = this.warm.get(part);
    if (current?.key === key) return current;
    if (current) await this.releasePart(part);

    const { configs } = model;
    const graphs: ModelGraphOptions = {};
    let lora: ReturnType<typeof loraGraphInputs> | undefined;
    if (part === 'textEncoder') {
      lora = loraGraphInputs('text_encoder');
      graphs.textEncoder = { clipSkip: spec.clipSkip, adapter: lora.adapter };
    } else if (part === 'unet') {
      // LoCon inputs too, so kohya conv_dim LoRAs apply (rank-1 zero convs cost ≪ 1 % when unused).
      lora = loraGraphInputs('unet', { locon: true });
      // The token count stays free: long prompts are 77·k tokens.
      graphs.unet = {
        height: spec.latentHeight,
        width: spec.latentWidth,
        seqLen: 'seq',
        adapter: lora.adapter,
      };
    } else {
      // The encoder is built for the image size, the decoder for the latent size.
      const k = part === 'vaeEncoder' ? vaeFactor(configs) : 1;
      const vae = {
        height: spec.latentHeight! * k,
        width: spec.latentWidth! * k,
        scalingFactor: configs.vae.scalingFactor,
      };
      if (part === 'vaeEncoder') graphs.vaeEncoder = { ...vae, withSample: true };
      else graphs.vaeDecoder = vae;
    }
    const loaded = await loadModelSessions(model.path, {
      cacheDir: this.cacheDir,
      components: [part],
      ep: spec.ep,
      dtype: part.startsWith('vae') ? undefined : dtype,
      vae: model.vaePath,
      configs: this.options.configs,
      graphs,
      lowMemory: this.options.lowMemory,
      optimizedModelCache: this.options.optimizedModelCache,
      session: { intraOpNumThreads: this.options.intraOpNumThreads },
    });
    this.stats.sessionsCreated++;
    const session = loaded.session(part);
    const warm: WarmSession = {
      part,
      key,
      session,
      dtype,
      loaded,
      executionProvider: session.executionProvider,
      lora: lora && new LoraInputs(lora.slots, part === 'unet' ? 'unet' : 'text_encoder'),
    };
    this.warm.set(part, warm);
    return warm;
  }

  /** Module names of the model (what LoRA files are matched against), built once per model. */
  private knownModules(model: ModelInfo): KnownModules {
    let k = this.known.get(model.key);
    if (!k) {
      k = knownModules(model.configs);
      this.known.set(model.key, k);
    }
    return k;
  }

  /** Read, convert and hash a LoRA file (cached by path + size + mtime, per model). */
  async lora(path: string, model: ModelInfo): Promise<LoadedLora> {
    let real: string;
    let s;
    try {
      real = await realpath(path);
      s = await stat(real);
    } catch {
      throw new GenerateParamsError(`LoRA file not found: ${path}`);
    }
    const key = `${model.key}|${real}@${s.size}:${s.mtimeMs}`;
    let p = this.loras.get(key);
    if (p) {
      // refresh its place in the LRU order
      this.loras.delete(key);
      this.loras.set(key, p);
      return p;
    }
    p = (async () => {
      let lora: ConvertedLora;
      try {
        const file = await readLoraFile(real);
        // A NaN/Inf LoRA is refused whole (the converter would only drop the damaged modules).
        assertFiniteLora(file);
        lora = convertLora(file.tensors, this.knownModules(model), file.metadata, path);
      } catch (e) {
        if (e instanceof LoraFormatError || e instanceof SafetensorsError)
          throw new GenerateParamsError(e.message, { cause: e });
        throw e;
      }
      this.stats.loraLoads++;
      return { lora, hash: await this.loraHashes.hash(real), path: real };
    })();
    this.loras.set(key, p);
    p.catch(() => this.loras.delete(key));
    while (this.loras.size > LORA_CACHE_SIZE) this.loras.delete(this.loras.keys().next().value!);
    return p;
  }

  /** Keys of the warm sessions, by graph (for status displays and tests). */
  warmKeys(): Partial<Record<ModelGraphName, string>> {
    return Object.fromEntries([...this.warm].map(([k, v]) => [k, v.key]));
  }

  private async releasePart(part: ModelGraphName): Promise<void> {
    const w = this.warm.get(part);
    if (!w) return;
    this.warm.delete(part);
    await w.loaded.release();
    this.stats.sessionsReleased++;
  }

  /** Release every warm session (the next generation creates them again). */
  async release(): Promise<void> {
    for (const part of [...this.warm.keys()]) await this.releasePart(part);
  }

  /** Release everything; the engine refuses further work. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.queue;
    this.disposed = true;
    await this.release();
    this.models.clear();
    this.loras.clear();
  }
}
