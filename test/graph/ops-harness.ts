// Table-driven op tests: each case builds a tiny graph, runs it on ORT's CPU EP with seeded random
// inputs, and compares outputs (values, shape, dtype) with the plain-TS reference and with the
// shape/dtype the builder inferred. Adding an op is one row in an ops-cases-*.ts table.
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../core/graph/builder.js';
import type { DType } from '../../core/graph/dtype.js';
import type { Dim } from '../../core/graph/ir.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../core/graph/tensor-data.js';
import { Session, type HostTensor, type SessionOptions } from '../../core/onnx/session.js';
import { size, type RefTensor } from './reference.js';

/** Float dtypes a case runs in; 'float' inputs take the run's dtype. */
export const FLOAT_DTYPES = ['float32', 'float16', 'float64'] as const;
export type FloatDType = (typeof FLOAT_DTYPES)[number];

export type Gen =
  | 'normal' // N(0, 1)
  | 'positive' // U(0.5, 2): safe for Log, Sqrt, Div, Reciprocal
  | 'unit' // U(-1, 1)
  | 'bool'
  | { int: [number, number] } // uniform integers in [lo, hi]
  | { values: readonly number[] }; // fixed data

export interface InputSpec {
  shape: number[];
  /** Default 'float': the dtype of the run. */
  dtype?: DType | 'float';
  gen?: Gen;
  /** Shape declared on the graph input (symbolic dims allowed); default `shape`. */
  decl?: Dim[];
}

export interface OpCase {
  /** Unique label; starts with the op under test. */
  name: string;
  inputs: Record<string, InputSpec>;
  build(g: GraphBuilder, x: Record<string, Value>): Value | Value[];
  ref(x: Record<string, RefTensor>): RefTensor | RefTensor[];
  /** Tolerance (absolute + relative) per dtype; defaults 1e-5 fp32, 1e-2 fp16, 1e-9 fp64. */
  tol?: Partial<Record<FloatDType, number>>;
  /** Float dtypes whose session ORT's CPU EP refuses (no kernel); the test checks it still does. */
  refused?: FloatDType[];
  /** Session options (default: ORT's 'all' optimisations, as the app uses). */
  session?: SessionOptions;
  /** Float dtypes not to run at all (e.g. fp16 cannot represent the test values). */
  skip?: FloatDType[];
}

/** mulberry32: tiny seeded PRNG so every run sees the same inputs. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function generate(gen: Gen, n: number, rand: () => number): number[] {
  if (typeof gen === 'object' && 'values' in gen) return [...gen.values];
  return Array.from({ length: n }, () => {
    if (typeof gen === 'object')
      return gen.int[0] + Math.floor(rand() * (gen.int[1] - gen.int[0] + 1));
    if (gen === 'bool') return rand() < 0.5 ? 1 : 0;
    if (gen === 'positive') return 0.5 + 1.5 * rand();
    if (gen === 'unit') return 2 * rand() - 1;
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  });
}

/** Rounds to what the dtype can hold, so the reference sees exactly the values ORT gets. */
function roundTo(dtype: DType, v: number): number {
  if (dtype === 'float32') return Math.fround(v);
  if (dtype === 'float16') return float16BitsToFloat32(float32ToFloat16Bits(v));
  return v;
}

export function toHost(
  dtype: DType,
  shape: readonly number[],
  values: readonly number[],
): HostTensor {
  const data = (() => {
    switch (dtype) {
      case 'float32':
        return Float32Array.from(values);
      case 'float64':
        return Float64Array.from(values);
      case 'float16':
        return Uint16Array.from(values, float32ToFloat16Bits);
      case 'int64':
        return BigInt64Array.from(values, (v) => BigInt(v));
      case 'int32':
        return Int32Array.from(values);
      case 'bool':
      case 'uint8':
        return Uint8Array.from(values);
      case 'int8':
        return Int8Array.from(values);
      default:
        throw new Error(`harness: no host array for ${dtype}`);
    }
  })();
  return { dtype, shape, data };
}

export function fromHost(t: HostTensor): number[] {
  if (t.dtype === 'float16') return Array.from(t.data as Uint16Array, float16BitsToFloat32);
  if (t.data instanceof BigInt64Array) return Array.from(t.data, Number);
  return Array.from(t.data as ArrayLike<number>);
}

function closeEnough(got: number, want: number, tol: number): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  return Math.abs(got - want) <= tol * (1 + Math.abs(want));
}

export interface RunResult {
  refused?: string;
  outputs?: { inferred: Value; got: HostTensor }[];
}

/** Builds and runs one case in one float dtype; checks everything; returns the session error if ORT refused. */
export async function runCase(c: OpCase, dtype: FloatDType): Promise<RunResult> {
  const rand = prng(seedOf(c.name));
  const g = new GraphBuilder(c.name.replace(/[^A-Za-z0-9_]/g, '_'));
  const vals: Record<string, Value> = {};
  const feeds: Record<string, HostTensor> = {};
  const refs: Record<string, RefTensor> = {};
  const symbols = new Map<string, number>();
  for (const [name, spec] of Object.entries(c.inputs)) {
    const dt = !spec.dtype || spec.dtype === 'float' ? dtype : spec.dtype;
    const gen = spec.gen ?? (dt === 'bool' ? 'bool' : 'normal');
    const data = generate(gen, size(spec.shape), rand).map((v) => roundTo(dt, v));
    const decl = spec.decl ?? spec.shape;
    decl.forEach((d, i) => typeof d === 'string' && symbols.set(d, spec.shape[i]));
    vals[name] = g.input(name, dt, decl);
    feeds[name] = toHost(dt, spec.shape, data);
    refs[name] = { shape: [...spec.shape], data };
  }
  const built = c.build(g, vals);
  const outs = Array.isArray(built) ? built : [built];
  const named = outs.map((v, i) => g.output(v, `out${i}`));
  let session: Session;
  try {
    session = await Session.create(g.build(), c.session);
  } catch (e) {
    return { refused: String(e) };
  }
  try {
    let res: Record<string, HostTensor>;
    try {
      res = await session.run(feeds);
    } catch (e) {
      // Some kernels are looked up only at run time (e.g. ScatterND's float16 'add').
      if (/not supported|implementation/i.test(String(e))) return { refused: String(e) };
      throw e;
    }
    const wanted = c.ref(refs);
    const want = Array.isArray(wanted) ? wanted : [wanted];
    expect(want.length, `${c.name}: reference output count`).toBe(named.length);
    const tol = c.tol?.[dtype] ?? { float32: 1e-5, float16: 1e-2, float64: 1e-9 }[dtype];
    named.forEach((v, i) => {
      const got = res[v.name];
      const label = `${c.name} [${dtype}] output ${i}`;
      expect(got.dtype, `${label}: inferred dtype`).toBe(v.dtype);
      // Inferred shape: static dims and input symbols must match; fresh run-time dims cannot be checked.
      const inferred = v.shape.map((d, j) =>
        typeof d === 'number' ? d : (symbols.get(d) ?? got.shape[j]),
      );
      expect([...got.shape], `${label}: inferred shape`).toEqual(inferred);
      expect([...got.shape], `${label}: reference shape`).toEqual(want[i].shape);
      const values = fromHost(got);
      const bad = values.findIndex((x, j) => !closeEnough(x, want[i].data[j], tol));
      if (bad >= 0) {
        expect.fail(
          `${label}: element ${bad} is ${values[bad]}, reference ${want[i].data[bad]} (tol ${tol})`,
        );
      }
    });
    return { outputs: named.map((v) => ({ inferred: v, got: res[v.name] })) };
  } finally {
    await session.release();
  }
}

function usesFloat(c: OpCase): boolean {
  return Object.values(c.inputs).some((s) => !s.dtype || s.dtype === 'float');
}

/** Registers one vitest `it` per case and float dtype. */
export function describeCases(title: string, cases: readonly OpCase[]): void {
  describe(title, () => {
    for (const c of cases) {
      const dtypes = usesFloat(c)
        ? FLOAT_DTYPES.filter((d) => !c.skip?.includes(d))
        : (['float32'] as const);
      for (const dtype of dtypes) {
        const refused = c.refused?.includes(dtype) ?? false;
        it(`${c.name} [${dtype}]${refused ? ' is refused by the CPU EP' : ''}`, async () => {
          const r = await runCase(c, dtype);
          if (refused)
            expect(r.refused, 'ORT now runs it: drop it from `refused`').toMatch(
              /implementation|kernel|not supported/i,
            );
          else expect(r.refused, 'session creation failed').toBeUndefined();
        });
      }
    }
  });
}
