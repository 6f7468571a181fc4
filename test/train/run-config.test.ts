// Run config defaults and errors; the epoch plan, caption ops and seeds of a training dataset.
import { describe, expect, it } from 'vitest';
import type { Bucket } from '../../core/dataset/index.js';
import {
  batchesPerEpoch,
  computeDTypeOf,
  deriveSeed,
  parseRunConfig,
  planEpoch,
  processCaption,
  seededUniform,
  TrainCache,
  type TrainDataset,
  type TrainImage,
} from '../../core/train/index.js';

const base = { pretrained_model_name_or_path: 'm.safetensors', train_data_dir: 'data' };

describe('run config', () => {
  it('fills kohya SD1.5 defaults', () => {
    const c = parseRunConfig(base);
    expect(c).toMatchObject({
      network_dim: 32,
      network_alpha: 16,
      learning_rate: 1e-4,
      lr_scheduler: 'constant',
      resolution: 512,
      train_batch_size: 1,
      max_train_epochs: 10,
      save_every_n_epochs: 1,
      mixed_precision: 'auto',
      noise_offset: 0,
      clip_skip: 1,
      shuffle_caption: false,
      keep_tokens: 0,
      caption_dropout_rate: 0,
      flip_aug: false,
    });
    expect(c.max_train_steps).toBeUndefined();
    expect(computeDTypeOf(c)).toBe('float32');
    expect(computeDTypeOf({ ...c, ep: 'cuda' })).toBe('float16');
  });

  it('names the bad field, its value and the valid ones', () => {
    expect(() => parseRunConfig({ ...base, lr_scheduler: 'cosine_restarts' })).toThrow(
      /lr_scheduler: .*constant.*cosine_with_restarts.*got "cosine_restarts"/s,
    );
    expect(() => parseRunConfig({ ...base, resolution: 500 })).toThrow(
      /resolution: must be a multiple of 64, got 500/,
    );
    expect(() => parseRunConfig({ ...base, network_dimm: 8 })).toThrow(/network_dimm/);
    expect(() => parseRunConfig({ train_data_dir: 'x' })).toThrow(/pretrained_model_name_or_path/);
    expect(() => parseRunConfig({ ...base, min_bucket_reso: 512, max_bucket_reso: 256 })).toThrow(
      /min_bucket_reso \(512\) must not exceed max_bucket_reso \(256\)/,
    );
  });
});

function dataset(): TrainDataset {
  const sq: Bucket = { width: 64, height: 64 };
  const wide: Bucket = { width: 128, height: 64 };
  const img = (i: number, bucket: Bucket, repeats: number): TrainImage => ({
    path: `/d/${i}.png`,
    folder: `${repeats}_x`,
    caption: `c${i}`,
    sha256: String(i),
    repeats,
    width: bucket.width,
    height: bucket.height,
    bucket,
  });
  return {
    root: '/d',
    images: [img(0, sq, 3), img(1, sq, 3), img(2, wide, 2), img(3, wide, 1)],
    buckets: [sq, wide],
  };
}

describe('epoch plan', () => {
  it('repeats each image, batches within a bucket, and is a seeded permutation', () => {
    const ds = dataset();
    const plan = planEpoch(ds, 2, 5, 0);
    expect(plan).toHaveLength(batchesPerEpoch(ds, 2));
    expect(plan).toHaveLength(5); // square: 6 → 3 batches; wide: 3 → 2 batches
    for (const b of plan) for (const i of b.items) expect(ds.images[i].bucket).toBe(b.bucket);
    const counts = [0, 0, 0, 0];
    for (const b of plan) for (const i of b.items) counts[i]++;
    expect(counts).toEqual([3, 3, 2, 1]);
    expect(planEpoch(ds, 2, 5, 0)).toEqual(plan);
    const orders = new Set([0, 1, 2, 3, 4].map((e) => JSON.stringify(planEpoch(ds, 2, 5, e))));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('derives distinct seeds per purpose and index', () => {
    const seeds = new Set<number>();
    for (let p = 1; p <= 3; p++) for (let i = 0; i < 100; i++) seeds.add(deriveSeed(42, p, i));
    expect(seeds.size).toBe(300);
    expect(deriveSeed(42, 1, 7)).toBe(deriveSeed(42, 1, 7));
  });
});

describe('caption ops', () => {
  const cfg = parseRunConfig(base);
  const caption = 'sks person, red hat, smiling, outdoors, night';

  it('leaves the caption alone by default', () => {
    expect(processCaption(caption, cfg, seededUniform(1))).toBe(caption);
  });

  it('shuffles tags after keep_tokens, keeping every tag', () => {
    const c = { ...cfg, shuffle_caption: true, keep_tokens: 1 };
    const outs = new Set<string>();
    for (let s = 0; s < 20; s++) {
      const out = processCaption(caption, c, seededUniform(s));
      expect(out.startsWith('sks person, ')).toBe(true);
      expect(out.split(', ').sort()).toEqual(caption.split(', ').sort());
      outs.add(out);
    }
    expect(outs.size).toBeGreaterThan(3);
  });

  it('drops whole captions and single tags at the given rates', () => {
    let empty = 0;
    let tags = 0;
    for (let s = 0; s < 400; s++) {
      if (processCaption(caption, { ...cfg, caption_dropout_rate: 0.25 }, seededUniform(s)) === '')
        empty++;
      tags +=
        processCaption(
          caption,
          { ...cfg, caption_tag_dropout_rate: 0.5, keep_tokens: 1 },
          seededUniform(s),
        ).split(', ').length - 1;
    }
    expect(empty / 400).toBeGreaterThan(0.18);
    expect(empty / 400).toBeLessThan(0.32);
    expect(tags / 400).toBeGreaterThan(1.6); // 4 droppable tags at 0.5 → 2 on average
    expect(tags / 400).toBeLessThan(2.4);
  });
});

describe('cache keys', () => {
  it('change with everything the cached value depends on', () => {
    const k = { imageSha256: 'a', vaeIdentity: 'v', width: 64, height: 64, flip: false };
    const keys = new Set([
      TrainCache.latentKey(k),
      TrainCache.latentKey({ ...k, imageSha256: 'b' }),
      TrainCache.latentKey({ ...k, vaeIdentity: 'w' }),
      TrainCache.latentKey({ ...k, width: 128 }),
      TrainCache.latentKey({ ...k, flip: true }),
      TrainCache.textKey({ caption: 'x', teIdentity: 't', clipSkip: 1 }),
      TrainCache.textKey({ caption: 'x', teIdentity: 't', clipSkip: 2 }),
      TrainCache.textKey({ caption: 'y', teIdentity: 't', clipSkip: 1 }),
    ]);
    expect(keys.size).toBe(8);
  });
});
