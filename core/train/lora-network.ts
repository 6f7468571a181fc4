// The trainable LoRA network: an adapter that gives every targeted Linear / 1×1 conv of a model
// a kohya LoRA, output = base(x) + (x·downᵀ·upᵀ)·(alpha/rank) (networks.lora, multiplier 1),
// with lora_down [r, in] and lora_up [out, r] in float32. LoCon (kohya's `conv_dim`): a 3×3 conv
// gets lora_down = a conv of the base's kernel, stride and padding to r channels and lora_up = a
// 1×1 conv back, at its own rank and alpha (conv_dim / conv_alpha).
//
// One network may span the text encoder and the UNet (kohya trains both through one state dict):
// `adapterFor(component)` is the hook of each model builder; both share the flat vector.
//
// All parameters live in ONE flat float32 graph input, `lora_params` [N] (layout: lora-params.ts),
// cast to the compute dtype once and Split into the modules' matrices. So the training step has
// one parameter input and one gradient output (the Split's gradient is a single Concat), and
// the optimizer is a handful of elementwise nodes over one tensor instead of thousands over 384 —
// which took ORT ~15 s to optimise for the tiny UNet and costs a kernel launch per node per step.
// The flat vector and the optimizer state stay wherever the execution provider keeps tensors.
//
// Names are the kohya file keys (`<kohya name>.lora_down.weight`), and which modules exist and
// what they are called comes from core/models/lora, so training and generation cannot disagree.
import { kohyaName, type LoraComponent } from '../formats/lora/index.js';
import { attr, type ComputeDType, type GraphBuilder, type Value } from '../graph/index.js';
import {
  isPointwise,
  loconSite,
  targetPredicate,
  type Adapter,
  type AdapterSite,
  type LoraTargets,
  type ModuleSite,
} from '../models/index.js';
import { loraLayout, type LoraLayout } from './lora-params.js';

export const LORA_DOWN_SUFFIX = '.lora_down.weight';
export const LORA_UP_SUFFIX = '.lora_up.weight';
export const LORA_ALPHA_SUFFIX = '.alpha';
/** The flat float32 parameter input of a training graph. */
export const LORA_PARAMS_INPUT = 'lora_params';

export interface LoraNetworkOptions {
  /** LoRA rank r (kohya `network_dim`). */
  rank: number;
  /** kohya `network_alpha`: the update is scaled by alpha / rank. */
  alpha: number;
  /** Which modules are trained (default 'kohya': every Linear / 1×1 conv in the UNet's attentions). */
  targets?: LoraTargets;
  /**
   * LoCon (kohya network_args conv_dim / conv_alpha): also the ResNet blocks and down/up-samplers
   * — their 3×3 convs at this rank and alpha, their Linear / 1×1 convs at `rank` / `alpha`.
   */
  conv?: { rank: number; alpha: number };
  /** Dtype the model computes in; the parameters stay float32. Default float32. */
  computeDType?: ComputeDType;
}

/** One trained module: where it sits and what its parameters are called. */
export interface LoraModuleSpec extends ModuleSite {
  /** kohya name, e.g. `lora_unet_down_blocks_0_attentions_0_proj_in`. */
  readonly name: string;
  readonly rank: number;
  /** The module's own alpha (LoCon 3×3 modules: conv_alpha); absent: the network's alpha. */
  readonly alpha?: number;
  /** Parameter (and file key) names of lora_down / lora_up. */
  readonly downInput: string;
  readonly upInput: string;
  /**
   * Parameter shapes: down [r, in·kh·kw], up [out, r] (files hold [r, in, kh, kw] /
   * [out, r, 1, 1] for convs).
   */
  readonly downShape: readonly [number, number];
  readonly upShape: readonly [number, number];
}

export interface LoraNetwork {
  /** Pass as the model builder's `adapter` (a network of one component). */
  readonly adapter: Adapter;
  /** The adapter of one component's builder (networks over the text encoder and the UNet). */
  adapterFor(component: LoraComponent): Adapter;
  /** The trained modules, in the order the model builds them. */
  readonly modules: readonly LoraModuleSpec[];
  /** Where each parameter sits in the flat vector. */
  readonly layout: LoraLayout;
  readonly rank: number;
  readonly alpha: number;
  /** alpha / rank. */
  readonly scale: number;
  readonly computeDType: ComputeDType;
  /** The float32 flat parameter input (after the model is built). */
  params(): Value;
  /** Throws unless the model built every planned module (call once the model is built). */
  finish(): void;
}

function checkPositive(what: string, v: number, integer: boolean): void {
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v)))
    throw new Error(`LoRA ${what} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
}

function moduleSpec(site: ModuleSite, rank: number, alpha?: number): LoraModuleSpec {
  const name = kohyaName(site.component, site.module);
  return {
    ...site,
    name,
    rank,
    ...(alpha === undefined ? {} : { alpha }),
    downInput: name + LORA_DOWN_SUFFIX,
    upInput: name + LORA_UP_SUFFIX,
    downShape: [rank, site.inFeatures * site.kernel[0] * site.kernel[1]],
    upShape: [site.outFeatures, rank],
  };
}

/**
 * The modules a network trains, from a model's recorded sites (core/models' unetModuleSites),
 * in build order. Targets are pointwise; `conv` adds kohya's LoCon modules (see loconSite).
 */
export function loraModulesFromSites(
  sites: readonly ModuleSite[],
  opts: Pick<LoraNetworkOptions, 'rank' | 'targets' | 'conv'>,
): LoraModuleSpec[] {
  checkPositive('rank', opts.rank, true);
  if (opts.conv) {
    checkPositive('conv_dim', opts.conv.rank, true);
    checkPositive('conv_alpha', opts.conv.alpha, false);
  }
  const wanted = targetPredicate(opts.targets);
  return sites.flatMap((s) => {
    if (wanted(s)) return [moduleSpec(s, opts.rank)];
    const locon = opts.conv && loconSite(s);
    if (locon === 'pointwise') return [moduleSpec(s, opts.rank)];
    if (locon === 'conv') return [moduleSpec(s, opts.conv!.rank, opts.conv!.alpha)];
    return [];
  });
}

/** The update (x·downᵀ·upᵀ)·scale of one module, in the module's compute dtype. */
function loraUpdate(
  g: GraphBuilder,
  site: AdapterSite,
  m: LoraModuleSpec,
  pieces: readonly [Value, Value],
  scale: number,
) {
  const scaled = (v: Value) =>
    scale === 1 ? v : g.op('Mul', [v, g.constant([scale], v.dtype, [])]);
  const t = (v: Value) => g.op('Transpose', [v], { perm: attr.ints([1, 0]) });
  if (!isPointwise(site)) {
    // LoCon: down is a conv with the base's geometry, up a 1×1 conv (kohya's LoRAModule).
    const [kh, kw] = site.kernel;
    const down = g.op('Reshape', [pieces[0], g.ints([m.rank, site.inFeatures, kh, kw])]);
    const up = g.op('Reshape', [pieces[1], g.ints([site.outFeatures, m.rank, 1, 1])]);
    const h = g.op('Conv', [site.input, down], {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([site.stride, site.stride]),
      pads: attr.ints([...site.pads]),
    });
    return g.op('Conv', [scaled(h), up], { kernel_shape: attr.ints([1, 1]) });
  }
  const down = g.op('Reshape', [pieces[0], g.ints([...m.downShape])]);
  const up = g.op('Reshape', [pieces[1], g.ints([...m.upShape])]);
  if (site.kind === 'linear') {
    // Scale at rank width: [.., r] is the smallest tensor on the path.
    const h = scaled(g.op('MatMul', [site.input, t(down)]));
    return g.op('MatMul', [h, t(up)]);
  }
  // 1×1 conv: per-pixel matrices on [B, in, H·W], then back to the output's NCHW shape.
  const flat = g.op('Reshape', [site.input, g.ints([0, site.inFeatures, -1])]);
  const h = scaled(g.op('MatMul', [down, flat]));
  const y = g.op('MatMul', [up, h]);
  const dims = site.output.shape;
  const shape = dims.every((d) => typeof d === 'number')
    ? g.ints(dims as number[])
    : g.op('Shape', [site.output]);
  return g.op('Reshape', [y, shape]);
}

/** Most sizes one Split takes here: the builder infers shapes only from small constants. */
const SPLIT_FANOUT = 64;

/**
 * Split a 1-D value into pieces of `sizes`, in two levels when there are more than
 * SPLIT_FANOUT pieces (chunks, then pieces): the gradient stays a couple of Concats.
 */
function splitMany(g: GraphBuilder, x: Value, sizes: readonly number[]): Value[] {
  const split = (v: Value, parts: readonly number[]) =>
    parts.length === 1
      ? [v]
      : g.node('Split', [v, g.ints(parts)], { axis: attr.int(0) }, { outputs: parts.length });
  if (sizes.length <= SPLIT_FANOUT) return split(x, sizes);
  const groups: number[][] = [];
  for (let i = 0; i < sizes.length; i += SPLIT_FANOUT)
    groups.push(sizes.slice(i, i + SPLIT_FANOUT));
  if (groups.length > SPLIT_FANOUT)
    throw new Error(`LoRA network: ${sizes.length} parameters is more than this split supports`);
  const chunks = split(
    x,
    groups.map((grp) => grp.reduce((a, b) => a + b, 0)),
  );
  return groups.flatMap((grp, i) => split(chunks[i], grp));
}

/**
 * A LoRA network over `modules` (see loraModulesFromSites). The flat input, its cast and the
 * Split are added to the builder the adapter first sees; a module the model builds that is not
 * in `modules` is left alone, and `finish()` reports planned modules the model never built.
 */
export function loraNetwork(
  modules: readonly LoraModuleSpec[],
  opts: Omit<LoraNetworkOptions, 'targets'>,
): LoraNetwork {
  checkPositive('rank', opts.rank, true);
  checkPositive('alpha', opts.alpha, false);
  if (modules.length === 0) throw new Error('LoRA network: no modules to train');
  // A module with its own alpha (LoCon) has its own rank; every other one has the network's.
  const wrong = modules.find((m) => m.alpha === undefined && m.rank !== opts.rank);
  if (wrong)
    throw new Error(`LoRA network: module ${wrong.name} has rank ${wrong.rank}, not ${opts.rank}`);
  const computeDType = opts.computeDType ?? 'float32';
  const scale = opts.alpha / opts.rank;
  const layout = loraLayout(modules);
  const key = (component: LoraComponent, module: string) => `${component}/${module}`;
  const index = new Map(modules.map((m, i) => [key(m.component, m.module), i]));
  const built = new Set<number>();
  let graph: { g: GraphBuilder; input: Value; pieces: Value[] } | undefined;

  const attach = (g: GraphBuilder) => {
    if (graph) {
      if (graph.g !== g) throw new Error('LoRA network: one network cannot adapt two graphs');
      return graph;
    }
    const input = g.input(LORA_PARAMS_INPUT, 'float32', [layout.numel]);
    const sizes = layout.entries.map((e) => e.length);
    const pieces = g.scope('lora', () => splitMany(g, g.cast(input, computeDType), sizes));
    graph = { g, input, pieces };
    return graph;
  };

  const adapterFor =
    (component: LoraComponent): Adapter =>
    (g, site) => {
      const i = index.get(key(component, site.module));
      if (i === undefined) return undefined;
      const m = modules[i];
      if (built.has(i)) throw new Error(`LoRA network: module '${site.module}' built twice`);
      if (site.inFeatures !== m.inFeatures || site.outFeatures !== m.outFeatures)
        throw new Error(
          `LoRA network: ${site.module} maps ${site.inFeatures} → ${site.outFeatures}, the plan says ${m.inFeatures} → ${m.outFeatures}`,
        );
      if (site.output.dtype !== computeDType)
        throw new Error(
          `LoRA network: ${site.module} computes in ${site.output.dtype}, the network in ${computeDType}`,
        );
      built.add(i);
      const { pieces } = attach(g);
      const s = m.alpha === undefined ? scale : m.alpha / m.rank;
      return g.scope(`lora/${m.name}`, () =>
        g.op('Add', [site.output, loraUpdate(g, site, m, [pieces[2 * i], pieces[2 * i + 1]], s)]),
      );
    };
  const components = [...new Set(modules.map((m) => m.component))];

  return {
    adapter: (g, site) => {
      if (components.length > 1)
        throw new Error(
          `LoRA network: it spans ${components.join(' and ')}; use adapterFor(component)`,
        );
      return adapterFor(components[0])(g, site);
    },
    adapterFor,
    modules,
    layout,
    rank: opts.rank,
    alpha: opts.alpha,
    scale,
    computeDType,
    params: () => {
      if (!graph) throw new Error('LoRA network: the model has not been built with its adapter');
      return graph.input;
    },
    finish: () => {
      const missing = modules.filter((_, i) => !built.has(i)).map((m) => m.module);
      if (missing.length)
        throw new Error(
          `LoRA network: ${missing.length} planned module(s) are not in the model: ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''}`,
        );
    },
  };
}
