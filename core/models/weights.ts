// Where model builders get their weights from. A WeightSource hands out tensors by their
// diffusers/transformers name, either as bytes in memory or as a pointer into a file (ONNX
// external data), so a 2 GB checkpoint is never copied into the model. The WeightBinder turns
// requests into graph initializers and checks, when the model is done, that every expected
// weight was present and every provided weight was used (like diffusers' converters do).
import {
  DTYPE_BYTES,
  float32ToFloat16Bits,
  isFloatDType,
  numel,
  shapeToString,
  type DType,
  type ExternalLocation,
  type GraphBuilder,
  type Value,
} from '../graph/index.js';
import { basename } from 'node:path';
import type { CheckpointComponent, SafetensorsReader } from '../formats/index.js';

/** What a builder expects a weight to look like. */
export interface TensorSpec {
  readonly shape: readonly number[];
}

/** One weight as a source holds it: its stored dtype/shape and its bytes or their location. */
export interface WeightTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Uint8Array | ExternalLocation;
}

export interface WeightSource {
  /**
   * Every tensor name this source holds, for the "provided but unused" check; `undefined`
   * for an open-ended source (synthetic weights) that makes up whatever is asked for.
   */
  names(): readonly string[] | undefined;
  /** The tensor, or undefined when the source has none by that name. */
  get(name: string, expected: TensorSpec): WeightTensor | undefined;
}

/** A source over tensors already in memory (tests, small models, converted LoRAs). */
export function memoryWeights(
  tensors: ReadonlyMap<string, WeightTensor> | Record<string, WeightTensor>,
): WeightSource {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  return {
    names: () => [...map.keys()],
    get: (name) => map.get(name),
  };
}

/** A view of `source` holding only names that start with `prefix`, with the prefix removed. */
export function prefixedWeights(source: WeightSource, prefix: string): WeightSource {
  return {
    names: () =>
      source.names()?.flatMap((n) => (n.startsWith(prefix) ? [n.slice(prefix.length)] : [])),
    get: (name, expected) => source.get(prefix + name, expected),
  };
}

export interface SyntheticWeightsOptions {
  /** 'random': deterministic uniform ±1/√fan_in (norm scales 1, biases 0); 'zeros': all zero. */
  fill?: 'random' | 'zeros';
  seed?: number;
  dtype?: 'float32' | 'float16';
  /** Virtual external-data file name the initializers point into (see `blob()`). */
  location?: string;
}

export interface SyntheticWeights extends WeightSource {
  /** Tensors handed out so far, in the order they were asked for. */
  readonly tensors: readonly {
    name: string;
    shape: readonly number[];
    offset: number;
    length: number;
  }[];
  /** Bytes handed out so far (the size of `blob()`). */
  readonly byteLength: number;
  readonly location: string;
  /** Generate the bytes behind every handed-out tensor (pass to SessionOptions.externalData). */
  blob(): Uint8Array;
}

/**
 * Weights made up from the shapes the builder asks for — for benchmarks and shape tests
 * only. Nothing is allocated until `blob()` is called; initializers are external data into
 * `location`, so even an SD1.5-sized model builds in milliseconds without memory.
 */
export function syntheticWeights(opts: SyntheticWeightsOptions = {}): SyntheticWeights {
  const dtype = opts.dtype ?? 'float32';
  const fill = opts.fill ?? 'random';
  const location = opts.location ?? 'synthetic-weights.bin';
  const tensors: { name: string; shape: readonly number[]; offset: number; length: number }[] = [];
  const byName = new Map<string, WeightTensor>();
  let byteLength = 0;
  return {
    location,
    tensors,
    get byteLength() {
      return byteLength;
    },
    names: () => undefined,
    get(name, expected) {
      const known = byName.get(name);
      if (known) return known;
      const length = numel(expected.shape) * DTYPE_BYTES[dtype];
      const t: WeightTensor = {
        dtype,
        shape: [...expected.shape],
        data: { location, offset: byteLength, length },
      };
      tensors.push({ name, shape: t.shape, offset: byteLength, length });
      byName.set(name, t);
      // Keep every tensor 64-byte aligned, as a real loader would want.
      byteLength += Math.ceil(length / 64) * 64;
      return t;
    },
    blob() {
      const out = new Uint8Array(byteLength);
      let state = (opts.seed ?? 1) >>> 0 || 1;
      const next = () => {
        // xorshift32: cheap, deterministic, good enough for benchmark weights.
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        return (state >>> 0) / 4294967296;
      };
      for (const t of tensors) {
        const n = numel(t.shape);
        // Offsets are 64-byte aligned, so typed views straight into the blob are legal.
        const f32 =
          dtype === 'float32' ? new Float32Array(out.buffer, t.offset, n) : new Float32Array(n);
        if (fill === 'random') {
          const isNormScale =
            t.shape.length === 1 && /norm/.test(t.name) && t.name.endsWith('.weight');
          if (isNormScale) f32.fill(1);
          else if (!t.name.endsWith('.bias')) {
            const fanIn = t.shape.length > 1 ? numel(t.shape.slice(1)) : t.shape[0];
            const bound = 1 / Math.sqrt(fanIn);
            for (let i = 0; i < n; i++) f32[i] = (next() * 2 - 1) * bound;
          }
        }
        if (dtype === 'float16') {
          const f16 = new Uint16Array(out.buffer, t.offset, n);
          for (let i = 0; i < n; i++) f16[i] = float32ToFloat16Bits(f32[i]);
        }
      }
      return out;
    },
  };
}

export interface WeightBinderOptions {
  /** Dtype the model computes in; stored weights of another float dtype get a Cast. */
  computeDType?: DType;
  /** Prefix for initializer names, so several models can share one graph. */
  initializerPrefix?: string;
  /** Model name used in error messages ("UNet", "text encoder", …). */
  label?: string;
  /**
   * Every weight becomes a float32 graph input (named like its initializer would be) instead of
   * an initializer: for training all weights of a model (the demo base model); the source still
   * fixes the shapes. See `trainableInputs`.
   */
  trainable?: boolean;
}

const LIST_LIMIT = 25;

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, LIST_LIMIT).join(', ');
  return names.length > LIST_LIMIT ? `${shown}, … and ${names.length - LIST_LIMIT} more` : shown;
}

/** Same non-1 dimensions in the same order: e.g. a (C, C, 1, 1) 1×1-conv kernel vs a (C, C) matrix. */
function sameUpToUnitDims(a: readonly number[], b: readonly number[]): boolean {
  const strip = (s: readonly number[]) => s.filter((d) => d !== 1).join(',');
  return strip(a) === strip(b);
}

/** Hands weights from a source to one graph and audits the source once the model is built. */
export class WeightBinder {
  readonly computeDType: DType;
  private readonly prefix: string;
  private readonly label: string;
  private readonly bound = new Map<string, Value>();
  private readonly missing: string[] = [];
  private readonly mismatched: string[] = [];
  private readonly tolerated = new Set<string>();
  private readonly skippedPrefixes: string[] = [];
  private readonly trainable: boolean;
  private readonly inputs: { name: string; weight: string; shape: readonly number[] }[] = [];

  constructor(
    readonly g: GraphBuilder,
    readonly source: WeightSource,
    opts: WeightBinderOptions = {},
  ) {
    this.computeDType = opts.computeDType ?? 'float32';
    this.prefix = opts.initializerPrefix ?? '';
    this.label = opts.label ?? 'model';
    this.trainable = opts.trainable ?? false;
  }

  /** With `trainable`: the graph inputs made so far (input name, weight name, stored shape). */
  get trainableInputs(): readonly { name: string; weight: string; shape: readonly number[] }[] {
    return this.inputs;
  }

  /** The weight `name` as a value of the compute dtype and the expected shape. */
  param(name: string, shape: readonly number[]): Value {
    const cached = this.bound.get(name);
    if (cached) return cached;
    const t = this.source.get(name, { shape });
    let v: Value;
    if (!t) {
      // Keep building so that every missing name is reported at once; the graph is discarded.
      this.missing.push(`${name} ${shapeToString(shape)}`);
      v = this.g.input(this.g.uniqueName(`missing/${name}`), this.computeDType, shape);
    } else if (!sameUpToUnitDims(t.shape, shape)) {
      this.mismatched.push(
        `${name}: expected ${shapeToString(shape)}, got ${shapeToString(t.shape)}`,
      );
      v = this.g.input(this.g.uniqueName(`mismatch/${name}`), this.computeDType, shape);
    } else if (!isFloatDType(t.dtype)) {
      this.mismatched.push(`${name}: expected a float tensor, got ${t.dtype}`);
      v = this.g.input(this.g.uniqueName(`mismatch/${name}`), this.computeDType, shape);
    } else {
      if (this.trainable) {
        v = this.g.input(this.prefix + name, 'float32', t.shape);
        this.inputs.push({ name: this.prefix + name, weight: name, shape: t.shape });
      } else v = this.g.initializer(this.prefix + name, t.dtype, t.shape, t.data);
      if (shapeToString(t.shape) !== shapeToString(shape))
        v = this.g.op('Reshape', [v, this.g.ints(shape)]);
      v = this.g.cast(v, this.computeDType);
    }
    this.bound.set(name, v);
    return v;
  }

  /** A name the source may hold that the model does not need (e.g. CLIP's position_ids buffer). */
  tolerate(name: string): void {
    this.tolerated.add(name);
  }

  /** Weights under `prefix` are deliberately left out of this graph (e.g. layers after a CLIP skip). */
  skip(prefix: string): void {
    this.skippedPrefixes.push(prefix);
  }

  /** Names bound so far (diffusers names, without the initializer prefix). */
  get boundNames(): readonly string[] {
    return [...this.bound.keys()];
  }

  /** Throws, listing every missing, mis-shaped and unused weight. */
  finish(): void {
    const problems: string[] = [];
    if (this.missing.length) {
      problems.push(
        `${this.missing.length} expected weight(s) missing: ${listNames(this.missing)}`,
      );
    }
    if (this.mismatched.length) {
      problems.push(
        `${this.mismatched.length} weight(s) with the wrong shape or dtype: ${listNames(this.mismatched)}`,
      );
    }
    const provided = this.source.names();
    if (provided) {
      const unused = provided.filter(
        (n) =>
          !this.bound.has(n) &&
          !this.tolerated.has(n) &&
          !this.skippedPrefixes.some((p) => n.startsWith(p)),
      );
      if (unused.length)
        problems.push(`${unused.length} provided weight(s) unused: ${listNames(unused)}`);
    }
    if (problems.length)
      throw new Error(`${this.label} weights do not fit the config: ${problems.join('; ')}`);
  }
}

/** Weights that stay in a safetensors file: each initializer points at its bytes there. */
export function safetensorsExternalWeights(
  file: Pick<SafetensorsReader, 'tensors'>,
  location: string,
): WeightSource {
  return {
    names: () => [...file.tensors.keys()],
    get(name) {
      const t = file.tensors.get(name);
      if (!t) return undefined;
      if (t.dtype === 'int16')
        throw new Error(`weight '${name}' is int16; model weights must be float`);
      return {
        dtype: t.dtype,
        shape: t.shape,
        data: { location, offset: t.offset, length: t.length },
      };
    },
  };
}

/** Every tensor of a safetensors reader, read into memory (small models and tests). */
export async function readSafetensorsWeights(reader: SafetensorsReader): Promise<WeightSource> {
  const map = new Map<string, WeightTensor>();
  for (const name of reader.names()) {
    const t = await reader.readTensorData(name);
    map.set(name, { dtype: t.dtype, shape: t.shape, data: t.bytes });
  }
  return memoryWeights(map);
}

/**
 * A diffusers-named checkpoint component (from core/formats' loadCheckpoint) whose weights stay
 * in the user's file. `location` names that file for ONNX external data — relative to where the
 * model is saved, or the path given with SessionOptions.externalData; default: its base name.
 */
export function checkpointWeights(
  component: Pick<CheckpointComponent, 'tensors'>,
  location: (file: string) => string = (file) => basename(file),
): WeightSource {
  return {
    names: () => [...component.tensors.keys()],
    get(name) {
      const t = component.tensors.get(name);
      if (!t) return undefined;
      if (t.dtype === 'int16')
        throw new Error(`weight '${name}' in ${t.file} is int16; model weights must be float`);
      // A reshape-only transform (LDM 1×1-conv VAE attention) keeps the bytes: point at them as they are.
      return {
        dtype: t.dtype,
        shape: t.shape,
        data: { location: location(t.file), offset: t.offset, length: t.length },
      };
    },
  };
}

/** Every weight of a checkpoint component read into memory (small models and tests). */
export async function readCheckpointWeights(
  component: Pick<CheckpointComponent, 'tensors' | 'readTensor'>,
): Promise<WeightSource> {
  const map = new Map<string, WeightTensor>();
  for (const name of component.tensors.keys()) {
    const t = await component.readTensor(name);
    map.set(name, { dtype: t.dtype, shape: t.shape, data: t.bytes });
  }
  return memoryWeights(map);
}
