// One ONNX session for a graph with LoRA inputs, and the LoRAs currently applied to it. Applying,
// swapping, re-weighting or removing LoRAs recomputes the LoRA feeds and never rebuilds the
// session.
import type { ConvertedLora, LoraComponent, LoraIssue } from '../../formats/lora/index.js';
import type { Graph } from '../../graph/index.js';
import {
  Session,
  type DeviceTensor,
  type HostTensor,
  type RunOptions,
  type SessionOptions,
} from '../../onnx/index.js';
import { bindLora, loraFeeds, type BoundLora, type LoraFeedOptions } from './feeds.js';
import type { LoraSlot } from './graph-inputs.js';

export interface AppliedLora {
  readonly lora: ConvertedLora;
  readonly strength: number;
  /** Shown in reports and errors (e.g. the file name). */
  readonly name?: string;
}

export interface LoraApplyReport {
  readonly applied: readonly {
    name: string;
    strength: number;
    modules: number;
    otherComponent: number;
  }[];
  /** Everything the graph could not apply, per LoRA, by name. */
  readonly unsupported: readonly (LoraIssue & { lora: string })[];
  /** Time to bind and build the feeds, ms. */
  readonly ms: number;
}

type Feeds = Readonly<Record<string, HostTensor | DeviceTensor>>;

export class LoraSession {
  private loraInputs: Record<string, HostTensor>;
  private readonly bound = new WeakMap<ConvertedLora, BoundLora>();

  private constructor(
    readonly session: Session,
    readonly slots: readonly LoraSlot[],
    readonly component: LoraComponent,
    private readonly feedOptions: LoraFeedOptions,
  ) {
    this.loraInputs = loraFeeds(slots, [], feedOptions);
  }

  /** A session over `graph` (built with loraGraphInputs' adapter, whose slots are passed here). */
  static async create(
    graph: Graph,
    slots: readonly LoraSlot[],
    component: LoraComponent,
    opts: SessionOptions & LoraFeedOptions = {},
  ): Promise<LoraSession> {
    const session = await Session.create(graph, opts);
    return new LoraSession(session, slots, component, { emptyRank: opts.emptyRank });
  }

  /**
   * Apply these LoRAs (replacing the previous set; [] removes all). Throws when a LoRA does not
   * fit the model; modules that cannot be applied are listed in the report.
   */
  setLoras(loras: readonly AppliedLora[]): LoraApplyReport {
    const t0 = performance.now();
    const entries = loras.map((l, i) => {
      let b = this.bound.get(l.lora);
      const name = l.name ?? `LoRA ${i + 1}`;
      if (!b || b.name !== name) {
        b = bindLora(l.lora, this.slots, this.component, name);
        this.bound.set(l.lora, b);
      }
      return { lora: b, strength: l.strength };
    });
    this.loraInputs = loraFeeds(this.slots, entries, this.feedOptions);
    return {
      applied: entries.map((e) => ({
        name: e.lora.name,
        strength: e.strength,
        modules: e.lora.bySlot.size,
        otherComponent: e.lora.otherComponent,
      })),
      unsupported: entries.flatMap((e) =>
        e.lora.unsupported.map((u) => ({ ...u, lora: e.lora.name })),
      ),
      ms: performance.now() - t0,
    };
  }

  /** The current LoRA feeds (e.g. to pass to another session of the same graph). */
  get feeds(): Readonly<Record<string, HostTensor>> {
    return this.loraInputs;
  }

  /** Run with the model's own inputs; the LoRA inputs are added. */
  run(feeds: Feeds, opts?: RunOptions): Promise<Record<string, HostTensor>> {
    return this.session.run({ ...feeds, ...this.loraInputs }, opts);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
