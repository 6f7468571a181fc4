// A small BMP decoder. sharp's prebuilt libvips has no BMP loader (it would need ImageMagick), and
// BMP is common in old art folders, so we read the simple, common variants ourselves: BI_RGB
// 8-bit (palette), 24-bit and 32-bit, and BI_BITFIELDS 32-bit with byte-aligned masks; rows
// bottom-up (positive height) or top-down (negative height). Anything else is refused by name.
import { ImageError } from './errors.js';

export interface RawImage {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA), interleaved, 8 bits per channel, top row first. */
  channels: 3 | 4;
  data: Buffer;
}

export interface BmpHeader {
  width: number;
  height: number;
  bitsPerPixel: number;
  compression: number;
  topDown: boolean;
  pixelOffset: number;
  headerSize: number;
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const COMPRESSION_NAMES: Record<number, string> = {
  0: 'BI_RGB',
  1: 'BI_RLE8',
  2: 'BI_RLE4',
  3: 'BI_BITFIELDS',
  4: 'BI_JPEG',
  5: 'BI_PNG',
  6: 'BI_ALPHABITFIELDS',
};
const SUPPORTED = 'uncompressed 8-bit (palette), 24-bit or 32-bit, or BI_BITFIELDS 32-bit';

/** Reads the file and info headers only (for the size check before any pixel is touched). */
export function readBmpHeader(buf: Uint8Array): BmpHeader {
  if (buf.length < 26 || buf[0] !== 0x42 || buf[1] !== 0x4d)
    throw new ImageError('corrupt', `not a BMP file (${buf.length} bytes, no 'BM' signature)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const pixelOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  if (headerSize === 12)
    throw new ImageError(
      'unsupported',
      `OS/2 BMP (BITMAPCOREHEADER) is not supported; ${SUPPORTED}`,
    );
  if (headerSize < 40 || buf.length < 14 + 40)
    throw new ImageError(
      'corrupt',
      `BMP info header of ${headerSize} bytes is truncated or unknown`,
    );
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bitsPerPixel = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  if (width <= 0 || rawHeight === 0 || rawHeight === -0x80000000)
    throw new ImageError('corrupt', `BMP has invalid dimensions ${width}×${rawHeight}`);
  return {
    width,
    height: Math.abs(rawHeight),
    bitsPerPixel,
    compression,
    topDown: rawHeight < 0,
    pixelOffset,
    headerSize,
  };
}

/** Shift of a byte-aligned channel mask (0x00ff0000 → 16); refuses masks we do not decode. */
function maskShift(mask: number, what: string): number {
  if (mask === 0) return -1;
  for (const shift of [0, 8, 16, 24]) if (mask >>> 0 === (0xff << shift) >>> 0) return shift;
  throw new ImageError(
    'unsupported',
    `BMP ${what} mask 0x${(mask >>> 0).toString(16)} is not byte-aligned; ${SUPPORTED}`,
  );
}

export function decodeBmp(buf: Uint8Array, maxPixels = Number.MAX_SAFE_INTEGER): RawImage {
  const h = readBmpHeader(buf);
  const { width, height, bitsPerPixel: bpp } = h;
  if (width * height > maxPixels)
    throw new ImageError(
      'too-large',
      `${width}×${height} BMP (${width * height} px) exceeds the ${maxPixels} px limit`,
    );
  const okRgb = h.compression === BI_RGB && (bpp === 8 || bpp === 24 || bpp === 32);
  const okFields = h.compression === BI_BITFIELDS && bpp === 32;
  if (!okRgb && !okFields)
    throw new ImageError(
      'unsupported',
      `BMP with ${bpp} bits per pixel and ${COMPRESSION_NAMES[h.compression] ?? `compression ${h.compression}`} is not supported; ${SUPPORTED}`,
    );
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const end = h.pixelOffset + stride * height;
  if (h.pixelOffset < 14 + h.headerSize || end > buf.length)
    throw new ImageError(
      'corrupt',
      `BMP pixel data is truncated: needs bytes ${h.pixelOffset}..${end}, file has ${buf.length}`,
    );

  // Channel layout of 32-bit pixels: default BGRA-in-memory (masks r=0xff0000, g=0xff00, b=0xff).
  let shifts = { r: 16, g: 8, b: 0, a: 24 };
  let alphaFromMask = false;
  if (okFields) {
    // Masks sit in the V2+ header, or right after a 40-byte BITMAPINFOHEADER.
    const at = 14 + 40;
    if (at + 12 > buf.length) throw new ImageError('corrupt', 'BMP bit-field masks are truncated');
    const aMask = h.headerSize >= 56 && at + 16 <= buf.length ? dv.getUint32(at + 12, true) : 0;
    shifts = {
      r: maskShift(dv.getUint32(at, true), 'red'),
      g: maskShift(dv.getUint32(at + 4, true), 'green'),
      b: maskShift(dv.getUint32(at + 8, true), 'blue'),
      a: maskShift(aMask, 'alpha'),
    };
    alphaFromMask = shifts.a >= 0;
  }

  let palette: Uint8Array | undefined;
  if (bpp === 8) {
    const colours = dv.getUint32(46, true) || 256;
    const at = 14 + h.headerSize;
    if (colours > 256 || at + colours * 4 > h.pixelOffset)
      throw new ImageError('corrupt', `BMP palette of ${colours} colours does not fit the header`);
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < colours; i++) {
      palette[i * 3] = buf[at + i * 4 + 2];
      palette[i * 3 + 1] = buf[at + i * 4 + 1];
      palette[i * 3 + 2] = buf[at + i * 4];
    }
  }

  const channels = bpp === 32 ? 4 : 3;
  const out = Buffer.alloc(width * height * channels);
  let anyAlpha = false;
  for (let y = 0; y < height; y++) {
    const srcRow = h.pixelOffset + (h.topDown ? y : height - 1 - y) * stride;
    let o = y * width * channels;
    for (let x = 0; x < width; x++) {
      if (bpp === 8) {
        const p = buf[srcRow + x] * 3;
        out[o++] = palette![p];
        out[o++] = palette![p + 1];
        out[o++] = palette![p + 2];
      } else if (bpp === 24) {
        const s = srcRow + x * 3;
        out[o++] = buf[s + 2];
        out[o++] = buf[s + 1];
        out[o++] = buf[s];
      } else {
        const v = dv.getUint32(srcRow + x * 4, true);
        out[o++] = (v >>> shifts.r) & 0xff;
        out[o++] = (v >>> shifts.g) & 0xff;
        out[o++] = (v >>> shifts.b) & 0xff;
        const a = shifts.a >= 0 ? (v >>> shifts.a) & 0xff : 255;
        if (a !== 0) anyAlpha = true;
        out[o++] = a;
      }
    }
  }
  // In BI_RGB 32-bit files the fourth byte is "reserved" and most writers leave it 0: an all-zero
  // alpha channel means "no alpha", not "fully transparent".
  if (channels === 4 && !alphaFromMask && !anyAlpha)
    for (let i = 3; i < out.length; i += 4) out[i] = 255;
  return { width, height, channels, data: out };
}
