// The training view of a kohya-style dataset folder: images with their captions, repeats and
// aspect buckets, and per epoch a seeded order of batches (each batch within one bucket). Every
// random choice derives from (seed, purpose, index), never from a stream's position, so a resumed
// run makes exactly the choices the uninterrupted run would have made.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import {
  assignBucket,
  makeBuckets,
  matchCaptions,
  probeImage,
  repeatsFor,
  scanFolder,
  type Bucket,
} from '../../dataset/index.js';
import { seededUniform } from '../lora-params.js';
import type { RunConfig } from './config.js';

export interface TrainImage {
  readonly path: string;
  /** Folder relative to the dataset root ('' for the root). */
  readonly folder: string;
  readonly caption: string;
  /** sha256 of the file's bytes (the latent cache key). */
  readonly sha256: string;
  readonly repeats: number;
  readonly width: number;
  readonly height: number;
  readonly bucket: Bucket;
}

export interface TrainDataset {
  readonly root: string;
  readonly images: readonly TrainImage[];
  readonly buckets: readonly Bucket[];
}

/** A 32-bit seed for one purpose and index, mixed from the run seed (splitmix-style). */
export function deriveSeed(seed: number, purpose: number, index: number): number {
  let h = (seed ^ Math.imul(purpose + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (index >>> 0), 0x85ebca6b) >>> 0;
  h ^= Math.floor(index / 2 ** 32);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export const SEED_PURPOSE = Object.freeze({
  epochOrder: 1,
  noise: 2,
  step: 3,
});

/** Fisher–Yates with a seeded uniform source. */
export function shuffleInPlace<T>(items: T[], next: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Scan a kohya-style folder: images need a caption file or get an empty caption. */
export async function loadTrainDataset(c: RunConfig): Promise<TrainDataset> {
  const root = resolve(c.train_data_dir);
  const scan = await scanFolder(root, { captionExtensions: [c.caption_extension] });
  if (!scan.images.length) throw new Error(`train_data_dir ${root} holds no images`);
  const { byImage } = matchCaptions(scan.images, scan.captions, [c.caption_extension]);
  const buckets = c.enable_bucket
    ? makeBuckets({
        resolution: c.resolution,
        minSide: c.min_bucket_reso,
        maxSide: c.max_bucket_reso,
        step: c.bucket_reso_steps,
      })
    : [{ width: c.resolution, height: c.resolution }];
  const images: TrainImage[] = [];
  for (const f of scan.images) {
    const bytes = await readFile(f.path);
    const info = await probeImage(bytes);
    const cap = byImage.get(f.path);
    const caption = cap ? (await readFile(cap.path, 'utf8')).trim() : '';
    // Images outside an `N_name` folder count once (kohya requires the folder; we are lenient).
    const repeats = repeatsFor(f.folder, basename(root))?.repeats ?? 1;
    images.push({
      path: f.path,
      folder: f.folder,
      caption,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      repeats,
      width: info.width,
      height: info.height,
      bucket: assignBucket(info.width, info.height, buckets),
    });
  }
  const used = buckets.filter((b) => images.some((i) => i.bucket === b));
  return { root, images, buckets: used };
}

/** One batch: image indices into TrainDataset.images, all in the same bucket. */
export interface PlannedBatch {
  readonly bucket: Bucket;
  readonly items: readonly number[];
}

/**
 * An epoch's batches (kohya's BucketManager): every image `repeats` times, shuffled within its
 * bucket, cut into batches (a bucket's last batch may be smaller), then the batches shuffled.
 */
export function planEpoch(ds: TrainDataset, batchSize: number, seed: number, epoch: number) {
  const next = seededUniform(deriveSeed(seed, SEED_PURPOSE.epochOrder, epoch));
  const batches: PlannedBatch[] = [];
  for (const bucket of ds.buckets) {
    const items: number[] = [];
    ds.images.forEach((img, i) => {
      if (img.bucket === bucket) for (let r = 0; r < img.repeats; r++) items.push(i);
    });
    shuffleInPlace(items, next);
    for (let i = 0; i < items.length; i += batchSize)
      batches.push({ bucket, items: items.slice(i, i + batchSize) });
  }
  return shuffleInPlace(batches, next);
}

/** Batches per epoch (the same for every epoch: only the order changes). */
export function batchesPerEpoch(ds: TrainDataset, batchSize: number): number {
  let n = 0;
  for (const b of ds.buckets) {
    const count = ds.images.filter((i) => i.bucket === b).reduce((s, i) => s + i.repeats, 0);
    n += Math.ceil(count / batchSize);
  }
  return n;
}

/** True when a caption changes from step to step (then text embeddings cannot be cached). */
export function captionsAreDynamic(c: RunConfig): boolean {
  return c.shuffle_caption || c.caption_dropout_rate > 0 || c.caption_tag_dropout_rate > 0;
}

/**
 * kohya's caption processing: whole-caption dropout first; else the comma-separated tags after
 * the first `keep_tokens` are tag-dropped and/or shuffled.
 */
export function processCaption(caption: string, c: RunConfig, next: () => number): string {
  if (c.caption_dropout_rate > 0 && next() < c.caption_dropout_rate) return '';
  if (!c.shuffle_caption && c.caption_tag_dropout_rate === 0) return caption;
  const tags = caption
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  const keep = tags.slice(0, c.keep_tokens);
  let rest = tags.slice(c.keep_tokens);
  if (c.caption_tag_dropout_rate > 0)
    rest = rest.filter(() => next() >= c.caption_tag_dropout_rate);
  if (c.shuffle_caption) shuffleInPlace(rest, next);
  return [...keep, ...rest].join(', ');
}

/** Per folder: tag → count (ss_tag_frequency), tags being a caption's comma-separated parts. */
export function tagFrequency(ds: TrainDataset): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const img of ds.images) {
    const f = (out[img.folder || basename(ds.root)] ??= {});
    for (const t of img.caption.split(',')) {
      const tag = t.trim();
      if (tag) f[tag] = (f[tag] ?? 0) + 1;
    }
  }
  return out;
}

/** Per folder: repeats and image count (ss_dataset_dirs). */
export function datasetDirs(
  ds: TrainDataset,
): Record<string, { n_repeats: number; img_count: number }> {
  const out: Record<string, { n_repeats: number; img_count: number }> = {};
  for (const img of ds.images) {
    const d = (out[img.folder || basename(ds.root)] ??= { n_repeats: img.repeats, img_count: 0 });
    d.img_count++;
  }
  return out;
}

/** ss_bucket_info: the buckets used and how many images (with repeats) each holds. */
export function bucketInfo(ds: TrainDataset): unknown {
  const buckets: Record<string, { resolution: [number, number]; count: number }> = {};
  ds.buckets.forEach((b, i) => {
    const count = ds.images.filter((x) => x.bucket === b).reduce((s, x) => s + x.repeats, 0);
    buckets[String(i)] = { resolution: [b.width, b.height], count };
  });
  let err = 0;
  for (const x of ds.images) err += Math.abs(x.width / x.height - x.bucket.width / x.bucket.height);
  return { buckets, mean_img_ar_error: err / ds.images.length };
}
