import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  decodeRgb,
  makeThumbnail,
  probeImage,
  resizeToBucket,
  toWorkingPng,
} from '../../core/dataset/index.js';
import { meanRgb, svg } from './helpers.js';

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];

function expectNear(got: number[], want: number[], tol: number, what: string) {
  got.forEach((v, i) =>
    expect(Math.abs(v - want[i]), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(tol),
  );
}

/** Stored 60×40, left half red, right half blue, EXIF orientation 6 (display = rotate 90° CW). */
async function rotatedJpeg(): Promise<Buffer> {
  const stored = svg(
    60,
    40,
    '<rect width="30" height="40" fill="#f00"/><rect x="30" width="30" height="40" fill="#00f"/>',
  );
  return sharp(stored).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
}

describe('image pipeline', () => {
  it('applies EXIF orientation: a rotated JPEG comes out upright', async () => {
    const jpeg = await rotatedJpeg();
    expect(await probeImage(jpeg)).toMatchObject({
      format: 'jpeg',
      width: 40,
      height: 60,
      orientation: 6,
    });
    const img = await decodeRgb(jpeg);
    expect([img.width, img.height, img.channels]).toEqual([40, 60, 3]);
    // Stored left column is the displayed top row.
    expectNear(meanRgb(img.data, 40, 3, { x: 5, y: 5, w: 30, h: 20 }), RED, 20, 'top');
    expectNear(meanRgb(img.data, 40, 3, { x: 5, y: 35, w: 30, h: 20 }), BLUE, 20, 'bottom');
    const t = await makeThumbnail(jpeg, { size: 30 });
    expect([t.width, t.height]).toEqual([20, 30]);
  });

  it('flattens alpha onto the chosen background colour', async () => {
    // Left half transparent, right half opaque green, a 50 % black band along the bottom.
    const rgba = await sharp(
      svg(
        40,
        40,
        '<rect x="20" width="20" height="30" fill="#00ff00"/><rect y="30" width="40" height="10" fill="#000" fill-opacity="0.5"/>',
      ),
    )
      .png()
      .toBuffer();
    expect((await probeImage(rgba)).hasAlpha).toBe(true);
    const img = await decodeRgb(rgba, { background: '#ff00ff' });
    expect(img.channels).toBe(3);
    expectNear(
      meanRgb(img.data, 40, 3, { x: 2, y: 2, w: 14, h: 24 }),
      [255, 0, 255],
      2,
      'transparent',
    );
    expectNear(meanRgb(img.data, 40, 3, { x: 24, y: 2, w: 14, h: 24 }), [0, 255, 0], 2, 'opaque');
    expectNear(meanRgb(img.data, 40, 3, { x: 2, y: 32, w: 36, h: 6 }), [128, 0, 128], 3, 'half');
    const white = await decodeRgb(rgba);
    expectNear(
      meanRgb(white.data, 40, 3, { x: 2, y: 2, w: 14, h: 24 }),
      [255, 255, 255],
      2,
      'default',
    );
  });

  it('converts greyscale and CMYK to 3-channel sRGB', async () => {
    const grey = await sharp(svg(16, 16, '<rect width="16" height="16" fill="#404040"/>'))
      .greyscale()
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const g = await decodeRgb(grey);
    expect(g.channels).toBe(3);
    expectNear(meanRgb(g.data, 16, 3, { x: 0, y: 0, w: 16, h: 16 }), [64, 64, 64], 2, 'grey');
    const cmyk = await sharp({
      create: { width: 16, height: 16, channels: 3, background: '#ff0000' },
    })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const c = await decodeRgb(cmyk);
    expect(c.channels).toBe(3);
    const [r, gg, b] = meanRgb(c.data, 16, 3, { x: 0, y: 0, w: 16, h: 16 });
    expect(r).toBeGreaterThan(200);
    expect(gg + b).toBeLessThan(60);
  });

  it('resizes to cover the bucket and crops the center', async () => {
    // 1000×500: red | green | blue, edges at x 200 and 800. Bucket 512² → cover 1024×512; the
    // center 512 columns are source x 250..750: all green, with 50 px to spare for the filter.
    const src = await sharp(
      svg(
        1000,
        500,
        '<rect width="200" height="500" fill="#f00"/><rect x="200" width="600" height="500" fill="#0f0"/><rect x="800" width="200" height="500" fill="#00f"/>',
      ),
    )
      .png()
      .toBuffer();
    const out = await resizeToBucket(src, { width: 512, height: 512 }, { format: 'raw' });
    expect([out.width, out.height, out.channels]).toEqual([512, 512, 3]);
    expectNear(
      meanRgb(out.data, 512, 3, { x: 0, y: 0, w: 4, h: 512 }),
      [0, 255, 0],
      12,
      'left edge',
    );
    expectNear(
      meanRgb(out.data, 512, 3, { x: 508, y: 0, w: 4, h: 512 }),
      [0, 255, 0],
      12,
      'right edge',
    );
    const png = await resizeToBucket(src, { width: 640, height: 384 });
    expect(await sharp(png.data).metadata()).toMatchObject({
      format: 'png',
      width: 640,
      height: 384,
    });
    await expect(
      resizeToBucket(src, { width: 64, height: 64 }, { format: 'jpeg' as 'png' }),
    ).rejects.toThrow(/format 'jpeg'; valid: png, raw/);
  });

  it("'attention' crop keeps an off-center subject that the center crop cuts", async () => {
    // Flat grey with a saturated checker patch (source x 820..964, y 180..324) near the right
    // edge. Cover-resized to 512×256, the patch sits at x 410..482: outside the center window
    // (128..384), inside the rightmost one (256..512) at x 154..226, y 90..162.
    const patch = Array.from({ length: 64 }, (_, i) => {
      const x = 820 + (i % 8) * 18;
      const y = 180 + Math.floor(i / 8) * 18;
      return `<rect x="${x}" y="${y}" width="18" height="18" fill="${i % 2 ? '#e0a070' : '#c02020'}"/>`;
    }).join('');
    const src = await sharp(svg(1000, 500, `<rect width="1000" height="500" fill="#777"/>${patch}`))
      .png()
      .toBuffer();
    const saturation = (img: { data: Buffer }, x0: number, y0: number, w: number, h: number) => {
      let s = 0;
      for (let y = y0; y < y0 + h; y++)
        for (let x = x0; x < x0 + w; x++) {
          const i = (y * 256 + x) * 3;
          const px = [img.data[i], img.data[i + 1], img.data[i + 2]];
          s += Math.max(...px) - Math.min(...px);
        }
      return s / (w * h);
    };
    const bucket = { width: 256, height: 256 };
    const center = await resizeToBucket(src, bucket, { format: 'raw' });
    const attention = await resizeToBucket(src, bucket, { format: 'raw', crop: 'attention' });
    expect(saturation(center, 0, 0, 256, 256)).toBeLessThan(1);
    expect(saturation(attention, 160, 96, 60, 60)).toBeGreaterThan(100);
  });

  it('thumbnails are WebP, fit inside the size and never enlarge', async () => {
    const big = await sharp({
      create: { width: 1200, height: 800, channels: 3, background: '#369' },
    })
      .png()
      .toBuffer();
    const t = await makeThumbnail(big);
    expect([t.width, t.height]).toEqual([256, 171]);
    expect((await sharp(t.data).metadata()).format).toBe('webp');
    const small = await makeThumbnail(
      await sharp({ create: { width: 100, height: 50, channels: 3, background: '#369' } })
        .png()
        .toBuffer(),
    );
    expect([small.width, small.height]).toEqual([100, 50]);
    await expect(makeThumbnail(big, { size: 2 })).rejects.toThrow(/integer in 8..4096, got 2/);
  });

  it('makes a PNG working copy of the first GIF frame', async () => {
    const frame = (c: string) =>
      sharp({ create: { width: 20, height: 10, channels: 3, background: c } })
        .png()
        .toBuffer();
    const gif = await sharp([await frame('#ff0000'), await frame('#0000ff')], {
      join: { animated: true },
    })
      .gif()
      .toBuffer();
    expect(await probeImage(gif)).toMatchObject({ format: 'gif', width: 20, height: 10 });
    const png = await toWorkingPng(gif);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([20, 10]);
    expectNear(meanRgb(data, 20, info.channels, { x: 0, y: 0, w: 20, h: 10 }), RED, 8, 'frame 1');
  });
});
