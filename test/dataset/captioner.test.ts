// BLIP captioning: the WordPiece tokenizer/detokenizer on a small vocabulary, and the greedy
// loop (cache feeding, EOS stop, max length, detokenization) on tiny random-weight models with
// the real ONNX input/output names and shapes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlipCaptioner, blipPixelValues, WordPieceTokenizer } from '../../core/dataset/index.js';
import { makeTempDir, removeDir } from '../helpers/temp-dir.js';
import { TINY_VOCAB, tinyId, writeTinyBlipDecoder, writeTinyBlipVision } from './caption-models.js';
import { photoJpeg, solidPng } from './helpers.js';

const tok = WordPieceTokenizer.fromVocabTxt(TINY_VOCAB.join('\n') + '\n');

describe('WordPieceTokenizer', () => {
  it('lower-cases, strips accents, splits punctuation and matches longest pieces', () => {
    expect(tok.tokenize('A picture of Cats, unbelievable CAFÉ!')).toEqual([
      'a',
      'picture',
      'of',
      'cat',
      '##s',
      ',',
      'un',
      '##believ',
      '##able',
      'caf',
      '##e',
      '[UNK]', // "!" is not in the vocabulary
    ]);
    expect(tok.encode('a dog')).toEqual([tinyId('a'), tinyId('dog')]);
    // A word with an unmatched rest is one unknown token, as in BERT.
    expect(tok.tokenize('cats dogz')).toEqual(['cat', '##s', '[UNK]']);
  });

  it('decodes: skips special tokens, glues ## pieces, cleans the spacing', () => {
    const ids = ['[DEC]', 'a', 'cat', '##s', ',', 'un', '##believ', '##able', '.', '[SEP]'].map(
      tinyId,
    );
    expect(tok.decode(ids)).toBe('a cats, unbelievable.');
    expect(tok.decode(ids, false)).toBe('[DEC] a cats, unbelievable. [SEP]');
  });

  it('loads a tokenizer.json (WordPiece model + added tokens) the same way', () => {
    const vocab = Object.fromEntries(TINY_VOCAB.slice(0, -1).map((t, i) => [t, i]));
    const json = JSON.stringify({
      normalizer: { type: 'BertNormalizer', lowercase: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', vocab },
      added_tokens: [{ id: TINY_VOCAB.length - 1, content: '[DEC]', special: true }],
    });
    const t = WordPieceTokenizer.fromFile(json);
    expect(t.idOf('[DEC]')).toBe(tinyId('[DEC]'));
    expect(t.encode('Cats on the sofa')).toEqual(tok.encode('cats on the sofa'));
    expect(() => WordPieceTokenizer.fromFile('{"model":{"type":"BPE","vocab":{}}}')).toThrow(
      /"BPE" model; expected WordPiece/,
    );
  });
});

describe('BlipCaptioner on tiny models with the BLIP ONNX signatures', () => {
  let dir: string;
  let vocabPath: string;
  let visionPath: string;
  beforeAll(() => {
    dir = makeTempDir('blip-');
    vocabPath = join(dir, 'vocab.txt');
    writeFileSync(vocabPath, TINY_VOCAB.join('\n') + '\n');
    visionPath = writeTinyBlipVision(dir);
  });
  afterAll(() => removeDir(dir));

  const chain = (words: string[]) =>
    new Map(words.slice(0, -1).map((w, i) => [tinyId(w), tinyId(words[i + 1])]));

  it('normalises pixels with the CLIP statistics into NCHW', async () => {
    const x = await blipPixelValues(await solidPng(50, 30, '#ffffff'), 4);
    expect(x).toHaveLength(3 * 16);
    expect(x[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
    expect(x[16]).toBeCloseTo((1 - 0.4578275) / 0.26130258, 5);
  });

  it('stops at [SEP] and detokenizes (merged decoder with a cache)', async () => {
    const dec = writeTinyBlipDecoder(dir, {
      vocabSize: TINY_VOCAB.length,
      successor: chain(['[DEC]', 'a', 'cat', '##s', 'on', 'the', 'sofa', '.', '[SEP]']),
    });
    const c = await BlipCaptioner.create({
      visionModelPath: visionPath,
      decoderModelPath: dec,
      tokenizerPath: vocabPath,
    });
    try {
      const encoded = await c.encodeImage(await photoJpeg(64, 48));
      expect(encoded.shape).toEqual([1, 577, 8]);
      const r = await c.caption(await photoJpeg(64, 48), { maxTokens: 20 });
      expect(r.stoppedBy).toBe('eos');
      expect(r.text).toBe('a cats on the sofa.');
      expect(r.ids).toHaveLength(7);
      // A prompt is fed first and continued.
      const p = await c.generate(encoded, { prompt: 'a cat', maxTokens: 20 });
      expect(p.text).toBe('a cats on the sofa.');
      expect(p.ids.map((i) => TINY_VOCAB[i])).toEqual(['##s', 'on', 'the', 'sofa', '.']);
    } finally {
      await c.release();
    }
  });

  it('stops at maxTokens when no [SEP] comes', async () => {
    const dec = writeTinyBlipDecoder(dir, {
      vocabSize: TINY_VOCAB.length,
      successor: chain(['[DEC]', 'cat', 'dog', 'cat']),
    });
    const c = await BlipCaptioner.create({
      visionModelPath: visionPath,
      decoderModelPath: dec,
      tokenizerPath: vocabPath,
    });
    try {
      const r = await c.caption(await photoJpeg(64, 48), { maxTokens: 5 });
      expect(r.stoppedBy).toBe('max-tokens');
      expect(r.text).toBe('cat dog cat dog cat');
      await expect(c.caption(await photoJpeg(8, 8), { maxTokens: 0 })).rejects.toThrow(
        /maxTokens is 0/,
      );
    } finally {
      await c.release();
    }
  });

  it('decodes the same with the cache as by re-running the whole sequence (random weights)', async () => {
    const cachedPath = writeTinyBlipDecoder(dir, { vocabSize: TINY_VOCAB.length, seed: 21 });
    const cached = await BlipCaptioner.create({
      visionModelPath: visionPath,
      decoderModelPath: cachedPath,
      tokenizerPath: vocabPath,
    });
    const plainPath = writeTinyBlipDecoder(dir, {
      vocabSize: TINY_VOCAB.length,
      seed: 21,
      noCache: true,
    });
    const plain = await BlipCaptioner.create({
      visionModelPath: visionPath,
      decoderModelPath: plainPath,
      tokenizerPath: vocabPath,
    });
    try {
      const img = await photoJpeg(80, 60, 2);
      const a = await cached.caption(img, { maxTokens: 8 });
      const b = await plain.caption(img, { maxTokens: 8 });
      expect(a.ids.length).toBeGreaterThan(0);
      expect(a.ids).toEqual(b.ids);
      expect(a.text).toBe(b.text);
    } finally {
      await cached.release();
      await plain.release();
    }
  });

  it('refuses a decoder without the BLIP inputs, naming them', async () => {
    await expect(
      BlipCaptioner.create({
        visionModelPath: visionPath,
        decoderModelPath: visionPath,
        tokenizerPath: vocabPath,
      }),
    ).rejects.toThrow(/missing input\(s\) input_ids, encoder_hidden_states/);
  });
});
