// Sessions over onnxruntime-node: run with input validation, host or device-resident outputs.
// Creation (EP fallback, external data, the optimized-model cache) lives in session-create.ts.
import type * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/ir.js';
import { DeviceTensor, fromOrtTensor, toOrtTensor, type HostTensor } from './device-tensors.js';
import { createOrtSession, type SessionInfo, type SessionOptions } from './session-create.js';
import { validateFeeds, type DeclaredInput, type FeedInfo } from './validate.js';

export { DeviceTensor, fromOrtTensor, toOrtTensor, type HostTensor };
export type {
  CacheStatus,
  SessionCacheOptions,
  SessionInfo,
  SessionOptions,
} from './session-create.js';

export interface RunOptions {
  /** Output names to fetch (default all). */
  outputs?: readonly string[];
}

type Feeds = Readonly<Record<string, HostTensor | DeviceTensor>>;

function declaredFromMetadata(inner: ort.InferenceSession): DeclaredInput[] {
  return inner.inputMetadata.map((m) =>
    m.isTensor
      ? // An empty shape from ORT can mean "unknown": skip the shape check rather than guess.
        { name: m.name, dtype: m.type, shape: m.shape.length ? m.shape : undefined }
      : { name: m.name, dtype: 'non-tensor', shape: undefined },
  );
}

export class Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly declared: readonly DeclaredInput[];
  private released = false;

  private constructor(
    readonly inner: ort.InferenceSession,
    readonly graph: Graph | undefined,
    readonly info: SessionInfo,
    private readonly validate: boolean,
  ) {
    this.inputNames = inner.inputNames;
    this.outputNames = inner.outputNames;
    this.declared = graph
      ? graph.inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape }))
      : declaredFromMetadata(inner);
  }

  get executionProvider(): string {
    return this.info.executionProvider;
  }

  /** Create a session for a graph, serialised model bytes or a model file. */
  static async create(
    model: Graph | Uint8Array | string,
    opts: SessionOptions = {},
  ): Promise<Session> {
    const { inner, info } = await createOrtSession(model, opts);
    const graph = typeof model === 'string' || model instanceof Uint8Array ? undefined : model;
    return new Session(inner, graph, info, opts.validateInputs !== false);
  }

  /** Throws listing every problem with the feeds (missing, extra, dtype, rank, dims). */
  checkFeeds(feeds: Feeds): void {
    const info: Record<string, FeedInfo> = {};
    for (const [k, v] of Object.entries(feeds)) {
      info[k] =
        v instanceof DeviceTensor
          ? { dtype: v.dtype, shape: v.shape }
          : { dtype: v.dtype, shape: v.shape, elements: v.data?.length };
    }
    validateFeeds(this.declared, info, this.graph?.name);
  }

  private async runOrt(feeds: Feeds, opts: RunOptions): Promise<ort.InferenceSession.ReturnType> {
    if (this.validate) this.checkFeeds(feeds);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds))
      ortFeeds[k] = v instanceof DeviceTensor ? v.handle : toOrtTensor(v, k);
    if (opts.outputs) {
      const unknown = opts.outputs.filter((o) => !this.outputNames.includes(o));
      if (unknown.length)
        throw new Error(
          `unknown outputs ${unknown.join(', ')}; outputs are: ${this.outputNames.join(', ')}`,
        );
      return this.inner.run(ortFeeds, [...opts.outputs]);
    }
    return this.inner.run(ortFeeds);
  }

  /** Run and copy every output to host memory. Feeds may mix host and device tensors. */
  async run(feeds: Feeds, opts: RunOptions = {}): Promise<Record<string, HostTensor>> {
    const out = await this.runOrt(feeds, opts);
    const res: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(out)) {
      const t = new DeviceTensor(v);
      res[k] = await t.toHost();
      t.dispose(); // frees a device copy now; a no-op for host memory
    }
    return res;
  }

  /**
   * Run and keep outputs where ORT left them (see `preferredOutputLocation`): opaque handles to
   * feed into the next run, or copy out with `toHost()`. Dispose the ones you drop.
   */
  async runRaw(feeds: Feeds, opts: RunOptions = {}): Promise<Record<string, DeviceTensor>> {
    const out = await this.runOrt(feeds, opts);
    const res: Record<string, DeviceTensor> = {};
    for (const [k, v] of Object.entries(out)) res[k] = new DeviceTensor(v);
    return res;
  }

  /** Free the ORT session (safe to call twice). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.inner.release();
  }
}
