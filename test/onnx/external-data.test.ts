import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../core/graph/builder.js';
import type { Graph } from '../../core/graph/ir.js';
import { float32ToFloat16Bits } from '../../core/graph/tensor-data.js';
import {
  checkExternalLocation,
  checkExternalRefs,
  externalRefsOfModel,
  planExternalData,
  Session,
  writeModel,
  writeModelWithExternalData,
} from '../../core/onnx/index.js';
import { f32bytes, graphOf, mlpGraph, node, randomFloats, vi } from './helpers.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-ext-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const fresh = (name: string): string =>
  fs.mkdirSync(path.join(root, name), { recursive: true }) ?? path.join(root, name);

/** A safetensors file: u64 LE header length, JSON header (offsets relative to the data), data. */
function safetensors(
  tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>,
): {
  file: Uint8Array;
  offsetOf: (name: string) => number;
} {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let pos = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [pos, pos + t.bytes.byteLength],
    };
    pos += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // writers pad the header to 8 bytes
  const head = new TextEncoder().encode(json);
  const file = new Uint8Array(8 + head.byteLength + pos);
  new DataView(file.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  file.set(head, 8);
  let off = 8 + head.byteLength;
  for (const t of Object.values(tensors)) {
    file.set(t.bytes, off);
    off += t.bytes.byteLength;
  }
  const parsedLen = Number(new DataView(file.buffer).getBigUint64(0, true));
  const parsed = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + parsedLen))) as Record<
    string,
    { data_offsets: number[] }
  >;
  return { file, offsetOf: (name) => 8 + parsedLen + parsed[name].data_offsets[0] };
}

describe('external data', () => {
  // y = x·W + b + cast(h): W f32 [4,3], b f32 [3], h f16 [3] — all read from a .safetensors file.
  const W = randomFloats(12, 7);
  const b = randomFloats(3, 8);
  const h = [0.5, -1.25, 2];
  const hBytes = new Uint8Array(new Uint16Array(h.map(float32ToFloat16Bits)).buffer);
  const st = safetensors({
    'lin.weight': { dtype: 'F32', shape: [4, 3], bytes: f32bytes(W) },
    'lin.bias': { dtype: 'F32', shape: [3], bytes: f32bytes(b) },
    'extra.h': { dtype: 'F16', shape: [3], bytes: hBytes },
  });
  const x = new Float32Array([1, 2, -1, 0.5, 0, 1, 1, -2]);
  const expected = Array.from({ length: 6 }, (_, i) => {
    const [r, c] = [Math.floor(i / 3), i % 3];
    let s = b[c] + h[c];
    for (let k = 0; k < 4; k++) s += x[r * 4 + k] * W[k * 3 + c];
    return s;
  });
  const stGraph = (location: string): Graph => {
    const g = new GraphBuilder('st');
    const xin = g.input('x', 'float32', ['batch', 4]);
    const ext = (name: string, length: number) => ({ location, offset: st.offsetOf(name), length });
    const w = g.initializer('W', 'float32', [4, 3], ext('lin.weight', 48));
    const bias = g.initializer('b', 'float32', [3], ext('lin.bias', 12));
    const hv = g.initializer('h', 'float16', [3], ext('extra.h', 6));
    g.output(
      g.op('Add', [g.op('Add', [g.op('MatMul', [xin, w]), bias]), g.cast(hv, 'float32')]),
      'y',
    );
    return g.build();
  };
  const feeds = { x: { dtype: 'float32' as const, shape: [2, 4], data: x } };
  const expectClose = (got: ArrayLike<number>) =>
    Array.from(got).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));

  it('initializers pointing into a .safetensors file next to the model load and run', async () => {
    const dir = fresh('st-file');
    fs.writeFileSync(path.join(dir, 'model.safetensors'), st.file);
    const graph = stGraph('model.safetensors');
    // As a model file in the same directory …
    fs.writeFileSync(path.join(dir, 'model.onnx'), writeModel(graph));
    const byPath = await Session.create(path.join(dir, 'model.onnx'));
    expectClose((await byPath.run(feeds)).y.data as Float32Array);
    await byPath.release();
    // … and straight from the graph, locations resolved against modelDir (no model file needed).
    const byGraph = await Session.create(graph, { modelDir: dir });
    expectClose((await byGraph.run(feeds)).y.data as Float32Array);
    await byGraph.release();
  });

  it('the same initializers load from the safetensors bytes handed over in memory', async () => {
    const s = await Session.create(stGraph('model.safetensors'), {
      externalData: [{ path: 'model.safetensors', data: st.file }],
    });
    expectClose((await s.run(feeds)).y.data as Float32Array);
    await s.release();
  });

  it('reads external references back from model bytes', () => {
    const refs = externalRefsOfModel(writeModel(stGraph('model.safetensors')));
    expect(refs).toEqual([
      { tensor: 'W', location: 'model.safetensors', offset: st.offsetOf('lin.weight'), length: 48 },
      { tensor: 'b', location: 'model.safetensors', offset: st.offsetOf('lin.bias'), length: 12 },
      { tensor: 'h', location: 'model.safetensors', offset: st.offsetOf('extra.h'), length: 6 },
    ]);
  });

  it('writeModelWithExternalData moves big initializers to an aligned weights file', async () => {
    const dir = fresh('writer');
    const g = new GraphBuilder('mixed');
    const xin = g.input('x', 'float32', [1, 64]);
    const big = randomFloats(64 * 64, 3);
    const w = g.initializer('w', 'float32', [64, 64], f32bytes(big));
    const small = g.initializer('s', 'float32', [64], f32bytes(new Float32Array(64).fill(0.5)));
    g.output(g.op('Add', [g.op('MatMul', [xin, w]), small]), 'y');
    const graph = g.build();
    const res = await writeModelWithExternalData(graph, dir, {
      thresholdBytes: 1024,
      alignment: 4096,
    });
    expect(res.externalized).toEqual(['w']);
    expect(res.graph.initializers.find((i) => i.name === 'w')?.external).toEqual({
      location: 'model.weights',
      offset: 0,
      length: 16384,
    });
    expect(fs.statSync(path.join(dir, 'model.weights')).size).toBe(16384);
    expect(fs.statSync(res.modelPath).size).toBeLessThan(1024);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const inline = await Session.create(graph);
    const external = await Session.create(res.modelPath);
    const xf = { x: { dtype: 'float32' as const, shape: [1, 64], data: randomFloats(64, 4) } };
    expect((await external.run(xf)).y.data).toEqual((await inline.run(xf)).y.data);
    await Promise.all([inline.release(), external.release()]);
  });

  it('plans externalisation by threshold, then largest-first until the protobuf fits a limit', () => {
    const inits = [10, 3000, 20000, 6000].map((n, i) => ({
      name: `t${i}`,
      dtype: 'uint8' as const,
      shape: [n],
      bytes: new Uint8Array(n),
    }));
    const g = graphOf({ outputs: [vi('t0', 'uint8', [10])], nodes: [], initializers: inits });
    expect([...planExternalData(g, { thresholdBytes: 10000 })]).toEqual(['t2']);
    expect([...planExternalData(g, { thresholdBytes: 1000 })]).toEqual(['t1', 't2', 't3']);
    // A tiny fake limit forces more out, biggest first, and no more than needed.
    expect([...planExternalData(g, { thresholdBytes: 10000, limitBytes: 9000 })]).toEqual([
      't2',
      't3',
    ]);
    expect([...planExternalData(g, { thresholdBytes: 1e9, limitBytes: 9000 })]).toEqual([
      't2',
      't3',
    ]);
    expect([...planExternalData(g, { thresholdBytes: 1e9, limitBytes: 2000 })]).toEqual([
      't2',
      't3',
      't1',
    ]);
    for (const limitBytes of [9000, 2000]) {
      const moved = planExternalData(g, { thresholdBytes: 1e9, limitBytes });
      const written = graphOf({
        outputs: [vi('t0', 'uint8', [10])],
        nodes: [],
        initializers: inits.map((i) =>
          moved.has(i.name)
            ? {
                ...i,
                bytes: undefined,
                external: { location: 'model.weights', offset: 0, length: i.shape[0] },
              }
            : i,
        ),
      });
      expect(writeModel(written).byteLength).toBeLessThanOrEqual(limitBytes);
    }
  });

  it('writes under a fake protobuf limit by externalising enough, and fails clearly when it cannot', async () => {
    const dir = fresh('limit');
    const inits = [4000, 4000, 200].map((n, i) => ({
      name: `p${i}`,
      dtype: 'uint8' as const,
      shape: [n],
      bytes: new Uint8Array(n).fill(i),
    }));
    const g = graphOf({ outputs: [vi('p2', 'uint8', [200])], nodes: [], initializers: inits });
    expect(() => writeModel(g, { limitBytes: 4000 })).toThrow(
      /over the 4000-byte protobuf limit.*p0 \(4000 B\), p1 \(4000 B\), p2 \(200 B\)/s,
    );
    const res = await writeModelWithExternalData(g, dir, { thresholdBytes: 1e9, limitBytes: 4000 });
    expect(res.externalized.sort()).toEqual(['p0', 'p1']);
    expect(fs.statSync(res.modelPath).size).toBeLessThanOrEqual(4000);
    expect(fs.statSync(path.join(dir, 'model.weights')).size).toBe(4096 + 4000);
    await expect(
      writeModelWithExternalData(g, fresh('limit2'), { thresholdBytes: 1e9, limitBytes: 100 }),
    ).rejects.toThrow(/over the 100-byte protobuf limit/);
  });

  it('refuses absolute, escaping and symlinked-out locations — as ORT does', async () => {
    const dir = fresh('rules');
    const outside = fresh('outside');
    fs.writeFileSync(path.join(outside, 'w.bin'), f32bytes([1, 2, 3]));
    fs.writeFileSync(path.join(dir, 'inside.bin'), f32bytes([1, 2, 3]));
    fs.symlinkSync(path.join(outside, 'w.bin'), path.join(dir, 'link.bin'));
    fs.symlinkSync(path.join(dir, 'inside.bin'), path.join(dir, 'link-in.bin'));
    expect(checkExternalLocation('inside.bin', dir)).toBe(path.join(dir, 'inside.bin'));
    expect(checkExternalLocation('link-in.bin', dir)).toBe(path.join(dir, 'link-in.bin'));
    expect(() => checkExternalLocation(path.join(outside, 'w.bin'), dir)).toThrow(/is absolute/);
    expect(() => checkExternalLocation('../outside/w.bin', dir)).toThrow(
      /escapes the model directory/,
    );
    expect(() => checkExternalLocation('link.bin', dir)).toThrow(
      /through a symlink.*outside the model directory/,
    );
    // ORT itself refuses the symlink that leads out (loaded by path: no pre-check of ours).
    const g = graphOf({
      outputs: [vi('y', 'float32', [3])],
      nodes: [node('Identity', ['w'], ['y'])],
      initializers: [
        {
          name: 'w',
          dtype: 'float32',
          shape: [3],
          external: { location: 'link.bin', offset: 0, length: 12 },
        },
      ],
    });
    fs.writeFileSync(path.join(dir, 'model.onnx'), writeModel(g));
    await expect(Session.create(path.join(dir, 'model.onnx'))).rejects.toThrow(
      /escapes|outside|External data path/i,
    );
    await expect(Session.create(g, { modelDir: dir })).rejects.toThrow(/through a symlink/);
  });

  it('lists every unresolvable reference at once', () => {
    const dir = fresh('refs');
    fs.writeFileSync(path.join(dir, 'a.bin'), new Uint8Array(16));
    const refs = [
      { tensor: 'ok', location: 'a.bin', offset: 0, length: 16 },
      { tensor: 'short', location: 'a.bin', offset: 8, length: 16 },
      { tensor: 'gone', location: 'missing.bin', offset: 0, length: 4 },
      { tensor: 'mem', location: 'virtual.bin', offset: 0, length: 8 },
    ];
    const run = () =>
      checkExternalRefs(refs, dir, [{ path: 'virtual.bin', data: new Uint8Array(4) }]);
    expect(run).toThrow(/3 problems/);
    expect(run).toThrow(/'short' reads bytes 8\.\.24 of 'a\.bin', which has 16/);
    expect(run).toThrow(/'gone': external data file 'missing\.bin' not found/);
    expect(run).toThrow(/'mem' reads bytes 0\.\.8 of 'virtual\.bin', which has 4/);
    expect(() => checkExternalRefs(refs.slice(0, 1), undefined)).toThrow(
      /no model directory and no in-memory entry/,
    );
  });

  it('a graph over the protobuf limit runs, its biggest initializers handed to ORT in memory', async () => {
    const layer = (i: number) => ({
      w: f32bytes(randomFloats(64 * 64, i + 1)),
      b: f32bytes(randomFloats(64, i + 20)),
    });
    const g = mlpGraph(3, 64, layer); // 3 × 16 KiB weights inline
    const feeds = { x: { dtype: 'float32' as const, shape: [2, 64], data: randomFloats(128, 3) } };
    const normal = await Session.create(g);
    const squeezed = await Session.create(g, { inlineLimitBytes: 20000 });
    expect(normal.info.inMemoryInitializers).toBeUndefined();
    expect(squeezed.info.inMemoryInitializers?.sort()).toEqual(['w0', 'w1']);
    expect((await squeezed.run(feeds)).y.data).toEqual((await normal.run(feeds)).y.data);
    expect(() => writeModel(g, { limitBytes: 20000 })).toThrow(/protobuf limit/);
    await Promise.all([normal.release(), squeezed.release()]);
  });
});
