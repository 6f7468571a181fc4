// LoRA as graph inputs: every targeted module gets two float32 inputs with a free rank
// dimension, `lora_down:<module>` [r, in] and `lora_up:<module>` [out, r], and its output
// becomes base(x) + (x·downᵀ)·upᵀ. The strength and alpha/rank are folded into `up` by the
// feeder, so loading, swapping, re-weighting or stacking LoRAs only changes the feeds: the
// session is built once. With no LoRA the feeds are one zero row (see feeds.ts for why not r = 0).
// With `locon`, kohya's LoCon modules get inputs too: a 3×3 conv takes `lora_down:<module>`
// [r, in, kh, kw] (a conv with the base's geometry) and `lora_up:<module>` [out, r] (a 1×1 conv).
import { attr, type GraphBuilder, type Value } from '../../graph/index.js';
import type { LoraComponent } from '../../formats/lora/index.js';
import type { Adapter, AdapterSite } from '../nn.js';
import {
  isPointwise,
  loconSite,
  moduleSite,
  targetPredicate,
  type LoraTargets,
  type ModuleSite,
} from './sites.js';

export const LORA_DOWN_PREFIX = 'lora_down:';
export const LORA_UP_PREFIX = 'lora_up:';

/** A module that takes LoRA inputs. */
export interface LoraSlot extends ModuleSite {
  /** Graph input names. */
  readonly downInput: string;
  readonly upInput: string;
}

export interface LoraGraphInputs {
  /** Pass as the builder's `adapter`. */
  readonly adapter: Adapter;
  /** Modules given LoRA inputs, filled while the graph is built. */
  readonly slots: readonly LoraSlot[];
  /** Every Linear/Conv module seen (the known-module list for the converters). */
  readonly sites: readonly ModuleSite[];
}

export interface LoraGraphInputsOptions {
  targets?: LoraTargets;
  /** Another adapter to chain (it sees the site first; its result becomes the base output). */
  inner?: Adapter;
  /** Also kohya's LoCon modules (ResNet blocks, down/up-samplers, their 3×3 convs included). */
  locon?: boolean;
}

/** The predicate of loraGraphInputs' slots. */
function slotPredicate(opts: Pick<LoraGraphInputsOptions, 'targets' | 'locon'>) {
  const wanted = targetPredicate(opts.targets);
  return (s: ModuleSite) => wanted(s) || (opts.locon === true && loconSite(s) !== undefined);
}

function loraDelta(g: GraphBuilder, site: AdapterSite, down: Value, up: Value): Value {
  const dtype = site.output.dtype;
  const d = g.cast(down, dtype);
  const u = g.cast(up, dtype);
  const t = (v: Value) => g.op('Transpose', [v], { perm: attr.ints([1, 0]) });
  if (site.kind === 'linear') return g.op('MatMul', [g.op('MatMul', [site.input, t(d)]), t(u)]);
  if (!isPointwise(site)) {
    const h = g.op('Conv', [site.input, d], {
      kernel_shape: attr.ints([...site.kernel]),
      strides: attr.ints([site.stride, site.stride]),
      pads: attr.ints([...site.pads]),
    });
    const u4 = g.op('Reshape', [u, g.ints([site.outFeatures, -1, 1, 1])]);
    return g.op('Conv', [h, u4], { kernel_shape: attr.ints([1, 1]) });
  }
  // 1×1 conv: per-pixel matrices on [B, in, H·W], then back to the output's NCHW shape.
  const flat = g.op('Reshape', [site.input, g.ints([0, site.inFeatures, -1])]);
  const y = g.op('MatMul', [u, g.op('MatMul', [d, flat])]);
  const dims = site.output.shape;
  const shape = dims.every((x) => typeof x === 'number')
    ? g.ints(dims as number[])
    : g.op('Shape', [site.output]);
  return g.op('Reshape', [y, shape]);
}

/** The slots a graph built with loraGraphInputs would have, from recorded sites (no build). */
export function slotsFromSites(
  sites: readonly ModuleSite[],
  targets?: LoraTargets,
  locon = false,
): LoraSlot[] {
  const wanted = slotPredicate({ targets, locon });
  return sites.filter(wanted).map((s) => ({
    ...s,
    downInput: LORA_DOWN_PREFIX + s.module,
    upInput: LORA_UP_PREFIX + s.module,
  }));
}

/**
 * An adapter that gives each targeted module LoRA inputs (see the file comment). Modules that
 * are not pointwise (3×3 convs) or not targeted are recorded in `sites` and left alone.
 */
export function loraGraphInputs(
  component: LoraComponent,
  opts: LoraGraphInputsOptions = {},
): LoraGraphInputs {
  const wanted = slotPredicate(opts);
  const slots: LoraSlot[] = [];
  const sites: ModuleSite[] = [];
  const seen = new Set<string>();
  const adapter: Adapter = (g, site) => {
    const base = opts.inner?.(g, site) ?? site.output;
    const info = moduleSite(component, site);
    sites.push(info);
    if (!wanted(info)) return base === site.output ? undefined : base;
    if (seen.has(site.module))
      throw new Error(`LoRA inputs: module '${site.module}' was built twice`);
    seen.add(site.module);
    const rank = `lora_rank:${site.module}`;
    const slot: LoraSlot = {
      ...info,
      downInput: LORA_DOWN_PREFIX + site.module,
      upInput: LORA_UP_PREFIX + site.module,
    };
    const down = g.input(
      slot.downInput,
      'float32',
      isPointwise(site) ? [rank, site.inFeatures] : [rank, site.inFeatures, ...site.kernel],
    );
    const up = g.input(slot.upInput, 'float32', [site.outFeatures, rank]);
    slots.push(slot);
    return g.op('Add', [base, loraDelta(g, site, down, up)]);
  };
  return { adapter, slots, sites };
}
