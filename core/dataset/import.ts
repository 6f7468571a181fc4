// Importing a folder of images into a work dir, without touching the folder. Each image is read
// once (sha256 of its bytes), checked header-first against the size limits, decoded once to make
// its thumbnail (which is also the "does it decode" check), and kept as a working copy:
//   <workDir>/images/<sha256>.<png|jpg|webp>   original bytes for PNG/JPEG/WebP, else a PNG
//   <workDir>/thumbs/<sha256>.webp
// Files are content-addressed and written atomically (temp file + rename), so an import that was
// cancelled or crashed leaves only complete files, and running it again resumes: images whose
// working copy and thumbnail exist are not decoded again.
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DEFAULT_LIMITS, probeImage, type ImageFormat, type ImageLimits } from './decode.js';
import { ImageError, type SkipReason } from './errors.js';
import { makeThumbnail, toWorkingPng } from './image-pipeline.js';
import {
  DEFAULT_CAPTION_EXTENSIONS,
  matchCaptions,
  repeatsFor,
  scanFolder,
  type ScannedFile,
} from './scan.js';

export interface ImportedImage {
  /** Absolute path of the source file (never modified). */
  path: string;
  /** Relative to the imported folder, '/'-separated. */
  relPath: string;
  /** Relative folder ('' for the root). */
  folder: string;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  format: ImageFormat;
  bytes: number;
  /** Displayed size (EXIF orientation applied; first frame of an animation). */
  width: number;
  height: number;
  hasAlpha: boolean;
  /** Caption sidecar text (BOM stripped, trimmed); null when there is no sidecar. */
  caption: string | null;
  captionPath: string | null;
  /** kohya `N_name` folder: N (1 elsewhere). */
  repeats: number;
  /** kohya `N_name` folder: name, the class / trigger words (null elsewhere). */
  className: string | null;
  /** Working copy in the work dir. */
  workingCopy: string;
  thumbnail: string;
  /** Non-fatal problems (e.g. an unreadable caption). */
  warnings: string[];
}

export interface SkippedFile {
  path: string;
  relPath: string;
  reason: SkipReason;
  message: string;
}

export interface ImportResult {
  source: string;
  workDir: string;
  /** Sorted by relPath. */
  images: ImportedImage[];
  skipped: SkippedFile[];
}

/** transformers.js-style progress; `loaded` counts image files processed and never goes down. */
export type ImportProgress =
  | { status: 'initiate'; total: number; skipped: number }
  | {
      status: 'progress';
      file: string;
      loaded: number;
      total: number;
      /** Percent, 0–100. */
      progress: number;
      imported: number;
      skipped: number;
    }
  | {
      status: 'done';
      loaded: number;
      total: number;
      progress: 100;
      imported: number;
      skipped: number;
    };

export interface ImportOptions {
  signal?: AbortSignal;
  onProgress?: (e: ImportProgress) => void;
  limits?: Partial<ImageLimits>;
  captionExtensions?: readonly string[];
  /** Thumbnail longest side (default 256). */
  thumbnailSize?: number;
  /** Files processed at once (default 2; sharp works on the libuv pool). */
  concurrency?: number;
}

const KEEP_ORIGINAL: Partial<Record<ImageFormat, string>> = {
  png: 'png',
  jpeg: 'jpg',
  webp: 'webp',
};

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readCaption(
  file: ScannedFile,
  warnings: string[],
): Promise<{ caption: string | null; captionPath: string | null }> {
  try {
    const bytes = await readFile(file.path);
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    if (text.includes('\uFFFD'))
      warnings.push(`caption ${file.relPath} is not valid UTF-8; bad bytes were replaced`);
    return {
      caption: text
        .replace(/^\uFEFF/, '')
        .replace(/\r\n?/g, '\n')
        .trim(),
      captionPath: file.path,
    };
  } catch (err) {
    warnings.push(`caption ${file.relPath} could not be read: ${(err as Error).message}`);
    return { caption: null, captionPath: null };
  }
}

interface Context {
  imagesDir: string;
  thumbsDir: string;
  limits: ImageLimits;
  thumbnailSize: number;
  rootName: string;
}

async function importOne(
  file: ScannedFile,
  caption: ScannedFile | undefined,
  ctx: Context,
): Promise<ImportedImage> {
  let bytes: Buffer;
  try {
    const st = await stat(file.path);
    if (st.size === 0) throw new ImageError('empty', 'the file is empty (0 bytes)');
    if (st.size > ctx.limits.maxFileBytes)
      throw new ImageError(
        'too-large',
        `the file is ${st.size} bytes, over the ${ctx.limits.maxFileBytes} byte limit`,
      );
    bytes = await readFile(file.path);
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError('unreadable', (err as Error).message);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const info = await probeImage(bytes, ctx.limits);
  const ext = KEEP_ORIGINAL[info.format] ?? 'png';
  const workingCopy = path.join(ctx.imagesDir, `${sha256}.${ext}`);
  const thumbnail = path.join(ctx.thumbsDir, `${sha256}.webp`);
  if (!((await exists(workingCopy)) && (await exists(thumbnail)))) {
    let work: Buffer;
    let thumb: Buffer;
    try {
      work = ext === KEEP_ORIGINAL[info.format] ? bytes : await toWorkingPng(bytes, ctx.limits);
      thumb = (await makeThumbnail(work, { size: ctx.thumbnailSize, limits: ctx.limits })).data;
    } catch (err) {
      if (err instanceof ImageError) throw err;
      const msg = (err as Error).message;
      if (/pixel limit/i.test(msg)) throw new ImageError('too-large', msg);
      // libvips' own text varies between runs (its error buffer is shared by threads) and is
      // long; a stable, plain reason serves the user better.
      throw new ImageError(
        'corrupt',
        `${info.format.toUpperCase()} does not decode: the file is damaged or truncated`,
      );
    }
    // Written only after a full decode succeeded; write errors (disk full) are not the image's
    // fault and fail the import instead of skipping the file.
    await writeAtomic(workingCopy, work);
    await writeAtomic(thumbnail, thumb);
  }
  const warnings: string[] = [];
  const cap = caption ? await readCaption(caption, warnings) : { caption: null, captionPath: null };
  const rep = repeatsFor(file.folder, ctx.rootName);
  return {
    path: file.path,
    relPath: file.relPath,
    folder: file.folder,
    sha256,
    format: info.format,
    bytes: bytes.length,
    width: info.width,
    height: info.height,
    hasAlpha: info.hasAlpha,
    ...cap,
    repeats: rep?.repeats ?? 1,
    className: rep?.className ?? null,
    workingCopy,
    thumbnail,
    warnings,
  };
}

/**
 * Import every image under `src` (recursively) into `workDir`. Bad files are skipped and listed
 * with their reason; the rest goes on. Cancelling (signal) stops after the files in flight and
 * rejects with the signal's reason; what was written is complete and reused by the next run.
 */
export async function importFolder(
  src: string,
  workDir: string,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const { signal, onProgress } = opts;
  signal?.throwIfAborted();
  const source = path.resolve(src);
  const work = path.resolve(workDir);
  const st = await stat(source).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`import source '${src}' is not a folder`);
  const concurrency = opts.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`import concurrency must be a positive integer, got ${concurrency}`);
  const captionExtensions = opts.captionExtensions ?? DEFAULT_CAPTION_EXTENSIONS;
  const ctx: Context = {
    imagesDir: path.join(work, 'images'),
    thumbsDir: path.join(work, 'thumbs'),
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    thumbnailSize: opts.thumbnailSize ?? 256,
    rootName: path.basename(source),
  };

  const scan = await scanFolder(source, { captionExtensions, exclude: [work], signal });
  const { byImage, orphans } = matchCaptions(scan.images, scan.captions, captionExtensions);
  const skipped: SkippedFile[] = [
    ...scan.others.map((f) => ({
      path: f.path,
      relPath: f.relPath,
      reason: 'unsupported' as const,
      message: `'${f.ext || '(no extension)'}' is not an image or caption type; images: png, jpg, jpeg, webp, gif, bmp, tif, tiff`,
    })),
    ...orphans.map((f) => ({
      path: f.path,
      relPath: f.relPath,
      reason: 'orphan-caption' as const,
      message: `caption file has no image named '${f.stem}' next to it`,
    })),
  ];
  await mkdir(ctx.imagesDir, { recursive: true });
  await mkdir(ctx.thumbsDir, { recursive: true });

  const total = scan.images.length;
  const images: ImportedImage[] = [];
  let loaded = 0;
  onProgress?.({ status: 'initiate', total, skipped: skipped.length });

  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < total && !signal?.aborted && !failed) {
      const file = scan.images[next++];
      try {
        images.push(await importOne(file, byImage.get(file.path), ctx));
      } catch (err) {
        if (!(err instanceof ImageError)) {
          failed = true; // stop the other workers too
          throw err;
        }
        skipped.push({
          path: file.path,
          relPath: file.relPath,
          reason: err.reason,
          message: err.message,
        });
      }
      loaded++;
      onProgress?.({
        status: 'progress',
        file: file.relPath,
        loaded,
        total,
        progress: (loaded / total) * 100,
        imported: images.length,
        skipped: skipped.length,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(total, 1)) }, worker));
  signal?.throwIfAborted();

  images.sort((a, b) => (a.relPath < b.relPath ? -1 : 1));
  skipped.sort((a, b) => (a.relPath < b.relPath ? -1 : 1));
  onProgress?.({
    status: 'done',
    loaded,
    total,
    progress: 100,
    imported: images.length,
    skipped: skipped.length,
  });
  return { source, workDir: work, images, skipped };
}
