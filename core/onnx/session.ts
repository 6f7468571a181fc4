// Thin wrapper over onnxruntime-node sessions (the only module family that imports it).
import * as ort from 'onnxruntime-node';
import type { DType } from '../graph/dtype.js';
import type { Graph } from '../graph/ir.js';
import { writeModel } from './model-writer.js';

export interface HostTensor {
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;
}

export interface SessionOptions {
  executionProviders?: string[];
  /** In-memory external data: virtual file name → bytes (see ExternalLocation.location). */
  externalData?: { path: string; data: Uint8Array }[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads?: number;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float16: 'float16',
  bfloat16: 'bfloat16' as ort.Tensor.Type,
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

export function toOrtTensor(t: HostTensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as ort.Tensor.DataType, [...t.shape]);
}

export function fromOrtTensor(t: ort.Tensor): HostTensor {
  const dtype = (Object.keys(ORT_TYPE) as DType[]).find((k) => ORT_TYPE[k] === t.type);
  if (!dtype) throw new Error(`unsupported output tensor type '${t.type}'`);
  return { dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
}

export class Session {
  private constructor(
    readonly inner: ort.InferenceSession,
    readonly graph: Graph | undefined,
  ) {}

  static async create(model: Graph | Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const bytesOrPath = typeof model === 'string' || model instanceof Uint8Array ? model : writeModel(model);
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: opts.executionProviders ?? ['cpu'],
      graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    };
    if (opts.intraOpNumThreads) options.intraOpNumThreads = opts.intraOpNumThreads;
    if (opts.externalData) options.externalData = opts.externalData;
    const inner =
      typeof bytesOrPath === 'string'
        ? await ort.InferenceSession.create(bytesOrPath, options)
        : await ort.InferenceSession.create(bytesOrPath, options);
    return new Session(inner, typeof model === 'object' && !(model instanceof Uint8Array) ? model : undefined);
  }

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(v);
    const out = await this.inner.run(ortFeeds);
    const res: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(out)) res[k] = fromOrtTensor(v);
    return res;
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}
