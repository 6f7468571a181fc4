// What dataset jobs leave behind for later: the last quality report and the OCR text boxes,
// kept as JSON in the dataset's work dir (`<dataDir>/datasets/<id>/`) so the report screen
// and the overlay preview can show them after the job's done event is gone.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TextBoxInfo } from '../api.js';
import { notFound } from './errors.js';
import type { Handlers, ServiceContext } from './context.js';

export const QUALITY_REPORT_FILE = 'quality-report.json';
export const TEXT_BOXES_FILE = 'text-boxes.json';

export interface StoredTextBoxes {
  width: number;
  height: number;
  textRatio: number;
  boxes: TextBoxInfo[];
}

function workDir(dataDir: string, datasetId: number): string {
  return path.join(dataDir, 'datasets', String(datasetId));
}

/** Writes through a temporary file so a crash never leaves half a JSON file. */
async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value), 'utf8');
  await fs.rename(tmp, file);
}

async function readJson(file: string): Promise<unknown> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  return text === null ? null : (JSON.parse(text) as unknown);
}

export async function saveQualityReport(
  dataDir: string,
  datasetId: number,
  report: Record<string, unknown>,
): Promise<void> {
  await writeJson(path.join(workDir(dataDir, datasetId), QUALITY_REPORT_FILE), {
    datasetId,
    createdAt: new Date().toISOString(),
    report,
  });
}

export async function loadTextBoxes(
  dataDir: string,
  datasetId: number,
): Promise<Record<string, StoredTextBoxes>> {
  const v = await readJson(path.join(workDir(dataDir, datasetId), TEXT_BOXES_FILE));
  return v && typeof v === 'object' ? (v as Record<string, StoredTextBoxes>) : {};
}

/** Merges per-image boxes (by image id) into the dataset's file. */
export async function saveTextBoxes(
  dataDir: string,
  datasetId: number,
  measured: ReadonlyMap<number, StoredTextBoxes>,
): Promise<void> {
  if (!measured.size) return;
  const all = await loadTextBoxes(dataDir, datasetId);
  for (const [id, v] of measured) all[String(id)] = v;
  await writeJson(path.join(workDir(dataDir, datasetId), TEXT_BOXES_FILE), all);
}

function requireDataset(ctx: ServiceContext, id: number) {
  if (!ctx.store.datasets.get(id)) throw notFound(`dataset #${id} does not exist`);
}

export const datasetResultHandlers: Pick<Handlers, 'datasets.report' | 'datasets.textBoxes'> = {
  'datasets.report': async (input, ctx) => {
    requireDataset(ctx, input.id);
    const v = (await readJson(path.join(workDir(ctx.dataDir, input.id), QUALITY_REPORT_FILE))) as {
      datasetId: number;
      createdAt: string;
      report: Record<string, unknown>;
    } | null;
    return v && { datasetId: input.id, createdAt: v.createdAt, report: v.report };
  },

  'datasets.textBoxes': async (input, ctx) => {
    requireDataset(ctx, input.id);
    const stored = await loadTextBoxes(ctx.dataDir, input.id);
    // Only images still in the dataset, measured by the current file (a re-import with other
    // bytes clears the ratio, and with it the boxes).
    const images = ctx.store.images
      .list(input.id)
      .items.filter((i) => i.textRatio !== null && stored[String(i.id)])
      .map((i) => ({ id: i.id, ...stored[String(i.id)], textRatio: i.textRatio! }));
    return { images };
  },
};
