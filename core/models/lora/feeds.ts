// From converted LoRAs to the feeds of a graph built with loraGraphInputs. Several LoRAs are
// stacked by concatenating along the rank: down = [down₁; down₂; …] and up = [s₁·up₁ | s₂·up₂ | …]
// with sᵢ = strengthᵢ·alphaᵢ/rankᵢ, so up·down = Σ sᵢ·upᵢ·downᵢ. A module no LoRA touches gets
// one zero row (rank 1), not rank 0: ORT's CPU EP accepts zero-size dimensions, and a 2-D MatMul
// with K = 0 returns zeros, but the broadcast batched MatMul of the 1×1-conv path
// ([out, 0] × [B, 0, H·W]) returned uninitialised memory (checked on onnxruntime-node 1.30).
import type {
  ConvertedLora,
  LoraComponent,
  LoraIssue,
  LoraModuleWeights,
} from '../../formats/lora/index.js';
import type { HostTensor } from '../../onnx/index.js';
import type { LoraSlot } from './graph-inputs.js';
import { isPointwise } from './sites.js';

const LABEL: Readonly<Record<LoraComponent, string>> = {
  unet: 'UNet',
  text_encoder: 'text encoder',
};

/** A converted LoRA matched to one graph's slots. */
export interface BoundLora {
  readonly name: string;
  /** Slot index → the module's weights, down as [rank, in] and up as [out, rank]. */
  readonly bySlot: ReadonlyMap<number, LoraModuleWeights>;
  /** Modules of this component the graph cannot apply (e.g. 3×3 conv LoCon), by name. */
  readonly unsupported: readonly LoraIssue[];
  /** Modules that belong to the other model (e.g. text-encoder modules while running the UNet). */
  readonly otherComponent: number;
}

export class LoraShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraShapeError';
  }
}

/**
 * Match a LoRA's modules of `component` to the graph's slots. A module whose shapes do not fit
 * its slot (a LoRA for another model size) throws, listing every mismatch (unless checkShapes is
 * false: names only, e.g. to inspect a file without its model).
 */
export function bindLora(
  lora: ConvertedLora,
  slots: readonly LoraSlot[],
  component: LoraComponent,
  name = 'LoRA',
  opts: { checkShapes?: boolean } = {},
): BoundLora {
  const slotOf = new Map(slots.map((s, i) => [s.module, i]));
  const bySlot = new Map<number, LoraModuleWeights>();
  const unsupported: LoraIssue[] = [];
  const mismatched: string[] = [];
  let otherComponent = 0;
  for (const m of lora.modules) {
    if (m.component !== component) {
      otherComponent++;
      continue;
    }
    const i = slotOf.get(m.module);
    const kernel = m.down.shape.length === 4 ? m.down.shape.slice(2) : [1, 1];
    const keys = [m.source];
    const slotKernel = i === undefined ? undefined : slots[i].kernel;
    if ((kernel[0] !== 1 || kernel[1] !== 1) && i === undefined) {
      unsupported.push({
        name: m.source,
        reason: `${kernel.join('×')} conv LoRA (LoCon) on ${m.module}: this graph has no LoCon inputs there`,
        keys,
      });
      continue;
    }
    if (slotKernel && (slotKernel[0] !== kernel[0] || slotKernel[1] !== kernel[1])) {
      mismatched.push(
        `${m.source}: a ${kernel.join('×')} LoRA down on ${m.module}, whose kernel is ${slotKernel.join('×')}`,
      );
      continue;
    }
    if (i === undefined) {
      unsupported.push({
        name: m.source,
        reason: `${m.module} takes no LoRA input in this ${LABEL[component]} graph (not a LoRA target)`,
        keys,
      });
      continue;
    }
    const slot = slots[i];
    const inF = m.down.shape[1];
    const outF = m.up.shape[0];
    if ((opts.checkShapes ?? true) && (inF !== slot.inFeatures || outF !== slot.outFeatures)) {
      mismatched.push(
        `${m.source}: LoRA maps ${inF} → ${outF}, ${m.module} maps ${slot.inFeatures} → ${slot.outFeatures}`,
      );
      continue;
    }
    bySlot.set(i, m);
  }
  if (mismatched.length) {
    const shown = mismatched.slice(0, 8).join('; ');
    throw new LoraShapeError(
      `${name} does not fit this ${LABEL[component]} (${mismatched.length} module(s) of another size — a LoRA for another base model?): ${shown}${mismatched.length > 8 ? '; …' : ''}`,
    );
  }
  return { name, bySlot, unsupported: [...lora.unsupported, ...unsupported], otherComponent };
}

export interface StackEntry {
  readonly lora: BoundLora;
  /** Multiplies the LoRA's effect (A1111's `<lora:name:strength>`); 0 leaves it out. */
  readonly strength: number;
}

export interface LoraFeedOptions {
  /**
   * Rank fed where no LoRA applies: 1 (one zero row; the default) or 0 (zero-size tensors; only
   * for graphs and EPs known to give zeros for K = 0 — see the file comment).
   */
  emptyRank?: 0 | 1;
}

/** Feeds for every slot: the stacked down/up matrices (zeros where no LoRA applies). */
export function loraFeeds(
  slots: readonly LoraSlot[],
  entries: readonly StackEntry[],
  opts: LoraFeedOptions = {},
): Record<string, HostTensor> {
  for (const e of entries)
    if (!Number.isFinite(e.strength))
      throw new Error(`LoRA '${e.lora.name}': strength ${e.strength} is not a finite number`);
  const feeds: Record<string, HostTensor> = {};
  slots.forEach((slot, i) => {
    const parts = entries.flatMap((e) => {
      const m = e.lora.bySlot.get(i);
      return m && e.strength !== 0 ? [{ m, scale: (e.strength * m.alpha) / m.rank }] : [];
    });
    const rank = Math.max(
      parts.reduce((n, p) => n + p.m.rank, 0),
      opts.emptyRank ?? 1,
    );
    // A LoCon slot's down rows are [in, kh, kw] (one conv filter each).
    const inF = slot.inFeatures * slot.kernel[0] * slot.kernel[1];
    const outF = slot.outFeatures;
    let down: Float32Array;
    let up: Float32Array;
    if (parts.length === 1) {
      // The common case: the LoRA's own down rows as they are (ORT only reads feeds), up scaled.
      const { m, scale } = parts[0];
      down = m.down.data;
      const src = m.up.data;
      up = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) up[i] = src[i] * scale;
    } else {
      down = new Float32Array(rank * inF);
      up = new Float32Array(outF * rank);
      let r0 = 0;
      for (const { m, scale } of parts) {
        const r = m.rank;
        // down rows are contiguous ([r, in] or [r, in, 1, 1]): one copy.
        down.set(m.down.data.subarray(0, r * inF), r0 * inF);
        const src = m.up.data;
        for (let o = 0; o < outF; o++) {
          const from = o * r;
          const to = o * rank + r0;
          for (let j = 0; j < r; j++) up[to + j] = src[from + j] * scale;
        }
        r0 += r;
      }
    }
    const downShape = isPointwise(slot)
      ? [rank, inF]
      : [rank, slot.inFeatures, slot.kernel[0], slot.kernel[1]];
    feeds[slot.downInput] = { dtype: 'float32', shape: downShape, data: down };
    feeds[slot.upInput] = { dtype: 'float32', shape: [outF, rank], data: up };
  });
  return feeds;
}
