// SAFETENSORS-READY
// Streaming safetensors reader: opening a file reads only the 8-byte length and the header;
// tensors are read lazily at their offsets through one file handle, so a 4 GB checkpoint costs
// nothing until a tensor is asked for. An in-memory variant serves buffers.
import { open, type FileHandle } from 'node:fs/promises';
import type { TensorData } from '../graph/ir.js';
import { toFloat32 } from './dtype-convert.js';
import {
  checkHeaderLength,
  parseHeader,
  SafetensorsError,
  type ParsedHeader,
  type TensorInfo,
} from './safetensors-header.js';

export interface SafetensorsReader extends ParsedHeader {
  /** Where the tensors come from (a path, or a label for a buffer). */
  readonly source: string;
  /** Names in data order (ascending offset). */
  names(): string[];
  /** Info for a tensor; throws naming close matches when it is absent. */
  info(name: string): TensorInfo;
  has(name: string): boolean;
  /** The tensor's raw little-endian bytes (a fresh buffer for files, a view for buffers). */
  read(name: string): Promise<Uint8Array>;
  /** The tensor decoded to float32 (float dtypes only). */
  readFloat32(name: string): Promise<Float32Array>;
  /** The tensor as graph TensorData (int16 is not a graph dtype and is refused). */
  readTensorData(name: string): Promise<TensorData>;
  close(): Promise<void>;
}

export interface SafetensorsFile extends SafetensorsReader {
  readonly path: string;
  readonly fileSize: number;
}

function missing(name: string, tensors: ReadonlyMap<string, TensorInfo>, source: string): never {
  const all = [...tensors.keys()];
  const tail = name.split('.').slice(-2).join('.');
  const near = all.filter((n) => n.endsWith(tail)).slice(0, 5);
  const hint = near.length
    ? `; similar: ${near.join(', ')}`
    : all.length
      ? ''
      : '; the file holds no tensors';
  throw new SafetensorsError(`no tensor "${name}" (${all.length} tensors)${hint}`, source);
}

function toTensorData(info: TensorInfo, bytes: Uint8Array, source: string): TensorData {
  if (info.dtype === 'int16') {
    throw new SafetensorsError(
      `tensor "${info.name}" is int16, which the graph engine does not support`,
      source,
    );
  }
  return { dtype: info.dtype, shape: [...info.shape], bytes };
}

function makeReader(
  parsed: ParsedHeader,
  source: string,
  readBytes: (info: TensorInfo) => Promise<Uint8Array>,
  close: () => Promise<void>,
): SafetensorsReader {
  const info = (name: string): TensorInfo =>
    parsed.tensors.get(name) ?? missing(name, parsed.tensors, source);
  return {
    ...parsed,
    source,
    names: () =>
      [...parsed.tensors.values()].sort((a, b) => a.offset - b.offset).map((t) => t.name),
    info,
    has: (name) => parsed.tensors.has(name),
    read: (name) => readBytes(info(name)),
    readFloat32: async (name) => {
      const t = info(name);
      return toFloat32(await readBytes(t), t.dtype);
    },
    readTensorData: async (name) => {
      const t = info(name);
      return toTensorData(t, await readBytes(t), source);
    },
    close,
  };
}

async function readExactly(
  fh: FileHandle,
  length: number,
  position: number,
  source: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    // fs reads are capped at 2 GiB per call; embeddings of big models can exceed that.
    const want = Math.min(length - done, 1 << 30);
    const { bytesRead } = await fh.read(out, done, want, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        `truncated file: wanted ${length} bytes at offset ${position}, got ${done} — was the file modified while open?`,
        source,
      );
    }
    done += bytesRead;
  }
  return out;
}

/** Open a .safetensors file: reads and validates the header, keeps a handle for lazy reads. */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const fh = await open(path, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const prefix = fileSize >= 8 ? await readExactly(fh, 8, 0, path) : new Uint8Array(0);
    const headerLength = checkHeaderLength(prefix, fileSize, path);
    const json = await readExactly(fh, headerLength, 8, path);
    const parsed = parseHeader(json, fileSize, path);
    let closed = false;
    const reader = makeReader(
      parsed,
      path,
      (t) => {
        if (closed)
          return Promise.reject(new SafetensorsError(`read of "${t.name}" after close()`, path));
        return readExactly(fh, t.length, t.offset, path);
      },
      async () => {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    );
    return { ...reader, path, fileSize };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Read only a file's header (the handle is closed again): for scanning and family detection. */
export async function readSafetensorsHeader(
  path: string,
): Promise<ParsedHeader & { fileSize: number }> {
  const f = await openSafetensors(path);
  await f.close();
  const { header, metadata, tensors, headerLength, dataOffset, dataLength, fileSize } = f;
  return { header, metadata, tensors, headerLength, dataOffset, dataLength, fileSize };
}

/** Parse a whole safetensors file held in memory; tensors are views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsReader {
  const headerLength = checkHeaderLength(bytes.subarray(0, 8), bytes.byteLength, source);
  const parsed = parseHeader(bytes.subarray(8, 8 + headerLength), bytes.byteLength, source);
  return makeReader(
    parsed,
    source,
    async (t) => bytes.subarray(t.offset, t.offset + t.length),
    async () => {},
  );
}

/** Is this the start of a safetensors file? (cheap sniff: sane length, then '{'). */
export function looksLikeSafetensors(head: Uint8Array, fileSize: number): boolean {
  try {
    const n = checkHeaderLength(head.subarray(0, 8), fileSize, '');
    return head.byteLength >= 9 && head[8] === 0x7b && n >= 2;
  } catch (e) {
    if (e instanceof SafetensorsError) return false;
    throw e;
  }
}

export type { TensorInfo, ParsedHeader };
