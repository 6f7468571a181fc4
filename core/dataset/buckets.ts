// Aspect-ratio buckets as kohya-ss sd-scripts makes them (`make_bucket_resolutions` and
// BucketManager.select_bucket), so a dataset bucketed here trains like it does there:
//   - the square bucket: floor(sqrt(maxArea) / step) * step;
//   - for width = minSide, minSide + step, …, ≤ maxSide:
//       height = min(maxSide, floor(floor(maxArea / width) / step) * step),
//       kept (with its transpose) when height ≥ minSide;
//   - sorted by (width, height); an image goes to the bucket whose width/height ratio is closest
//     to its own (first in that order on a tie), or to its exact size if that is a bucket.

export interface Bucket {
  width: number;
  height: number;
}

export interface BucketOptions {
  /** Base resolution: a side (512 → 512×512) or [width, height]; sets the max area. */
  resolution: number | readonly [number, number];
  /** Smallest side of a bucket (kohya `min_bucket_reso`, default 256). */
  minSide?: number;
  /** Largest side of a bucket (kohya `max_bucket_reso`, default 1024). */
  maxSide?: number;
  /** Sides are multiples of this (kohya `bucket_reso_steps`, default 64). */
  step?: number;
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`bucket ${what} must be a positive integer, got ${v}`);
  return v;
}

export function makeBuckets(opts: BucketOptions): Bucket[] {
  const [resW, resH] =
    typeof opts.resolution === 'number' ? [opts.resolution, opts.resolution] : opts.resolution;
  positiveInt(resW, 'resolution width');
  positiveInt(resH, 'resolution height');
  const minSide = positiveInt(opts.minSide ?? 256, 'minSide');
  const maxSide = positiveInt(opts.maxSide ?? 1024, 'maxSide');
  const step = positiveInt(opts.step ?? 64, 'step');
  if (minSide > maxSide) throw new Error(`bucket minSide ${minSide} is above maxSide ${maxSide}`);
  // kohya asserts the same: a base resolution beyond maxSide would produce a square over the limit.
  if (Math.max(resW, resH) > maxSide)
    throw new Error(`bucket maxSide ${maxSide} must be at least the resolution ${resW}×${resH}`);
  const maxArea = resW * resH;
  const seen = new Set<string>();
  const out: Bucket[] = [];
  const add = (width: number, height: number) => {
    const key = `${width}x${height}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ width, height });
    }
  };
  const square = Math.floor(Math.sqrt(maxArea) / step) * step;
  if (square > 0) add(square, square);
  for (let width = minSide; width <= maxSide; width += step) {
    const height = Math.min(maxSide, Math.floor(Math.floor(maxArea / width) / step) * step);
    if (height >= minSide) {
      add(width, height);
      add(height, width);
    }
  }
  return out.sort((a, b) => a.width - b.width || a.height - b.height);
}

/** The bucket for an image of this (upright) size. */
export function assignBucket(width: number, height: number, buckets: readonly Bucket[]): Bucket {
  if (!buckets.length) throw new Error('assignBucket: the bucket list is empty');
  if (!(width > 0 && height > 0)) throw new Error(`assignBucket: invalid size ${width}×${height}`);
  const exact = buckets.find((b) => b.width === width && b.height === height);
  if (exact) return exact;
  const ar = width / height;
  let best = buckets[0];
  let bestErr = Infinity;
  for (const b of buckets) {
    const err = Math.abs(b.width / b.height - ar);
    if (err < bestErr) {
      best = b;
      bestErr = err;
    }
  }
  return best;
}

export interface CropPlan {
  /** Size after the cover resize, before the crop. */
  resizedWidth: number;
  resizedHeight: number;
  /** Center-crop offsets in the resized image. */
  left: number;
  top: number;
}

/**
 * Cover resize (the short side relative to the bucket fills it) then a center crop, as kohya's
 * trim_and_resize_if_required does for training.
 */
export function planCoverCrop(width: number, height: number, bucket: Bucket): CropPlan {
  const scale = Math.max(bucket.width / width, bucket.height / height);
  const resizedWidth = Math.max(bucket.width, Math.round(width * scale));
  const resizedHeight = Math.max(bucket.height, Math.round(height * scale));
  return {
    resizedWidth,
    resizedHeight,
    left: Math.floor((resizedWidth - bucket.width) / 2),
    top: Math.floor((resizedHeight - bucket.height) / 2),
  };
}

/** Image side ratio beyond what any bucket holds (the UI flags these as aspect outliers). */
export function aspectRange(buckets: readonly Bucket[]): { min: number; max: number } {
  const ratios = buckets.map((b) => b.width / b.height);
  return { min: Math.min(...ratios), max: Math.max(...ratios) };
}
