// Host tensors (plain typed arrays) and device tensors (opaque ORT values that may live in GPU
// memory), so a training loop can feed one step's outputs to the next without a host round trip.
import * as ort from 'onnxruntime-node';
import type { DType } from '../graph/dtype.js';
import { numel } from '../graph/ir.js';

export interface HostTensor {
  dtype: DType;
  shape: readonly number[];
  data:
    Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;
}

/** Where ORT should leave an output: host memory, or the EP's device buffer (WebGPU). */
export type OutputLocation = 'cpu' | 'gpu-buffer';

const ORT_TYPE: Readonly<Record<DType, ort.Tensor.Type>> = Object.freeze({
  float32: 'float32',
  float16: 'float16',
  bfloat16: 'bfloat16' as ort.Tensor.Type,
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
});

// The typed array each dtype's data must be, as the node binding reads it.
type TypedArrayCtor = abstract new (...args: never[]) => HostTensor['data'];
const DATA_CTOR: Readonly<Record<DType, TypedArrayCtor>> = Object.freeze({
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
});

export function dtypeOfOrtType(type: string): DType {
  const dtype = (Object.keys(ORT_TYPE) as DType[]).find((k) => ORT_TYPE[k] === type);
  if (!dtype)
    throw new Error(
      `unsupported tensor type '${type}'; supported: ${Object.values(ORT_TYPE).join(', ')}`,
    );
  return dtype;
}

export function toOrtTensor(t: HostTensor, name = 'tensor'): ort.Tensor {
  const ctor = DATA_CTOR[t.dtype];
  if (!ctor)
    throw new Error(
      `'${name}' has unknown dtype '${t.dtype}'; valid: ${Object.keys(DATA_CTOR).join(', ')}`,
    );
  if (!(t.data instanceof ctor)) {
    throw new Error(
      `'${name}' is ${t.dtype} but its data is a ${t.data.constructor.name}; ${t.dtype} needs a ${ctor.name}`,
    );
  }
  if (t.data.length !== numel(t.shape)) {
    throw new Error(
      `'${name}' has shape [${t.shape.join(', ')}] (${numel(t.shape)} elements) but ${t.data.length} values`,
    );
  }
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as ort.Tensor.DataType, [...t.shape]);
}

export function fromOrtTensor(t: ort.Tensor): HostTensor {
  return { dtype: dtypeOfOrtType(t.type), shape: [...t.dims], data: t.data as HostTensor['data'] };
}

/**
 * An ORT value kept as an opaque handle. On the CPU EP it is host memory already; with
 * `preferredOutputLocation: 'gpu-buffer'` on a GPU EP (WebGPU in the node binding) it stays on the
 * device until `toHost()`. Feed it back to `Session.runRaw`/`run` as is.
 */
export class DeviceTensor {
  #handle: ort.Tensor | undefined;

  constructor(handle: ort.Tensor) {
    this.#handle = handle;
  }

  static fromHost(t: HostTensor, name?: string): DeviceTensor {
    return new DeviceTensor(toOrtTensor(t, name));
  }

  /** The ORT tensor (for core/onnx only); throws after dispose. */
  get handle(): ort.Tensor {
    if (!this.#handle) throw new Error('device tensor was disposed');
    return this.#handle;
  }

  get dtype(): DType {
    return dtypeOfOrtType(this.handle.type);
  }

  get shape(): readonly number[] {
    return this.handle.dims;
  }

  /** 'cpu', 'gpu-buffer', … or 'none' after dispose. */
  get location(): string {
    return this.#handle ? this.#handle.location : 'none';
  }

  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /** Copy to host memory (no copy when it already lives there). */
  async toHost(): Promise<HostTensor> {
    const t = this.handle;
    const onHost = t.location === 'cpu' || t.location === 'cpu-pinned';
    const data = onHost ? t.data : await t.getData();
    return { dtype: this.dtype, shape: [...t.dims], data: data as HostTensor['data'] };
  }

  /** Free device memory now rather than at garbage collection. */
  dispose(): void {
    const t = this.#handle;
    this.#handle = undefined;
    if (t && t.location !== 'cpu' && t.location !== 'cpu-pinned') t.dispose();
  }
}
