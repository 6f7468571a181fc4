// From a checkpoint on disk to ready ONNX sessions: read headers (a truncated or foreign file fails
// here, before anything is built), settle where each component's weights come from (the user's
// file as it is, or a converted copy made once), build the graphs, and create the sessions through
// core/onnx's optimized-model cache so a warm start skips ORT's optimisation.
import { join } from 'node:path';
import {
  loadCheckpoint,
  type CheckpointComponent,
  type ConfigOverrides,
  type LoadedCheckpoint,
} from '../../formats/index.js';
import type { Graph } from '../../graph/index.js';
import {
  resolveExecutionProviders,
  Session,
  type ExecutionProviderChoice,
  type SessionInfo,
  type SessionOptions,
} from '../../onnx/index.js';
import {
  buildClipTextGraph,
  clipTextConfigFromJson,
  type ClipTextConfig,
  type ClipTextGraphOptions,
} from '../clip/index.js';
import {
  buildUnetGraph,
  unetConfigFromJson,
  type UNetConfig,
  type UNetGraphOptions,
} from '../unet/index.js';
import {
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
  vaeConfigFromJson,
  type VaeConfig,
  type VaeGraphOptions,
} from '../vae/index.js';
import {
  componentWeights,
  type ComponentWeights,
  type WeightsComponent,
} from './component-weights.js';
import { FileHashIndex } from './file-identity.js';

/** The graphs a checkpoint gives: text encoder, UNet, and the VAE's two halves. */
export type ModelGraphName = 'textEncoder' | 'unet' | 'vaeEncoder' | 'vaeDecoder';
export const MODEL_GRAPHS: readonly ModelGraphName[] = Object.freeze([
  'textEncoder',
  'unet',
  'vaeEncoder',
  'vaeDecoder',
]);

const WEIGHTS_OF: Readonly<Record<ModelGraphName, WeightsComponent>> = Object.freeze({
  textEncoder: 'textEncoder',
  unet: 'unet',
  vaeEncoder: 'vae',
  vaeDecoder: 'vae',
});

/** Per-graph build options (dtype comes from the loader; the VAE always computes in fp32). */
export interface ModelGraphOptions {
  textEncoder?: Omit<ClipTextGraphOptions, 'dtype' | 'initializerPrefix'>;
  unet?: Omit<UNetGraphOptions, 'dtype' | 'initializerPrefix'>;
  vaeEncoder?: Omit<VaeGraphOptions, 'initializerPrefix'> & { withSample?: boolean };
  vaeDecoder?: Omit<VaeGraphOptions, 'initializerPrefix'>;
}

export type ModelLoadProgress =
  | { phase: 'hash'; file: string; done: number; total: number }
  | { phase: 'convert'; component: WeightsComponent; done: number; total: number }
  | { phase: 'build'; graph: ModelGraphName }
  | { phase: 'session'; graph: ModelGraphName }
  | { phase: 'ready'; graph: ModelGraphName; cache: SessionInfo['cache']; ms: number };

export interface LoadModelSessionsOptions {
  /** App data directory for derived files: hash index, converted weights, optimized models. */
  cacheDir: string;
  /** Graphs to build (default all four). */
  components?: readonly ModelGraphName[];
  /** Execution provider (default 'cpu'). */
  ep?: ExecutionProviderChoice;
  /** Compute dtype of the text encoder and UNet (default fp32 when the EP tried first is the CPU, else fp16). */
  dtype?: 'float32' | 'float16';
  /** An external VAE file that replaces the checkpoint's. */
  vae?: string;
  /** Config fields a single-file checkpoint cannot show (group and head counts of odd models). */
  configs?: ConfigOverrides;
  graphs?: ModelGraphOptions;
  /** Cache ORT-optimized models under `<cacheDir>/onnx` (default true). */
  optimizedModelCache?: boolean;
  /**
   * Keep weights memory-mapped from their file instead of repacked in ORT's memory: no weight
   * prepacking, and graph optimisation 'extended' instead of 'all' (no NCHWc conv layouts). Much
   * less memory; CPU convolutions measured ~30 % slower (docs/decisions/0003).
   */
  lowMemory?: boolean;
  /** More ORT session options. */
  session?: Pick<
    SessionOptions,
    | 'deviceId'
    | 'allowCpuFallback'
    | 'intraOpNumThreads'
    | 'interOpNumThreads'
    | 'preferredOutputLocation'
    | 'logSeverityLevel'
    | 'sessionConfig'
    | 'validateInputs'
  >;
  onProgress?: (event: ModelLoadProgress) => void;
}

export interface ModelGraphReport {
  readonly graph: ModelGraphName;
  readonly nodes: number;
  readonly initializers: number;
  readonly buildMs: number;
  readonly session: SessionInfo;
}

export interface ModelLoadReport {
  /** Reading headers and configs of the checkpoint (and external VAE). */
  readonly checkpointMs: number;
  readonly weights: Partial<Record<WeightsComponent, Omit<ComponentWeights, 'source'>>>;
  readonly graphs: Partial<Record<ModelGraphName, ModelGraphReport>>;
  /** Tensors converted to another dtype by this call, over all components. */
  readonly convertedTensors: number;
  readonly totalMs: number;
}

export interface ModelConfigs {
  readonly textEncoder: ClipTextConfig;
  readonly unet: UNetConfig;
  readonly vae: VaeConfig;
}

export interface ModelSessions {
  readonly checkpoint: Omit<LoadedCheckpoint, 'components' | 'close'>;
  readonly configs: ModelConfigs;
  readonly sessions: Readonly<Partial<Record<ModelGraphName, Session>>>;
  readonly report: ModelLoadReport;
  /** The session for `name`; throws naming the loaded ones when it was not asked for. */
  session(name: ModelGraphName): Session;
  /** Release every session (safe to call twice). */
  release(): Promise<void>;
}

function checkComponents(names: readonly string[]): ModelGraphName[] {
  const bad = names.filter((n) => !(MODEL_GRAPHS as readonly string[]).includes(n));
  if (bad.length)
    throw new Error(
      `unknown model component(s) ${bad.join(', ')}; valid: ${MODEL_GRAPHS.join(', ')}`,
    );
  if (!names.length)
    throw new Error(`no model components asked for; valid: ${MODEL_GRAPHS.join(', ')}`);
  return [...new Set(names as ModelGraphName[])];
}

function defaultDType(ep: ExecutionProviderChoice): 'float32' | 'float16' {
  return resolveExecutionProviders(ep).candidates[0] === 'cpu' ? 'float32' : 'float16';
}

function buildGraph(
  name: ModelGraphName,
  configs: ModelConfigs,
  w: ComponentWeights,
  dtype: 'float32' | 'float16',
  graphs: ModelGraphOptions,
): Graph {
  switch (name) {
    case 'textEncoder':
      return buildClipTextGraph(configs.textEncoder, w.source, { ...graphs.textEncoder, dtype });
    case 'unet':
      return buildUnetGraph(configs.unet, w.source, { ...graphs.unet, dtype });
    case 'vaeEncoder':
      return buildVaeEncoderGraph(configs.vae, w.source, graphs.vaeEncoder);
    case 'vaeDecoder':
      return buildVaeDecoderGraph(configs.vae, w.source, graphs.vaeDecoder);
  }
}

/**
 * Load a checkpoint (single-file .safetensors or diffusers folder) as ONNX sessions. Weights stay
 * in the user's file when they are stored in the compute dtype; otherwise a converted copy is made
 * once under `cacheDir`. Nothing is ever written next to the checkpoint.
 */
export async function loadModelSessions(
  checkpointPath: string,
  opts: LoadModelSessionsOptions,
): Promise<ModelSessions> {
  const t0 = performance.now();
  const names = checkComponents(opts.components ?? MODEL_GRAPHS);
  const ep = opts.ep ?? 'cpu';
  const dtype = opts.dtype ?? defaultDType(ep);
  if (dtype !== 'float32' && dtype !== 'float16')
    throw new Error(`dtype '${String(dtype)}' is not supported; valid: float32, float16`);
  const progress = opts.onProgress ?? (() => {});

  // 1. Headers and configs only: a truncated, pickled or unsupported file fails here.
  const ckpt = await loadCheckpoint(checkpointPath, { vae: opts.vae, configs: opts.configs });
  const checkpointMs = performance.now() - t0;
  const sessions: Partial<Record<ModelGraphName, Session>> = {};
  const release = async () => {
    const all = Object.values(sessions);
    for (const k of Object.keys(sessions)) delete sessions[k as ModelGraphName];
    await Promise.all(all.map((s) => s.release()));
  };
  try {
    const configs: ModelConfigs = {
      textEncoder: clipTextConfigFromJson(ckpt.configs.textEncoder),
      unet: unetConfigFromJson(ckpt.configs.unet),
      vae: vaeConfigFromJson(ckpt.configs.vae),
    };

    // 2. Where each component's weights come from (hashing and converting happen here, once).
    const hashes = new FileHashIndex(opts.cacheDir);
    const weights: Partial<Record<WeightsComponent, ComponentWeights>> = {};
    for (const component of [...new Set(names.map((n) => WEIGHTS_OF[n]))]) {
      const source: CheckpointComponent = ckpt.components[component];
      weights[component] = await componentWeights({
        component,
        weights: source,
        computeDType: component === 'vae' ? 'float32' : dtype,
        cacheDir: opts.cacheDir,
        hashes,
        onHashProgress: (done, total) =>
          progress({ phase: 'hash', file: source.file, done, total }),
        onConvertProgress: (done, total) => progress({ phase: 'convert', component, done, total }),
      });
    }

    // 3. Graphs and sessions, one at a time (ORT already uses every core; peaks stay lower).
    const graphs: Partial<Record<ModelGraphName, ModelGraphReport>> = {};
    const useCache = opts.optimizedModelCache ?? true;
    for (const name of names) {
      const w = weights[WEIGHTS_OF[name]]!;
      progress({ phase: 'build', graph: name });
      const tb = performance.now();
      const graph = buildGraph(name, configs, w, dtype, opts.graphs ?? {});
      const buildMs = performance.now() - tb;
      progress({ phase: 'session', graph: name });
      const session = await Session.create(graph, {
        ...opts.session,
        ep,
        modelDir: w.modelDir,
        ...(opts.lowMemory
          ? {
              graphOptimizationLevel: 'extended' as const,
              sessionConfig: { disable_prepacking: '1', ...opts.session?.sessionConfig },
            }
          : {}),
        ...(useCache
          ? { cache: { dir: join(opts.cacheDir, 'onnx'), externalDataHash: w.identity } }
          : {}),
      });
      sessions[name] = session;
      graphs[name] = {
        graph: name,
        nodes: graph.nodes.length,
        initializers: graph.initializers.length,
        buildMs,
        session: session.info,
      };
      progress({
        phase: 'ready',
        graph: name,
        cache: session.info.cache,
        ms: session.info.createMs,
      });
    }

    const weightReports: ModelLoadReport['weights'] = {};
    let convertedTensors = 0;
    for (const [k, w] of Object.entries(weights)) {
      const { source: _source, ...rest } = w;
      weightReports[k as WeightsComponent] = rest;
      convertedTensors += w.convertedTensors;
    }
    const { components: _c, close: _close, ...checkpoint } = ckpt;
    return {
      checkpoint,
      configs,
      sessions,
      report: {
        checkpointMs,
        weights: weightReports,
        graphs,
        convertedTensors,
        totalMs: performance.now() - t0,
      },
      session(name) {
        const s = sessions[name];
        if (!s) {
          const loaded = Object.keys(sessions);
          throw new Error(
            `model component '${name}' was not loaded; loaded: ${loaded.length ? loaded.join(', ') : 'none (released)'}`,
          );
        }
        return s;
      },
      release,
    };
  } catch (e) {
    await release();
    throw e;
  } finally {
    // ORT holds its own handles (or copies) of the weights by now; ours were for reading only.
    await ckpt.close();
  }
}
