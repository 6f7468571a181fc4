// The Linear/Conv modules a model has, read from its graph builder's adapter sites rather than
// written down by hand: the list LoRA file names are matched against, and the choice of which
// of them take LoRA inputs.
import type { KnownModules, LoraComponent } from '../../formats/lora/index.js';
import { buildClipTextGraph, type ClipTextConfig } from '../clip/index.js';
import type { Adapter, AdapterSite } from '../nn.js';
import { buildUnetGraph, type UNetConfig } from '../unet/index.js';
import { syntheticWeights } from '../weights.js';

/** What the LoRA code needs to know of a site, without its graph values. */
export interface ModuleSite {
  readonly component: LoraComponent;
  readonly module: string;
  readonly kind: 'linear' | 'conv2d';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly kernel: readonly [number, number];
  readonly stride: number;
  readonly pads: readonly [number, number, number, number];
}

export function moduleSite(component: LoraComponent, s: AdapterSite): ModuleSite {
  return {
    component,
    module: s.module,
    kind: s.kind,
    inFeatures: s.inFeatures,
    outFeatures: s.outFeatures,
    kernel: s.kernel,
    stride: s.stride,
    pads: s.pads,
  };
}

/** A Linear, or a conv that is a per-pixel Linear (1×1, stride 1, no padding). */
export function isPointwise(s: Pick<ModuleSite, 'kind' | 'kernel' | 'stride' | 'pads'>): boolean {
  return (
    s.kind === 'linear' ||
    (s.kernel[0] === 1 && s.kernel[1] === 1 && s.stride === 1 && s.pads.every((p) => p === 0))
  );
}

/**
 * Which modules get LoRA inputs. 'kohya': what kohya's networks.lora adapts by default (every
 * Linear and 1×1 conv inside the UNet's Transformer2D blocks; the text encoder's attention and
 * MLP) — what nearly every LoRA on Civitai holds. 'all-pointwise': every Linear and 1×1 conv
 * (adds LoCon's time_emb_proj / conv_shortcut, the time MLP, …), at the cost of more inputs.
 */
export type LoraTargets = 'kohya' | 'all-pointwise' | ((site: ModuleSite) => boolean);

export function targetPredicate(targets: LoraTargets = 'kohya'): (site: ModuleSite) => boolean {
  if (typeof targets === 'function') return (s) => isPointwise(s) && targets(s);
  if (targets === 'all-pointwise') return isPointwise;
  if (targets !== 'kohya')
    throw new Error(`unknown LoRA targets '${String(targets)}'; valid: kohya, all-pointwise`);
  return (s) =>
    isPointwise(s) &&
    (s.component === 'unet'
      ? /\.attentions\.\d+\./.test(s.module)
      : /\.(self_attn|mlp)\./.test(s.module));
}

/** kohya's LoCon blocks (UNET_TARGET_REPLACE_MODULE_CONV2D_3X3): ResnetBlock2D, Down/Upsample2D. */
const LOCON_BLOCK = /(^|\.)(resnets|downsamplers|upsamplers)\.\d+\./;

/**
 * Whether kohya's networks.lora with conv_dim adapts this module: 'pointwise' (a Linear / 1×1
 * conv of a LoCon block, at network_dim), 'conv' (its 3×3 convs, at conv_dim), or undefined.
 */
export function loconSite(site: ModuleSite): 'pointwise' | 'conv' | undefined {
  if (site.component !== 'unet' || !LOCON_BLOCK.test(site.module)) return undefined;
  return isPointwise(site) ? 'pointwise' : site.kind === 'conv2d' ? 'conv' : undefined;
}

/** An adapter that only records the sites it sees (then defers to `inner`). */
export function recordingAdapter(
  component: LoraComponent,
  into: ModuleSite[],
  inner?: Adapter,
): Adapter {
  return (g, site) => {
    into.push(moduleSite(component, site));
    return inner?.(g, site);
  };
}

/** Every Linear/Conv module of a UNet, in build order (a synthetic build: no weights read). */
export function unetModuleSites(cfg: UNetConfig): ModuleSite[] {
  const sites: ModuleSite[] = [];
  buildUnetGraph(cfg, syntheticWeights(), {
    batch: 1,
    height: 2 ** (cfg.blockOutChannels.length - 1),
    width: 2 ** (cfg.blockOutChannels.length - 1),
    seqLen: 1,
    adapter: recordingAdapter('unet', sites),
  });
  return sites;
}

/** Every Linear module of a CLIP text encoder, in build order. */
export function textEncoderModuleSites(cfg: ClipTextConfig): ModuleSite[] {
  const sites: ModuleSite[] = [];
  buildClipTextGraph(cfg, syntheticWeights(), {
    batch: 1,
    seqLen: 1,
    adapter: recordingAdapter('text_encoder', sites),
  });
  return sites;
}

/** Module names of both models, for the LoRA converters. */
export function knownModules(cfg: { unet: UNetConfig; textEncoder: ClipTextConfig }): KnownModules {
  return {
    unet: unetModuleSites(cfg.unet).map((s) => s.module),
    text_encoder: textEncoderModuleSites(cfg.textEncoder).map((s) => s.module),
  };
}
