// Dataset quality report: near-duplicates (pHash), too-small, blurry and aspect-outlier images,
// caption statistics, and one keep/exclude suggestion per image that has a finding. Pure: the
// caller passes image rows and gets plain data back; nothing is written.
import { aspectRange, makeBuckets, type Bucket } from './buckets.js';
import type { PipelineOptions } from './image-pipeline.js';
import {
  hammingDistance,
  hashWords,
  imageSignals,
  popcount32,
  type ImageSignals,
} from './perceptual-hash.js';
import { captionReport, type CaptionOptions, type CaptionReport } from './caption-stats.js';

export type ImageId = string | number;

export interface QualityImage<Id extends ImageId = ImageId> {
  id: Id;
  path: string;
  /** Upright size. */
  width: number;
  height: number;
  caption: string | null;
  /** Hashes and blur from an earlier run (imageSignals); the file is then not decoded again. */
  signals?: ImageSignals;
}

/**
 * pHash distance at or below which two images count as near-duplicates. Resized and re-encoded
 * copies land at 0–4 of 64 bits; unrelated images sit near 32 (the test measures both). 6 leaves
 * room for a light crop or colour change while staying far from chance agreement (for random
 * 64-bit hashes P(distance ≤ 6) ≈ 1e-11).
 */
export const DEFAULT_DUPLICATE_THRESHOLD = 6;
/**
 * An image is blurry when its Laplacian variance is below this fraction of the dataset median.
 * The variance is a squared measure, so 0.25 ≈ edges half as strong as a typical image's.
 */
export const DEFAULT_BLUR_RATIO = 0.25;
/** The median is only trusted for the relative blur test from this many readable images up. */
export const MIN_IMAGES_FOR_BLUR_MEDIAN = 4;

export interface QualityProgress {
  stage: 'analyze' | 'compare' | 'done';
  done: number;
  total: number;
}

export interface QualityOptions extends CaptionOptions {
  /** Training buckets: their smallest side and aspect range. Default makeBuckets({resolution: 512}). */
  buckets?: readonly Bucket[];
  /** Shorter side under this is "too small"; overrides the buckets' smallest side. */
  minSide?: number;
  /** Aspect range (width / height); overrides the buckets' range. */
  aspect?: { min: number; max: number };
  duplicateThreshold?: number;
  blurRatio?: number;
  /** Absolute blur floor, applied whatever the dataset size (default 0: off). */
  minBlur?: number;
  /** Images decoded at once (default 2). */
  concurrency?: number;
  pipeline?: PipelineOptions;
  onProgress?: (p: QualityProgress) => void;
  signal?: AbortSignal;
}

export interface DuplicateGroup<Id extends ImageId = ImageId> {
  keep: Id;
  drop: Id[];
  /** Largest pHash distance from keep to a dropped image. */
  distance: number;
  /** pHash distance from keep to each dropped image, in drop order. */
  distances: number[];
}

export type QualityAction = 'exclude' | 'keep';
export type QualityIssue =
  | 'duplicate'
  | 'duplicate-keep'
  | 'too-small'
  | 'blurry'
  | 'aspect-outlier'
  | 'unreadable'
  | 'empty-caption'
  | 'long-caption';

export interface QualitySuggestion<Id extends ImageId = ImageId> {
  id: Id;
  action: QualityAction;
  issues: QualityIssue[];
  /** One sentence per issue, same order. */
  reasons: string[];
}

export interface QualityReport<Id extends ImageId = ImageId> {
  duplicates: DuplicateGroup<Id>[];
  tooSmall: { id: Id; width: number; height: number; minSide: number }[];
  blurry: { id: Id; blur: number; threshold: number }[];
  aspectOutliers: { id: Id; aspect: number; min: number; max: number }[];
  unreadable: { id: Id; error: string }[];
  captions: CaptionReport<Id>;
  /** Per image, in input order, for the caller to store (hashes, blur). */
  signals: { id: Id; signals: ImageSignals }[];
  blurMedian: number | null;
  suggestions: QualitySuggestion<Id>[];
}

function checkNumber(v: number, what: string, ok: (v: number) => boolean, valid: string): number {
  if (!ok(v)) throw new Error(`quality ${what} must be ${valid}, got ${v}`);
  return v;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Union-find with path halving. */
function makeSets(n: number) {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  return { find, union: (a: number, b: number) => void (parent[find(a)] = find(b)) };
}

/**
 * Groups of images whose pHashes are within `threshold` (transitively: A~B and B~C group A, B, C).
 * All pairs are compared — 64-bit popcounts, ~5 M pairs/s per thousand² — fine for thousands.
 */
export function nearDuplicateGroups(
  hashes: readonly string[],
  threshold = DEFAULT_DUPLICATE_THRESHOLD,
  onRow?: (row: number) => void,
): number[][] {
  checkNumber(
    threshold,
    'duplicateThreshold',
    (t) => Number.isInteger(t) && t >= 0 && t <= 64,
    'an integer in 0..64',
  );
  const n = hashes.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  hashes.forEach((h, i) => ([hi[i], lo[i]] = hashWords(h)));
  const sets = makeSets(n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++)
      if (popcount32(hi[i] ^ hi[j]) + popcount32(lo[i] ^ lo[j]) <= threshold) sets.union(i, j);
    onRow?.(i);
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = sets.find(i);
    const g = groups.get(r);
    if (g) g.push(i);
    else groups.set(r, [i]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/**
 * Which member of a duplicate group to keep: the largest (pixel area); among those within 10 % of
 * the largest area, the sharpest; then input order. Returns the index into `members`.
 */
export function pickKeeper(members: readonly { area: number; blur: number }[]): number {
  const maxArea = Math.max(...members.map((m) => m.area));
  let best = -1;
  members.forEach((m, i) => {
    if (m.area < 0.9 * maxArea) return;
    if (best < 0 || m.blur > members[best].blur) best = i;
  });
  return best;
}

async function analyzeAll<Id extends ImageId>(
  images: readonly QualityImage<Id>[],
  opts: QualityOptions,
  concurrency: number,
): Promise<(ImageSignals | Error)[]> {
  const { signal, onProgress } = opts;
  const out: (ImageSignals | Error)[] = new Array(images.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < images.length && !signal?.aborted) {
      const i = next++;
      const img = images[i];
      out[i] =
        img.signals ??
        (await imageSignals(img.path, opts.pipeline).catch((e: unknown) =>
          e instanceof Error ? e : new Error(String(e)),
        ));
      onProgress?.({ stage: 'analyze', done: ++done, total: images.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, images.length) }, worker));
  signal?.throwIfAborted();
  return out;
}

/**
 * Analyse a dataset: every image is decoded once (unless `signals` are given) into a grey ≤512 px
 * copy for the hashes and the blur score. Cancelling (signal) stops after the images in flight and
 * rejects with the signal's reason.
 */
export async function qualityReport<Id extends ImageId>(
  images: readonly QualityImage<Id>[],
  opts: QualityOptions = {},
): Promise<QualityReport<Id>> {
  const { signal, onProgress } = opts;
  signal?.throwIfAborted();
  const ids = new Set<Id>();
  for (const img of images) {
    if (ids.has(img.id)) throw new Error(`quality report: duplicate image id '${img.id}'`);
    ids.add(img.id);
  }
  const concurrency = checkNumber(
    opts.concurrency ?? 2,
    'concurrency',
    (c) => Number.isInteger(c) && c >= 1,
    'a positive integer',
  );
  const threshold = checkNumber(
    opts.duplicateThreshold ?? DEFAULT_DUPLICATE_THRESHOLD,
    'duplicateThreshold',
    (t) => Number.isInteger(t) && t >= 0 && t <= 64,
    'an integer in 0..64',
  );
  const blurRatio = checkNumber(
    opts.blurRatio ?? DEFAULT_BLUR_RATIO,
    'blurRatio',
    (r) => r >= 0 && r <= 1,
    'in 0..1',
  );
  const minBlur = checkNumber(opts.minBlur ?? 0, 'minBlur', (b) => b >= 0, '≥ 0');
  const buckets = opts.buckets ?? makeBuckets({ resolution: 512 });
  const minSide = checkNumber(
    opts.minSide ?? Math.min(...buckets.map((b) => Math.min(b.width, b.height))),
    'minSide',
    (s) => s >= 0 && Number.isFinite(s),
    'a finite number ≥ 0',
  );
  const aspect = opts.aspect ?? aspectRange(buckets);
  if (!(aspect.min > 0 && aspect.min <= aspect.max))
    throw new Error(
      `quality aspect range must have 0 < min ≤ max, got ${aspect.min}..${aspect.max}`,
    );
  const captions = captionReport(images, opts); // validates caption options before any decoding

  const analyzed = await analyzeAll(images, opts, concurrency);
  const report: QualityReport<Id> = {
    duplicates: [],
    tooSmall: [],
    blurry: [],
    aspectOutliers: [],
    unreadable: [],
    captions,
    signals: [],
    blurMedian: null,
    suggestions: [],
  };
  const notes = new Map<Id, { issues: QualityIssue[]; reasons: string[] }>();
  const note = (id: Id, issue: QualityIssue, reason: string) => {
    const n = notes.get(id) ?? { issues: [], reasons: [] };
    n.issues.push(issue);
    n.reasons.push(reason);
    notes.set(id, n);
  };

  const readable: number[] = [];
  analyzed.forEach((s, i) => {
    const { id } = images[i];
    if (s instanceof Error) {
      report.unreadable.push({ id, error: s.message });
      note(id, 'unreadable', `could not be decoded: ${s.message}`);
    } else {
      readable.push(i);
      report.signals.push({ id, signals: s });
    }
  });
  const sig = (i: number) => analyzed[i] as ImageSignals;

  // 1. near-duplicates
  const groups = nearDuplicateGroups(
    readable.map((i) => sig(i).pHash),
    threshold,
    (row) => {
      if (row % 256 === 0) {
        signal?.throwIfAborted();
        onProgress?.({ stage: 'compare', done: row, total: readable.length });
      }
    },
  );
  for (const g of groups) {
    const members = g.map((k) => readable[k]);
    const k = pickKeeper(
      members.map((i) => ({ area: images[i].width * images[i].height, blur: sig(i).blur })),
    );
    const keep = members[k];
    const drops = members.filter((_, j) => j !== k);
    const distances = drops.map((i) => hammingDistance(sig(keep).pHash, sig(i).pHash));
    report.duplicates.push({
      keep: images[keep].id,
      drop: drops.map((i) => images[i].id),
      distance: Math.max(...distances),
      distances,
    });
    note(
      images[keep].id,
      'duplicate-keep',
      `best of ${members.length} near-duplicates (largest, then sharpest)`,
    );
    drops.forEach((i, j) =>
      note(
        images[i].id,
        'duplicate',
        `near-duplicate of ${images[keep].id} (pHash distance ${distances[j]})`,
      ),
    );
  }

  // 2. size and aspect, from the rows (no decoding needed)
  for (const img of images) {
    const short = Math.min(img.width, img.height);
    if (short < minSide) {
      report.tooSmall.push({ id: img.id, width: img.width, height: img.height, minSide });
      note(img.id, 'too-small', `shorter side ${short} px is below ${minSide} px`);
    }
    const ar = img.width / img.height;
    if (ar < aspect.min - 1e-9 || ar > aspect.max + 1e-9) {
      report.aspectOutliers.push({ id: img.id, aspect: ar, min: aspect.min, max: aspect.max });
      note(
        img.id,
        'aspect-outlier',
        `aspect ${ar.toFixed(3)} is outside the buckets' ${aspect.min.toFixed(3)}..${aspect.max.toFixed(3)}`,
      );
    }
  }

  // 3. blur, relative to the dataset median
  const blurs = readable.map((i) => sig(i).blur);
  if (blurs.length) report.blurMedian = median(blurs);
  const relative =
    blurs.length >= MIN_IMAGES_FOR_BLUR_MEDIAN ? blurRatio * (report.blurMedian ?? 0) : 0;
  const blurThreshold = Math.max(relative, minBlur);
  for (const i of readable)
    if (sig(i).blur < blurThreshold) {
      report.blurry.push({ id: images[i].id, blur: sig(i).blur, threshold: blurThreshold });
      note(
        images[i].id,
        'blurry',
        `sharpness ${sig(i).blur.toFixed(1)} is below ${blurThreshold.toFixed(1)}`,
      );
    }

  // 4. captions: reported, never a reason to exclude on their own
  for (const id of captions.empty) note(id, 'empty-caption', 'caption is empty');
  for (const { id, tokens } of captions.overLimit)
    note(
      id,
      'long-caption',
      `caption has ${tokens} tokens; the text encoder reads ${captions.stats.tokenLimit} per chunk`,
    );

  const excluding = new Set<QualityIssue>([
    'duplicate',
    'too-small',
    'blurry',
    'aspect-outlier',
    'unreadable',
  ]);
  for (const img of images) {
    const n = notes.get(img.id);
    if (n)
      report.suggestions.push({
        id: img.id,
        action: n.issues.some((i) => excluding.has(i)) ? 'exclude' : 'keep',
        ...n,
      });
  }
  onProgress?.({ stage: 'done', done: images.length, total: images.length });
  return report;
}
