import fc from 'fast-check';
import sharp from 'sharp';
import { crc32 as zlibCrc32, deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  crc32,
  encodePngTextChunk,
  getPngText,
  listPngChunks,
  PngFormatError,
  readPngText,
  writePngText,
} from '../../core/formats/index.js';

let png: Uint8Array;
let pixels: Buffer;
beforeAll(async () => {
  // A real encoder's output (several IDAT-bearing chunks, pHYs) rather than a hand-made file.
  const raw = Buffer.alloc(16 * 8 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
  png = new Uint8Array(
    await sharp(raw, { raw: { width: 16, height: 8, channels: 3 } })
      .png()
      .toBuffer(),
  );
  pixels = await sharp(png).raw().toBuffer();
});

// A chunk built with Node's own zlib CRC, independent of the code under test.
function rawChunk(type: string, data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(zlibCrc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function insertBeforeIend(file: Uint8Array, ...chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat([
    file.subarray(0, file.length - 12),
    ...chunks,
    file.subarray(file.length - 12),
  ]);
}

const types = (file: Uint8Array) => listPngChunks(file).map((c) => c.type);

describe('crc32', () => {
  it('matches the PNG constant for IEND and zlib on random data', () => {
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(crc32(bytes)).toBe(zlibCrc32(bytes));
        const cut = bytes.length >> 1;
        expect(crc32(bytes.subarray(cut), crc32(bytes.subarray(0, cut)))).toBe(zlibCrc32(bytes));
      }),
    );
  });
});

describe('writePngText / readPngText', () => {
  it('adds a tEXt chunk before IDAT without touching the image', async () => {
    const text = 'a cat, best quality\nSteps: 20, Seed: 1';
    const out = writePngText(png, { parameters: text });
    expect(types(out)).toEqual(['IHDR', 'pHYs', 'tEXt', 'IDAT', 'IEND']);
    expect(out.length).toBe(png.length + 12 + 'parameters'.length + 1 + text.length);
    expect(readPngText(out)).toEqual([
      {
        keyword: 'parameters',
        text: 'a cat, best quality\nSteps: 20, Seed: 1',
        kind: 'tEXt',
        compressed: false,
      },
    ]);
    // An independent decoder (libvips/libspng) reads the pixels and the text.
    expect(await sharp(out).raw().toBuffer()).toEqual(pixels);
    expect((await sharp(out).metadata()).comments).toEqual([
      { keyword: 'parameters', text: 'a cat, best quality\nSteps: 20, Seed: 1' },
    ]);
    // The original chunks are copied byte for byte.
    const idat = (f: Uint8Array) => {
      const c = listPngChunks(f).find((x) => x.type === 'IDAT')!;
      return f.subarray(c.offset, c.dataOffset + c.length + 4);
    };
    expect(idat(out)).toEqual(idat(png));
  });

  it("puts the chunks right before IEND with position 'before-iend'", async () => {
    const out = writePngText(png, { parameters: 'x' }, { position: 'before-iend' });
    expect(types(out)).toEqual(['IHDR', 'pHYs', 'IDAT', 'tEXt', 'IEND']);
    expect(getPngText(out, 'parameters')).toBe('x');
    expect(await sharp(out).raw().toBuffer()).toEqual(pixels);
  });

  it('writes Latin-1 text as tEXt bytes and anything else as UTF-8 iTXt, like PIL', async () => {
    const latin = writePngText(png, { parameters: 'café (best:1.2)' });
    const entry = readPngText(latin)[0];
    expect(entry.kind).toBe('tEXt');
    expect(entry.text).toBe('café (best:1.2)');
    const c = listPngChunks(latin).find((x) => x.type === 'tEXt')!;
    expect(latin[c.dataOffset + 'parameters'.length + 4]).toBe(0xe9); // é as one byte

    const text = '東京の猫, 🐱 BREAK (cute:1.2)\nSteps: 20';
    const uni = writePngText(png, { parameters: text });
    expect(readPngText(uni)).toEqual([
      {
        keyword: 'parameters',
        text,
        kind: 'iTXt',
        compressed: false,
        languageTag: '',
        translatedKeyword: '',
      },
    ]);
    expect((await sharp(uni).metadata()).comments).toEqual([{ keyword: 'parameters', text }]);
  });

  it('writes iTXt with a language tag and translated keyword when asked', () => {
    const out = writePngText(png, [{ keyword: 'Title', text: 'Katze' }], {
      kind: 'iTXt',
      languageTag: 'de',
      translatedKeyword: 'Titel',
    });
    expect(readPngText(out)[0]).toMatchObject({
      kind: 'iTXt',
      languageTag: 'de',
      translatedKeyword: 'Titel',
      text: 'Katze',
    });
    expect(() => writePngText(png, { a: '猫' }, { kind: 'tEXt' })).toThrow(/outside Latin-1.*iTXt/);
  });

  it('replaces text under the same keyword (and only that), unless replace is false', () => {
    const once = writePngText(png, { parameters: 'old', Software: 'LoRA Studio' });
    const twice = writePngText(once, { parameters: 'new 猫' });
    expect(readPngText(twice).map((e) => [e.keyword, e.text])).toEqual([
      ['Software', 'LoRA Studio'],
      ['parameters', 'new 猫'],
    ]);
    const both = writePngText(once, { parameters: 'newer' }, { replace: false });
    expect(readPngText(both).filter((e) => e.keyword === 'parameters')).toHaveLength(2);
    // Like PIL's info dict, the last one wins.
    expect(getPngText(both, 'parameters')).toBe('newer');
    expect(getPngText(png, 'parameters')).toBeUndefined();
  });

  it('keeps bytes that follow IEND', () => {
    const tail = Uint8Array.of(1, 2, 3);
    const out = writePngText(Buffer.concat([png, tail]), { k: 'v' });
    expect(Array.from(out.subarray(out.length - 3))).toEqual([1, 2, 3]);
    expect(getPngText(out, 'k')).toBe('v');
  });

  it('reads zTXt and compressed iTXt chunks', () => {
    const enc = new TextEncoder();
    const z = rawChunk(
      'zTXt',
      Buffer.concat([
        Buffer.from('Comment\0\0', 'latin1'),
        deflateSync(Buffer.from('großes Bild', 'latin1')),
      ]),
    );
    const it = rawChunk(
      'iTXt',
      Buffer.concat([
        Buffer.from('parameters\0\x01\x00ja\0', 'latin1'),
        enc.encode('パラメータ\0'),
        deflateSync(enc.encode('猫, (cute:1.2)\nSteps: 30')),
      ]),
    );
    const file = insertBeforeIend(png, z, it);
    expect(readPngText(file)).toEqual([
      { keyword: 'Comment', text: 'großes Bild', kind: 'zTXt', compressed: true },
      {
        keyword: 'parameters',
        text: '猫, (cute:1.2)\nSteps: 30',
        kind: 'iTXt',
        compressed: true,
        languageTag: 'ja',
        translatedKeyword: 'パラメータ',
      },
    ]);
  });
});

describe('validation', () => {
  it('rejects a file that is not a PNG', () => {
    const jpeg = Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46);
    expect(() => readPngText(jpeg)).toThrow(PngFormatError);
    expect(() => readPngText(jpeg)).toThrow(/not a PNG: the first bytes are \[ff d8 ff e0/);
    expect(() => readPngText(new Uint8Array(0))).toThrow(/not a PNG/);
  });

  it('rejects truncated files, naming where they stop', () => {
    expect(() => readPngText(png.subarray(0, png.length - 12))).toThrow(
      /truncated PNG: 0 bytes left/,
    );
    const idat = listPngChunks(png).find((c) => c.type === 'IDAT')!;
    expect(() => readPngText(png.subarray(0, idat.dataOffset + 10))).toThrow(
      new RegExp(
        `truncated PNG: IDAT chunk at offset ${idat.offset} declares ${idat.length} data bytes but only 6 remain`,
      ),
    );
    expect(() => readPngText(png.subarray(0, 40))).toThrow(
      /truncated PNG: 7 bytes left at offset 33/,
    );
    expect(() => writePngText(png.subarray(0, png.length - 5), { a: 'b' })).toThrow(
      /truncated PNG/,
    );
  });

  it('rejects corrupt chunks: CRC, length, type, IHDR first', () => {
    const flipped = Uint8Array.from(png);
    const idat = listPngChunks(png).find((c) => c.type === 'IDAT')!;
    flipped[idat.dataOffset + 3] ^= 0xff;
    expect(() => readPngText(flipped)).toThrow(
      /IDAT chunk at offset \d+ has CRC 0x[0-9a-f]{8}, its bytes give/,
    );
    expect(listPngChunks(flipped, { verifyCrc: false })).toHaveLength(4);

    const long = Uint8Array.from(png);
    new DataView(long.buffer).setUint32(idat.offset, 0xfffffff0);
    expect(() => readPngText(long)).toThrow(/declares 4294967280 bytes \(limit 2\^31 − 1\)/);

    const badType = Uint8Array.from(png);
    badType[idat.offset + 5] = 0x31;
    expect(() => readPngText(badType)).toThrow(/type "I1AT"/);

    const noIhdr = Buffer.concat([png.subarray(0, 8), png.subarray(8 + 25)]);
    expect(() => readPngText(noIhdr)).toThrow(/first chunk is pHYs, it must be IHDR/);
  });

  it('rejects malformed text chunks clearly', () => {
    const noNul = insertBeforeIend(png, rawChunk('tEXt', Buffer.from('parameters')));
    expect(() => readPngText(noNul)).toThrow(/corrupt tEXt chunk at offset \d+: no NUL/);
    const badZ = insertBeforeIend(png, rawChunk('zTXt', Buffer.from('k\0\0not zlib', 'latin1')));
    expect(() => readPngText(badZ)).toThrow(/zTXt .*"k".*cannot inflate/);
    const method = insertBeforeIend(png, rawChunk('zTXt', Buffer.from('k\0\x05x', 'latin1')));
    expect(() => readPngText(method)).toThrow(/compression method 5/);
    const badUtf8 = insertBeforeIend(
      png,
      rawChunk('iTXt', Buffer.from('k\0\0\0\0\0\xff\xfe', 'latin1')),
    );
    expect(() => readPngText(badUtf8)).toThrow(/text is not valid UTF-8/);
    const short = insertBeforeIend(png, rawChunk('iTXt', Buffer.from('k\0\0\0', 'latin1')));
    expect(() => readPngText(short)).toThrow(/NUL separators are missing/);
    // A small chunk that inflates to a lot: refused beyond maxTextBytes.
    const bomb = insertBeforeIend(
      png,
      rawChunk(
        'zTXt',
        Buffer.concat([Buffer.from('k\0\0', 'latin1'), deflateSync(Buffer.alloc(1 << 20, 65))]),
      ),
    );
    expect(readPngText(bomb)[0].text).toHaveLength(1 << 20);
    expect(() => readPngText(bomb, { maxTextBytes: 1000 })).toThrow(
      /cannot inflate.*limit 1000 bytes/,
    );
  });

  it('rejects keywords and text that PNG does not allow', () => {
    for (const k of ['', 'x'.repeat(80), ' lead', 'trail ', 'two  spaces', 'tab\there', '猫'])
      expect(() => encodePngTextChunk(k, 'v')).toThrow(/PNG text keyword .* is invalid/);
    expect(() => encodePngTextChunk('x'.repeat(79), 'v')).not.toThrow();
    expect(() => encodePngTextChunk('k', 'a\0b')).toThrow(/NUL/);
    expect(() => encodePngTextChunk('k', 'ok 🐱 \udc31')).toThrow(
      /unpaired UTF-16 surrogate at index 6/,
    );
    expect(() => encodePngTextChunk('k', 'v', { kind: 'iTXt', languageTag: 'e n' })).toThrow(
      /language tag/,
    );
  });

  it('never fails with anything but PngFormatError on damaged files', () => {
    const base = writePngText(png, { parameters: 'a cat', Comment: '猫' });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(base.length),
        fc.boolean(),
        (edits, cut, verifyCrc) => {
          const bad = Uint8Array.from(base.subarray(0, cut || base.length));
          for (const [i, v] of edits) if (i < bad.length) bad[i] = v;
          try {
            readPngText(bad, { verifyCrc });
          } catch (e) {
            expect(e).toBeInstanceOf(PngFormatError);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
