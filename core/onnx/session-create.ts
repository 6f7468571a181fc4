// How a session gets created: the model source (graph, bytes or file), EP fallback, external data
// checks and the optimized-model disk cache. Session (session.ts) wraps the result.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Graph, Initializer } from '../graph/ir.js';
import {
  buildSessionOptions,
  createWithFallback,
  EXECUTION_PROVIDERS,
  resolveExecutionProviders,
  type EpSessionOptions,
  type EpSkip,
  type ExecutionProviderChoice,
} from './ep.js';
import {
  checkExternalRefs,
  externalRefsOfGraph,
  externalRefsOfModel,
  planExternalData,
  type ExternalRef,
  type InMemoryExternalData,
} from './external-data.js';
import { cacheKey, externalDataIdentity, OptimizedModelCache } from './model-cache.js';
import { PROTOBUF_LIMIT, writeModel } from './model-writer.js';
import type { ExecutionProviderName } from './providers.js';

export interface SessionCacheOptions {
  /** Directory of the optimized-model cache. */
  dir: string;
  /**
   * Identity of the model (e.g. 'unet-sd15-fp16-lora32@v3'); skips hashing the model bytes, and
   * a graph is not even serialised on a warm start. Without it the serialised model is hashed.
   */
  key?: string;
  /**
   * Identity of the external data (e.g. the checkpoint's sha256), instead of path + size + mtime
   * for files and sha256 for in-memory buffers. With it, a warm start needs no `externalData`.
   */
  externalDataHash?: string;
}

export interface SessionOptions extends Omit<
  EpSessionOptions,
  'optimizedModelFilePath' | 'optimizedWeightsFileName'
> {
  /** Which EP: 'auto' tries cuda → dml → webgpu → cpu. Default 'cpu'. */
  ep?: ExecutionProviderChoice;
  /** Raw ORT EP list, one attempt, no fallback (kept for early callers; prefer `ep`). */
  executionProviders?: string[];
  /** In-memory external data: virtual file name → bytes (see ExternalLocation.location). */
  externalData?: InMemoryExternalData[];
  /** Cache the optimized model on disk (a directory, or options). */
  cache?: string | SessionCacheOptions;
  /** Check feeds against the declared inputs before each run (default true). */
  validateInputs?: boolean;
  /**
   * Largest protobuf to build from a graph (default 2 GiB − 1, the format's limit); beyond it the
   * biggest inline initializers are handed to ORT as in-memory external data instead.
   */
  inlineLimitBytes?: number;
}

export type CacheStatus = 'off' | 'hit' | 'miss' | 'rebuilt';

export interface SessionInfo {
  /** The EP the session runs on. */
  executionProvider: string;
  /** EPs passed over, with the reason (not installed, failed to start). */
  skippedProviders: EpSkip[];
  cache: CacheStatus;
  /** Why a cache entry was rebuilt, or why the optimized model could not be cached. */
  cacheNote?: string;
  /** Initializers passed to ORT in memory because the graph was over the protobuf limit. */
  inMemoryInitializers?: string[];
  /** Session creation wall time, ms (serialising, hashing and cache lookup included). */
  createMs: number;
}

const FALLBACK_HINT = 'fallback to CPU EP has been explicitly disabled';

/** A model to load, with what it needs computed only when needed. */
class ModelSource {
  readonly graph: Graph | undefined;
  readonly path: string | undefined;
  readonly modelDir: string | undefined;
  /** In-memory external data: the caller's, plus big initializers moved out of an oversized graph. */
  readonly memory: InMemoryExternalData[];
  /** Names of the initializers handed to ORT in memory because the graph was over the limit. */
  readonly movedToMemory: string[] = [];
  private readonly limit: number;
  #bytes: Uint8Array | undefined;
  #refs: ExternalRef[] | undefined;

  constructor(model: Graph | Uint8Array | string, opts: SessionOptions) {
    this.memory = [...(opts.externalData ?? [])];
    this.limit = opts.inlineLimitBytes ?? PROTOBUF_LIMIT;
    if (typeof model === 'string') this.path = path.resolve(model);
    else if (model instanceof Uint8Array) this.#bytes = model;
    else this.graph = this.fitProtobuf(model, this.limit);
    this.modelDir = opts.modelDir ?? (this.path ? path.dirname(this.path) : undefined);
  }

  /**
   * A graph too big for one protobuf gets its largest inline initializers passed by reference as
   * in-memory external data (no copy, nothing written to disk).
   */
  private fitProtobuf(graph: Graph, limit: number): Graph {
    const inline = graph.initializers.reduce(
      (n, i) => n + (i.external ? 0 : (i.bytes?.byteLength ?? 0)),
      0,
    );
    if (inline < limit / 2) return graph; // the rest of a model is never that big: skip planning
    const moved = planExternalData(graph, { thresholdBytes: Infinity, limitBytes: limit });
    if (moved.size === 0) return graph;
    const initializers = graph.initializers.map((init, i): Initializer => {
      if (!moved.has(init.name) || !init.bytes) return init;
      const location = `__inline_${i}.bin`;
      this.memory.push({ path: location, data: init.bytes });
      this.movedToMemory.push(init.name);
      return {
        name: init.name,
        dtype: init.dtype,
        shape: init.shape,
        external: { location, offset: 0, length: init.bytes.byteLength },
      };
    });
    return { ...graph, initializers };
  }

  /** Serialised model (a graph is written on first use; a file is read). */
  bytes(): Uint8Array {
    this.#bytes ??= this.graph
      ? writeModel(this.graph, { limitBytes: this.limit })
      : fs.readFileSync(this.path!);
    return this.#bytes;
  }

  refs(): ExternalRef[] {
    this.#refs ??= this.graph ? externalRefsOfGraph(this.graph) : externalRefsOfModel(this.bytes());
    return this.#refs;
  }

  /** What ORT loads: the file by path (it resolves external data beside it), else bytes. */
  loadable(): Uint8Array | string {
    return this.path ?? this.bytes();
  }
}

function load(
  src: Uint8Array | string,
  o: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  return typeof src === 'string'
    ? ort.InferenceSession.create(src, o)
    : ort.InferenceSession.create(src, o);
}

export interface CreatedSession {
  inner: ort.InferenceSession;
  info: SessionInfo;
}

export async function createOrtSession(
  model: Graph | Uint8Array | string,
  opts: SessionOptions,
): Promise<CreatedSession> {
  const t0 = performance.now();
  const src = new ModelSource(model, opts);
  const memory = src.memory;
  const cacheOpts: SessionCacheOptions | undefined =
    typeof opts.cache === 'string' ? { dir: opts.cache } : opts.cache;
  const cache = cacheOpts ? new OptimizedModelCache(cacheOpts.dir) : undefined;
  const epOpts: EpSessionOptions = {
    ...opts,
    externalData: memory,
    modelDir: src.path ? undefined : src.modelDir,
  };

  // ORT's messages for unresolvable external data are terse; check what we can before it loads.
  const checkRefs = (): void => {
    if (!src.path) checkExternalRefs(src.refs(), src.modelDir, memory);
  };

  let status: CacheStatus = 'off';
  let note: string | undefined;
  const attempt = async (
    ep: ExecutionProviderName,
    raw?: string[],
  ): Promise<ort.InferenceSession> => {
    status = 'off';
    note = undefined;
    const optionsFor = (o: EpSessionOptions): ort.InferenceSession.SessionOptions => {
      const built = buildSessionOptions(
        ep,
        raw ? { ...o, allowCpuFallback: o.allowCpuFallback ?? raw.includes('cpu') } : o,
      );
      if (raw) built.executionProviders = raw;
      return built;
    };
    if (!cache || !cacheOpts) {
      checkRefs();
      return load(src.loadable(), optionsFor(epOpts));
    }
    const key = cacheKey({
      model: cacheOpts.key ?? src.bytes(),
      externalData: externalDataIdentity(
        cacheOpts.externalDataHash !== undefined ? [] : src.refs(),
        src.modelDir,
        memory,
        cacheOpts.externalDataHash,
      ),
      ep: raw ? raw.join(',') : ep,
      deviceId: opts.deviceId,
      ortVersion: ort.env.versions.node ?? ort.env.versions.common,
      optimizationLevel: opts.graphOptimizationLevel ?? 'all',
    });
    const hit = cache.lookup(key);
    if (hit.discarded) note = `cache entry discarded (${hit.discarded}); rebuilt`;
    if (hit.path) {
      // Already optimized, weights beside it: load with optimizations off and no external inputs.
      const warm = {
        ...epOpts,
        graphOptimizationLevel: 'disabled',
        externalData: undefined,
        modelDir: undefined,
      } as const;
      try {
        const s = await load(hit.path, optionsFor(warm));
        status = 'hit';
        return s;
      } catch (e) {
        cache.remove(key);
        note = `cached model failed to load (${(e as Error).message.split('\n')[0]}); rebuilt`;
      }
    }
    checkRefs();
    const cold = (
      optimizedModelFilePath: string,
      optimizedWeightsFileName: string,
    ): EpSessionOptions => ({
      ...epOpts,
      optimizedModelFilePath,
      optimizedWeightsFileName,
      // ORT warns that an 'all'-level model is hardware-specific: the cache key covers that.
      logSeverityLevel: opts.logSeverityLevel ?? 3,
    });
    let stored;
    try {
      stored = await cache.store(key, (p, w) => load(src.loadable(), optionsFor(cold(p, w))));
    } catch (e) {
      // Some EPs cannot serialise what they built (compiled partitions): run uncached rather than
      // not at all. If the EP itself cannot start, this load fails too and the error propagates.
      const s = await load(src.loadable(), optionsFor(epOpts));
      status = 'miss';
      note = `optimized model could not be saved on ${ep}: ${(e as Error).message.split('\n')[0]}`;
      return s;
    }
    status = note ? 'rebuilt' : 'miss';
    if (!stored.stored) note = `optimized model not cached: ${stored.reason}`;
    return stored.value;
  };

  let inner: ort.InferenceSession;
  let chosen: string;
  let skipped: EpSkip[] = [];
  if (opts.executionProviders && !opts.ep) {
    const first = opts.executionProviders[0] ?? 'cpu';
    const ep = (first in EXECUTION_PROVIDERS ? first : 'cpu') as ExecutionProviderName;
    inner = await attempt(ep, opts.executionProviders);
    chosen = first;
  } else {
    const plan = resolveExecutionProviders(opts.ep ?? 'cpu');
    const res = await createWithFallback(plan, async (ep) => {
      try {
        return await attempt(ep);
      } catch (e) {
        const msg = (e as Error).message;
        if (!msg.includes(FALLBACK_HINT)) throw e;
        throw new Error(
          `${msg} (some nodes have no ${ep} kernel; allowCpuFallback lets them run on the CPU)`,
          { cause: e },
        );
      }
    });
    inner = res.value;
    chosen = res.ep;
    skipped = res.skipped;
  }
  const info: SessionInfo = {
    executionProvider: chosen,
    skippedProviders: skipped,
    cache: status,
    createMs: 0,
  };
  if (note) info.cacheNote = note;
  if (src.movedToMemory.length) info.inMemoryInitializers = src.movedToMemory;
  info.createMs = performance.now() - t0;
  return { inner, info };
}
