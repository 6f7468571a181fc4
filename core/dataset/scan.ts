// Walking a dataset folder: image candidates, caption sidecars, kohya `N_name` repeat folders.
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { IMAGE_EXTENSIONS } from './decode.js';

export interface ScannedFile {
  /** Absolute path. */
  path: string;
  /** Relative to the scanned root, '/'-separated. */
  relPath: string;
  /** Relative directory ('' for the root). */
  folder: string;
  /** Lower-cased extension with the dot ('' when none). */
  ext: string;
  /** File name without the extension. */
  stem: string;
}

export interface ScanResult {
  images: ScannedFile[];
  captions: ScannedFile[];
  /** Files that are neither images nor captions. */
  others: ScannedFile[];
}

export interface ScanOptions {
  /** Caption sidecar extensions, by priority (default ['.txt', '.caption']). */
  captionExtensions?: readonly string[];
  /** Absolute directories not to descend into (e.g. the import's own work dir). */
  exclude?: readonly string[];
  signal?: AbortSignal;
}

export const DEFAULT_CAPTION_EXTENSIONS: readonly string[] = ['.txt', '.caption'];

// OS bookkeeping files that are never dataset content; hidden entries (".…") are skipped too.
const IGNORED_NAMES = new Set(['thumbs.db', 'desktop.ini', 'ehthumbs.db']);

/** Recursive, sorted, no symlinked directories (no cycles); symlinked files are read through. */
export async function scanFolder(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const captionExts = (opts.captionExtensions ?? DEFAULT_CAPTION_EXTENSIONS).map((e) =>
    e.toLowerCase(),
  );
  const exclude = new Set((opts.exclude ?? []).map((d) => path.resolve(d)));
  const res: ScanResult = { images: [], captions: [], others: [] };
  const walk = async (dir: string, rel: string): Promise<void> => {
    opts.signal?.throwIfAborted();
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.') || IGNORED_NAMES.has(e.name.toLowerCase())) continue;
      const abs = path.join(dir, e.name);
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!exclude.has(abs)) await walk(abs, relPath);
        continue;
      }
      if (!e.isFile() && !e.isSymbolicLink()) continue;
      const ext = path.extname(e.name).toLowerCase();
      const file: ScannedFile = {
        path: abs,
        relPath,
        folder: rel,
        ext,
        stem: e.name.slice(0, e.name.length - ext.length),
      };
      if (e.isSymbolicLink()) {
        // Follow links to files only; a link to a directory could loop.
        const st = await stat(abs).catch(() => undefined);
        if (st?.isDirectory()) continue;
      }
      if (ext in IMAGE_EXTENSIONS) res.images.push(file);
      else if (captionExts.includes(ext)) res.captions.push(file);
      else res.others.push(file);
    }
  };
  await walk(path.resolve(root), '');
  return res;
}

export interface RepeatFolder {
  repeats: number;
  /** The class / trigger words of a kohya `N_name` folder (underscores kept, as kohya does). */
  className: string;
}

/** kohya's `10_my subject` → 10 repeats, class 'my subject'; anything else → undefined. */
export function parseRepeatFolder(name: string): RepeatFolder | undefined {
  const m = /^(\d+)_(.+)$/.exec(name);
  if (!m) return undefined;
  const repeats = Number(m[1]);
  if (!Number.isSafeInteger(repeats) || repeats < 1) return undefined;
  return { repeats, className: m[2].trim() };
}

/**
 * Repeats and class of an image in `folder` (relative to the root named `rootName`): the nearest
 * enclosing `N_name` folder wins, the root included (users often pick the `10_x` folder itself).
 */
export function repeatsFor(folder: string, rootName: string): RepeatFolder | undefined {
  const parts = [rootName, ...(folder ? folder.split('/') : [])];
  for (let i = parts.length - 1; i >= 0; i--) {
    const r = parseRepeatFolder(parts[i]);
    if (r) return r;
  }
  return undefined;
}

/** Pairs captions with images by folder + stem (exact, then case-insensitive). */
export function matchCaptions(
  images: readonly ScannedFile[],
  captions: readonly ScannedFile[],
  captionExtensions: readonly string[] = DEFAULT_CAPTION_EXTENSIONS,
): { byImage: Map<string, ScannedFile>; orphans: ScannedFile[] } {
  const rank = (f: ScannedFile) => captionExtensions.indexOf(f.ext);
  const exact = new Map<string, ScannedFile>();
  const folded = new Map<string, ScannedFile>();
  for (const c of captions) {
    const key = `${c.folder}/${c.stem}`;
    const prev = exact.get(key);
    if (!prev || rank(c) < rank(prev)) exact.set(key, c);
    const lk = key.toLowerCase();
    const prevL = folded.get(lk);
    if (!prevL || rank(c) < rank(prevL)) folded.set(lk, c);
  }
  const imageKeys = new Set<string>();
  const byImage = new Map<string, ScannedFile>();
  for (const img of images) {
    const key = `${img.folder}/${img.stem}`;
    imageKeys.add(key.toLowerCase());
    const c = exact.get(key) ?? folded.get(key.toLowerCase());
    if (c) byImage.set(img.path, c);
  }
  // A lower-priority sidecar of an image that has a better one is not an orphan, just unused.
  const orphans = captions.filter((c) => !imageKeys.has(`${c.folder}/${c.stem}`.toLowerCase()));
  return { byImage, orphans };
}
