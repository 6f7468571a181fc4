// The LoRA feeds of one warm session built with loraGraphInputs: which LoRAs at which strength
// are applied is only a matter of these feeds, so loading, swapping, re-weighting or stacking
// LoRAs never rebuilds the session. Feeds are recomputed only when the set changes.
import type { ConvertedLora, LoraComponent, LoraIssue } from '../../formats/index.js';
import {
  bindLora,
  loraFeeds,
  LoraShapeError,
  type BoundLora,
  type LoraSlot,
} from '../../models/index.js';
import type { HostTensor } from '../../onnx/index.js';
import { GenerateParamsError } from './errors.js';

export interface LoraUse {
  readonly lora: ConvertedLora;
  /** Shown in warnings (the tag name or file name). */
  readonly name: string;
  readonly strength: number;
}

export interface LoraFeedResult {
  readonly feeds: Readonly<Record<string, HostTensor>>;
  /** Modules this graph cannot apply, per LoRA (LoCon 3×3 convs, layers clip skip left out, …). */
  readonly unsupported: readonly (LoraIssue & { lora: string })[];
  /** Modules applied, summed over the LoRAs. */
  readonly modules: number;
}

let nextId = 1;
const ids = new WeakMap<ConvertedLora, number>();
const idOf = (l: ConvertedLora): number => {
  let id = ids.get(l);
  if (id === undefined) ids.set(l, (id = nextId++));
  return id;
};

export class LoraInputs {
  private readonly bound = new WeakMap<ConvertedLora, BoundLora>();
  private current: { signature: string; result: LoraFeedResult } | undefined;

  constructor(
    readonly slots: readonly LoraSlot[],
    readonly component: LoraComponent,
  ) {}

  /** Feeds for these LoRAs (none: zero feeds). Throws when a LoRA is for another model size. */
  feedsFor(uses: readonly LoraUse[]): LoraFeedResult {
    const active = uses.filter((u) => u.strength !== 0);
    const signature = active.map((u) => `${idOf(u.lora)}×${u.strength}`).join(',');
    if (this.current?.signature === signature) return this.current.result;
    const entries = active.map((u) => {
      let b = this.bound.get(u.lora);
      if (!b || b.name !== u.name) {
        try {
          b = bindLora(u.lora, this.slots, this.component, u.name);
        } catch (e) {
          // A LoRA for another base model is the user's choice to fix, not an internal error.
          if (e instanceof LoraShapeError) throw new GenerateParamsError(e.message, { cause: e });
          throw e;
        }
        this.bound.set(u.lora, b);
      }
      return { lora: b, strength: u.strength };
    });
    const result: LoraFeedResult = {
      feeds: loraFeeds(this.slots, entries),
      unsupported: entries.flatMap((e) =>
        e.lora.unsupported.map((u) => ({ ...u, lora: e.lora.name })),
      ),
      modules: entries.reduce((n, e) => n + e.lora.bySlot.size, 0),
    };
    this.current = { signature, result };
    return result;
  }
}
