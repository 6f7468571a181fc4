// Test images made on the fly (sharp), a minimal BMP writer, and folder fingerprints.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

export function svg(width: number, height: number, body: string): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`,
  );
}

export async function solidPng(width: number, height: number, colour = '#808080'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

/** Deterministic smooth "photo-like" pixels (sums of sines), RGB. */
export function photoPixels(width: number, height: number, seed = 1): Buffer {
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        const v =
          128 +
          60 * Math.sin((x * (0.03 + 0.01 * c) + seed) * 1.3) +
          50 * Math.cos((y * (0.02 + 0.007 * seed) + c) * 1.7) +
          15 * Math.sin((x + y) * 0.11 * seed);
        out[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
  return out;
}

export async function photoJpeg(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp(photoPixels(width, height, seed), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

export interface BmpSpec {
  width: number;
  height: number;
  bpp: 8 | 24 | 32;
  topDown?: boolean;
  /** BI_BITFIELDS with a V4 header carrying an alpha mask (32 bpp only). */
  bitfields?: boolean;
  /** Pixel colour (RGBA) at x, y. */
  pixel: (x: number, y: number) => [number, number, number, number];
  /** 8 bpp: the palette (RGB); pixel() then returns [index, 0, 0, 0]. */
  palette?: [number, number, number][];
  compression?: number;
}

/** Writes a BMP as the spec says (our own reference writer for the decoder's tests). */
export function encodeBmp(s: BmpSpec): Buffer {
  const headerSize = s.bitfields ? 108 : 40;
  const paletteBytes = s.bpp === 8 ? 256 * 4 : 0;
  const stride = Math.floor((s.bpp * s.width + 31) / 32) * 4;
  const offset = 14 + headerSize + paletteBytes;
  const buf = Buffer.alloc(offset + stride * s.height);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(headerSize, 14);
  buf.writeInt32LE(s.width, 18);
  buf.writeInt32LE(s.topDown ? -s.height : s.height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(s.bpp, 28);
  buf.writeUInt32LE(s.compression ?? (s.bitfields ? 3 : 0), 30);
  buf.writeUInt32LE(stride * s.height, 34);
  if (s.bitfields) {
    // RGBA masks in memory order R, G, B, A (a layout other than the BI_RGB default).
    buf.writeUInt32LE(0x000000ff, 54);
    buf.writeUInt32LE(0x0000ff00, 58);
    buf.writeUInt32LE(0x00ff0000, 62);
    buf.writeUInt32LE(0xff000000, 66);
  }
  if (s.palette)
    s.palette.forEach(([r, g, b], i) => {
      const at = 14 + headerSize + i * 4;
      buf[at] = b;
      buf[at + 1] = g;
      buf[at + 2] = r;
    });
  for (let y = 0; y < s.height; y++) {
    const row = offset + (s.topDown ? y : s.height - 1 - y) * stride;
    for (let x = 0; x < s.width; x++) {
      const [r, g, b, a] = s.pixel(x, y);
      if (s.bpp === 8) buf[row + x] = r;
      else if (s.bpp === 24) buf.set([b, g, r], row + x * 3);
      else if (s.bitfields) buf.set([r, g, b, a], row + x * 4);
      else buf.set([b, g, r, a], row + x * 4);
    }
  }
  return buf;
}

/** relPath → sha256 + mtime of every file under dir, and each directory's mtime (any change shows). */
export function fingerprint(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const abs = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(abs);
      if (st.isDirectory()) {
        out.set(`${r}/`, `dir mtime ${st.mtimeMs}`);
        walk(abs, r);
      } else
        out.set(r, `${createHash('sha256').update(readFileSync(abs)).digest('hex')} ${st.mtimeMs}`);
    }
  };
  walk(dir, '');
  return out;
}

/** Mean RGB of a region of raw pixels. */
export function meanRgb(
  data: Buffer,
  width: number,
  channels: number,
  region: { x: number; y: number; w: number; h: number },
): [number, number, number] {
  const s = [0, 0, 0];
  for (let y = region.y; y < region.y + region.h; y++)
    for (let x = region.x; x < region.x + region.w; x++)
      for (let c = 0; c < 3; c++) s[c] += data[(y * width + x) * channels + c];
  const n = region.w * region.h;
  return [s[0] / n, s[1] / n, s[2] / n];
}

/** A valid-looking PNG that declares width × height but carries almost no data (a "bomb"). */
export function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
