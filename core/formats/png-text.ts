// PNG text chunks (tEXt, zTXt, iTXt): read them from, and add them to, an encoded PNG without
// touching the image data. Written here rather than taken from png-chunks-extract/png-chunk-text
// because those handle tEXt only (A1111 writes iTXt for non-Latin-1 prompts) and split the file
// into a chunk array; this walks the buffer once, checks every length and CRC, and splices.
import { inflateSync } from 'node:zlib';

export const PNG_SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
);

/** A buffer that is not a well-formed PNG, or a text chunk that breaks the PNG rules. */
export class PngFormatError extends Error {
  override name = 'PngFormatError';
}

// CRC-32 as PNG (and zlib) define it: reflected polynomial 0xEDB88320, init and final xor ~0.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes`; pass a previous result as `crc` to continue over more bytes. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export interface PngChunk {
  /** Four-letter chunk type, e.g. "IHDR". */
  readonly type: string;
  /** Offset of the chunk's length field; the chunk spans [offset, offset + 12 + length). */
  readonly offset: number;
  /** Offset of the chunk data. */
  readonly dataOffset: number;
  readonly length: number;
}

export interface ListChunksOptions {
  /** Check every chunk's CRC (default true; a mismatch throws). */
  readonly verifyCrc?: boolean;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * Walk a PNG: signature, then chunks up to IEND. Throws PngFormatError naming the offset for a
 * bad signature, a chunk that runs past the end, a bad chunk type or CRC, IHDR not first, or a
 * missing IEND (a truncated file). Bytes after IEND are ignored, as decoders do.
 */
export function listPngChunks(png: Uint8Array, options: ListChunksOptions = {}): PngChunk[] {
  const verify = options.verifyCrc ?? true;
  if (png.length < 8 || PNG_SIGNATURE.some((b, i) => png[i] !== b)) {
    const got = Array.from(png.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new PngFormatError(
      `not a PNG: the first bytes are [${got}], a PNG starts with 89 50 4e 47 0d 0a 1a 0a`,
    );
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: PngChunk[] = [];
  let pos = 8;
  for (;;) {
    if (pos + 12 > png.length)
      throw new PngFormatError(
        `truncated PNG: ${png.length - pos} bytes left at offset ${pos}, where a chunk ` +
          `(at least 12 bytes) or IEND should follow`,
      );
    const length = view.getUint32(pos);
    const typeBytes = png.subarray(pos + 4, pos + 8);
    const type = String.fromCharCode(...typeBytes);
    if (!/^[A-Za-z]{4}$/.test(type))
      throw new PngFormatError(
        `corrupt PNG: chunk at offset ${pos} has type ${JSON.stringify(type)}; types are 4 ASCII letters`,
      );
    if (length > 0x7fffffff)
      throw new PngFormatError(
        `corrupt PNG: ${type} chunk at offset ${pos} declares ${length} bytes (limit 2^31 − 1)`,
      );
    const dataOffset = pos + 8;
    const end = dataOffset + length + 4;
    if (end > png.length)
      throw new PngFormatError(
        `truncated PNG: ${type} chunk at offset ${pos} declares ${length} data bytes but only ` +
          `${Math.max(0, png.length - dataOffset - 4)} remain before the CRC`,
      );
    if (verify) {
      const stored = view.getUint32(dataOffset + length);
      const actual = crc32(png.subarray(pos + 4, dataOffset + length));
      if (stored !== actual)
        throw new PngFormatError(
          `corrupt PNG: ${type} chunk at offset ${pos} has CRC ${hex(stored)}, its bytes give ${hex(actual)}`,
        );
    }
    if (chunks.length === 0 && type !== 'IHDR')
      throw new PngFormatError(`corrupt PNG: the first chunk is ${type}, it must be IHDR`);
    chunks.push({ type, offset: pos, dataOffset, length });
    pos = end;
    if (type === 'IEND') return chunks;
  }
}

export type PngTextKind = 'tEXt' | 'zTXt' | 'iTXt';

export interface PngTextEntry {
  readonly keyword: string;
  readonly text: string;
  readonly kind: PngTextKind;
  /** zTXt always; iTXt when its compression flag is set. */
  readonly compressed: boolean;
  /** iTXt only. */
  readonly languageTag?: string;
  /** iTXt only. */
  readonly translatedKeyword?: string;
}

export interface ReadTextOptions extends ListChunksOptions {
  /** Largest inflated text accepted from a compressed chunk (default 16 MiB): a zip-bomb guard. */
  readonly maxTextBytes?: number;
}

const TEXT_KINDS: readonly string[] = ['tEXt', 'zTXt', 'iTXt'];

// Latin-1 by hand: TextDecoder('latin1') is windows-1252 per the WHATWG spec.
function decodeLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192)
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

function encodeLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function decodeTextChunk(png: Uint8Array, chunk: PngChunk, maxBytes: number): PngTextEntry {
  const data = png.subarray(chunk.dataOffset, chunk.dataOffset + chunk.length);
  const where = `${chunk.type} chunk at offset ${chunk.offset}`;
  const nul = data.indexOf(0);
  if (nul < 1)
    throw new PngFormatError(
      `corrupt ${where}: ${nul === 0 ? 'empty keyword' : 'no NUL after the keyword'}`,
    );
  const keyword = decodeLatin1(data.subarray(0, nul));
  const inflate = (bytes: Uint8Array): Uint8Array => {
    try {
      return inflateSync(bytes, { maxOutputLength: maxBytes });
    } catch (e) {
      throw new PngFormatError(
        `corrupt ${where} (${JSON.stringify(keyword)}): cannot inflate its text ` +
          `(${(e as Error).message}; limit ${maxBytes} bytes)`,
        { cause: e },
      );
    }
  };
  if (chunk.type === 'tEXt')
    return { keyword, text: decodeLatin1(data.subarray(nul + 1)), kind: 'tEXt', compressed: false };
  if (chunk.type === 'zTXt') {
    if (data[nul + 1] !== 0)
      throw new PngFormatError(
        `corrupt ${where}: compression method ${data[nul + 1]}, the only defined one is 0 (zlib)`,
      );
    const text = decodeLatin1(inflate(data.subarray(nul + 2)));
    return { keyword, text, kind: 'zTXt', compressed: true };
  }
  // iTXt: keyword NUL flag method language NUL translated-keyword NUL text
  const flag = data[nul + 1];
  const method = data[nul + 2];
  const langEnd = data.indexOf(0, nul + 3);
  const tkeyEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
  if (flag === undefined || method === undefined || langEnd < 0 || tkeyEnd < 0)
    throw new PngFormatError(`corrupt ${where}: header fields or NUL separators are missing`);
  if (flag > 1)
    throw new PngFormatError(`corrupt ${where}: compression flag ${flag}, expected 0 or 1`);
  if (flag === 1 && method !== 0)
    throw new PngFormatError(
      `corrupt ${where}: compression method ${method}, the only defined one is 0`,
    );
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Uint8Array, field: string): string => {
    try {
      return utf8.decode(bytes);
    } catch (e) {
      throw new PngFormatError(`corrupt ${where}: its ${field} is not valid UTF-8`, { cause: e });
    }
  };
  const body = data.subarray(tkeyEnd + 1);
  return {
    keyword,
    text: decode(flag === 1 ? inflate(body) : body, 'text'),
    kind: 'iTXt',
    compressed: flag === 1,
    languageTag: decodeLatin1(data.subarray(nul + 3, langEnd)),
    translatedKeyword: decode(data.subarray(langEnd + 1, tkeyEnd), 'translated keyword'),
  };
}

/** Every tEXt, zTXt and iTXt chunk of a PNG, in file order. */
export function readPngText(png: Uint8Array, options: ReadTextOptions = {}): PngTextEntry[] {
  const max = options.maxTextBytes ?? 16 * 1024 * 1024;
  return listPngChunks(png, options)
    .filter((c) => TEXT_KINDS.includes(c.type))
    .map((c) => decodeTextChunk(png, c, max));
}

/** The text stored under `keyword` (the last one when repeated, as PIL's `info` has it). */
export function getPngText(
  png: Uint8Array,
  keyword: string,
  options: ReadTextOptions = {},
): string | undefined {
  return readPngText(png, options).findLast((e) => e.keyword === keyword)?.text;
}

/** PNG keyword rules: 1–79 Latin-1 printable characters, no leading, trailing or double spaces. */
export function validatePngKeyword(keyword: string): void {
  const bad =
    keyword.length < 1 || keyword.length > 79
      ? `it has ${keyword.length} characters, 1 to 79 are allowed`
      : /[^\u0020-\u007e\u00a1-\u00ff]/.test(keyword)
        ? 'only printable Latin-1 characters are allowed'
        : /^ | $| {2}/.test(keyword)
          ? 'leading, trailing and consecutive spaces are not allowed'
          : undefined;
  if (bad)
    throw new PngFormatError(`PNG text keyword ${JSON.stringify(keyword)} is invalid: ${bad}`);
}

export interface TextChunkOptions {
  /** 'auto' (default): tEXt when the text is Latin-1, else iTXt, the way A1111 (via PIL) writes. */
  readonly kind?: 'auto' | 'tEXt' | 'iTXt';
  readonly languageTag?: string;
  readonly translatedKeyword?: string;
}

function chunkBytes(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(encodeLatin1(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** One complete, uncompressed text chunk (length, type, data, CRC). */
export function encodePngTextChunk(
  keyword: string,
  text: string,
  options: TextChunkOptions = {},
): Uint8Array {
  validatePngKeyword(keyword);
  if (text.includes('\0'))
    throw new PngFormatError(`PNG text for ${JSON.stringify(keyword)} contains a NUL character`);
  const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(text);
  if (lone)
    throw new PngFormatError(
      `PNG text for ${JSON.stringify(keyword)} has an unpaired UTF-16 surrogate at index ${lone.index}`,
    );
  const kind = options.kind ?? 'auto';
  const latin1 = isLatin1(text);
  if (kind === 'tEXt' && !latin1)
    throw new PngFormatError(
      `text for ${JSON.stringify(keyword)} has characters outside Latin-1; use kind 'iTXt' or 'auto'`,
    );
  const key = encodeLatin1(keyword);
  if (
    kind === 'tEXt' ||
    (kind === 'auto' && latin1 && !options.languageTag && !options.translatedKeyword)
  ) {
    const body = encodeLatin1(text);
    const data = new Uint8Array(key.length + 1 + body.length);
    data.set(key);
    data.set(body, key.length + 1);
    return chunkBytes('tEXt', data);
  }
  const lang = options.languageTag ?? '';
  if (!/^[A-Za-z0-9-]*$/.test(lang))
    throw new PngFormatError(
      `iTXt language tag ${JSON.stringify(lang)} must be letters, digits and '-'`,
    );
  const utf8 = new TextEncoder();
  const tkey = utf8.encode(options.translatedKeyword ?? '');
  if (tkey.includes(0))
    throw new PngFormatError(`translated keyword for ${JSON.stringify(keyword)} contains a NUL`);
  const body = utf8.encode(text);
  const langBytes = encodeLatin1(lang);
  // keyword NUL, flag 0 (uncompressed), method 0, language NUL, translated keyword NUL, text
  const data = new Uint8Array(
    key.length + 3 + langBytes.length + 1 + tkey.length + 1 + body.length,
  );
  let o = 0;
  data.set(key, o);
  o += key.length + 3;
  data.set(langBytes, o);
  o += langBytes.length + 1;
  data.set(tkey, o);
  o += tkey.length + 1;
  data.set(body, o);
  return chunkBytes('iTXt', data);
}

export interface WriteTextOptions extends TextChunkOptions {
  /**
   * Where the new chunks go. 'before-idat' (default) keeps them readable by tools that stop at the
   * image data (PIL's `Image.open(...).info` before `load()`); 'before-iend' appends them at the end.
   */
  readonly position?: 'before-idat' | 'before-iend';
  /** Drop existing text chunks with the same keywords first (default true). */
  readonly replace?: boolean;
}

/**
 * A copy of `png` with text chunks added (e.g. `{ parameters: infotext }`); the image chunks are
 * copied byte for byte. The input is fully validated first (signature, lengths, CRCs, IEND).
 */
export function writePngText(
  png: Uint8Array,
  entries: Readonly<Record<string, string>> | readonly { keyword: string; text: string }[],
  options: WriteTextOptions = {},
): Uint8Array {
  const list = Array.isArray(entries)
    ? (entries as readonly { keyword: string; text: string }[])
    : Object.entries(entries).map(([keyword, text]) => ({ keyword, text }));
  const added = list.map((e) => encodePngTextChunk(e.keyword, e.text, options));
  const chunks = listPngChunks(png);
  const keywords = new Set(list.map((e) => e.keyword));
  const dropped = (c: PngChunk): boolean => {
    if (!(options.replace ?? true) || !TEXT_KINDS.includes(c.type)) return false;
    const data = png.subarray(c.dataOffset, c.dataOffset + c.length);
    const nul = data.indexOf(0);
    return keywords.has(decodeLatin1(nul < 0 ? data : data.subarray(0, nul)));
  };
  const position = options.position ?? 'before-idat';
  const anchor =
    (position === 'before-idat' && chunks.find((c) => c.type === 'IDAT')) ||
    chunks[chunks.length - 1];
  const iend = chunks[chunks.length - 1];
  const pieces: Uint8Array[] = [png.subarray(0, 8)];
  for (const c of chunks) {
    if (c === anchor) pieces.push(...added);
    if (!dropped(c)) pieces.push(png.subarray(c.offset, c.dataOffset + c.length + 4));
  }
  // Whatever followed IEND stays where it was.
  pieces.push(png.subarray(iend.dataOffset + iend.length + 4));
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
