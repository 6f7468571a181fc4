import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  importFolder,
  parseRepeatFolder,
  type ImportProgress,
  type ImportResult,
} from '../../core/dataset/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { encodeBmp, fingerprint, photoJpeg, pngBomb, solidPng } from './helpers.js';

let root: string;
let src: string;

function put(rel: string, data: Buffer | string) {
  const p = path.join(src, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  root = makeTempDir('lora-studio-import-');
  src = path.join(root, 'my dataset');
  const jpeg = await photoJpeg(120, 80, 1);
  put('10_sks dog/a.png', await solidPng(64, 48, '#c84'));
  put('10_sks dog/a.txt', 'sks dog, sitting, grass\n');
  // Stored 120×80 with EXIF orientation 6: displayed 80×120.
  put('10_sks dog/b.jpg', await sharp(jpeg).withMetadata({ orientation: 6 }).toBuffer());
  put('10_sks dog/b.txt', '\uFEFFsks dog,\r\nrunning\r\n');
  put('10_sks dog/nested/c.webp', await sharp(jpeg).webp().toBuffer());
  put(
    '2_cat/d.bmp',
    encodeBmp({ width: 30, height: 20, bpp: 24, pixel: (x, y) => [x * 8, y * 12, 90, 255] }),
  );
  put('2_cat/d.caption', 'a cat');
  const frame = (c: string) =>
    sharp({ create: { width: 24, height: 16, channels: 3, background: c } })
      .png()
      .toBuffer();
  put(
    'e.gif',
    await sharp([await frame('#f00'), await frame('#00f')], { join: { animated: true } })
      .gif()
      .toBuffer(),
  );
  put('plain/f.png', await solidPng(40, 40));
  put('plain/f-copy.png', await solidPng(40, 40)); // same bytes as f.png
  put('bad/empty.png', Buffer.alloc(0));
  put('bad/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  put('bad/bomb.png', pngBomb(100_000, 100_000));
  put('bad/notimage.png', 'this is not a png\n');
  put(
    'bad/rle.bmp',
    encodeBmp({
      width: 4,
      height: 4,
      bpp: 8,
      compression: 1,
      palette: [[0, 0, 0]],
      pixel: () => [0, 0, 0, 0],
    }),
  );
  put('bad/layers.psd', '8BPS....');
  put('orphan.txt', 'caption without an image');
  put('.hidden/x.png', await solidPng(8, 8));
});

afterAll(() => removeDir(root));

describe('parseRepeatFolder', () => {
  it('reads kohya N_name folders', () => {
    expect(parseRepeatFolder('10_sks dog')).toEqual({ repeats: 10, className: 'sks dog' });
    expect(parseRepeatFolder('3_my_style')).toEqual({ repeats: 3, className: 'my_style' });
    expect(parseRepeatFolder('0_x')).toBeUndefined();
    expect(parseRepeatFolder('dog_10')).toBeUndefined();
    expect(parseRepeatFolder('10_')).toBeUndefined();
  });
});

describe('importFolder', () => {
  let result: ImportResult;
  let events: ImportProgress[];
  let work: string;
  let before: Map<string, string>;

  beforeAll(async () => {
    work = path.join(root, 'work');
    before = fingerprint(src);
    events = [];
    result = await importFolder(src, work, { onProgress: (e) => events.push(e) });
  });

  it('imports every good image with size, hash, caption, repeats and class', () => {
    const byRel = new Map(result.images.map((i) => [i.relPath, i]));
    expect([...byRel.keys()]).toEqual([
      '10_sks dog/a.png',
      '10_sks dog/b.jpg',
      '10_sks dog/nested/c.webp',
      '2_cat/d.bmp',
      'e.gif',
      'plain/f-copy.png',
      'plain/f.png',
    ]);
    expect(byRel.get('10_sks dog/a.png')).toMatchObject({
      format: 'png',
      width: 64,
      height: 48,
      caption: 'sks dog, sitting, grass',
      repeats: 10,
      className: 'sks dog',
      folder: '10_sks dog',
    });
    expect(byRel.get('10_sks dog/b.jpg')).toMatchObject({
      width: 80,
      height: 120,
      caption: 'sks dog,\nrunning',
    });
    expect(byRel.get('10_sks dog/nested/c.webp')).toMatchObject({
      repeats: 10,
      className: 'sks dog',
      caption: null,
      captionPath: null,
    });
    expect(byRel.get('2_cat/d.bmp')).toMatchObject({
      width: 30,
      height: 20,
      caption: 'a cat',
      repeats: 2,
    });
    expect(byRel.get('e.gif')).toMatchObject({
      width: 24,
      height: 16,
      repeats: 1,
      className: null,
    });
    for (const img of result.images) {
      expect(img.sha256).toBe(sha(readFileSync(img.path)));
      expect(img.bytes).toBe(statSync(img.path).size);
      expect(img.warnings).toEqual([]);
    }
  });

  it('keeps PNG/JPEG/WebP bytes and converts BMP/GIF to PNG, content-addressed', async () => {
    for (const img of result.images) {
      expect(path.dirname(img.workingCopy)).toBe(path.join(work, 'images'));
      expect(path.basename(img.workingCopy)).toMatch(new RegExp(`^${img.sha256}\\.`));
      const meta = await sharp(img.workingCopy).metadata();
      expect(meta.format).toBe(img.format === 'jpeg' || img.format === 'webp' ? img.format : 'png');
      if (['png', 'jpeg', 'webp'].includes(img.format))
        expect(sha(readFileSync(img.workingCopy))).toBe(img.sha256);
      const thumb = await sharp(img.thumbnail).metadata();
      expect(thumb.format).toBe('webp');
      // Thumbnails are upright: same orientation as the reported size.
      expect(Math.sign(thumb.width! - thumb.height!)).toBe(Math.sign(img.width - img.height));
    }
    const f = result.images.find((i) => i.relPath === 'plain/f.png')!;
    const copy = result.images.find((i) => i.relPath === 'plain/f-copy.png')!;
    expect(copy.workingCopy).toBe(f.workingCopy);
    expect(readdirSync(path.join(work, 'images'))).toHaveLength(6);
  });

  it('skips bad files, each with its reason, and imports the rest', () => {
    const reasons = Object.fromEntries(result.skipped.map((s) => [s.relPath, s.reason]));
    expect(reasons).toEqual({
      'bad/empty.png': 'empty',
      'bad/truncated.jpg': 'corrupt',
      'bad/bomb.png': 'too-large',
      'bad/notimage.png': 'corrupt',
      'bad/rle.bmp': 'unsupported',
      'bad/layers.psd': 'unsupported',
      'orphan.txt': 'orphan-caption',
    });
    const msg = Object.fromEntries(result.skipped.map((s) => [s.relPath, s.message]));
    expect(msg['bad/bomb.png']).toMatch(
      /100000×100000 = 10,000,000,000 px, over the 178,956,970 px limit/,
    );
    expect(msg['bad/rle.bmp']).toMatch(/BI_RLE8 is not supported/);
    expect(msg['bad/notimage.png']).toMatch(/not PNG, JPEG, WebP, GIF, BMP or TIFF/);
    expect(msg['bad/truncated.jpg']).toMatch(
      /^JPEG does not decode: the file is damaged or truncated$/,
    );
  });

  it('never modifies the source folder', () => {
    expect(fingerprint(src)).toEqual(before);
  });

  it('reports monotonic progress ending at 100 %', () => {
    expect(events[0]).toEqual({ status: 'initiate', total: 12, skipped: 2 });
    const last = events.at(-1)!;
    expect(last).toEqual({
      status: 'done',
      loaded: 12,
      total: 12,
      progress: 100,
      imported: 7,
      skipped: 7,
    });
    let loaded = 0;
    for (const e of events.slice(1, -1)) {
      if (e.status !== 'progress') throw new Error(`unexpected ${e.status} event in the middle`);
      expect(e.loaded).toBeGreaterThanOrEqual(loaded);
      loaded = e.loaded;
    }
    expect(events.filter((e) => e.status === 'progress')).toHaveLength(12);
  });

  it('resumes: a second run reuses the working copies and gives the same result', async () => {
    const mtimes = readdirSync(path.join(work, 'thumbs')).map(
      (f) => statSync(path.join(work, 'thumbs', f)).mtimeMs,
    );
    const again = await importFolder(src, work);
    expect(again.images).toEqual(result.images);
    expect(again.skipped).toEqual(result.skipped);
    expect(
      readdirSync(path.join(work, 'thumbs')).map(
        (f) => statSync(path.join(work, 'thumbs', f)).mtimeMs,
      ),
    ).toEqual(mtimes);
  });

  it('cancels promptly, leaves only complete files, and a rerun finishes the job', async () => {
    const work2 = path.join(root, 'work-cancel');
    const ctl = new AbortController();
    let seen = 0;
    const run = importFolder(src, work2, {
      signal: ctl.signal,
      concurrency: 1,
      onProgress: (e) => {
        if (e.status === 'progress' && ++seen === 2) ctl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toBe(2); // nothing processed after the abort
    const files = readdirSync(path.join(work2, 'images'));
    expect(files.length).toBeGreaterThan(0);
    expect(files.length).toBeLessThan(6);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const done = await importFolder(src, work2);
    expect(done.images.map((i) => i.sha256)).toEqual(result.images.map((i) => i.sha256));
    expect(readdirSync(path.join(work2, 'images'))).toHaveLength(6);
  });

  it('does not import its own work dir when it sits inside the source', async () => {
    const inner = path.join(src, 'plain', 'work-inside');
    const r = await importFolder(path.join(src, 'plain'), inner);
    expect(r.images.map((i) => i.relPath)).toEqual(['f-copy.png', 'f.png']);
    expect(existsSync(path.join(inner, 'thumbs'))).toBe(true);
    removeDir(inner);
  });

  it('refuses a source that is not a folder, and an aborted signal up front', async () => {
    await expect(importFolder(path.join(src, 'e.gif'), work)).rejects.toThrow(/is not a folder/);
    await expect(importFolder(src, work, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});
