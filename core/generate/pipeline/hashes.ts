// The short hashes A1111 writes into infotext, which Civitai and image browsers match files by:
// "Model hash" / "VAE hash" = AutoV2 = the first 10 hex digits of the file's SHA-256;
// "Lora hashes" = AutoV3 = the first 12 hex digits of the SHA-256 of a safetensors file's data
// section (everything after the header, so editing metadata keeps the hash).
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import type { FileHashIndex } from '../../models/index.js';

/** AutoV2 of a file, through the sha256 index (computed once per path + size + mtime). */
export async function autoV2(index: FileHashIndex, file: string): Promise<string> {
  const id = await index.identify(file);
  return id.sha256.slice(0, 10);
}

/** SHA-256 of a safetensors file's bytes after its header, streamed. */
export async function safetensorsDataSha256(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const start = 8 + Number(head.readBigUInt64LE(0));
    if (size < 8 || start > size)
      throw new Error(`${file} is not a safetensors file (header runs past the end)`);
    const h = createHash('sha256');
    const buf = Buffer.alloc(8 << 20);
    for (let pos = start; pos < size;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

/** AutoV3 hashes by path, remembered while size and mtime stay the same. */
export class LoraHashCache {
  private readonly known = new Map<string, { size: number; mtimeMs: number; hash: string }>();

  async hash(file: string): Promise<string> {
    const s = await stat(file);
    const hit = this.known.get(file);
    if (hit && hit.size === s.size && hit.mtimeMs === s.mtimeMs) return hit.hash;
    const hash = (await safetensorsDataSha256(file)).slice(0, 12);
    this.known.set(file, { size: s.size, mtimeMs: s.mtimeMs, hash });
    return hash;
  }
}
