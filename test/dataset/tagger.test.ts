// WD14-style tagging: the selected_tags.csv parser, the decision rules on planted
// probabilities, and a tiny random-weight model with the real signature end to end.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decideTags,
  displayTag,
  parseTagsCsv,
  taggerInput,
  WdTagger,
} from '../../core/dataset/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { TINY_TAGS_CSV, writeTinyTagger } from './caption-models.js';
import { photoJpeg } from './helpers.js';

const labels = parseTagsCsv(TINY_TAGS_CSV);
// Order: general, sensitive, questionable, explicit, 1girl, solo, long_hair, ^_^,
// open_mouth, hatsune_miku, blue_eyes
const planted = [0.7, 0.2, 0.05, 0.01, 0.98, 0.9, 0.36, 0.5, 0.34, 0.86, 0.6];

describe('parseTagsCsv', () => {
  it('reads names, categories and kinds in output order (quoted names too)', () => {
    expect(labels).toHaveLength(11);
    expect(labels[0]).toEqual({ name: 'general', category: 9, kind: 'rating' });
    expect(labels[4]).toEqual({ name: '1girl', category: 0, kind: 'general' });
    expect(parseTagsCsv('tag_id,name,category,count\n1,"a ""b"", c",0,5')[0].name).toBe('a "b", c');
    expect(labels[9].kind).toBe('character');
  });

  it('names the missing column and the bad line', () => {
    expect(() => parseTagsCsv('tag_id,label,count\n1,a,2')).toThrow(/missing column\(s\) name/);
    expect(() => parseTagsCsv('tag_id,name,category,count\n1,a,x,3')).toThrow(/line 2/);
  });
});

describe('decideTags', () => {
  it('applies the default thresholds (0.35 general, 0.85 character), most confident first', () => {
    const d = decideTags(labels, planted);
    // An optional field given as undefined means its default too.
    expect(
      decideTags(labels, planted, { maxTags: undefined, generalThreshold: undefined }),
    ).toEqual(d);
    expect(d.tags.map((t) => t.tag)).toEqual([
      '1girl',
      'solo',
      'hatsune miku',
      'blue eyes',
      '^_^',
      'long hair',
    ]);
    expect(d.ratings.map((r) => r.name)).toEqual([
      'general',
      'sensitive',
      'questionable',
      'explicit',
    ]);
    expect(d.tags.some((t) => t.kind === 'rating')).toBe(false);
  });

  it('honours thresholds, rating opt-in, blacklist (with or without underscores) and the limit', () => {
    const d = decideTags(labels, planted, {
      generalThreshold: 0.55,
      characterThreshold: 0.9,
      includeRating: true,
      blacklist: ['blue_eyes', 'SOLO'],
      maxTags: 2,
    });
    expect(d.tags.map((t) => t.tag)).toEqual(['1girl', 'general']);
    expect(d.dropped.map((t) => t.name).sort()).toEqual(['blue_eyes', 'solo']);
  });

  it('keeps underscores when asked and never changes kaomoji', () => {
    expect(displayTag('long_hair')).toBe('long hair');
    expect(displayTag('^_^')).toBe('^_^');
    expect(displayTag('long_hair', false)).toBe('long_hair');
    const d = decideTags(labels, planted, { replaceUnderscores: false });
    expect(d.tags.map((t) => t.tag)).toContain('hatsune_miku');
  });

  it('rejects a probability vector of the wrong length and thresholds outside 0…1', () => {
    expect(() => decideTags(labels, [0.5])).toThrow(/1 probabilities for 11 tags/);
    expect(() => decideTags(labels, planted, { generalThreshold: 1.5 })).toThrow(
      /generalThreshold is 1.5/,
    );
  });
});

describe('WdTagger on a tiny model with the WD14 signature', () => {
  let dir: string;
  let modelPath: string;
  let tagsPath: string;
  beforeAll(() => {
    dir = makeTempDir('tagger-');
    modelPath = writeTinyTagger(dir, labels.length);
    tagsPath = join(dir, 'selected_tags.csv');
    writeFileSync(tagsPath, TINY_TAGS_CSV);
  });
  afterAll(() => removeDir(dir));

  it('pads with white to a square and feeds BGR 0–255 NHWC', async () => {
    // A 40×20 pure red image: the top and bottom quarters of the square are padding.
    const red = await sharp({
      create: { width: 40, height: 20, channels: 3, background: '#ff0000' },
    })
      .png()
      .toBuffer();
    const x = await taggerInput(red, 8);
    const px = (row: number, col: number) =>
      Array.from(x.slice((row * 8 + col) * 3, (row * 8 + col) * 3 + 3));
    expect(px(0, 4)).toEqual([255, 255, 255]);
    expect(px(4, 4)).toEqual([0, 0, 255]); // B, G, R
  });

  it('tags a batch: one probability per tag, thresholds applied, images differ', async () => {
    const tagger = await WdTagger.create({ modelPath, tagsPath });
    try {
      expect(tagger.size).toBe(448);
      const a = await photoJpeg(300, 200, 1);
      const b = await photoJpeg(200, 300, 3);
      const probs = await tagger.predict([a, b]);
      expect(probs).toHaveLength(2);
      expect(probs[0]).toHaveLength(labels.length);
      for (const p of probs[0]) expect(p > 0 && p < 1).toBe(true);
      expect(Array.from(probs[0])).not.toEqual(Array.from(probs[1]));
      const [tagged] = await tagger.tag([a], { generalThreshold: 0, characterThreshold: 1 });
      const expected = decideTags(labels, probs[0], { generalThreshold: 0, characterThreshold: 1 });
      expect(tagged.caption).toBe(expected.tags.map((t) => t.tag).join(', '));
      expect(tagged.tags.length).toBe(6); // every general tag, no character, no rating
    } finally {
      await tagger.release();
    }
  });

  it('refuses a tags file that does not match the model', async () => {
    const short = join(dir, 'short.csv');
    writeFileSync(short, TINY_TAGS_CSV.split('\n').slice(0, 4).join('\n'));
    await expect(WdTagger.create({ modelPath, tagsPath: short })).rejects.toThrow(
      /11 outputs but the tags file lists 3 tags/,
    );
  });
});
