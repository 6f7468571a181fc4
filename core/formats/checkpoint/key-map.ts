// Shared machinery for the LDM → diffusers key converters: each converter is a pure function
// from one tensor name to its diffusers name (or undefined); `convertKeys` runs it over every
// key, so no key can be dropped silently and no two keys can land on the same name.
import { UnmappedKeysError, CheckpointError } from './errors.js';

/** Tensor name → shape, as a safetensors header gives them. */
export type ShapeMap = ReadonlyMap<string, readonly number[]>;

export interface KeyMapping {
  /** The tensor's name in the source file (prefix included). */
  readonly source: string;
  /** Shape the diffusers model expects (differs from the stored one only when `reshaped`). */
  readonly shape: readonly number[];
  /** The bytes are used as they are, with a new shape ([C, C, 1, 1] → [C, C]). */
  readonly reshaped: boolean;
}

export interface ConvertedKeys {
  /** diffusers name → where it comes from. */
  readonly map: Map<string, KeyMapping>;
  /** Source keys that are known non-weights (buffers like position_ids) and were skipped. */
  readonly ignored: string[];
}

export type KeyRule = (
  key: string,
  shape: readonly number[],
) => { name: string; shape?: readonly number[] } | 'ignore' | undefined;

/**
 * Apply `rule` to every key of `shapes` that starts with `prefix` (the prefix is stripped
 * before the rule sees it). Throws UnmappedKeysError listing every key the rule rejected.
 */
export function convertKeys(
  component: string,
  shapes: ShapeMap,
  prefix: string,
  rule: KeyRule,
): ConvertedKeys {
  const map = new Map<string, KeyMapping>();
  const ignored: string[] = [];
  const leftovers: string[] = [];
  for (const [source, shape] of shapes) {
    if (!source.startsWith(prefix)) continue;
    const r = rule(source.slice(prefix.length), shape);
    if (r === 'ignore') {
      ignored.push(source);
      continue;
    }
    if (!r) {
      leftovers.push(source);
      continue;
    }
    const prev = map.get(r.name);
    if (prev)
      throw new CheckpointError(
        `${component}: keys "${prev.source}" and "${source}" both map to "${r.name}"`,
      );
    const target = r.shape ?? shape;
    map.set(r.name, { source, shape: [...target], reshaped: target !== shape });
  }
  if (leftovers.length) throw new UnmappedKeysError(component, leftovers);
  return { map, ignored };
}

/** The distinct integers captured by `re`'s first group over `keys`, ascending. */
export function indicesOf(keys: Iterable<string>, re: RegExp): number[] {
  const found = new Set<number>();
  for (const k of keys) {
    const m = re.exec(k);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}
