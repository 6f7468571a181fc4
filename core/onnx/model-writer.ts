// Graph IR → ONNX ModelProto bytes. Field numbers follow onnx/onnx.proto (IR version 10).
import { DTYPE_BYTES, ONNX_DTYPE_CODE } from '../graph/dtype.js';
import type { Attribute, Graph, Initializer, Node, TensorData, ValueInfo } from '../graph/ir.js';
import { numel, shapeToString } from '../graph/ir.js';
import { ProtoWriter } from './protobuf.js';

export const ONNX_IR_VERSION = 10;
/** Protobuf cannot exceed 2 GiB; bigger weights must be external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

const ATTR_TYPE = {
  float: 1,
  int: 2,
  string: 3,
  tensor: 4,
  floats: 6,
  ints: 7,
  strings: 8,
} as const;
// TensorProto.DataLocation
const DATA_LOCATION_EXTERNAL = 1;

function checkTensorBytes(
  what: string,
  t: { dtype: TensorData['dtype']; shape: readonly number[] },
  n: number,
): void {
  const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
  if (n !== want)
    throw new Error(`${what} ${t.dtype}${shapeToString(t.shape)} needs ${want} bytes, got ${n}`);
}

function writeTensor(w: ProtoWriter, name: string, t: TensorData | Initializer): void {
  for (const d of t.shape) w.varint(1, d);
  w.varint(2, ONNX_DTYPE_CODE[t.dtype]);
  if (name) w.string(8, name);
  const ext = 'external' in t ? t.external : undefined;
  const what = name ? `tensor '${name}'` : 'tensor attribute';
  if (ext) {
    checkTensorBytes(`external ${what}`, t, ext.length);
    if (!Number.isSafeInteger(ext.offset) || ext.offset < 0) {
      throw new Error(`external ${what} has offset ${ext.offset}; must be a non-negative integer`);
    }
    for (const [key, value] of [
      ['location', ext.location],
      ['offset', String(ext.offset)],
      ['length', String(ext.length)],
    ]) {
      w.message(13, (e) => e.string(1, key).string(2, value));
    }
    w.varint(14, DATA_LOCATION_EXTERNAL);
  } else {
    const bytes = t.bytes;
    if (!bytes) throw new Error(`${what} has neither inline bytes nor external data`);
    checkTensorBytes(what, t, bytes.byteLength);
    w.bytes(9, bytes);
  }
}

function writeAttribute(w: ProtoWriter, name: string, a: Attribute): void {
  w.string(1, name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.varint(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, '', a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedVarints(8, a.value);
      break;
    case 'strings':
      for (const s of a.value) w.string(9, s);
      break;
  }
  w.varint(20, ATTR_TYPE[a.type]);
}

function writeNode(w: ProtoWriter, n: Node): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, a] of Object.entries(n.attrs)) w.message(5, (m) => writeAttribute(m, k, a));
  if (n.domain) w.string(7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, ONNX_DTYPE_CODE[v.dtype]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          if (typeof d === 'number' && !(Number.isInteger(d) && d >= 0)) {
            throw new Error(
              `value '${v.name}' has dim ${d} in ${shapeToString(v.shape)}; dims are integers ≥ 0 or names`,
            );
          }
          // '' is an unknown dim with no name: an empty Dimension message.
          shape.message(1, (dim) => {
            if (typeof d === 'number') dim.varint(1, d);
            else if (d !== '') dim.string(2, d);
          });
        }
      });
    }),
  );
}

export interface WriteOptions {
  producerName?: string;
  producerVersion?: string;
  /** Versions for non-default op domains (default 1 each), e.g. `{ 'com.microsoft': 1 }`. */
  opsetImports?: Readonly<Record<string, number>>;
  /** Largest serialised size allowed; default the protobuf limit (tests pass a tiny one). */
  limitBytes?: number;
}

function inlineBytes(init: Initializer): number {
  return init.external ? 0 : (init.bytes?.byteLength ?? 0);
}

/** Error for a model too big to be one protobuf, naming the initializers worth moving out. */
export function tooBigError(graph: Graph, total: number, limit: number): Error {
  const biggest = graph.initializers
    .filter((i) => inlineBytes(i) > 0)
    .sort((a, b) => inlineBytes(b) - inlineBytes(a))
    .slice(0, 5)
    .map((i) => `${i.name} (${inlineBytes(i)} B)`);
  return new Error(
    `model '${graph.name}' serialises to ${total} bytes (${(total / 2 ** 30).toFixed(2)} GiB), over the ` +
      `${limit}-byte protobuf limit; store big initializers as external data (writeModelWithExternalData). ` +
      `Largest inline initializers: ${biggest.join(', ') || 'none'}`,
  );
}

/** Serialise to a list of chunks (big tensors by reference); join with `Buffer.concat` if needed. */
export function writeModelChunks(graph: Graph, opts: WriteOptions = {}): Uint8Array[] {
  const w = new ProtoWriter();
  w.varint(1, ONNX_IR_VERSION);
  w.string(2, opts.producerName ?? 'lora-studio');
  w.string(3, opts.producerVersion ?? '0.1.0');
  w.message(7, (g) => {
    for (const n of graph.nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, graph.name);
    for (const init of graph.initializers) g.message(5, (t) => writeTensor(t, init.name, init));
    for (const v of graph.inputs) g.message(11, (m) => writeValueInfo(m, v));
    for (const v of graph.outputs) g.message(12, (m) => writeValueInfo(m, v));
  });
  w.message(8, (o) => o.string(1, '').varint(2, graph.opset));
  const domains = new Set(graph.nodes.map((n) => n.domain).filter((d) => d !== ''));
  for (const d of Object.keys(opts.opsetImports ?? {})) domains.add(d);
  for (const d of domains)
    w.message(8, (o) => o.string(1, d).varint(2, opts.opsetImports?.[d] ?? 1));
  const chunks = w.finishChunks();
  const total = chunks.reduce((s, c) => s + c.byteLength, 0);
  const limit = opts.limitBytes ?? PROTOBUF_LIMIT;
  if (total > limit) throw tooBigError(graph, total, limit);
  return chunks;
}

export function writeModel(graph: Graph, opts: WriteOptions = {}): Uint8Array {
  const chunks = writeModelChunks(graph, opts);
  if (chunks.length === 1) return chunks[0];
  return Buffer.concat(chunks);
}
