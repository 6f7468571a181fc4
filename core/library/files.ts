// Files the library writes: a LoRA copied into another tool's folder, the Civitai export
// (safetensors + preview + card), and saved comparison grids under `<dataDir>/grids/<id>/`.
// Nothing is overwritten unless asked; grid ids are checked before they become paths.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, sep } from 'node:path';
import { civitaiCard, type CivitaiCardInput } from './lora-card.js';
import type { GridResult } from './grids.js';

export class LibraryFileError extends Error {
  constructor(
    message: string,
    readonly code: 'exists' | 'not_found' | 'bad_id',
  ) {
    super(message);
    this.name = 'LibraryFileError';
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function copyNoClobber(src: string, dest: string, overwrite: boolean): Promise<void> {
  try {
    await copyFile(src, dest, overwrite ? 0 : constants.COPYFILE_EXCL);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new LibraryFileError(`${dest} exists (pass overwrite to replace it)`, 'exists');
    throw e;
  }
}

/** Copies `file` into `folder` under its own name; returns the new path. */
export async function copyLoraTo(
  file: string,
  folder: string,
  opts: { overwrite?: boolean } = {},
): Promise<string> {
  if (!(await stat(folder).catch(() => null))?.isDirectory())
    throw new LibraryFileError(`${folder} is not a folder`, 'not_found');
  const dest = join(folder, basename(file));
  await copyNoClobber(file, dest, opts.overwrite ?? false);
  return dest;
}

export interface CivitaiExport {
  folder: string;
  safetensors: string;
  preview: string | null;
  json: string;
  markdown: string;
  triggerWords: string[];
}

/**
 * Writes `<folder>/<stem>.safetensors`, `<stem>.preview.png` (when a preview is given),
 * `<stem>.civitai.json` and `<stem>.md`; refuses to replace any of them unless `overwrite`.
 */
export async function exportForCivitai(
  file: string,
  folder: string,
  card: Omit<CivitaiCardInput, 'fileName' | 'previewFile'>,
  opts: { preview?: Buffer | null; overwrite?: boolean } = {},
): Promise<CivitaiExport> {
  await mkdir(folder, { recursive: true });
  const stem = basename(file, extname(file));
  const out = {
    safetensors: join(folder, `${stem}.safetensors`),
    preview: opts.preview ? join(folder, `${stem}.preview.png`) : null,
    json: join(folder, `${stem}.civitai.json`),
    markdown: join(folder, `${stem}.md`),
  };
  if (!opts.overwrite) {
    for (const p of Object.values(out))
      if (p && (await exists(p)))
        throw new LibraryFileError(`${p} exists (pass overwrite to replace it)`, 'exists');
  }
  const { json, markdown } = civitaiCard({
    ...card,
    fileName: basename(out.safetensors),
    previewFile: out.preview && basename(out.preview),
  });
  await copyNoClobber(file, out.safetensors, true);
  if (out.preview && opts.preview) await writeFile(out.preview, opts.preview);
  await writeFile(out.json, `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(out.markdown, markdown);
  return { folder, ...out, triggerWords: json.trainedWords as string[] };
}

export type GridKind = 'strength-sweep' | 'before-after';

/** What `<dataDir>/grids/<id>/grid.json` records of a saved grid. */
export interface GridRecord {
  id: string;
  loraModelId: number;
  kind: GridKind;
  createdAt: string;
  width: number;
  height: number;
  columns: string[];
  prompts: string[];
  seed: number;
  settings: Record<string, unknown>;
  /** Cell files (`cell-<i>.png`), row-major. */
  cells: { file: string; prompt: string; strength: number | null; seed: number }[];
}

const GRID_ID_RE = /^[0-9]{13}-[0-9a-f]{8}$/;

export const gridsDir = (dataDir: string) => join(dataDir, 'grids');

/** Saves a rendered grid (sheet + cells + grid.json); returns its record. */
export async function saveGrid(
  dataDir: string,
  info: Pick<GridRecord, 'loraModelId' | 'kind' | 'seed' | 'settings'>,
  result: GridResult,
): Promise<GridRecord> {
  const id = `${Date.now()}-${randomBytes(4).toString('hex')}`;
  const dir = join(gridsDir(dataDir), id);
  await mkdir(dir, { recursive: true });
  const cells = result.cells.map((c, i) => ({
    file: `cell-${i}.png`,
    prompt: c.prompt,
    strength: c.strength,
    seed: c.seed,
  }));
  for (const [i, c] of result.cells.entries()) await writeFile(join(dir, cells[i].file), c.image);
  await writeFile(join(dir, 'grid.png'), result.png);
  const record: GridRecord = {
    id,
    ...info,
    createdAt: new Date().toISOString(),
    width: result.width,
    height: result.height,
    columns: result.columns,
    prompts: [...new Set(result.cells.map((c) => c.prompt))],
    cells,
  };
  await writeFile(join(dir, 'grid.json'), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** Saved grids of a LoRA (or all), newest first; unreadable folders are skipped. */
export async function listGrids(dataDir: string, loraModelId?: number): Promise<GridRecord[]> {
  const names = await readdir(gridsDir(dataDir)).catch(() => [] as string[]);
  const out: GridRecord[] = [];
  for (const name of names.filter((n) => GRID_ID_RE.test(n))) {
    try {
      const rec = JSON.parse(
        await readFile(join(gridsDir(dataDir), name, 'grid.json'), 'utf8'),
      ) as GridRecord;
      if (rec.id === name && (loraModelId === undefined || rec.loraModelId === loraModelId))
        out.push(rec);
    } catch {
      // a grid being written, or a folder the user edited: not listed
    }
  }
  return out.sort((a, b) => b.id.localeCompare(a.id));
}

/**
 * The sheet (`cell` omitted) or a cell PNG of a saved grid, resolved inside the grids folder,
 * or null. The id and cell index are validated first, so no request text becomes a path.
 */
export async function gridImageFile(
  dataDir: string,
  id: string,
  cell?: number,
): Promise<string | null> {
  if (!GRID_ID_RE.test(id)) return null;
  if (cell !== undefined && !(Number.isInteger(cell) && cell >= 0 && cell < 1000)) return null;
  const root = await realpath(gridsDir(dataDir)).catch(() => null);
  if (!root) return null;
  const file = await realpath(join(root, id, cell === undefined ? 'grid.png' : `cell-${cell}.png`))
    .then((p) => p)
    .catch(() => null);
  if (!file || !file.startsWith(root + sep)) return null;
  return (await stat(file)).isFile() ? file : null;
}

export function isGridId(id: string): boolean {
  return GRID_ID_RE.test(id);
}
