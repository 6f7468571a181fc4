// Fuzz-style checks: hostile or damaged headers must end in a named SafetensorsError, never a
// crash, a hang or a giant allocation.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidHeaderError,
  openSafetensors,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  TruncatedFileError,
} from '../../core/formats/index.js';

const FC = { seed: 20240518, numRuns: 300 };

/** A file from a raw header object and n data bytes (header length prefix included). */
function fileWith(header: unknown, dataBytes: number, rawHeader?: string): Uint8Array {
  const text = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.byteLength), true);
  out.set(text, 8);
  return out;
}

function expectNamed(fn: () => unknown, cls: typeof SafetensorsError, pattern?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  if (pattern) expect((err as Error).message).toMatch(pattern);
}

const good = serializeSafetensors(
  {
    a: { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    b: { dtype: 'int64', shape: [2], data: new BigInt64Array([7n, 8n]) },
    c: { dtype: 'float16', shape: [], data: new Uint16Array([0x3c00]) },
  },
  { format: 'pt' },
);

describe('safetensors parser under fuzzing', () => {
  it('any random byte string is parsed or refused with a SafetensorsError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          parseSafetensors(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(SafetensorsError);
        }
      }),
      FC,
    );
  });

  it('a valid file with random bytes corrupted is parsed or refused with a SafetensorsError', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.byteLength - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          const bytes = good.slice();
          for (const [i, v] of edits) bytes[i] = v;
          try {
            const r = parseSafetensors(bytes);
            for (const t of r.tensors.values())
              expect(t.offset + t.length).toBeLessThanOrEqual(bytes.byteLength);
          } catch (e) {
            expect(e).toBeInstanceOf(SafetensorsError);
          }
        },
      ),
      FC,
    );
  });

  it('every truncation of a valid file is a TruncatedFileError', () => {
    for (let len = 0; len < good.byteLength; len++) {
      expectNamed(
        () => parseSafetensors(good.subarray(0, len)),
        TruncatedFileError,
        /truncated file/,
      );
    }
    expectNamed(
      () => parseSafetensors(good.subarray(0, good.byteLength - 1)),
      TruncatedFileError,
      /header says 42 bytes of data, file has 41 — the download may be incomplete/,
    );
  });

  it('random JSON values as header entries are refused with InvalidHeaderError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (entry) => {
        fc.pre(!(entry && typeof entry === 'object' && !Array.isArray(entry) && 'dtype' in entry));
        expectNamed(
          () => parseSafetensors(fileWith({ x: entry }, 0)),
          InvalidHeaderError,
          /tensor "x"/,
        );
      }),
      FC,
    );
  });

  it('bad shapes (NaN-like, negative, fractional, strings, nested) are refused naming the shape', () => {
    const bad = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true, noDefaultInfinity: true, noNaN: true }),
      fc.string(),
      fc.constant(null),
      fc.array(fc.nat(3), { maxLength: 2 }),
    );
    fc.assert(
      fc.property(fc.array(fc.nat(4), { maxLength: 3 }), bad, (prefix, dim) => {
        const shape = [...prefix, dim];
        expectNamed(
          () => parseSafetensors(fileWith({ x: { dtype: 'U8', shape, data_offsets: [0, 0] } }, 0)),
          InvalidHeaderError,
          /dimensions must be non-negative integers/,
        );
      }),
      FC,
    );
    // JSON cannot hold NaN, so NaN in a header is a JSON syntax error, named as such.
    expectNamed(
      () =>
        parseSafetensors(
          fileWith(null, 0, '{"x":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}'),
        ),
      InvalidHeaderError,
      /not valid JSON/,
    );
  });

  it('byte length must equal shape × dtype size; begin ≤ end; integer offsets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(5), { maxLength: 3 }),
        fc.integer({ min: -3, max: 3 }),
        (shape, delta) => {
          fc.pre(delta !== 0);
          const need = shape.reduce((a, b) => a * b, 1) * 4;
          const end = need + delta;
          fc.pre(end >= 0);
          expectNamed(
            () =>
              parseSafetensors(
                fileWith({ x: { dtype: 'F32', shape, data_offsets: [0, end] } }, 64),
              ),
            InvalidHeaderError,
            new RegExp(`needs ${need} bytes`),
          );
        },
      ),
      FC,
    );
    expectNamed(
      () => parseSafetensors(fileWith({ x: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, 8)),
      InvalidHeaderError,
      /begin 4 is after end 0/,
    );
    expectNamed(
      () =>
        parseSafetensors(fileWith({ x: { dtype: 'U8', shape: [1], data_offsets: [0.5, 1.5] } }, 8)),
      InvalidHeaderError,
      /non-negative integers/,
    );
    expectNamed(
      () => parseSafetensors(fileWith({ x: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, 8)),
      InvalidHeaderError,
      /unknown dtype "Q4"; valid: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL/,
    );
  });

  it('overlapping tensors are refused naming both', () => {
    fc.assert(
      fc.property(
        fc.nat(16),
        fc.integer({ min: 1, max: 16 }),
        fc.nat(16),
        fc.integer({ min: 1, max: 16 }),
        (b1, l1, b2, l2) => {
          const overlap = b1 < b2 + l2 && b2 < b1 + l1;
          const file = fileWith(
            {
              p: { dtype: 'U8', shape: [l1], data_offsets: [b1, b1 + l1] },
              q: { dtype: 'U8', shape: [l2], data_offsets: [b2, b2 + l2] },
            },
            32,
          );
          if (overlap)
            expectNamed(
              () => parseSafetensors(file),
              InvalidHeaderError,
              /"[pq]" .* and "[pq]" .* overlap/,
            );
          else expect(parseSafetensors(file).tensors.size).toBe(2);
        },
      ),
      FC,
    );
  });

  it('huge declared sizes fail fast without allocating them', () => {
    const t0 = performance.now();
    // header length 2^63: refused by the 100 MB cap before any read.
    const prefix = new Uint8Array(16);
    new DataView(prefix.buffer).setBigUint64(0, 1n << 63n, true);
    expectNamed(
      () => parseSafetensors(prefix),
      InvalidHeaderError,
      /exceeds the 104857600-byte limit/,
    );
    // header length within the cap but beyond the file: truncated.
    new DataView(prefix.buffer).setBigUint64(0, 50_000_000n, true);
    expectNamed(
      () => parseSafetensors(prefix),
      TruncatedFileError,
      /header says 50000000 bytes of header/,
    );
    // a tensor claiming ~2 PB of data.
    const n = 2 ** 48;
    expectNamed(
      () =>
        parseSafetensors(
          fileWith({ x: { dtype: 'F64', shape: [n], data_offsets: [0, n * 8] } }, 16),
        ),
      TruncatedFileError,
      new RegExp(`header says ${n * 8} bytes of data, file has 16`),
    );
    // element counts past 2^53 are refused rather than computed wrongly.
    expectNamed(
      () =>
        parseSafetensors(
          fileWith({ x: { dtype: 'U8', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 1] } }, 16),
        ),
      InvalidHeaderError,
      /too many elements|needs/,
    );
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('header-level damage: tiny length, bad UTF-8, non-object JSON, bad metadata', () => {
    const tiny = new Uint8Array(9);
    new DataView(tiny.buffer).setBigUint64(0, 1n, true);
    expectNamed(() => parseSafetensors(tiny), InvalidHeaderError, /too small/);
    expectNamed(
      () => parseSafetensors(fileWith(null, 0, '[1,2]')),
      InvalidHeaderError,
      /must be a JSON object/,
    );
    expectNamed(
      () => parseSafetensors(fileWith(null, 0, '{"a":')),
      InvalidHeaderError,
      /not valid JSON/,
    );
    const bad = fileWith(null, 0, '{"a":1}');
    bad[10] = 0xff;
    expectNamed(() => parseSafetensors(bad), InvalidHeaderError, /UTF-8/);
    expectNamed(
      () => parseSafetensors(fileWith({ __metadata__: { steps: 100 } }, 0)),
      InvalidHeaderError,
      /__metadata__\["steps"\] must be a string, got 100/,
    );
    expect(parseSafetensors(fileWith({}, 0)).tensors.size).toBe(0);
  });
});

describe('openSafetensors on damaged files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'st-fuzz-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a truncated download is named as such before anything reads it', async () => {
    const path = join(dir, 'cut.safetensors');
    await writeFile(path, good.subarray(0, good.byteLength - 10));
    await expect(openSafetensors(path)).rejects.toThrow(TruncatedFileError);
    await expect(openSafetensors(path)).rejects.toThrow(
      /header says 42 bytes of data, file has 32/,
    );
    await writeFile(path, good.subarray(0, 5));
    await expect(openSafetensors(path)).rejects.toThrow(/too short/);
  });

  it('a pickle file renamed .safetensors is refused quickly', async () => {
    const path = join(dir, 'pickle.safetensors');
    const bytes = new Uint8Array(4096);
    bytes.set([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]);
    await writeFile(path, bytes);
    await expect(openSafetensors(path)).rejects.toThrow(SafetensorsError);
  });
});
