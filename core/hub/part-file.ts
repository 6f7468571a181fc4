// The unfinished transfer beside a download's destination: `<dest>.part` (the bytes so far) and
// `<dest>.part.json` (which remote file they belong to), plus small file helpers.
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { DownloadError } from './errors.js';

export interface PartInfo {
  key: string;
  sha256?: string;
  total?: number;
}

export async function fileSize(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

export async function readPartInfo(path: string): Promise<PartInfo | undefined> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as PartInfo;
    return typeof v.key === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function cancelled(file: string, cause?: unknown): DownloadError {
  return new DownloadError('cancelled', `download of ${file} cancelled`, { cause });
}

/** Feed the first `length` bytes of the .part to `hash`: a resumed transfer's sha256 covers them. */
export async function hashPrefix(
  path: string,
  length: number,
  hash: Hash,
  file: string,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) throw cancelled(file);
  if (length === 0) return;
  try {
    for await (const chunk of createReadStream(path, { start: 0, end: length - 1, signal })) {
      hash.update(chunk as Buffer);
    }
  } catch (e) {
    throw signal?.aborted ? cancelled(file, e) : e;
  }
}

export const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A pause that ends early when `signal` fires (the caller then sees the cancellation). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res) => {
    const t = setTimeout(res, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), res()), { once: true });
  });
