// A1111/Civitai-compatible model hashes, computed in one streaming pass over the file:
//   sha256  — the whole file (Civitai "SHA256"; A1111 caches it as the checkpoint's hash)
//   autov2  — its first 10 hex digits (A1111's "Model hash" since 2023, Civitai "AutoV2")
//   legacy  — A1111's old `model_hash`: sha256 of the 0x10000 bytes at offset 0x100000, first 8
//             hex digits (Civitai "AutoV1"); a file shorter than 1 MiB hashes what is there, so
//             one under 0x100000 bytes gets the hash of nothing, as A1111's seek+read does
//   addnet  — sha256 of a safetensors file's bytes after the 8-byte length and the JSON header
//             (kohya/sd-webui-additional-networks "sshs" hash; A1111 uses it for LoRAs, so
//             editing metadata does not change it)
//   autov3  — its first 12 hex digits (the LoRA short hash A1111 writes in "Lora hashes",
//             Civitai "AutoV3")
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { HashCancelledError } from './errors.js';

export interface ModelHashes {
  sha256: string;
  autov2: string;
  legacy: string;
  addnet?: string;
  autov3?: string;
}

export interface HashProgress {
  path: string;
  bytes: number;
  total: number;
}

export interface HashOptions {
  /** Also compute the safetensors-data ("addnet"/AutoV3) hash; costs a second sha256 update. */
  addnet?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: HashProgress) => void;
  /** Minimum time between progress calls (default 200 ms); the last one is always made. */
  progressIntervalMs?: number;
  /** Read size (default 4 MiB). */
  chunkBytes?: number;
}

export const LEGACY_OFFSET = 0x100000;
export const LEGACY_LENGTH = 0x10000;

/** Hash one file. Reads it once, start to end; cancellable between reads. */
export async function computeModelHashes(
  path: string,
  options: HashOptions = {},
): Promise<ModelHashes> {
  const chunkBytes = options.chunkBytes ?? 4 << 20;
  const interval = options.progressIntervalMs ?? 200;
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const whole = createHash('sha256');
    const legacy = createHash('sha256');
    let addnet: ReturnType<typeof createHash> | undefined;
    let dataStart = Infinity;
    if (options.addnet && size >= 8) {
      const prefix = Buffer.alloc(8);
      await fh.read(prefix, 0, 8, 0);
      const n = prefix.readBigUInt64LE(0);
      // As kohya/A1111 do: the data starts at 8 + N whatever N says (past EOF: the hash of nothing).
      dataStart = n > BigInt(size) ? size : 8 + Number(n);
      addnet = createHash('sha256');
    } else if (options.addnet) {
      dataStart = size;
      addnet = createHash('sha256');
    }
    const buf = Buffer.allocUnsafe(chunkBytes);
    let pos = 0;
    let last = -Infinity;
    while (pos < size) {
      if (options.signal?.aborted) throw new HashCancelledError(path);
      const { bytesRead } = await fh.read(buf, 0, Math.min(chunkBytes, size - pos), pos);
      if (bytesRead === 0) break; // the file shrank while we read it: hash what exists
      const chunk = buf.subarray(0, bytesRead);
      whole.update(chunk);
      feedRange(legacy, chunk, pos, LEGACY_OFFSET, LEGACY_OFFSET + LEGACY_LENGTH);
      if (addnet) feedRange(addnet, chunk, pos, dataStart, Infinity);
      pos += bytesRead;
      const now = performance.now();
      if (options.onProgress && now - last >= interval && pos < size) {
        last = now;
        options.onProgress({ path, bytes: pos, total: size });
      }
    }
    options.onProgress?.({ path, bytes: pos, total: size });
    const sha256 = whole.digest('hex');
    const out: ModelHashes = {
      sha256,
      autov2: sha256.slice(0, 10),
      legacy: legacy.digest('hex').slice(0, 8),
    };
    if (addnet) {
      out.addnet = addnet.digest('hex');
      out.autov3 = out.addnet.slice(0, 12);
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** A1111's legacy `model_hash` alone: one 64 KiB read. */
export async function legacyModelHash(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(LEGACY_LENGTH);
    const { bytesRead } = await fh.read(buf, 0, LEGACY_LENGTH, LEGACY_OFFSET);
    return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex').slice(0, 8);
  } finally {
    await fh.close();
  }
}

/** Feed the part of `chunk` (which starts at file offset `at`) that lies in [begin, end). */
function feedRange(
  hash: ReturnType<typeof createHash>,
  chunk: Buffer,
  at: number,
  begin: number,
  end: number,
): void {
  const from = Math.max(begin, at);
  const to = Math.min(end, at + chunk.length);
  if (to > from) hash.update(chunk.subarray(from - at, to - at));
}
