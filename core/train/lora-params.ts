// LoRA parameter values: the flat layout the training graph uses ([down₀ | up₀ | down₁ | …],
// row-major, float32), packing to and from named matrices, and kohya's initialisation.
import type { LoraModuleSpec } from './lora-network.js';

/** Trained values by parameter name (float32, row-major, [r, in] / [out, r]). */
export type LoraParamValues = ReadonlyMap<string, Float32Array>;

export interface LoraParamEntry {
  readonly name: string;
  readonly shape: readonly [number, number];
  readonly offset: number;
  readonly length: number;
}

export interface LoraLayout {
  /** One entry per parameter, in flat order [down₀, up₀, down₁, up₁, …]. */
  readonly entries: readonly LoraParamEntry[];
  readonly numel: number;
}

export function loraLayout(modules: readonly LoraModuleSpec[]): LoraLayout {
  const entries: LoraParamEntry[] = [];
  let offset = 0;
  for (const m of modules) {
    for (const [name, shape] of [
      [m.downInput, m.downShape],
      [m.upInput, m.upShape],
    ] as const) {
      const length = shape[0] * shape[1];
      entries.push({ name, shape, offset, length });
      offset += length;
    }
  }
  return { entries, numel: offset };
}

/** Check that `values` holds every parameter with the right length; lists every problem. */
export function checkLoraParams(layout: LoraLayout, values: LoraParamValues): void {
  const problems: string[] = [];
  for (const e of layout.entries) {
    const v = values.get(e.name);
    if (!v) problems.push(`${e.name} missing`);
    else if (v.length !== e.length)
      problems.push(`${e.name} has ${v.length} values, [${e.shape.join(', ')}] needs ${e.length}`);
  }
  if (problems.length)
    throw new Error(
      `LoRA parameters do not fit the network (${problems.length} problem(s)): ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`,
    );
}

/** Named matrices → the flat vector. */
export function packLoraParams(layout: LoraLayout, values: LoraParamValues): Float32Array {
  checkLoraParams(layout, values);
  const flat = new Float32Array(layout.numel);
  for (const e of layout.entries) flat.set(values.get(e.name)!, e.offset);
  return flat;
}

/** The flat vector → named matrices (copies, so the result outlives `flat`). */
export function unpackLoraParams(
  layout: LoraLayout,
  flat: Float32Array,
): Map<string, Float32Array> {
  if (flat.length !== layout.numel)
    throw new Error(
      `flat LoRA parameters: ${flat.length} values, the layout needs ${layout.numel}`,
    );
  return new Map(layout.entries.map((e) => [e.name, flat.slice(e.offset, e.offset + e.length)]));
}

/**
 * Uniform floats in [0, 1) from a seeded 32-bit generator (mulberry32), 24 bits each like torch's
 * float `uniform_`. Not torch's stream: kohya's init draws depend on module construction order,
 * which no re-implementation reproduces, so only the distribution is matched.
 */
export function seededUniform(seed: number): () => number {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`LoRA init seed must be an integer ≥ 0, got ${seed}`);
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) >>> 8) / 16777216;
  };
}

/**
 * kohya's initialisation: lora_down = kaiming_uniform_(a=√5), i.e. U(−1/√in, 1/√in) (gain
 * √(2/(1+a²)) = √(1/3), bound = √3·gain/√fan_in; a 1×1 conv has fan_in = in), lora_up = 0 — so
 * training starts from the base model exactly.
 */
export function initLoraParams(
  modules: readonly LoraModuleSpec[],
  seed: number,
): Map<string, Float32Array> {
  const next = seededUniform(seed);
  const out = new Map<string, Float32Array>();
  for (const m of modules) {
    const down = new Float32Array(m.downShape[0] * m.downShape[1]);
    const bound = 1 / Math.sqrt(m.inFeatures);
    for (let i = 0; i < down.length; i++) down[i] = (next() * 2 - 1) * bound;
    out.set(m.downInput, down);
    out.set(m.upInput, new Float32Array(m.upShape[0] * m.upShape[1]));
  }
  return out;
}
