import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openSafetensors,
  parseSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  looksLikeSafetensors,
  SafetensorsError,
  type SafetensorsDType,
  type TensorToWrite,
} from '../../core/formats/index.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'tiny_sd');
const TE = join(FIX, 'text_encoder', 'model.safetensors');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'st-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openSafetensors on the fixtures', () => {
  it('reads the header of the tiny text encoder: names, shapes, metadata, parameter count', async () => {
    const f = await openSafetensors(TE);
    try {
      expect(f.tensors.size).toBe(84);
      expect(f.metadata).toEqual({ format: 'pt' });
      let params = 0;
      for (const t of f.tensors.values()) params += t.shape.reduce((a, b) => a * b, 1);
      expect(params).toBe(68_473);
      const emb = f.info('text_model.embeddings.token_embedding.weight');
      expect(emb.dtype).toBe('float32');
      expect(emb.shape).toEqual([1000, 32]);
      expect(emb.offset).toBe(f.dataOffset + 9856);
      expect(f.dataOffset % 8).toBe(0);
      expect(f.dataOffset + f.dataLength).toBe(f.fileSize);
    } finally {
      await f.close();
    }
  });

  it('reads tensors lazily at their offsets and agrees with the in-memory parser', async () => {
    const bytes = new Uint8Array(await readFile(TE));
    const mem = parseSafetensors(bytes, 'te');
    const f = await openSafetensors(TE);
    try {
      for (const name of [
        'text_model.final_layer_norm.weight',
        'text_model.encoder.layers.4.mlp.fc1.weight',
      ]) {
        const a = await f.readFloat32(name);
        const b = await mem.readFloat32(name);
        expect(a.length).toBe(f.info(name).shape.reduce((x, y) => x * y, 1));
        expect(Array.from(a)).toEqual(Array.from(b));
        expect(a.some((v) => v !== 0)).toBe(true);
      }
      const td = await f.readTensorData('text_model.final_layer_norm.bias');
      expect(td.dtype).toBe('float32');
      expect(td.shape).toEqual([32]);
      expect(td.bytes.byteLength).toBe(128);
    } finally {
      await f.close();
    }
    await expect(f.read('text_model.final_layer_norm.bias')).rejects.toThrow(/after close/);
  });

  it('names a missing tensor and suggests similar names', async () => {
    const f = await openSafetensors(TE);
    try {
      expect(() => f.info('text_model.final_layer_norm.weightx')).toThrow(SafetensorsError);
      expect(() => f.info('encoder.final_layer_norm.weight')).toThrow(
        /similar: text_model\.final_layer_norm\.weight/,
      );
    } finally {
      await f.close();
    }
  });

  it('reproduces a fixture file byte for byte (name order, compact JSON, space padding)', async () => {
    const original = new Uint8Array(await readFile(TE));
    const mem = parseSafetensors(original);
    const tensors = new Map<string, TensorToWrite>();
    for (const t of mem.tensors.values())
      tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: await mem.read(t.name) });
    const again = serializeSafetensors(tensors, mem.metadata);
    expect(again.byteLength).toBe(original.byteLength);
    expect(Buffer.compare(Buffer.from(again), Buffer.from(original))).toBe(0);
  });

  it('reads only the header of a large file (header-only helper)', async () => {
    const h = await readSafetensorsHeader(join(FIX, 'tiny_sd_ldm.safetensors'));
    expect(h.tensors.size).toBe(1012);
    expect(h.metadata).toEqual({});
    expect(h.fileSize).toBe(5_465_360);
  });
});

describe('writeSafetensors', () => {
  const all: Record<SafetensorsDType, number[]> = {
    float32: [1.5, -2, 3.25, 0],
    float16: [0x3c00, 0xc000, 0x7c00, 0],
    bfloat16: [0x3f80, 0xc000, 0x7f80, 1],
    float64: [Math.PI, -1e300, 0, 1],
    int64: [1, -2, 3, 2 ** 40],
    int32: [1, -2, 3, 2 ** 30],
    int16: [1, -2, 3, -32768],
    int8: [1, -2, 3, -128],
    uint8: [1, 2, 3, 255],
    bool: [1, 0, 1, 1],
  };
  function encode(dtype: SafetensorsDType, v: number[]): Uint8Array {
    switch (dtype) {
      case 'float32':
        return new Uint8Array(new Float32Array(v).buffer);
      case 'float64':
        return new Uint8Array(new Float64Array(v).buffer);
      case 'float16':
      case 'bfloat16':
        return new Uint8Array(new Uint16Array(v).buffer);
      case 'int64':
        return new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer);
      case 'int32':
        return new Uint8Array(new Int32Array(v).buffer);
      case 'int16':
        return new Uint8Array(new Int16Array(v).buffer);
      case 'int8':
        return new Uint8Array(new Int8Array(v).buffer);
      default:
        return new Uint8Array(v);
    }
  }

  it('round-trips every dtype, scalars, empty tensors and metadata through a file', async () => {
    const tensors: Record<string, TensorToWrite> = {};
    for (const [dtype, v] of Object.entries(all) as [SafetensorsDType, number[]][]) {
      tensors[`t.${dtype}`] = { dtype, shape: [2, 2], data: encode(dtype, v) };
    }
    tensors.scalar = { dtype: 'float32', shape: [], data: new Float32Array([7]) };
    tensors.empty = { dtype: 'float16', shape: [0, 3], data: new Uint8Array(0) };
    const path = join(dir, 'all.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', ss_note: 'ünïcode ✓' });
    const f = await openSafetensors(path);
    try {
      expect(f.metadata).toEqual({ format: 'pt', ss_note: 'ünïcode ✓' });
      expect(f.dataOffset % 8).toBe(0);
      for (const [dtype, v] of Object.entries(all) as [SafetensorsDType, number[]][]) {
        const info = f.info(`t.${dtype}`);
        expect(info.dtype).toBe(dtype);
        expect(Array.from(await f.read(`t.${dtype}`))).toEqual(Array.from(encode(dtype, v)));
      }
      expect(f.info('scalar').shape).toEqual([]);
      expect(Array.from(await f.readFloat32('scalar'))).toEqual([7]);
      expect((await f.read('empty')).byteLength).toBe(0);
      expect(f.names()[0]).toBe('empty'); // name order: 'empty' < 'scalar' < 't.*'
      await expect(f.readFloat32('t.int32')).rejects.toThrow(/cannot decode int32 as float32/);
      await expect(f.readTensorData('t.int16')).rejects.toThrow(/int16/);
    } finally {
      await f.close();
    }
    const header = (await readFile(path)).subarray(8, f.dataOffset).toString('utf8');
    expect(header).toMatch(/^\{"__metadata__":/);
    expect(header.trimEnd().endsWith('}')).toBe(true);
  });

  it('writes atomically: replaces an existing file, leaves no temp files, keeps the old file on bad input', async () => {
    const path = join(dir, 'atomic.safetensors');
    await writeFile(path, 'old contents');
    await writeSafetensors(path, {
      a: { dtype: 'float32', shape: [1], data: new Float32Array([1]) },
    });
    expect((await readFile(path)).byteLength).toBeGreaterThan(8);
    await expect(
      writeSafetensors(path, { b: { dtype: 'float32', shape: [3], data: new Float32Array([1]) } }),
    ).rejects.toThrow(/needs 12 bytes, got 4/);
    const f = await openSafetensors(path);
    expect([...f.tensors.keys()]).toEqual(['a']);
    await f.close();
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses bad input with named errors', () => {
    expect(() =>
      serializeSafetensors({
        x: { dtype: 'complex64' as SafetensorsDType, shape: [1], data: new Uint8Array(8) },
      }),
    ).toThrow(/unknown dtype 'complex64'; valid: float32/);
    expect(() =>
      serializeSafetensors({ x: { dtype: 'float32', shape: [1.5], data: new Uint8Array(4) } }),
    ).toThrow(/non-negative integers/);
    expect(() =>
      serializeSafetensors({
        __metadata__: { dtype: 'float32', shape: [1], data: new Uint8Array(4) },
      }),
    ).toThrow(/reserved/);
    expect(() => serializeSafetensors({}, { n: 3 as unknown as string })).toThrow(
      /metadata "n" must be a string/,
    );
  });

  it('sniffs safetensors vs other files', () => {
    const st = serializeSafetensors({ a: { dtype: 'uint8', shape: [1], data: new Uint8Array(1) } });
    expect(looksLikeSafetensors(st.subarray(0, 16), st.byteLength)).toBe(true);
    const pickle = new Uint8Array([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x05, 0x00, 0x00]);
    expect(looksLikeSafetensors(pickle, 1_000_000)).toBe(false);
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]);
    expect(looksLikeSafetensors(zip, 1_000_000)).toBe(false);
  });
});
