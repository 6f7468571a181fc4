// Mutated safetensors headers and bodies — checkpoint-shaped (the tiny SD fixture's real header,
// written as a sparse file) through the real checkpoint loader (pickle check, family detection,
// key maps), and LoRA-shaped (kohya names for the tiny UNet's modules) through the LoRA reader
// and converter. Seeded fast-check mutations; every case a result or a clear error.
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  CheckpointError,
  convertLora,
  inspectCheckpoint,
  kohyaName,
  loadCheckpoint,
  LoraFormatError,
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  type RawLoraTensor,
} from '../../../core/formats/index.js';
import {
  unetConfigFromJson,
  unetModuleSites,
  type ModuleSite,
} from '../../../core/models/index.js';
import { fixturePath, loadJson } from '../../models/model-fixtures.js';
import { FuzzRun, type FuzzStats } from './fuzz-stats.js';

type Header = Record<string, unknown>;

/** One edit to a parsed header or to the file's bytes. */
type Mutation =
  | { op: 'delete'; pick: number }
  | { op: 'rename'; pick: number; at: number; ch: string }
  | { op: 'dtype'; pick: number; dtype: string }
  | { op: 'shape'; pick: number; shape: unknown }
  | { op: 'offsets'; pick: number; offsets: unknown }
  | { op: 'entry'; pick: number; value: unknown }
  | { op: 'metadata'; value: unknown }
  | { op: 'add'; name: string; value: unknown }
  | { op: 'truncate-json'; keep: number }
  | { op: 'length-prefix'; delta: number }
  | { op: 'body'; delta: number }
  | { op: 'bytes'; edits: [number, number][] };

const junk = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.constant(null),
  fc.constant(2 ** 53),
  fc.constant(-1),
  fc.array(fc.integer({ min: -3, max: 1 << 30 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({
    op: fc.constant('rename' as const),
    pick: fc.nat(),
    at: fc.nat(),
    ch: fc.constantFrom('.', '_', 'x', '0', '\u0000', 'é', ''),
  }),
  fc.record({
    op: fc.constant('dtype' as const),
    pick: fc.nat(),
    dtype: fc.constantFrom('F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'Q4', '', 'f32'),
  }),
  fc.record({
    op: fc.constant('shape' as const),
    pick: fc.nat(),
    shape: fc.oneof(
      fc.array(fc.integer({ min: -2, max: 4096 }), { maxLength: 5 }),
      fc.constant([2 ** 31, 2 ** 31, 2 ** 31]),
      fc.constant([1.5, 2]),
      junk,
    ),
  }),
  fc.record({
    op: fc.constant('offsets' as const),
    pick: fc.nat(),
    offsets: fc.oneof(
      fc.tuple(fc.integer({ min: -8, max: 1 << 24 }), fc.integer({ min: -8, max: 1 << 24 })),
      fc.constant([0, Number.MAX_SAFE_INTEGER]),
      junk,
    ),
  }),
  fc.record({ op: fc.constant('entry' as const), pick: fc.nat(), value: junk }),
  fc.record({
    op: fc.constant('metadata' as const),
    value: fc.oneof(
      junk,
      fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 64 })),
    ),
  }),
  fc.record({
    op: fc.constant('add' as const),
    name: fc.string({ maxLength: 40 }),
    value: fc.oneof(
      junk,
      fc.record({
        dtype: fc.constant('F32'),
        shape: fc.array(fc.nat(64), { maxLength: 3 }),
        data_offsets: fc.tuple(fc.nat(1 << 20), fc.nat(1 << 20)),
      }),
    ),
  }),
  fc.record({ op: fc.constant('truncate-json' as const), keep: fc.double({ min: 0, max: 1 }) }),
  fc.record({
    op: fc.constant('length-prefix' as const),
    delta: fc.integer({ min: -64, max: 64 }),
  }),
  fc.record({ op: fc.constant('body' as const), delta: fc.integer({ min: -4096, max: 64 }) }),
  fc.record({
    op: fc.constant('bytes' as const),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }),
  }),
);

export const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

function keyAt(h: Header, pick: number): string | undefined {
  const keys = Object.keys(h).filter((k) => k !== '__metadata__');
  return keys.length ? keys[pick % keys.length] : undefined;
}

function setField(h: Header, pick: number, field: string, value: unknown): void {
  const k = keyAt(h, pick);
  const e = k ? h[k] : undefined;
  if (k && e && typeof e === 'object') h[k] = { ...(e as object), [field]: value };
}

/** Apply the edits: header edits on the JSON, then the byte-level ones on the file image. */
export function mutate(
  header: Header,
  dataLength: number,
  ms: readonly Mutation[],
  body?: Uint8Array,
): { head: Uint8Array; bodyLength: number; body?: Uint8Array } {
  const h: Header = structuredClone(header);
  let prefixDelta = 0;
  let bodyLength = dataLength;
  let keep = 1;
  for (const m of ms) {
    const k = 'pick' in m ? keyAt(h, m.pick) : undefined;
    if (m.op === 'delete' && k) delete h[k];
    else if (m.op === 'rename' && k) {
      const at = m.at % (k.length + 1);
      h[k.slice(0, at) + m.ch + k.slice(at + 1)] = h[k];
      if (m.ch !== k[at]) delete h[k];
    } else if (m.op === 'dtype') setField(h, m.pick, 'dtype', m.dtype);
    else if (m.op === 'shape') setField(h, m.pick, 'shape', m.shape);
    else if (m.op === 'offsets') setField(h, m.pick, 'data_offsets', m.offsets);
    else if (m.op === 'entry' && k) h[k] = m.value;
    else if (m.op === 'metadata') h.__metadata__ = m.value;
    else if (m.op === 'add') h[m.name] = m.value;
    else if (m.op === 'truncate-json') keep = m.keep;
    else if (m.op === 'length-prefix') prefixDelta = m.delta;
    else if (m.op === 'body') bodyLength = Math.max(0, dataLength + m.delta);
  }
  let text = JSON.stringify(h);
  if (keep < 1) text = text.slice(0, Math.floor(text.length * keep));
  const json = new TextEncoder().encode(text);
  const head = new Uint8Array(8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(
    0,
    BigInt(Math.max(0, json.byteLength + prefixDelta)),
    true,
  );
  head.set(json, 8);
  let out = body ? body.slice(0, Math.min(body.byteLength, bodyLength)) : undefined;
  if (out && out.byteLength < bodyLength) {
    const grown = new Uint8Array(bodyLength);
    grown.set(out);
    out = grown;
  }
  for (const m of ms)
    if (m.op === 'bytes') {
      const target = out && out.byteLength > 0 ? out : head;
      for (const [i, v] of m.edits) target[i % target.byteLength] = v;
    }
  return { head, bodyLength, body: out };
}

function headerOf(bytes: Uint8Array): { header: Header; dataLength: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Header;
  return { header, dataLength: bytes.byteLength - 8 - n };
}

const expected = [SafetensorsError, CheckpointError, LoraFormatError];
// The tiny fixture's group norms cannot be read from its weights (see checkpoint-loader.test).
const TINY_CONFIGS = {
  unet: { norm_num_groups: 8, sample_size: 8 },
  vae: { norm_num_groups: 8, sample_size: 64 },
  textEncoder: { num_attention_heads: 4 },
};

/** Checkpoint-shaped cases: the fixture's header mutated, a sparse body, the real loader. */
export async function fuzzCheckpoints(
  dir: string,
  numRuns: number,
  seed: number,
): Promise<FuzzStats> {
  const run = new FuzzRun('safetensors checkpoint → loadCheckpoint', expected);
  const src = await readFile(fixturePath('tiny_sd/tiny_sd_ldm.safetensors'));
  const { header, dataLength } = headerOf(
    new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
  );
  const file = join(dir, 'fuzz-checkpoint.safetensors');
  let i = 0;
  for (const ms of fc.sample(mutations, { seed, numRuns })) {
    const { head, bodyLength } = mutate(header, dataLength, ms);
    await writeFile(file, head);
    // Sparse body: the loader reads headers and offsets, never the weights, on this path.
    const fh = await open(file, 'r+');
    await fh.truncate(head.byteLength + bodyLength);
    await fh.close();
    await run.case(`checkpoint #${i++} ${JSON.stringify(ms).slice(0, 160)}`, async () => {
      await inspectCheckpoint(file);
      const ck = await loadCheckpoint(file, { configs: TINY_CONFIGS });
      await ck.close();
    });
  }
  await rm(file, { force: true });
  return run.finish();
}

/** A kohya LoRA for the tiny UNet's modules (rank 2, random weights). */
export async function tinyKohyaLora(): Promise<{ bytes: Uint8Array; sites: ModuleSite[] }> {
  const sites = unetModuleSites(unetConfigFromJson(await loadJson('tiny_sd/unet/config.json')));
  const tensors: Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
  let x = 1;
  const rand = (n: number) =>
    Float32Array.from(
      { length: n },
      () => ((x = (x * 48271) % 2147483647) / 2147483647 - 0.5) * 0.1,
    );
  for (const s of sites.slice(0, 24)) {
    const k = kohyaName('unet', s.module);
    const [kh, kw] = s.kind === 'conv2d' ? s.kernel : [1, 1];
    const down = s.kind === 'conv2d' ? [2, s.inFeatures, kh, kw] : [2, s.inFeatures];
    const up = s.kind === 'conv2d' ? [s.outFeatures, 2, 1, 1] : [s.outFeatures, 2];
    tensors[`${k}.lora_down.weight`] = {
      dtype: 'float32',
      shape: down,
      data: rand(down.reduce((a, b) => a * b)),
    };
    tensors[`${k}.lora_up.weight`] = {
      dtype: 'float32',
      shape: up,
      data: rand(up.reduce((a, b) => a * b)),
    };
    tensors[`${k}.alpha`] = { dtype: 'float32', shape: [], data: Float32Array.of(2) };
  }
  return { bytes: serializeSafetensors(tensors, { ss_network_dim: '2' }), sites };
}

/** LoRA-shaped cases: header and body mutated in memory, through the reader and converter. */
export async function fuzzLoras(numRuns: number, seed: number): Promise<FuzzStats> {
  const run = new FuzzRun('safetensors LoRA → convertLora', expected);
  const { bytes, sites } = await tinyKohyaLora();
  const known = { unet: sites.map((s) => s.module), text_encoder: [] };
  const { header, dataLength } = headerOf(bytes);
  const body = bytes.subarray(bytes.byteLength - dataLength);
  let i = 0;
  for (const ms of fc.sample(mutations, { seed, numRuns })) {
    const m = mutate(header, dataLength, ms, body);
    const file = new Uint8Array(m.head.byteLength + (m.body?.byteLength ?? 0));
    file.set(m.head);
    if (m.body) file.set(m.body, m.head.byteLength);
    await run.case(
      `lora #${i++} ${JSON.stringify(ms).slice(0, 160)}`,
      async () => {
        const r = parseSafetensors(file, 'fuzz.safetensors');
        const tensors = new Map<string, RawLoraTensor>();
        for (const [name, info] of r.tensors)
          tensors.set(name, { dtype: info.dtype, shape: info.shape, bytes: await r.read(name) });
        return convertLora(tensors, known, r.metadata, 'fuzz.safetensors');
      },
      (lora) => {
        // A converted LoRA must be usable: finite weights of the shapes it claims.
        for (const mod of lora.modules)
          for (const mat of [mod.down, mod.up])
            if (mat.data.some((v) => !Number.isFinite(v)))
              return `${mod.module}: non-finite weights accepted`;
        return undefined;
      },
    );
  }
  return run.finish();
}
