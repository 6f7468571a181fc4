// Safetensors writer. Tensors are laid out in name order (like the reference writer) and the
// header is space-padded to a multiple of 8 so the data section stays 8-byte aligned. Files are
// written to a temp name and renamed, so a crash never leaves a half-written LoRA behind.
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { chargeDiskWrite, faultPoint } from '../faults/index.js';
import {
  SAFETENSORS_CODES,
  safetensorsDTypeBytes,
  type SafetensorsDType,
} from './safetensors-header.js';

export interface TensorToWrite {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Raw little-endian bytes, or a typed array whose bytes are used as they are. */
  readonly data: Uint8Array | ArrayBufferView;
}

export type TensorsToWrite =
  ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>;

interface Planned {
  readonly name: string;
  readonly bytes: Uint8Array;
}

function asBytes(data: Uint8Array | ArrayBufferView): Uint8Array {
  return data instanceof Uint8Array
    ? data
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Validate the tensors and build the padded header; returns header bytes and data in order. */
function plan(
  tensors: TensorsToWrite,
  metadata: Readonly<Record<string, string>> | undefined,
): { header: Uint8Array; parts: Planned[]; dataLength: number } {
  const entries: [string, TensorToWrite][] =
    tensors instanceof Map
      ? [...(tensors as ReadonlyMap<string, TensorToWrite>).entries()]
      : Object.entries(tensors as Readonly<Record<string, TensorToWrite>>);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new Error(
          `metadata "${k}" must be a string, got ${typeof v} (safetensors metadata is string → string)`,
        );
      }
    }
    json.__metadata__ = { ...metadata };
  }
  const parts: Planned[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__')
      throw new Error('"__metadata__" is reserved and cannot name a tensor');
    const code = SAFETENSORS_CODES[t.dtype];
    if (!code) {
      throw new Error(
        `tensor "${name}": unknown dtype '${t.dtype}'; valid: ${Object.keys(SAFETENSORS_CODES).join(', ')}`,
      );
    }
    let count = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new Error(
          `tensor "${name}": shape [${t.shape.join(', ')}] must hold non-negative integers`,
        );
      }
      count *= d;
    }
    const bytes = asBytes(t.data);
    const expected = count * safetensorsDTypeBytes(t.dtype);
    if (bytes.byteLength !== expected) {
      throw new Error(
        `tensor "${name}": ${t.dtype} [${t.shape.join(', ')}] needs ${expected} bytes, got ${bytes.byteLength}`,
      );
    }
    json[name] = { dtype: code, shape: [...t.shape], data_offsets: [offset, offset + expected] };
    parts.push({ name, bytes });
    offset += expected;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  return { header, parts, dataLength: offset };
}

/** Serialise tensors into one in-memory safetensors buffer. */
export function serializeSafetensors(
  tensors: TensorsToWrite,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const { header, parts, dataLength } = plan(tensors, metadata);
  const out = new Uint8Array(header.byteLength + dataLength);
  out.set(header, 0);
  let pos = header.byteLength;
  for (const p of parts) {
    out.set(p.bytes, pos);
    pos += p.bytes.byteLength;
  }
  return out;
}

/**
 * Write a safetensors file atomically: stream header and tensors into `<path>.<random>.tmp`,
 * fsync, then rename over `path`. The temp file is removed if anything fails.
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorsToWrite,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const { header, parts } = plan(tensors, metadata);
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    chargeDiskWrite(header.byteLength, tmp);
    await fh.write(header, 0, header.byteLength);
    faultPoint('safetensors.write');
    for (const p of parts)
      if (p.bytes.byteLength > 0) {
        chargeDiskWrite(p.bytes.byteLength, tmp);
        await fh.write(p.bytes, 0, p.bytes.byteLength);
      }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
