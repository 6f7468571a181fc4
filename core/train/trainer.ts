// One LoRA training run's engine: the training-step session and the AdamW session, with the
// LoRA parameters, their gradients and the optimizer state kept as device tensors between steps
// (ORT values fed from one run into the next; on a GPU EP with preferredOutputLocation they
// never come back to the host). Per step the host reads two scalars (loss, overflow) and the
// gradient norm. Dynamic loss scaling follows torch.cuda.amp.GradScaler: on overflow the step is
// skipped and the scale halved; after `growthInterval` clean steps it doubles.
import { DeviceTensor, Session, type HostTensor, type SessionOptions } from '../onnx/index.js';
import { packLoraParams, unpackLoraParams, type LoraParamValues } from './lora-params.js';
import { learningRateAt, type LrScheduleOptions } from './lr-schedule.js';
import {
  ADAMW_IO,
  adamwScalarFeeds,
  buildAdamWGraph,
  resolveAdamW,
  type AdamWOptions,
  type ResolvedAdamW,
} from './optimizer/adamw.js';
import { Prodigy, type ProdigyOptions, type ProdigyScalars } from './optimizer/prodigy.js';
import { STEP_IO, type LoraTrainGraph } from './step-graph.js';

export interface LossScaleOptions {
  /** Start value (GradScaler: 2^16). Use 1 and growthInterval 0 for fp32 (no scaling). */
  init?: number;
  /** Clean steps before the scale doubles (GradScaler: 2000); 0 keeps it fixed. */
  growthInterval?: number;
}

/** GradScaler's schedule: ×0.5 on overflow, ×2 after `growthInterval` clean steps. */
export class DynamicLossScale {
  private clean = 0;

  /** Clean steps since the last change (part of a resume snapshot). */
  get cleanSteps(): number {
    return this.clean;
  }
  set cleanSteps(n: number) {
    this.clean = n;
  }
  value: number;
  readonly growthInterval: number;

  constructor(o: LossScaleOptions = {}) {
    this.value = o.init ?? 2 ** 16;
    this.growthInterval = o.growthInterval ?? 2000;
    if (!(this.value > 0 && Number.isFinite(this.value)))
      throw new Error(`loss scale must be a finite number > 0, got ${this.value}`);
  }

  /** Record a step's overflow flag; returns whether the optimizer step should run. */
  update(overflow: boolean): boolean {
    if (overflow) {
      this.value = Math.max(this.value / 2, 2 ** -24);
      this.clean = 0;
      return false;
    }
    if (this.growthInterval > 0 && ++this.clean >= this.growthInterval) {
      this.value *= 2;
      this.clean = 0;
    }
    return true;
  }
}

export interface LoraTrainerOptions {
  optimizer?: AdamWOptions;
  /**
   * Train with Prodigy instead of AdamW: a host-side update (the gradient comes to the host each
   * step; `optimizer` is then ignored). The schedule's lr is Prodigy's multiplier (usually 1).
   */
  prodigy?: ProdigyOptions;
  schedule: LrScheduleOptions;
  /** Default: fixed 1 for a float32 graph, dynamic from 2^16 otherwise. */
  lossScale?: LossScaleOptions;
  /** Options of both sessions (EP, cache, …). */
  session?: SessionOptions;
  /**
   * kohya's text_encoder_lr over the UNet lr: the text-encoder modules' elements of the packed
   * vector step with lr·ratio (same schedule). Default 1. AdamW only.
   */
  textEncoderLrRatio?: number;
}

/** One micro-batch's result at the current parameters (see LoraTrainer.gradient). */
export interface MicroBatchGradient {
  readonly loss: number;
  /** Unscaled float32 gradient of the packed parameters (host copy). */
  readonly grad: Float32Array;
  readonly overflow: boolean;
}

export interface StepResult {
  /** 0-based index of this step. */
  readonly step: number;
  readonly loss: number;
  /** Global gradient norm before clipping (NaN when the step was skipped). */
  readonly gradNorm: number;
  readonly lr: number;
  /** True when the gradients overflowed and no update was made. */
  readonly skipped: boolean;
  readonly lossScale: number;
}

const scalarF32 = (v: number): HostTensor => ({
  dtype: 'float32',
  shape: [],
  data: Float32Array.of(v),
});

/**
 * The optimizer session's options: the step's, minus its in-memory weights (the AdamW graph has
 * none) and with its own cache key — a shared caller key would hand it the step's cached model.
 */
function optimizerSessionOptions(o: LoraTrainerOptions): SessionOptions | undefined {
  if (!o.session) return undefined;
  const { cache, externalData: _weights, ...rest } = o.session;
  if (cache === undefined) return rest;
  const c = typeof cache === 'string' ? { dir: cache } : cache;
  return {
    ...rest,
    cache: {
      dir: c.dir,
      ...(c.key === undefined ? {} : { key: `${c.key}#adamw` }),
    },
  };
}

/** A trainer's resumable state on the host (see LoraTrainer.snapshot / restore). */
export interface TrainerSnapshot {
  param: Float32Array;
  m: Float32Array;
  v: Float32Array;
  stepIndex: number;
  updates: number;
  lossScale: number;
  lossScaleClean: number;
  /** Prodigy runs: its scalars and s, p0 (m and v above are its moments). */
  prodigy?: { scalars: ProdigyScalars; s: Float32Array; p0: Float32Array };
}

/** The optimizer state a trainer keeps: the flat parameters and AdamW's m and v. */
const P = STEP_IO.params;

/** The per-element lr multipliers: `ratio` on text-encoder modules' elements, 1 elsewhere. */
export function lrScaleVector(graph: LoraTrainGraph, ratio: number): Float32Array {
  const out = new Float32Array(graph.layout.numel).fill(1);
  graph.modules.forEach((m, i) => {
    if (m.component !== 'text_encoder') return;
    for (const e of [graph.layout.entries[2 * i], graph.layout.entries[2 * i + 1]])
      out.fill(ratio, e.offset, e.offset + e.length);
  });
  return out;
}

export class LoraTrainer {
  private state: { param: DeviceTensor; m: DeviceTensor; v: DeviceTensor };
  private stepIndex = 0;
  private updates = 0;

  private constructor(
    readonly graph: LoraTrainGraph,
    private readonly stepSession: Session,
    private readonly optSession: Session | undefined,
    private readonly adamw: ResolvedAdamW,
    private readonly schedule: LrScheduleOptions,
    readonly lossScale: DynamicLossScale,
    init: Float32Array,
    private readonly prodigy?: Prodigy,
    private readonly lrScale?: DeviceTensor,
  ) {
    const t = (data: Float32Array) =>
      DeviceTensor.fromHost({ dtype: 'float32', shape: [data.length], data }, P);
    this.state = {
      param: t(init),
      m: t(new Float32Array(init.length)),
      v: t(new Float32Array(init.length)),
    };
  }

  /** Sessions for a built training graph, starting from `init` (e.g. initLoraParams). */
  static async create(
    graph: LoraTrainGraph,
    init: LoraParamValues,
    o: LoraTrainerOptions,
  ): Promise<LoraTrainer> {
    const flat = packLoraParams(graph.layout, init);
    const adamw = resolveAdamW(o.optimizer);
    const prodigy = o.prodigy ? new Prodigy(o.prodigy) : undefined;
    const ratio = o.textEncoderLrRatio ?? 1;
    if (!(Number.isFinite(ratio) && ratio > 0))
      throw new Error(`text-encoder lr ratio must be a finite number > 0, got ${ratio}`);
    const perElementLr = ratio !== 1 && graph.modules.some((m) => m.component === 'text_encoder');
    if (perElementLr && prodigy)
      throw new Error(
        'Prodigy estimates one step size for all parameters: leave text_encoder_lr unset (or equal to the UNet lr) with Prodigy',
      );
    const stepSession = await Session.create(graph.graph, o.session);
    let optSession: Session | undefined;
    try {
      optSession = prodigy
        ? undefined
        : await Session.create(
            buildAdamWGraph([{ name: P, shape: [graph.layout.numel] }], adamw, perElementLr),
            optimizerSessionOptions(o),
          );
    } catch (e) {
      await stepSession.release();
      throw e;
    }
    const fp32 = graph.computeDType === 'float32';
    const scale = new DynamicLossScale(o.lossScale ?? (fp32 ? { init: 1, growthInterval: 0 } : {}));
    const lrScale = perElementLr
      ? DeviceTensor.fromHost(
          { dtype: 'float32', shape: [flat.length], data: lrScaleVector(graph, ratio) },
          ADAMW_IO.lrScale(P),
        )
      : undefined;
    return new LoraTrainer(
      graph,
      stepSession,
      optSession,
      adamw,
      o.schedule,
      scale,
      flat,
      prodigy,
      lrScale,
    );
  }

  get stepCount(): number {
    return this.stepIndex;
  }

  /**
   * One step on a batch (the step graph's data inputs: latents, noise, timesteps,
   * encoder_hidden_states — or the loss graph's sample, timestep, target, …).
   */
  async step(batch: Readonly<Record<string, HostTensor | DeviceTensor>>): Promise<StepResult> {
    const step = this.stepIndex++;
    const lr = learningRateAt(this.schedule, step);
    const out = await this.stepSession.runRaw({
      ...batch,
      [STEP_IO.lossScale]: scalarF32(this.lossScale.value),
      [P]: this.state.param,
    });
    try {
      const loss = ((await out[STEP_IO.loss].toHost()).data as Float32Array)[0];
      const overflow = (await out[STEP_IO.overflow].toHost()).data[0] !== 0;
      const scaleUsed = this.lossScale.value;
      if (!this.lossScale.update(overflow))
        return { step, loss, gradNorm: NaN, lr, skipped: true, lossScale: scaleUsed };
      const gradNorm = await this.update(out[STEP_IO.grad], lr);
      return { step, loss, gradNorm, lr, skipped: false, lossScale: scaleUsed };
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /**
   * One micro-batch of a gradient-accumulation step: loss, gradient and overflow flag at the
   * current parameters, with no update (see stepAccumulated). The gradient comes to the host.
   */
  async gradient(
    batch: Readonly<Record<string, HostTensor | DeviceTensor>>,
  ): Promise<MicroBatchGradient> {
    const out = await this.stepSession.runRaw({
      ...batch,
      [STEP_IO.lossScale]: scalarF32(this.lossScale.value),
      [P]: this.state.param,
    });
    try {
      return {
        loss: ((await out[STEP_IO.loss].toHost()).data as Float32Array)[0],
        overflow: (await out[STEP_IO.overflow].toHost()).data[0] !== 0,
        grad: ((await out[STEP_IO.grad].toHost()).data as Float32Array).slice(),
      };
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /**
   * One optimizer step from N micro-batches (kohya's gradient_accumulation_steps through
   * accelerate: each micro-batch's loss is divided by N, so the step sees the mean gradient; the
   * reported loss is the mean too). Any overflow skips the whole step and halves the scale.
   */
  async stepAccumulated(parts: readonly MicroBatchGradient[]): Promise<StepResult> {
    if (parts.length === 0) throw new Error('stepAccumulated: no micro-batches');
    const n = this.graph.layout.numel;
    const bad = parts.find((p) => p.grad.length !== n);
    if (bad) throw new Error(`stepAccumulated: a gradient has ${bad.grad.length} values, not ${n}`);
    const step = this.stepIndex++;
    const lr = learningRateAt(this.schedule, step);
    const loss = parts.reduce((a, p) => a + p.loss, 0) / parts.length;
    const scaleUsed = this.lossScale.value;
    if (!this.lossScale.update(parts.some((p) => p.overflow)))
      return { step, loss, gradNorm: NaN, lr, skipped: true, lossScale: scaleUsed };
    const mean = new Float32Array(n);
    for (const p of parts) for (let i = 0; i < n; i++) mean[i] += p.grad[i];
    for (let i = 0; i < n; i++) mean[i] /= parts.length;
    const gradT = DeviceTensor.fromHost({ dtype: 'float32', shape: [n], data: mean }, `grad:${P}`);
    try {
      const gradNorm = await this.update(gradT, lr);
      return { step, loss, gradNorm, lr, skipped: false, lossScale: scaleUsed };
    } finally {
      gradT.dispose();
    }
  }

  /** The optimizer update with this gradient; returns the gradient norm before clipping. */
  private async update(grad: DeviceTensor, lr: number): Promise<number> {
    if (this.prodigy) {
      const gradNorm = await this.prodigyStep(grad, lr);
      this.updates++;
      return gradNorm;
    }
    const next = await this.optSession!.runRaw({
      [ADAMW_IO.param(P)]: this.state.param,
      [ADAMW_IO.m(P)]: this.state.m,
      [ADAMW_IO.v(P)]: this.state.v,
      [ADAMW_IO.grad(P)]: grad,
      ...(this.lrScale ? { [ADAMW_IO.lrScale(P)]: this.lrScale } : {}),
      ...adamwScalarFeeds(++this.updates, lr, this.adamw),
    });
    const gradNorm = ((await next[ADAMW_IO.gradNorm].toHost()).data as Float32Array)[0];
    next[ADAMW_IO.gradNorm].dispose();
    for (const t of Object.values(this.state)) t.dispose();
    this.state = {
      param: next[ADAMW_IO.newParam(P)],
      m: next[ADAMW_IO.newM(P)],
      v: next[ADAMW_IO.newV(P)],
    };
    return gradNorm;
  }

  /** Prodigy's update on the host: gradient and parameters come over, new parameters go back. */
  private async prodigyStep(gradT: DeviceTensor, lr: number): Promise<number> {
    const grad = ((await gradT.toHost()).data as Float32Array).slice();
    const param = await this.flatParams();
    const norm = this.prodigy!.step(new Map([[P, param]]), new Map([[P, grad]]), lr);
    this.state.param.dispose();
    this.state.param = DeviceTensor.fromHost(
      { dtype: 'float32', shape: [param.length], data: param },
      P,
    );
    return norm;
  }

  /** The current flat parameters, copied to the host. */
  async flatParams(): Promise<Float32Array> {
    return ((await this.state.param.toHost()).data as Float32Array).slice();
  }

  /** The current LoRA parameters by name, copied to the host (for export and checkpoints). */
  async params(): Promise<Map<string, Float32Array>> {
    return unpackLoraParams(this.graph.layout, await this.flatParams());
  }

  /** Everything a resume needs, copied to the host: params, AdamW m/v, counters, loss scale. */
  async snapshot(): Promise<TrainerSnapshot> {
    const host = async (t: DeviceTensor) => ((await t.toHost()).data as Float32Array).slice();
    if (this.prodigy) {
      const n = this.graph.layout.numel;
      const st = this.prodigy.state(P);
      const z = () => new Float32Array(n);
      return {
        param: await host(this.state.param),
        m: st?.m.slice() ?? z(),
        v: st?.v.slice() ?? z(),
        stepIndex: this.stepIndex,
        updates: this.updates,
        lossScale: this.lossScale.value,
        lossScaleClean: this.lossScale.cleanSteps,
        prodigy: {
          scalars: { ...this.prodigy.scalars },
          s: st?.s.slice() ?? z(),
          p0: st?.p0.slice() ?? (await host(this.state.param)),
        },
      };
    }
    return {
      param: await host(this.state.param),
      m: await host(this.state.m),
      v: await host(this.state.v),
      stepIndex: this.stepIndex,
      updates: this.updates,
      lossScale: this.lossScale.value,
      lossScaleClean: this.lossScale.cleanSteps,
    };
  }

  /** Continue from a snapshot (same graph layout): the next step behaves as in the saved run. */
  restore(s: TrainerSnapshot): void {
    const n = this.graph.layout.numel;
    for (const k of ['param', 'm', 'v'] as const)
      if (s[k].length !== n)
        throw new Error(`trainer snapshot: ${k} has ${s[k].length} values, the network has ${n}`);
    const t = (data: Float32Array) =>
      DeviceTensor.fromHost({ dtype: 'float32', shape: [n], data: data.slice() }, P);
    for (const x of Object.values(this.state)) x.dispose();
    this.state = { param: t(s.param), m: t(s.m), v: t(s.v) };
    this.stepIndex = s.stepIndex;
    this.updates = s.updates;
    this.lossScale.value = s.lossScale;
    this.lossScale.cleanSteps = s.lossScaleClean;
    if (this.prodigy) {
      if (!s.prodigy)
        throw new Error('trainer snapshot has no Prodigy state; it was saved by an AdamW run');
      const { scalars, s: acc, p0 } = s.prodigy;
      // Before the first update Prodigy has no tensor state yet (p0 is taken at that step).
      this.prodigy.restore(
        scalars,
        scalars.k === 0 ? new Map() : new Map([[P, { m: s.m, v: s.v, s: acc, p0 }]]),
      );
    } else if (s.prodigy) {
      throw new Error('trainer snapshot holds Prodigy state; this trainer uses AdamW');
    }
  }

  async release(): Promise<void> {
    for (const t of Object.values(this.state)) t.dispose();
    this.lrScale?.dispose();
    await this.stepSession.release();
    await this.optSession?.release();
  }
}
