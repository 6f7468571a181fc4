// What the crash-kill harness checks on disk: after any kill the data dir is sound (SQLite
// integrity, every visible safetensors file complete, each state file valid); LoRAs compared as
// numbers.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSafetensors, readLoraFile } from '../../core/formats/index.js';
import { DB_FILE_NAME, openDatabase } from '../../core/store/index.js';
import { readTrainState } from '../../core/train/index.js';

export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** What must hold after any kill: integrity, only complete files visible, a valid newest state. */
export async function checkDataDir(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  const dbFile = join(dataDir, DB_FILE_NAME);
  // A child killed before it created the database leaves none; that is fine.
  if (await stat(dbFile).catch(() => undefined)) {
    try {
      const db = openDatabase(dbFile);
      try {
        const r = db.pragma('integrity_check', { simple: true });
        if (r !== 'ok') problems.push(`integrity_check: ${JSON.stringify(r)}`);
      } finally {
        db.close();
      }
    } catch (e) {
      problems.push(`database does not open: ${(e as Error).message}`);
    }
  }
  for (const f of await filesUnder(dataDir)) {
    if (!f.endsWith('.safetensors')) continue;
    try {
      const bytes = new Uint8Array(await readFile(f));
      const r = parseSafetensors(bytes, f);
      for (const name of r.tensors.keys()) await r.readTensorData(name);
      if (/state-step\d+\.safetensors$/.test(f)) await readTrainState(f);
    } catch (e) {
      problems.push(`visible but invalid: ${f}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** A LoRA's tensors as numbers (float32 files as floats, anything else byte by byte). */
export async function loraTensors(path: string): Promise<Map<string, Float32Array>> {
  const file = await readLoraFile(path);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    const b = t.bytes.slice();
    out.set(
      name,
      t.dtype === 'float32'
        ? new Float32Array(b.buffer, 0, b.byteLength / 4)
        : Float32Array.from(b),
    );
  }
  return out;
}

export function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  if (a.size !== b.size) return Infinity;
  let d = 0;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (!y || y.length !== x.length) return Infinity;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}
