import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeBmp, openImage, probeImage } from '../../core/dataset/index.js';
import { encodeBmp } from './helpers.js';

// A pattern with distinct values per pixel and channel, so row order or channel swaps show.
const colour = (x: number, y: number): [number, number, number, number] => [
  (x * 40 + 10) & 0xff,
  (y * 50 + 20) & 0xff,
  (x * 7 + y * 13) & 0xff,
  (x + y) % 2 ? 255 : 128,
];

function expectPixels(
  data: Buffer,
  width: number,
  height: number,
  channels: number,
  alpha: boolean,
) {
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const want = colour(x, y);
      const at = (y * width + x) * channels;
      expect([...data.subarray(at, at + 3)], `pixel ${x},${y}`).toEqual(want.slice(0, 3));
      if (channels === 4) expect(data[at + 3]).toBe(alpha ? want[3] : 255);
    }
}

describe('BMP decoder', () => {
  // Odd width: 24-bit rows need padding to 4 bytes.
  const W = 5;
  const H = 3;

  it('decodes 24-bit bottom-up and top-down rows to the same image', () => {
    for (const topDown of [false, true]) {
      const img = decodeBmp(encodeBmp({ width: W, height: H, bpp: 24, topDown, pixel: colour }));
      expect([img.width, img.height, img.channels]).toEqual([W, H, 3]);
      expectPixels(img.data, W, H, 3, false);
    }
  });

  it('decodes 32-bit BI_RGB with alpha, and treats an all-zero reserved byte as opaque', () => {
    const withAlpha = decodeBmp(encodeBmp({ width: W, height: H, bpp: 32, pixel: colour }));
    expect(withAlpha.channels).toBe(4);
    expectPixels(withAlpha.data, W, H, 4, true);
    const reserved = decodeBmp(
      encodeBmp({
        width: W,
        height: H,
        bpp: 32,
        pixel: (x, y) => [...colour(x, y).slice(0, 3), 0] as [number, number, number, number],
      }),
    );
    expectPixels(reserved.data, W, H, 4, false);
  });

  it('decodes 32-bit BI_BITFIELDS (V4 header, RGBA byte order, alpha mask)', () => {
    const img = decodeBmp(
      encodeBmp({ width: W, height: H, bpp: 32, bitfields: true, pixel: colour }),
    );
    expectPixels(img.data, W, H, 4, true);
  });

  it('decodes 8-bit palette images', () => {
    const palette: [number, number, number][] = Array.from({ length: 256 }, (_, i) => [
      i,
      255 - i,
      (i * 3) & 0xff,
    ]);
    const img = decodeBmp(
      encodeBmp({ width: W, height: H, bpp: 8, palette, pixel: (x, y) => [x * 16 + y, 0, 0, 0] }),
    );
    expect(img.channels).toBe(3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = x * 16 + y;
        const at = (y * W + x) * 3;
        expect([...img.data.subarray(at, at + 3)]).toEqual(palette[i]);
      }
  });

  it('refuses RLE, truncated data and bad signatures with the reason', () => {
    const rle = encodeBmp({
      width: W,
      height: H,
      bpp: 8,
      compression: 1,
      palette: [[0, 0, 0]],
      pixel: () => [0, 0, 0, 0],
    });
    expect(() => decodeBmp(rle)).toThrow(/BI_RLE8 is not supported; uncompressed/);
    expect(() => decodeBmp(rle)).toThrow(expect.objectContaining({ reason: 'unsupported' }));
    const full = encodeBmp({ width: W, height: H, bpp: 24, pixel: colour });
    expect(() => decodeBmp(full.subarray(0, full.length - 4))).toThrow(/truncated/);
    expect(() => decodeBmp(Buffer.from('BX' + 'x'.repeat(60)))).toThrow(/not a BMP/);
  });

  it('checks the pixel limit from the header before allocating', () => {
    // 60000 × 60000 declared, a few bytes of data: must fail on size, not on memory or truncation.
    const bomb = encodeBmp({ width: 2, height: 2, bpp: 24, pixel: colour });
    bomb.writeInt32LE(60000, 18);
    bomb.writeInt32LE(60000, 22);
    expect(() => decodeBmp(bomb, 100_000_000)).toThrow(/exceeds the 100000000 px limit/);
  });

  it('feeds sharp through openImage and probeImage', async () => {
    const bmp = encodeBmp({ width: W, height: H, bpp: 24, pixel: colour });
    expect(await probeImage(bmp)).toMatchObject({ format: 'bmp', width: W, height: H });
    const { data, info } = await (await openImage(bmp)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([W, H]);
    expectPixels(data, W, H, info.channels, false);
    // And a PNG made from it round-trips.
    const png = await (await openImage(bmp)).png().toBuffer();
    const back = await sharp(png).raw().toBuffer();
    expectPixels(back, W, H, 3, false);
  });
});
