// External data: initializers whose bytes live outside the protobuf — in a weights file next to
// the model (location relative to the model's directory), or handed to ORT in memory.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Graph, Initializer } from '../graph/ir.js';
import { PROTOBUF_LIMIT, writeModelChunks, type WriteOptions } from './model-writer.js';
import { protoFields, protoMessages, protoString } from './protobuf-reader.js';

/** What a model says about one external tensor. */
export interface ExternalRef {
  readonly tensor: string;
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** An in-memory external data file (the `externalData` session option). */
export interface InMemoryExternalData {
  readonly path: string;
  readonly data: Uint8Array;
}

export function externalRefsOfGraph(graph: Graph): ExternalRef[] {
  return graph.initializers
    .filter((i) => i.external)
    .map((i) => ({ tensor: i.name, ...i.external! }));
}

/** External references in serialised ModelProto bytes (graph initializers). */
export function externalRefsOfModel(model: Uint8Array): ExternalRef[] {
  const refs: ExternalRef[] = [];
  for (const graph of protoMessages(model, 7)) {
    for (const tensor of protoMessages(graph, 5)) {
      let name = '';
      const kv = new Map<string, string>();
      let external = false;
      for (const f of protoFields(tensor)) {
        if (f.field === 8 && f.wire === 2) name = protoString(f.value);
        else if (f.field === 14 && f.wire === 0) external = f.value === 1n;
        else if (f.field === 13 && f.wire === 2) {
          const [k, v] = [protoMessages(f.value, 1)[0], protoMessages(f.value, 2)[0]];
          if (k && v) kv.set(protoString(k), protoString(v));
        }
      }
      if (!external) continue;
      refs.push({
        tensor: name,
        location: kv.get('location') ?? '',
        offset: Number(kv.get('offset') ?? 0),
        length: Number(kv.get('length') ?? -1),
      });
    }
  }
  return refs;
}

/**
 * The rules ORT enforces for a file-based location, checked up front for a clearer message:
 * relative, not escaping the model directory — symlinks resolved, as ORT resolves them.
 * Returns the resolved file path.
 */
export function checkExternalLocation(location: string, modelDir: string): string {
  if (location === '') throw new Error('external data location is empty');
  if (path.isAbsolute(location) || path.win32.isAbsolute(location)) {
    throw new Error(
      `external data location '${location}' is absolute; ORT only accepts paths relative to the model directory`,
    );
  }
  const norm = path.normalize(location);
  if (norm === '..' || norm.startsWith(`..${path.sep}`)) {
    throw new Error(
      `external data location '${location}' escapes the model directory '${modelDir}'`,
    );
  }
  const file = path.join(modelDir, norm);
  if (!fs.existsSync(file))
    throw new Error(`external data file '${location}' not found in '${modelDir}'`);
  const realDir = fs.realpathSync(modelDir);
  const realFile = fs.realpathSync(file);
  const rel = path.relative(realDir, realFile);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(
      `external data location '${location}' resolves (through a symlink) to '${realFile}', outside the model directory '${realDir}'; ORT refuses it — put the model next to the weights or pass them in memory (externalData)`,
    );
  }
  return file;
}

/**
 * Check that every external reference can be satisfied — by an in-memory entry of the same path,
 * or a file under `modelDir` long enough — and report all the problems at once.
 */
export function checkExternalRefs(
  refs: readonly ExternalRef[],
  modelDir: string | undefined,
  inMemory: readonly InMemoryExternalData[] = [],
): void {
  const memory = new Map(inMemory.map((e) => [e.path, e.data.byteLength]));
  const sizes = new Map<string, number>();
  const problems: string[] = [];
  for (const ref of refs) {
    let size = memory.get(ref.location);
    if (size === undefined) {
      if (!modelDir) {
        problems.push(
          `'${ref.tensor}' → '${ref.location}': no model directory and no in-memory entry of that path`,
        );
        continue;
      }
      try {
        if (!sizes.has(ref.location))
          sizes.set(ref.location, fs.statSync(checkExternalLocation(ref.location, modelDir)).size);
        size = sizes.get(ref.location)!;
      } catch (e) {
        problems.push(`'${ref.tensor}': ${(e as Error).message}`);
        continue;
      }
    }
    if (ref.offset + ref.length > size) {
      problems.push(
        `'${ref.tensor}' reads bytes ${ref.offset}..${ref.offset + ref.length} of '${ref.location}', which has ${size}`,
      );
    }
  }
  if (problems.length) {
    const known = [...memory.keys()].map((p) => `'${p}'`).join(', ');
    throw new Error(
      `external data cannot be resolved (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${problems.join('\n  ')}` +
        (memory.size ? `\nin-memory entries: ${known}` : ''),
    );
  }
}

export interface ExternalizeOptions {
  /** Inline initializers of at least this many bytes go to the weights file (default 1 KiB). */
  thresholdBytes?: number;
  /** Protobuf size limit (default 2 GiB − 1); bigger ones are moved out until the model fits. */
  limitBytes?: number;
  /** Byte alignment of each tensor in the weights file, so ORT can map it (default 4096). */
  alignment?: number;
}

/** Which inline initializers to move to external data: the big ones, then largest-first until it fits. */
export function planExternalData(graph: Graph, opts: ExternalizeOptions = {}): Set<string> {
  const threshold = opts.thresholdBytes ?? 1024;
  const limit = opts.limitBytes ?? PROTOBUF_LIMIT;
  const size = (i: Initializer): number => (i.external ? 0 : (i.bytes?.byteLength ?? 0));
  const chosen = new Set(
    graph.initializers.filter((i) => size(i) > 0 && size(i) >= threshold).map((i) => i.name),
  );
  let total = graph.initializers.reduce((s, i) => s + (chosen.has(i.name) ? 0 : size(i)), 0);
  // Everything that is not inline tensor data (nodes, names, external records) counts too.
  const overhead = estimateOverhead(graph);
  const rest = graph.initializers
    .filter((i) => size(i) > 0 && !chosen.has(i.name))
    .sort((a, b) => size(b) - size(a));
  for (const init of rest) {
    if (total + overhead <= limit) break;
    chosen.add(init.name);
    total -= size(init);
  }
  return chosen;
}

/** Serialised size with every initializer external: the part of the model that is not tensor data. */
function estimateOverhead(graph: Graph): number {
  const bare: Graph = {
    ...graph,
    initializers: graph.initializers.map((i) => ({
      name: i.name,
      dtype: i.dtype,
      shape: i.shape,
      external: i.external ?? {
        location: 'model.weights',
        offset: 2 ** 40,
        length: i.bytes?.byteLength ?? 0,
      },
    })),
  };
  return writeModelChunks(bare, { limitBytes: Infinity }).reduce((s, c) => s + c.byteLength, 0);
}

export interface ExternalWriteOptions extends ExternalizeOptions, WriteOptions {
  modelFileName?: string;
  weightsFileName?: string;
}

export interface ExternalWriteResult {
  modelPath: string;
  weightsPath: string | undefined;
  /** Names of the initializers written to the weights file. */
  externalized: string[];
  /** The graph as written (moved initializers now point into the weights file). */
  graph: Graph;
}

async function writeChunks(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const fh = await fs.promises.open(file, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Write `dir/model.onnx` plus `dir/<weights>` holding the big initializers, each file written to a
 * temporary name and renamed, so a reader never sees a half-written model.
 */
export async function writeModelWithExternalData(
  graph: Graph,
  dir: string,
  opts: ExternalWriteOptions = {},
): Promise<ExternalWriteResult> {
  const modelFileName = opts.modelFileName ?? 'model.onnx';
  const weightsFileName = opts.weightsFileName ?? `${path.parse(modelFileName).name}.weights`;
  const alignment = opts.alignment ?? 4096;
  await fs.promises.mkdir(dir, { recursive: true });
  const existing = externalRefsOfGraph(graph);
  const clash = existing.find((r) => r.location === weightsFileName);
  if (clash) {
    throw new Error(
      `initializer '${clash.tensor}' already points into '${weightsFileName}', which this write would replace; pass another weightsFileName`,
    );
  }
  checkExternalRefs(existing, dir);
  const moved = planExternalData(graph, opts);
  const pieces: Uint8Array[] = [];
  let offset = 0;
  const initializers = graph.initializers.map((init): Initializer => {
    if (!moved.has(init.name) || !init.bytes) return init;
    const pad = (alignment - (offset % alignment)) % alignment;
    if (pad) pieces.push(new Uint8Array(pad));
    offset += pad;
    pieces.push(init.bytes);
    const ext = { location: weightsFileName, offset, length: init.bytes.byteLength };
    offset += init.bytes.byteLength;
    return { name: init.name, dtype: init.dtype, shape: init.shape, external: ext };
  });
  const written: Graph = { ...graph, initializers };
  const chunks = writeModelChunks(written, opts);
  const tag = `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const modelPath = path.join(dir, modelFileName);
  const weightsPath = moved.size ? path.join(dir, weightsFileName) : undefined;
  try {
    if (weightsPath) {
      await writeChunks(weightsPath + tag, pieces);
      await fs.promises.rename(weightsPath + tag, weightsPath);
    }
    await writeChunks(modelPath + tag, chunks);
    await fs.promises.rename(modelPath + tag, modelPath);
  } catch (e) {
    for (const f of [modelPath + tag, `${weightsPath}${tag}`])
      await fs.promises.rm(f, { force: true });
    throw e;
  }
  return { modelPath, weightsPath, externalized: [...moved], graph: written };
}
