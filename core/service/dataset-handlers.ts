// Dataset preparation over the contract: importing a folder (a job), the OCR text scan (a job),
// the quality report (a job), exporting a kohya folder, and thumbnails. The work itself lives in core/dataset; this file
// moves its results into the store and its progress into job events.
import fs from 'node:fs/promises';
import path from 'node:path';
import { importFolder, qualityReport, TextDetector, type ImportedImage } from '../dataset/index.js';
import type { DatasetImage } from '../api.js';
import type { Store } from '../store/index.js';
import { conflict, notFound } from './errors.js';
import type { Handlers, ServiceContext } from './context.js';
import { saveQualityReport, saveTextBoxes, type StoredTextBoxes } from './dataset-results.js';
import { assertWritableInside } from './safe-write.js';

type DatasetMethods =
  | 'datasets.import'
  | 'datasets.scanText'
  | 'datasets.exportKohya'
  | 'datasets.quality'
  | 'images.thumbnail';

/** Where a dataset's working copies and thumbnails go. */
export function datasetWorkDir(dataDir: string, datasetId: number): string {
  return path.join(dataDir, 'datasets', String(datasetId));
}

function requireDataset(ctx: ServiceContext, id: number) {
  const dataset = ctx.store.datasets.get(id);
  if (!dataset) throw notFound(`dataset #${id} does not exist`);
  return dataset;
}

function allImages(store: Store, datasetId: number): DatasetImage[] {
  return store.images.list(datasetId).items;
}

function toRow(img: ImportedImage) {
  return {
    path: img.path,
    relPath: img.relPath,
    workPath: img.workingCopy,
    thumbPath: img.thumbnail,
    format: img.format,
    repeats: img.repeats,
    className: img.className,
    sha256: img.sha256,
    width: img.width,
    height: img.height,
    caption: img.caption,
  };
}

/**
 * The thumbnail of an imported image: only a WebP file that (symlinks resolved) lies inside
 * `<dataDir>/datasets/`, so a row can never make the file route serve anything else.
 */
export async function imageThumbnailFile(
  store: Store,
  dataDir: string,
  id: number,
): Promise<string | null> {
  const file = store.images.get(id)?.thumbPath;
  if (!file) return null;
  const [real, root] = await Promise.all([
    fs.realpath(file).catch(() => null),
    fs.realpath(path.join(dataDir, 'datasets')).catch(() => null),
  ]);
  if (!real || !root || !real.startsWith(root + path.sep)) return null;
  const handle = await fs.open(real, 'r').catch(() => null);
  if (!handle) return null;
  try {
    if (!(await handle.stat()).isFile()) return null;
    const head = Buffer.alloc(12);
    await handle.read(head, 0, 12, 0);
    const isWebp =
      head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP';
    return isWebp ? real : null;
  } finally {
    await handle.close();
  }
}

// A folder name kohya reads as `<repeats>_<class>`: no separators, nothing that hides it.
function kohyaName(name: string): string {
  const clean = name
    .replace(/[\\/:*?"<>|\p{Cc}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '');
  return clean || 'images';
}

interface ExportEntry {
  image: DatasetImage;
  source: string;
  target: string;
  captionFile: string;
}

function planExport(folder: string, images: DatasetImage[], datasetName: string): ExportEntry[] {
  const used = new Set<string>();
  return images.map((image) => {
    const source = image.workPath ?? image.path;
    const sub = `${image.repeats}_${kohyaName(image.className ?? datasetName)}`;
    const ext = path.extname(source).toLowerCase();
    const stem = path.basename(
      image.relPath ?? image.path,
      path.extname(image.relPath ?? image.path),
    );
    let name = `${stem}${ext}`;
    // Two images with one stem (a.png, a.jpg, or the same name in two folders) would share a
    // caption file: number the later ones.
    for (let n = 2; used.has(path.join(sub, path.parse(name).name).toLowerCase()); n++) {
      name = `${stem}-${n}${ext}`;
    }
    used.add(path.join(sub, path.parse(name).name).toLowerCase());
    const target = path.join(folder, sub, name);
    return {
      image,
      source,
      target,
      captionFile: target.slice(0, -ext.length || undefined) + '.txt',
    };
  });
}

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

/**
 * Writes a dataset's training images (excluded and flagged ones left out) with their current
 * captions as a kohya folder. Used by datasets.exportKohya and by training runs started on a
 * dataset, which train on such a snapshot rather than on the untouched source folder.
 */
export async function exportDatasetKohya(
  ctx: ServiceContext,
  datasetId: number,
  target: string,
  overwrite: boolean,
) {
  const dataset = requireDataset(ctx, datasetId);
  const folder = path.resolve(target);
  const images = ctx.store.images.list(dataset.id, { filter: 'included' }).items;
  const plan = planExport(folder, images, dataset.name);
  if (!overwrite) {
    const taken: string[] = [];
    for (const e of plan) {
      if (await exists(e.target)) taken.push(e.target);
      if (e.image.caption && (await exists(e.captionFile))) taken.push(e.captionFile);
    }
    if (taken.length) {
      throw conflict(
        `folder: ${taken.length} file(s) already exist, e.g. "${taken[0]}"; ` +
          'pick an empty folder or pass overwrite: true',
      );
    }
  }
  let captions = 0;
  for (const e of plan) {
    await fs.mkdir(path.dirname(e.target), { recursive: true });
    await assertWritableInside(folder, e.target);
    await fs.copyFile(e.source, e.target);
    if (e.image.caption) {
      await assertWritableInside(folder, e.captionFile);
      await fs.writeFile(e.captionFile, `${e.image.caption}\n`, 'utf8');
      captions++;
    }
  }
  const subfolders = [...new Set(plan.map((e) => path.basename(path.dirname(e.target))))].sort();
  return { folder, subfolders, images: plan.length, captions };
}

export const datasetHandlers: Pick<Handlers, DatasetMethods> = {
  'datasets.import': (input, ctx) => {
    const dataset = requireDataset(ctx, input.datasetId);
    const folder = path.resolve(input.folder);
    const workDir = datasetWorkDir(ctx.dataDir, dataset.id);
    const job = ctx.jobs.enqueue({
      kind: 'import',
      label: `Import ${path.basename(folder)} into “${dataset.name}”`,
      run: async (handle) => {
        const result = await importFolder(folder, workDir, {
          signal: handle.signal,
          onProgress: (e) => {
            if (e.status === 'progress') {
              handle.report({
                progress: e.loaded / e.total,
                step: e.loaded,
                total: e.total,
                message: `${e.file} (${e.imported} imported, ${e.skipped} skipped)`,
              });
            } else if (e.status === 'initiate') {
              handle.report({ progress: 0, step: 0, total: e.total });
            }
          },
        });
        // The dataset may have been deleted while the job ran.
        if (!ctx.store.datasets.get(dataset.id)) {
          throw notFound(`dataset #${dataset.id} was deleted during the import`);
        }
        const ids = ctx.store.images.upsertImported(dataset.id, result.images.map(toRow));
        const skipped = result.skipped.map((s) => ({
          relPath: s.relPath,
          reason: s.reason,
          message: s.message,
        }));
        ctx.store.datasets.setImport(dataset.id, { sourceDir: result.source, workDir, skipped });
        ctx.changed('images', ids);
        ctx.changed('datasets', [dataset.id]);
        return { result: { datasetId: dataset.id, imported: ids.length, skipped } };
      },
    });
    return { jobId: job.id };
  },

  'datasets.scanText': (input, ctx) => {
    const dataset = requireDataset(ctx, input.datasetId);
    const job = ctx.jobs.enqueue({
      kind: 'scan',
      label: `Scan “${dataset.name}” for text`,
      run: async (handle) => {
        const images = allImages(ctx.store, dataset.id);
        const toMeasure = images.filter((i) => input.rescan || i.textRatio === null);
        // Loading the detector costs a second or two: skip it when only the threshold moved.
        const detector = toMeasure.length ? await TextDetector.create() : null;
        let flagged = 0;
        const boxes = new Map<number, StoredTextBoxes>();
        try {
          for (const [k, image] of images.entries()) {
            handle.signal.throwIfAborted();
            let ratio = image.textRatio;
            if (detector && (input.rescan || ratio === null)) {
              const found = await detector.detect(image.workPath ?? image.path);
              ratio = found.textAreaRatio;
              boxes.set(image.id, {
                width: found.width,
                height: found.height,
                textRatio: ratio,
                boxes: found.boxes.map(({ x, y, width, height, score, text }) => ({
                  x,
                  y,
                  width,
                  height,
                  score,
                  ...(text === undefined ? {} : { text }),
                })),
              });
            }
            const isFlagged = (ratio ?? 0) >= input.flagRatio;
            if (isFlagged) flagged++;
            ctx.store.images.setTextScan(image.id, ratio, isFlagged);
            handle.report({
              progress: (k + 1) / images.length,
              step: k + 1,
              total: images.length,
              message: image.relPath ?? path.basename(image.path),
            });
          }
        } finally {
          await detector?.release();
          // Boxes measured before a cancel are kept, like their ratios.
          await saveTextBoxes(ctx.dataDir, dataset.id, boxes);
        }
        ctx.changed(
          'images',
          images.map((i) => i.id),
        );
        ctx.changed('datasets', [dataset.id]);
        return {
          result: {
            datasetId: dataset.id,
            scanned: images.length,
            measured: toMeasure.length,
            flagged,
          },
        };
      },
    });
    return { jobId: job.id };
  },

  'datasets.quality': (input, ctx) => {
    const dataset = requireDataset(ctx, input.datasetId);
    const job = ctx.jobs.enqueue({
      kind: 'eval',
      label: `Quality report of “${dataset.name}”`,
      run: async (handle) => {
        const images = allImages(ctx.store, dataset.id);
        // Rows never imported have no measured size; the report needs one.
        const measured = images.filter((i) => i.width !== null && i.height !== null);
        const full = await qualityReport(
          measured.map((i) => ({
            id: i.id,
            path: i.workPath ?? i.path,
            width: i.width!,
            height: i.height!,
            caption: i.caption,
          })),
          {
            duplicateThreshold: input.duplicateThreshold,
            minSide: input.minSide,
            signal: handle.signal,
            onProgress: (p) =>
              handle.report({
                // Decoding (analyze) is the slow part; comparing hashes is quick.
                progress: p.stage === 'analyze' ? (0.9 * p.done) / Math.max(p.total, 1) : 0.9,
                step: p.done,
                total: p.total,
                message: p.stage,
              }),
          },
        );
        // Per-image hashes are internal working data, not part of the report a UI shows.
        const report: Partial<typeof full> = { ...full };
        delete report.signals;
        const result = {
          datasetId: dataset.id,
          unmeasured: images.filter((i) => !measured.includes(i)).map((i) => i.id),
          ...report,
        };
        // Kept for datasets.report: the report screen reads it after the job is gone.
        await saveQualityReport(ctx.dataDir, dataset.id, result);
        return { result };
      },
    });
    return { jobId: job.id };
  },

  'datasets.exportKohya': (input, ctx) =>
    exportDatasetKohya(ctx, input.datasetId, input.folder, input.overwrite),

  'images.thumbnail': async (input, ctx) => {
    const file = await imageThumbnailFile(ctx.store, ctx.dataDir, input.id);
    if (!file)
      throw notFound(`image #${input.id} has no thumbnail (not imported, or the file is gone)`);
    return {
      id: input.id,
      mime: 'image/webp' as const,
      data: (await fs.readFile(file)).toString('base64'),
    };
  },
};
