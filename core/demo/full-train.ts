// Training every weight of a small model with our own engine: the model is built with a
// `trainable` WeightBinder (each weight a float32 graph input), the autodiff appends the backward
// pass for all of them, and a host AdamW (+ an EMA copy) updates them between steps. Used to
// make the built-in demo base model (VAE and UNet) from scratch — a few million parameters, so
// host-side optimizer state is fine; LoRA training keeps its packed-parameter path.
import { attr, grad, GraphBuilder, numel, type Graph, type Value } from '../graph/index.js';
import {
  syntheticWeights,
  unet2dCondition,
  vaeDecoder,
  vaeEncoder,
  WeightBinder,
  type SyntheticWeights,
  type UNetConfig,
  type VaeConfig,
} from '../models/index.js';
import { Session, type HostTensor } from '../onnx/index.js';
import { SD15_NOISE_SCHEDULE } from '../schedulers/index.js';
import { AdamW, type AdamWOptions } from '../train/optimizer/adamw.js';
import { mseLoss, noiseAndTarget } from '../train/loss.js';

export interface TrainableParam {
  /** Graph input name (= weight name). */
  readonly name: string;
  readonly shape: readonly number[];
}

export interface FullTrainGraph {
  readonly graph: Graph;
  readonly params: readonly TrainableParam[];
}

const gradName = (p: string) => `grad:${p}`;

/**
 * Finish a graph whose weights came from a trainable binder: outputs `loss` and one
 * `grad:<weight>` per weight.
 */
export function finishFullTrainGraph(
  g: GraphBuilder,
  w: WeightBinder,
  loss: Value,
): FullTrainGraph {
  w.finish();
  const params = w.trainableInputs.map((t) => ({ name: t.name, shape: t.shape }));
  const grads = grad(
    g,
    loss,
    params.map((p) => g.get(p.name)),
  );
  g.output(loss, 'loss');
  grads.forEach((gr, i) => g.output(gr, gradName(params[i].name)));
  return { graph: g.build(), params };
}

/** Weight names/shapes come from the config; values are filled by `initialWeights`. */
const shapeSource = () => syntheticWeights({ fill: 'zeros' });

/**
 * VAE autoencoder step: image [B, 3, S, S] in [−1, 1] and ε [B, L, S/f, S/f] →
 * loss = mean((decode(mean + std·ε) − image)²) + klWeight · mean KL(q ‖ N(0, 1)).
 */
export function buildVaeTrainGraph(
  cfg: VaeConfig,
  o: { batch: number; size: number; klWeight: number },
): FullTrainGraph {
  const g = new GraphBuilder('vae_train');
  const w = new WeightBinder(g, shapeSource(), { trainable: true, label: 'VAE' });
  const m = { g, w, dtype: 'float32' as const };
  const f = 2 ** (cfg.blockOutChannels.length - 1);
  const image = g.input('image', 'float32', [o.batch, cfg.inChannels, o.size, o.size]);
  const eps = g.input('eps', 'float32', [o.batch, cfg.latentChannels, o.size / f, o.size / f]);
  const d = vaeEncoder(m, cfg, image);
  const z = g.op('Add', [d.mean, g.op('Mul', [d.std, eps])]);
  const recon = vaeDecoder(m, cfg, z);
  const err = g.op('Sub', [recon, image]);
  const rec = g.op('ReduceMean', [g.op('Mul', [err, err])], { keepdims: attr.int(0) });
  // KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1 − log σ²), averaged over latent elements.
  const one = g.constant([1], 'float32', []);
  const klTerms = g.op('Sub', [
    g.op('Add', [g.op('Mul', [d.mean, d.mean]), g.op('Exp', [d.logvar])]),
    g.op('Add', [one, d.logvar]),
  ]);
  const kl = g.op('ReduceMean', [klTerms], { keepdims: attr.int(0) });
  const loss = g.op('Add', [rec, g.op('Mul', [kl, g.constant([0.5 * o.klWeight], 'float32', [])])]);
  return finishFullTrainGraph(g, w, loss);
}

/**
 * UNet ε-prediction step (SD1.5 noise schedule): latents (× scaling factor), noise,
 * int64 timesteps [B] and encoder_hidden_states → MSE loss.
 */
export function buildUnetTrainGraph(
  cfg: UNetConfig,
  o: { batch: number; latentSize: number; seqLen: number },
): FullTrainGraph {
  const g = new GraphBuilder('unet_train');
  const w = new WeightBinder(g, shapeSource(), { trainable: true, label: 'UNet' });
  const shape = [o.batch, cfg.inChannels, o.latentSize, o.latentSize];
  const latents = g.input('latents', 'float32', shape);
  const noise = g.input('noise', 'float32', shape);
  const timesteps = g.input('timesteps', 'int64', [o.batch]);
  const ehs = g.input('encoder_hidden_states', 'float32', [
    o.batch,
    o.seqLen,
    cfg.crossAttentionDim,
  ]);
  const { noisy, target } = noiseAndTarget(g, latents, noise, timesteps, {
    schedule: SD15_NOISE_SCHEDULE,
    prediction: 'epsilon',
  });
  const pred = unet2dCondition({ g, w, dtype: 'float32' }, cfg, {
    sample: noisy,
    timestep: g.cast(timesteps, 'float32'),
    encoderHiddenStates: ehs,
  });
  return finishFullTrainGraph(g, w, mseLoss(g, pred, target));
}

/**
 * PyTorch-like initial values for `params`: uniform ±1/√fan_in for weights (torch's default for
 * Linear/Conv), ones for norm scales, zeros for biases. Deterministic for a seed.
 */
export function initialWeights(
  params: readonly TrainableParam[],
  seed: number,
): Map<string, Float32Array> {
  const src = syntheticWeights({ fill: 'random', seed, dtype: 'float32' });
  for (const p of params) src.get(p.name, { shape: p.shape });
  return syntheticValues(src, src.blob());
}

/** The float32 synthetic weights handed out so far, each in its own array, from their `blob()`. */
export function syntheticValues(
  src: SyntheticWeights,
  blob: Uint8Array,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const t of src.tensors)
    out.set(t.name, new Float32Array(blob.buffer.slice(t.offset, t.offset + t.length)));
  return out;
}

export interface FullTrainerOptions extends AdamWOptions {
  /** Exponential moving average of the weights (0 = off), the usual trick for diffusion models. */
  emaDecay?: number;
  intraOpThreads?: number;
}

/** Runs a FullTrainGraph step by step with host AdamW; `params` are updated in place. */
export class FullTrainer {
  readonly ema?: Map<string, Float32Array>;
  private readonly opt: AdamW;
  steps = 0;

  private constructor(
    private readonly session: Session,
    readonly spec: FullTrainGraph,
    readonly params: Map<string, Float32Array>,
    private readonly o: FullTrainerOptions,
  ) {
    this.opt = new AdamW(o);
    if (o.emaDecay) this.ema = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
  }

  static async create(
    spec: FullTrainGraph,
    params: Map<string, Float32Array>,
    o: FullTrainerOptions = {},
  ): Promise<FullTrainer> {
    for (const p of spec.params) {
      const v = params.get(p.name);
      if (!v || v.length !== numel(p.shape))
        throw new Error(
          `FullTrainer: no initial value of ${numel(p.shape)} floats for '${p.name}'`,
        );
    }
    const session = await Session.create(spec.graph, {
      ep: 'cpu',
      ...(o.intraOpThreads ? { intraOpNumThreads: o.intraOpThreads } : {}),
    });
    return new FullTrainer(session, spec, params, o);
  }

  /** One optimizer step on `batch` (the graph's non-weight inputs). Returns the loss and grad norm. */
  async step(
    batch: Record<string, HostTensor>,
    lr: number,
  ): Promise<{ loss: number; gradNorm: number }> {
    const feeds: Record<string, HostTensor> = { ...batch };
    for (const p of this.spec.params)
      feeds[p.name] = { dtype: 'float32', shape: p.shape, data: this.params.get(p.name)! };
    const out = await this.session.run(feeds);
    const loss = (out.loss.data as Float32Array)[0];
    if (!Number.isFinite(loss))
      throw new Error(`full training diverged: loss ${loss} at step ${this.steps + 1}`);
    const grads = new Map<string, Float32Array>();
    for (const p of this.spec.params) grads.set(p.name, out[gradName(p.name)].data as Float32Array);
    const gradNorm = this.opt.step(this.params, grads, lr);
    this.steps++;
    if (this.ema) {
      const d = this.o.emaDecay!;
      for (const [k, e] of this.ema) {
        const p = this.params.get(k)!;
        for (let i = 0; i < e.length; i++) e[i] = d * e[i] + (1 - d) * p[i];
      }
    }
    return { loss, gradNorm };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
