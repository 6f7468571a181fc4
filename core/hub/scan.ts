// Folder scans: the model folders users already have (A1111/Forge, ComfyUI) listed and classified
// from headers, plus a helper that finds those folders under an install's root.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  inspectModelFile,
  isPicklePath,
  isSafetensorsPath,
  type ModelFileInfo,
} from './registry.js';

export interface ScanOptions {
  /** Descend into sub-folders (default true), at most `maxDepth` levels (default 8). */
  recursive?: boolean;
  maxDepth?: number;
  /** Include `.ckpt/.pt/.pth/.bin` files, marked refused with the pickle reason (default true). */
  includePickles?: boolean;
  signal?: AbortSignal;
  /** Called after each file with the number classified so far and the number found so far. */
  onProgress?: (p: { done: number; found: number; path: string }) => void;
}

export interface ScanResult {
  /** One per model file, in folder order then name order; duplicates (symlinks, overlapping folders) once. */
  entries: ModelFileInfo[];
  /** Folders that could not be read, with why. */
  problems: { path: string; message: string }[];
}

export class ScanCancelledError extends Error {
  constructor() {
    super('folder scan cancelled');
    this.name = 'ScanCancelledError';
  }
}

/** List and classify the model files in `folders`. Bad files become entries with a reason. */
export async function scanModelFolders(
  folders: readonly string[],
  options: ScanOptions = {},
): Promise<ScanResult> {
  const maxDepth = options.recursive === false ? 0 : (options.maxDepth ?? 8);
  const includePickles = options.includePickles ?? true;
  const problems: ScanResult['problems'] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Map<string, number>(); // real path → index in `found`
  const found: { path: string; siblings: string[] }[] = [];

  const walk = async (dir: string, depth: number): Promise<void> => {
    if (options.signal?.aborted) throw new ScanCancelledError();
    let real: string;
    let names: string[];
    try {
      real = await realpath(dir);
      if (seenDirs.has(real)) return; // a symlink loop or a folder given twice
      seenDirs.add(real);
      names = (await readdir(dir)).sort((a, b) => a.localeCompare(b));
    } catch (e) {
      problems.push({ path: dir, message: (e as Error).message });
      return;
    }
    const subdirs: string[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue; // .git, .cache, macOS ._ files
      const path = join(dir, name);
      const isModel = isSafetensorsPath(name) || (includePickles && isPicklePath(name));
      const s = await stat(path).catch(() => undefined); // follows symlinks; dangling ones vanish
      if (!s) continue;
      if (s.isDirectory()) {
        if (depth < maxDepth) subdirs.push(path);
      } else if (s.isFile() && isModel) {
        const key = await realpath(path).catch(() => path);
        const earlier = seenFiles.get(key);
        if (earlier === undefined) {
          seenFiles.set(key, found.length);
          found.push({ path, siblings: names });
        } else if (key === join(real, name)) {
          // The file itself wins over a link to it met first.
          found[earlier] = { path, siblings: names };
        }
      }
    }
    for (const sub of subdirs) await walk(sub, depth + 1);
  };
  for (const folder of folders) await walk(folder, 0);

  const entries: ModelFileInfo[] = [];
  for (const f of found) {
    if (options.signal?.aborted) throw new ScanCancelledError();
    entries.push(await inspectModelFile(f.path, { siblings: f.siblings }));
    options.onProgress?.({ done: entries.length, found: found.length, path: f.path });
  }
  return { entries, problems };
}

export type ModelRole = 'checkpoint' | 'lora' | 'vae' | 'embedding';

export interface SuggestedFolder {
  path: string;
  role: ModelRole;
  layout: 'a1111' | 'comfyui';
}

// Folder names relative to an install's root. A1111, Forge and SD.Next share one layout;
// LyCORIS files live in `models/LyCORIS` with the old extension and in `models/Lora` now.
const LAYOUTS: { layout: SuggestedFolder['layout']; role: ModelRole; rel: string[] }[] = [
  { layout: 'a1111', role: 'checkpoint', rel: ['models', 'Stable-diffusion'] },
  { layout: 'a1111', role: 'lora', rel: ['models', 'Lora'] },
  { layout: 'a1111', role: 'lora', rel: ['models', 'LyCORIS'] },
  { layout: 'a1111', role: 'vae', rel: ['models', 'VAE'] },
  { layout: 'a1111', role: 'embedding', rel: ['embeddings'] },
  { layout: 'comfyui', role: 'checkpoint', rel: ['models', 'checkpoints'] },
  { layout: 'comfyui', role: 'lora', rel: ['models', 'loras'] },
  { layout: 'comfyui', role: 'vae', rel: ['models', 'vae'] },
  { layout: 'comfyui', role: 'embedding', rel: ['models', 'embeddings'] },
];
// Where the install root may sit below the folder a user picks (Forge's one-click package has
// `webui/`, ComfyUI's portable build has `ComfyUI/`); and a user may pick `models/` itself.
const NESTED_ROOTS = [
  '',
  'webui',
  'ComfyUI',
  'stable-diffusion-webui',
  'stable-diffusion-webui-forge',
  '..',
];

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * The standard model sub-folders of an A1111/Forge or ComfyUI install at (or just below) `root`,
 * those that exist. Folder names are matched exactly first, then case-insensitively.
 */
export async function suggestModelFolders(root: string): Promise<SuggestedFolder[]> {
  const out: SuggestedFolder[] = [];
  const seen = new Set<string>();
  for (const nested of NESTED_ROOTS) {
    const base = join(root, nested);
    // `..` only when the user picked the `models` folder itself.
    if (
      nested === '..' &&
      !/^models$/i.test(
        root
          .replace(/[\\/]+$/, '')
          .split(/[\\/]/)
          .pop() ?? '',
      )
    )
      continue;
    if (!(await isDir(base))) continue;
    // The checkpoint folder names the layout; a case-insensitive match must not relabel a
    // ComfyUI `models/vae` as A1111's `models/VAE`.
    const a1111 = !!(await resolveCaseInsensitive(base, ['models', 'Stable-diffusion']));
    const comfy = !!(await resolveCaseInsensitive(base, ['models', 'checkpoints']));
    for (const { layout, role, rel } of LAYOUTS) {
      if (a1111 !== comfy && (layout === 'a1111') !== a1111) continue;
      const path = await resolveCaseInsensitive(base, rel);
      if (!path) continue;
      const real = await realpath(path);
      if (seen.has(real)) continue;
      seen.add(real);
      out.push({ path, role, layout });
    }
  }
  return out;
}

/** `base/rel…` with each segment matched exactly, else ignoring case; undefined if absent. */
async function resolveCaseInsensitive(
  base: string,
  rel: readonly string[],
): Promise<string | undefined> {
  let cur = base;
  for (const seg of rel) {
    const exact = join(cur, seg);
    if (await isDir(exact)) {
      cur = exact;
      continue;
    }
    const names = await readdir(cur).catch(() => [] as string[]);
    const hit = names.find((n) => n.toLowerCase() === seg.toLowerCase());
    if (!hit || !(await isDir(join(cur, hit)))) return undefined;
    cur = join(cur, hit);
  }
  return cur;
}
