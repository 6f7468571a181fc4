// Safetensors header parsing and validation. A header comes from files users download from
// the internet, so every field is checked before anything allocates or reads by it.
// Layout: u64 LE header length N, N bytes of UTF-8 JSON, then the data section; each entry's
// data_offsets are relative to the first byte after the header.
import { DTYPE_BYTES, type DType } from '../graph/dtype.js';

/** Element types a safetensors file may hold here: the graph's dtypes plus int16. */
export type SafetensorsDType = DType | 'int16';

/** Our dtype name → the header's code. */
export const SAFETENSORS_CODES: Readonly<Record<SafetensorsDType, string>> = Object.freeze({
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
});

const FROM_CODE: ReadonlyMap<string, SafetensorsDType> = new Map(
  Object.entries(SAFETENSORS_CODES).map(([d, c]) => [c, d as SafetensorsDType]),
);

export function safetensorsDTypeBytes(d: SafetensorsDType): number {
  return d === 'int16' ? 2 : DTYPE_BYTES[d];
}

/** Largest header we accept: real checkpoints have < 1 MB of header; this stops a corrupt length
 *  field from making us allocate gigabytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's first byte in the file (or buffer). */
  readonly offset: number;
  /** Byte length of the tensor's data. */
  readonly length: number;
}

export interface ParsedHeader {
  /** The JSON header as parsed (entries and `__metadata__`). */
  readonly header: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** N, the header's byte length. */
  readonly headerLength: number;
  /** Absolute offset of the data section (8 + N). */
  readonly dataOffset: number;
  /** Bytes the header's entries need after the header (max end offset). */
  readonly dataLength: number;
}

export class SafetensorsError extends Error {
  constructor(
    message: string,
    readonly source: string,
  ) {
    super(`${source}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** The header is malformed: bad JSON, a bad entry, overlapping tensors, an absurd length. */
export class InvalidHeaderError extends SafetensorsError {
  constructor(message: string, source: string) {
    super(message, source);
    this.name = 'InvalidHeaderError';
  }
}

/** The file ends before the header or the data it declares (typically an interrupted download). */
export class TruncatedFileError extends SafetensorsError {
  constructor(message: string, source: string) {
    super(message, source);
    this.name = 'TruncatedFileError';
  }
}

/**
 * Checks the 8-byte length prefix against the file size and returns N. Call this before
 * reading N bytes, so a corrupt prefix never turns into a giant allocation.
 */
export function checkHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new TruncatedFileError(
      `truncated file: ${fileSize} bytes is too short to hold the 8-byte header length of a safetensors file`,
      source,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n) {
    throw new InvalidHeaderError(
      `header length ${n} is too small (a header is at least "{}")`,
      source,
    );
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new InvalidHeaderError(
      `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit — not a safetensors file, or a corrupt one`,
      source,
    );
  }
  const len = Number(n);
  if (len > fileSize - 8) {
    throw new TruncatedFileError(
      `truncated file: header says ${len} bytes of header, file has ${fileSize - 8} after the length prefix — the download may be incomplete`,
      source,
    );
  }
  return len;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return `array(${v.length})`;
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates the JSON header. `fileSize` is the whole file's (or buffer's) length;
 * entries must fit inside it, else a TruncatedFileError says how much is missing.
 */
export function parseHeader(json: Uint8Array, fileSize: number, source: string): ParsedHeader {
  const headerLength = json.byteLength;
  const dataOffset = 8 + headerLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new InvalidHeaderError('header is not valid UTF-8 — not a safetensors file', source);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidHeaderError(`header is not valid JSON (${(e as Error).message})`, source);
  }
  if (!isPlainObject(parsed)) {
    throw new InvalidHeaderError(`header must be a JSON object, got ${describe(parsed)}`, source);
  }

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const ranges: [number, number, string][] = [];
  let dataLength = 0;
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) {
        throw new InvalidHeaderError(
          `__metadata__ must be an object of strings, got ${describe(entry)}`,
          source,
        );
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') {
          throw new InvalidHeaderError(
            `__metadata__["${k}"] must be a string, got ${describe(v)}`,
            source,
          );
        }
        metadata[k] = v;
      }
      continue;
    }
    const info = parseEntry(name, entry, dataOffset, source);
    tensors.set(name, info);
    const begin = info.offset - dataOffset;
    const end = begin + info.length;
    if (end > dataLength) dataLength = end;
    if (info.length > 0) ranges.push([begin, end, name]);
  }

  // Overlapping tensors would alias each other's bytes: a corrupt or hostile file.
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < ranges.length; i++) {
    const [prevBegin, prevEnd, prevName] = ranges[i - 1];
    const [begin, end, name] = ranges[i];
    if (begin < prevEnd) {
      throw new InvalidHeaderError(
        `tensors "${prevName}" [${prevBegin}, ${prevEnd}) and "${name}" [${begin}, ${end}) overlap`,
        source,
      );
    }
  }

  const available = fileSize - dataOffset;
  if (dataLength > available) {
    throw new TruncatedFileError(
      `truncated file: header says ${dataLength} bytes of data, file has ${available} — the download may be incomplete`,
      source,
    );
  }
  return { header: parsed, metadata, tensors, headerLength, dataOffset, dataLength };
}

function parseEntry(name: string, entry: unknown, dataOffset: number, source: string): TensorInfo {
  const where = `tensor "${name}"`;
  if (!isPlainObject(entry)) {
    throw new InvalidHeaderError(
      `${where}: entry must be an object, got ${describe(entry)}`,
      source,
    );
  }
  const { dtype: code, shape, data_offsets: offsets } = entry;
  if (typeof code !== 'string' || !FROM_CODE.has(code)) {
    throw new InvalidHeaderError(
      `${where}: unknown dtype ${describe(code)}; valid: ${[...FROM_CODE.keys()].join(', ')}`,
      source,
    );
  }
  const dtype = FROM_CODE.get(code)!;
  if (!Array.isArray(shape)) {
    throw new InvalidHeaderError(
      `${where}: shape must be an array of integers, got ${describe(shape)}`,
      source,
    );
  }
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new InvalidHeaderError(
        `${where}: shape [${shape.map(describe).join(', ')}] has ${describe(d)}; dimensions must be non-negative integers`,
        source,
      );
    }
    count *= d;
    if (!Number.isSafeInteger(count)) {
      throw new InvalidHeaderError(
        `${where}: shape [${shape.join(', ')}] has too many elements`,
        source,
      );
    }
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new InvalidHeaderError(
      `${where}: data_offsets must be [begin, end], got ${describe(offsets)}`,
      source,
    );
  }
  const [begin, end] = offsets as unknown[];
  for (const o of [begin, end]) {
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
      throw new InvalidHeaderError(
        `${where}: data_offsets [${describe(begin)}, ${describe(end)}] must be non-negative integers`,
        source,
      );
    }
  }
  const b = begin as number;
  const e = end as number;
  if (b > e) {
    throw new InvalidHeaderError(`${where}: data_offsets begin ${b} is after end ${e}`, source);
  }
  const expected = count * safetensorsDTypeBytes(dtype);
  if (e - b !== expected) {
    throw new InvalidHeaderError(
      `${where}: ${code} shape [${shape.join(', ')}] needs ${expected} bytes, data_offsets [${b}, ${e}] hold ${e - b}`,
      source,
    );
  }
  return { name, dtype, shape: shape as number[], offset: dataOffset + b, length: e - b };
}
