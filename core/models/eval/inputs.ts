// What each evaluable component takes, and the checks and conversions from tensors read out of a
// file to session feeds. Every problem names the tensor and lists the expected inputs.
import { float32ToFloat16Bits } from '../../graph/index.js';
import { isFloatFormat, toFloat32, type SafetensorsDType } from '../../formats/index.js';
import type { HostTensor } from '../../onnx/index.js';
import type { ClipTextConfig } from '../clip/index.js';
import type { UNetConfig } from '../unet/index.js';
import type { VaeConfig } from '../vae/index.js';

export type EvalComponent = 'text-encoder' | 'unet' | 'vae-encode' | 'vae-decode';
export const EVAL_COMPONENTS: readonly EvalComponent[] = [
  'text-encoder',
  'unet',
  'vae-encode',
  'vae-decode',
];

/** A tensor as read from an inputs file. */
export interface EvalTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

export interface ComponentConfigs {
  readonly unet: UNetConfig;
  readonly vae: VaeConfig;
  readonly textEncoder: ClipTextConfig;
}

/** Input tensor names of each component. */
export const EVAL_INPUT_NAMES: Readonly<Record<EvalComponent, readonly string[]>> = Object.freeze({
  'text-encoder': ['input_ids'],
  unet: ['sample', 'timestep', 'encoder_hidden_states'],
  'vae-encode': ['image'],
  'vae-decode': ['latents'],
});

/** The inputs a component expects, one line each (for help texts and errors). */
export function expectedInputs(component: EvalComponent, cfg?: ComponentConfigs): string[] {
  const n = (v: number | undefined, sym: string) => (v === undefined ? sym : String(v));
  const factor = cfg ? 2 ** (cfg.unet.blockOutChannels.length - 1) : undefined;
  switch (component) {
    case 'text-encoder':
      return [
        `input_ids int64/int32 [B, T], T ≤ ${n(cfg?.textEncoder.maxPositions, '77')} (or --prompt)`,
      ];
    case 'unet':
      return [
        `sample float [B, ${n(cfg?.unet.inChannels, 'C')}, h, w] (h, w multiples of ${n(factor, '8')})`,
        'timestep float/int [] or [1] or [B] (fractional allowed)',
        `encoder_hidden_states float [B, S, ${n(cfg?.unet.crossAttentionDim, 'D')}]`,
      ];
    case 'vae-encode':
      return [`image float [B, ${n(cfg?.vae.inChannels, '3')}, H, W] in [-1, 1]`];
    case 'vae-decode':
      return [`latents float [B, ${n(cfg?.vae.latentChannels, '4')}, h, w]`];
  }
}

export class EvalInputError extends Error {
  constructor(component: EvalComponent, problems: readonly string[], cfg?: ComponentConfigs) {
    super(
      `${component} inputs: ${problems.join('; ')}\n  expected inputs:\n    ${expectedInputs(component, cfg).join('\n    ')}`,
    );
    this.name = 'EvalInputError';
  }
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Float tensor → float32 or float16 feed. */
function floatFeed(name: string, t: EvalTensor, dtype: 'float32' | 'float16'): HostTensor | string {
  if (!isFloatFormat(t.dtype)) return `'${name}' is ${t.dtype}; it must be a float tensor`;
  const f = toFloat32(t.bytes, t.dtype);
  if (dtype === 'float32') return { dtype, shape: t.shape, data: f };
  const h = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) h[i] = float32ToFloat16Bits(f[i]);
  return { dtype, shape: t.shape, data: h };
}

/** Integer tensor values (int64/int32/…) as numbers; floats are refused. */
function intValues(name: string, t: EvalTensor): number[] | string {
  const v = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  const read: Partial<Record<SafetensorsDType, [number, (o: number) => number]>> = {
    int64: [8, (o) => Number(v.getBigInt64(o, true))],
    int32: [4, (o) => v.getInt32(o, true)],
    int16: [2, (o) => v.getInt16(o, true)],
    uint8: [1, (o) => v.getUint8(o)],
    int8: [1, (o) => v.getInt8(o)],
  };
  const r = read[t.dtype];
  if (!r) return `'${name}' is ${t.dtype}; it must be an integer tensor (int64 or int32)`;
  for (let i = 0; i < n; i++) out.push(r[1](i * r[0]));
  return out;
}

/** Numbers of any numeric tensor (timesteps may be int64 or float). */
function numbers(name: string, t: EvalTensor): number[] | string {
  return isFloatFormat(t.dtype) ? Array.from(toFloat32(t.bytes, t.dtype)) : intValues(name, t);
}

type Get = (name: string) => EvalTensor | undefined;

export interface PreparedInputs {
  readonly feeds: Record<string, HostTensor>;
  /** Static dims to build the graph with. */
  readonly dims: { batch: number; height?: number; width?: number; seqLen?: number };
}

function collect(
  component: EvalComponent,
  names: readonly string[],
  get: Get,
  cfg: ComponentConfigs,
): EvalTensor[] {
  const missing = names.filter((n) => !get(n));
  if (missing.length)
    throw new EvalInputError(
      component,
      [`missing ${missing.map((m) => `'${m}'`).join(', ')}`],
      cfg,
    );
  return names.map((n) => get(n)!);
}

function fail(component: EvalComponent, problems: string[], cfg: ComponentConfigs): void {
  if (problems.length) throw new EvalInputError(component, problems, cfg);
}

/** UNet feeds and dims, checking every input against the config and the others. */
export function prepareUnetInputs(
  get: Get,
  cfg: ComponentConfigs,
  dtype: 'float32' | 'float16',
): PreparedInputs {
  const c = 'unet';
  const [sample, timestep, ehs] = collect(
    c,
    ['sample', 'timestep', 'encoder_hidden_states'],
    get,
    cfg,
  );
  const p: string[] = [];
  const factor = 2 ** (cfg.unet.blockOutChannels.length - 1);
  const [b, ch, h, w] = sample.shape;
  if (sample.shape.length !== 4) p.push(`'sample' has shape ${fmt(sample.shape)}; it must be 4-D`);
  else {
    if (ch !== cfg.unet.inChannels)
      p.push(
        `'sample' has ${ch} channels (shape ${fmt(sample.shape)}); the UNet takes ${cfg.unet.inChannels}`,
      );
    if (h % factor !== 0 || w % factor !== 0 || h === 0 || w === 0)
      p.push(`'sample' is ${h}×${w}; height and width must be positive multiples of ${factor}`);
  }
  if (ehs.shape.length !== 3)
    p.push(`'encoder_hidden_states' has shape ${fmt(ehs.shape)}; it must be 3-D [B, S, D]`);
  else {
    if (ehs.shape[2] !== cfg.unet.crossAttentionDim)
      p.push(
        `'encoder_hidden_states' width is ${ehs.shape[2]}; the UNet attends to ${cfg.unet.crossAttentionDim}`,
      );
    if (ehs.shape[0] !== b)
      p.push(`'encoder_hidden_states' batch ${ehs.shape[0]} differs from 'sample' batch ${b}`);
    if (ehs.shape[1] === 0) p.push(`'encoder_hidden_states' has no tokens`);
  }
  const t = numbers('timestep', timestep);
  if (typeof t === 'string') p.push(t);
  else if (timestep.shape.length > 1 || (t.length !== 1 && t.length !== b))
    p.push(`'timestep' has shape ${fmt(timestep.shape)}; it must be [] or [1] or [${b}]`);
  const s = floatFeed('sample', sample, dtype);
  const e = floatFeed('encoder_hidden_states', ehs, dtype);
  for (const x of [s, e]) if (typeof x === 'string') p.push(x);
  fail(c, p, cfg);
  const ts = t as number[];
  return {
    feeds: {
      sample: s as HostTensor,
      timestep: { dtype: 'float32', shape: [ts.length], data: Float32Array.from(ts) },
      encoder_hidden_states: e as HostTensor,
    },
    dims: { batch: b, height: h, width: w, seqLen: ehs.shape[1] },
  };
}

/** input_ids [B, T] as int64, checked against the vocabulary and the position table. */
export function prepareTextInputs(get: Get, cfg: ComponentConfigs): PreparedInputs {
  const c = 'text-encoder';
  const [ids] = collect(c, ['input_ids'], get, cfg);
  const p: string[] = [];
  const te = cfg.textEncoder;
  if (ids.shape.length !== 2) p.push(`'input_ids' has shape ${fmt(ids.shape)}; it must be [B, T]`);
  else if (ids.shape[1] < 1 || ids.shape[1] > te.maxPositions)
    p.push(`'input_ids' has ${ids.shape[1]} tokens per row; 1 to ${te.maxPositions} fit`);
  const v = intValues('input_ids', ids);
  if (typeof v === 'string') p.push(v);
  else {
    const bad = v.findIndex((x) => x < 0 || x >= te.vocabSize);
    if (bad >= 0)
      p.push(
        `'input_ids' holds id ${v[bad]} at index ${bad}; the vocabulary has ${te.vocabSize} tokens`,
      );
  }
  fail(c, p, cfg);
  return {
    feeds: {
      input_ids: {
        dtype: 'int64',
        shape: ids.shape,
        data: BigInt64Array.from(v as number[], (x) => BigInt(x)),
      },
    },
    dims: { batch: ids.shape[0], seqLen: ids.shape[1] },
  };
}

/** VAE feeds: `image` [B, 3, H, W] to encode or `latents` [B, 4, h, w] to decode (float32). */
export function prepareVaeInputs(
  component: 'vae-encode' | 'vae-decode',
  get: Get,
  cfg: ComponentConfigs,
): PreparedInputs {
  const name = component === 'vae-encode' ? 'image' : 'latents';
  const channels = component === 'vae-encode' ? cfg.vae.inChannels : cfg.vae.latentChannels;
  const [x] = collect(component, [name], get, cfg);
  const p: string[] = [];
  const [b, ch, h, w] = x.shape;
  if (x.shape.length !== 4) p.push(`'${name}' has shape ${fmt(x.shape)}; it must be 4-D`);
  else if (ch !== channels)
    p.push(`'${name}' has ${ch} channels (shape ${fmt(x.shape)}); expected ${channels}`);
  else if (h === 0 || w === 0) p.push(`'${name}' is empty (shape ${fmt(x.shape)})`);
  const f = floatFeed(name, x, 'float32');
  if (typeof f === 'string') p.push(f);
  fail(component, p, cfg);
  return { feeds: { [name]: f as HostTensor }, dims: { batch: b, height: h, width: w } };
}
