// Fixture access for the scheduler tests: the schedules table, the pipeline loops, diffs.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openSafetensors } from '../../core/formats/index.js';
import {
  DdimScheduler,
  DpmSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  type Scheduler,
  type TimestepSpacing,
} from '../../core/schedulers/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface ScheduleEntry {
  timesteps: number[];
  timesteps_dtype: 'float32' | 'int64';
  sigmas?: number[];
  init_noise_sigma: number;
  prev_timesteps?: number[];
}

export interface SchedulesFixture {
  configs: Record<string, Record<string, unknown>>;
  schedules: Record<string, ScheduleEntry>;
}

export function loadSchedules(): SchedulesFixture {
  const text = readFileSync(FIXTURES + 'scheduler/schedules.json', 'utf8');
  // Python's json writes ±Infinity bare (DPM's lambda_min_clipped); quote it for JSON.parse.
  return JSON.parse(text.replace(/(-?)Infinity\b/g, '"$1Infinity"')) as SchedulesFixture;
}

/** The scheduler the fixture harness built for a config name (see fixtures README §2e). */
export function schedulerFor(configName: string, spacing: TimestepSpacing): Scheduler {
  const o = { timestepSpacing: spacing };
  switch (configName) {
    case 'euler':
      return new EulerDiscreteScheduler(o);
    case 'euler_karras':
      return new EulerDiscreteScheduler({ ...o, useKarrasSigmas: true });
    case 'euler_ancestral':
      return new EulerAncestralDiscreteScheduler(o);
    case 'dpmpp_2m':
      return new DpmSolverMultistepScheduler(o);
    case 'dpmpp_2m_karras':
      return new DpmSolverMultistepScheduler({ ...o, useKarrasSigmas: true });
    case 'ddim':
      return new DdimScheduler(o);
    default:
      throw new Error(`no scheduler for fixture config "${configName}"`);
  }
}

/** All float32 tensors of a safetensors fixture (int64 ones as numbers), by name. */
export async function loadTensors(rel: string): Promise<Map<string, Float32Array | number[]>> {
  const file = await openSafetensors(FIXTURES + rel);
  try {
    const out = new Map<string, Float32Array | number[]>();
    for (const name of file.names()) {
      const info = file.info(name);
      if (info.dtype === 'int64') {
        const bytes = await file.read(name);
        const view = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
        out.set(name, Array.from(view, Number));
      } else {
        out.set(name, await file.readFloat32(name));
      }
    }
    return out;
  } finally {
    await file.close();
  }
}

export function floats(m: Map<string, Float32Array | number[]>, name: string): Float32Array {
  const v = m.get(name);
  if (!(v instanceof Float32Array)) throw new Error(`fixture tensor "${name}" missing or not F32`);
  return v;
}

export function numbers(m: Map<string, Float32Array | number[]>, name: string): number[] {
  const v = m.get(name);
  if (v === undefined) throw new Error(`fixture tensor "${name}" missing`);
  return Array.from(v);
}

/** max |a − b| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |a − b| / |b| over elements (exact zeros must match exactly). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Math.max(m, b[i] === 0 ? (d === 0 ? 0 : Infinity) : d / Math.abs(b[i]));
  }
  return m;
}
