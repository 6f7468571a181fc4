// The LoRA training step as one ONNX graph: (noising) → UNet with the LoRA network → float32 MSE
// → backward pass to the float32 LoRA masters with loss scaling → unscaled float32 gradients and
// an overflow flag. Built once per (model, resolution bucket, batch) and run every step; the
// frozen base weights are initializers (external data into the user's checkpoint), the LoRA
// parameters and the batch are inputs.
//
// Two front ends share the LoRA + loss + backward code:
//   buildTrainStepGraph   latents, noise, timesteps → x_t and target inside the graph (training)
//   buildLoraLossGraph    sample, timestep, target given (no noising) — the gradient-parity graph
import {
  GraphBuilder,
  scaledGrad,
  toCompute,
  type ComputeDType,
  type Graph,
  type Value,
} from '../graph/index.js';
import {
  clipTextEncoder,
  textEncoderModuleSites,
  unet2dCondition,
  unetModuleSites,
  WeightBinder,
  type ClipTextConfig,
  type ModuleSite,
  type UNetConfig,
  type WeightSource,
} from '../models/index.js';
import { SD15_NOISE_SCHEDULE, type NoiseScheduleConfig } from '../schedulers/index.js';
import {
  LORA_PARAMS_INPUT,
  loraModulesFromSites,
  loraNetwork,
  type LoraModuleSpec,
  type LoraNetwork,
  type LoraNetworkOptions,
} from './lora-network.js';
import type { LoraLayout } from './lora-params.js';
import { minSnrWeightOf, mseLoss, noiseAndTarget, type TrainPredictionType } from './loss.js';

/** Input / output names of a LoRA training graph. */
export const STEP_IO = Object.freeze({
  /** The flat float32 LoRA parameters [N] and their (unscaled, float32) gradient. */
  params: LORA_PARAMS_INPUT,
  grad: `grad:${LORA_PARAMS_INPUT}`,
  latents: 'latents',
  noise: 'noise',
  timesteps: 'timesteps',
  sample: 'sample',
  timestep: 'timestep',
  target: 'target',
  encoderHiddenStates: 'encoder_hidden_states',
  /** Token ids int64 [B, seq] of a step graph that trains the text encoder too. */
  inputIds: 'input_ids',
  lossScale: 'loss_scale',
  loss: 'loss',
  overflow: 'overflow',
  prediction: 'prediction',
});

export interface LoraGraphOptions {
  unet: UNetConfig;
  /** Frozen base weights (diffusers names). */
  weights: WeightSource;
  /** rank, alpha, targets, LoCon (the compute dtype is taken from `computeDType`). */
  network: Omit<LoraNetworkOptions, 'computeDType'>;
  /**
   * The modules to train (default: the targets' modules of `unet`, see unetLoraModules, after
   * the text encoder's when it is trained, see textEncoderLoraModules).
   */
  modules?: readonly LoraModuleSpec[];
  /** float32 on the CPU EP, float16 on GPU EPs (masters, loss and gradients stay float32). */
  computeDType?: ComputeDType;
  /**
   * Latent batch / height / width. Fixed sizes: a training graph is built per resolution bucket
   * (the up-sampling Resize has a gradient rule only for static axes, and ORT plans static
   * shapes better).
   */
  batch: number;
  height: number;
  width: number;
  /** Tokens of encoder_hidden_states (default 77). */
  seqLen?: number;
  /** Also output the UNet prediction (float32) as 'prediction'. */
  outputPrediction?: boolean;
  /** buildLoraLossGraph: a fixed timestep batch (1 or batch; needed for LoCon). */
  timestepBatch?: number;
}

/** A text encoder trained along (kohya's 72 modules): it runs inside the step graph. */
export interface TrainTextEncoder {
  config: ClipTextConfig;
  /** Frozen base weights (transformers names, `text_model.…`). */
  weights: WeightSource;
  /** A1111 clip skip (1 = last layer). */
  clipSkip?: number;
}

export interface TrainStepOptions extends LoraGraphOptions {
  /**
   * Train text-encoder LoRA too: the graph takes `input_ids` int64 [B, 77] instead of
   * encoder_hidden_states, so embeddings are computed per step (no embedding cache).
   */
  textEncoder?: TrainTextEncoder;
  /** What the UNet predicts (default 'epsilon'; SD2.x 768-v models use 'v_prediction'). */
  prediction?: TrainPredictionType;
  /** Min-SNR-γ loss weighting (omit for plain MSE). */
  minSnrGamma?: number;
  /** Training noise schedule (default SD1.5's scaled_linear 0.00085 … 0.012, 1000 steps). */
  schedule?: NoiseScheduleConfig;
}

export interface LoraTrainGraph {
  readonly graph: Graph;
  /** Trained modules, in build order. */
  readonly modules: readonly LoraModuleSpec[];
  /** Where each lora_down / lora_up sits in the flat `lora_params` input and its gradient. */
  readonly layout: LoraLayout;
  readonly rank: number;
  readonly alpha: number;
  readonly computeDType: ComputeDType;
}

interface UnetFeed {
  sample: Value;
  timestep: Value;
  encoderHiddenStates: Value;
}

const sitesByConfig = new Map<string, readonly ModuleSite[]>();

/** kohya's text-encoder LoRA modules (q/k/v/out_proj, fc1, fc2 of every layer), in build order. */
export function textEncoderLoraModules(cfg: ClipTextConfig, rank: number): LoraModuleSpec[] {
  const modules = loraModulesFromSites(textEncoderModuleSites(cfg), { rank });
  if (modules.length === 0) throw new Error('LoRA training graph: the text encoder has no targets');
  return modules;
}

/** The LoRA modules of a UNet for these targets, in build order (sites cached per config). */
export function unetLoraModules(
  cfg: UNetConfig,
  o: Pick<LoraNetworkOptions, 'rank' | 'targets' | 'conv'>,
): LoraModuleSpec[] {
  const key = JSON.stringify(cfg);
  let sites = sitesByConfig.get(key);
  if (!sites) {
    sites = unetModuleSites(cfg);
    sitesByConfig.set(key, sites);
  }
  const modules = loraModulesFromSites(sites, o);
  if (modules.length === 0)
    throw new Error('LoRA training graph: the targets matched no module of the UNet');
  return modules;
}

/**
 * The shared part: the UNet with the LoRA network on `inputs`, the loss (from the prediction),
 * outputs loss, scaled backward pass, gradient and overflow flag.
 */
function finishLoraGraph(
  g: GraphBuilder,
  o: LoraGraphOptions,
  unetInputs: (dtype: ComputeDType, network: LoraNetwork) => UnetFeed,
  lossOf: (prediction: Value) => Value,
  textEncoder?: ClipTextConfig,
): LoraTrainGraph {
  const dtype = o.computeDType ?? 'float32';
  const modules = o.modules ?? [
    ...(textEncoder ? textEncoderLoraModules(textEncoder, o.network.rank) : []),
    ...unetLoraModules(o.unet, o.network),
  ];
  const network = loraNetwork(modules, { ...o.network, computeDType: dtype });
  const feed = unetInputs(dtype, network);
  const w = new WeightBinder(g, o.weights, { computeDType: dtype, label: 'UNet' });
  const prediction = unet2dCondition(
    { g, w, dtype, adapter: network.adapterFor('unet') },
    o.unet,
    feed,
  );
  w.finish();
  network.finish();
  const loss = lossOf(prediction);
  const { grads, overflow } = scaledGrad(g, loss, [network.params()], {
    lossScaleName: STEP_IO.lossScale,
  });
  g.output(loss, STEP_IO.loss);
  g.output(grads[0], STEP_IO.grad);
  g.output(overflow, STEP_IO.overflow);
  if (o.outputPrediction) g.output(g.cast(prediction, 'float32'), STEP_IO.prediction);
  return {
    graph: g.build(),
    modules,
    layout: network.layout,
    rank: network.rank,
    alpha: network.alpha,
    computeDType: dtype,
  };
}

function latentShape(o: LoraGraphOptions): number[] {
  for (const k of ['batch', 'height', 'width'] as const) {
    const v = o[k];
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`LoRA training graph: ${k} must be a positive integer, got ${String(v)}`);
  }
  const factor = 2 ** (o.unet.blockOutChannels.length - 1);
  if (o.height % factor || o.width % factor)
    throw new Error(
      `LoRA training graph: latent ${o.height}×${o.width} must be multiples of ${factor} (images of ${8 * factor} px)`,
    );
  return [o.batch, o.unet.inChannels, o.height, o.width];
}

/**
 * The training step. Inputs (all float32 but `timesteps`):
 *   latents [B, 4, h, w] (VAE latents × scaling factor), noise [B, 4, h, w] (ε, with any noise
 *   offset already added by the caller), timesteps int64 [B] in [0, T), encoder_hidden_states
 *   [B, seq, cross], loss_scale [] (1 in fp32; the dynamic scale in fp16), lora_params [N].
 * Outputs: loss [] (float32, unscaled), grad:lora_params [N] (float32, unscaled), overflow
 * (bool []).
 */
export function buildTrainStepGraph(o: TrainStepOptions): LoraTrainGraph {
  const g = new GraphBuilder('lora_train_step');
  const prediction = o.prediction ?? 'epsilon';
  const schedule = o.schedule ?? SD15_NOISE_SCHEDULE;
  const shape = latentShape(o);
  const latents = g.input(STEP_IO.latents, 'float32', shape);
  const noise = g.input(STEP_IO.noise, 'float32', shape);
  const timesteps = g.input(STEP_IO.timesteps, 'int64', [shape[0]]);
  const te = o.textEncoder;
  const ehs = te
    ? g.input(STEP_IO.inputIds, 'int64', [shape[0], o.seqLen ?? 77])
    : g.input(STEP_IO.encoderHiddenStates, 'float32', [
        shape[0],
        o.seqLen ?? 77,
        o.unet.crossAttentionDim,
      ]);
  if (te && te.config.hiddenSize !== o.unet.crossAttentionDim)
    throw new Error(
      `LoRA training graph: the text encoder's width ${te.config.hiddenSize} is not the UNet's cross-attention width ${o.unet.crossAttentionDim}`,
    );
  const { noisy, target } = noiseAndTarget(g, latents, noise, timesteps, { schedule, prediction });
  const weights =
    o.minSnrGamma === undefined
      ? undefined
      : minSnrWeightOf(g, timesteps, { schedule, prediction, gamma: o.minSnrGamma });
  return finishLoraGraph(
    g,
    o,
    (dtype, network) => ({
      sample: toCompute(g, noisy, dtype),
      timestep: g.cast(timesteps, 'float32'),
      encoderHiddenStates: te
        ? g.scope('text_encoder', () => {
            const w = new WeightBinder(g, te.weights, {
              computeDType: dtype,
              label: 'CLIP text encoder',
            });
            const out = clipTextEncoder(
              { g, w, dtype, adapter: network.adapterFor('text_encoder') },
              te.config,
              ehs,
              { clipSkip: te.clipSkip },
            );
            w.finish();
            return out.promptEmbeds;
          })
        : toCompute(g, ehs, dtype),
    }),
    (pred) => mseLoss(g, pred, target, weights),
    te?.config,
  );
}

/**
 * The UNet + LoRA + MSE without noising: inputs sample [B, 4, h, w], timestep float32 [1 or B],
 * encoder_hidden_states, target [B, 4, h, w] (float32), loss_scale and lora_params; loss =
 * mean((unet(sample) − target)²). What the reference fixtures' gradients were taken of.
 */
export function buildLoraLossGraph(o: LoraGraphOptions): LoraTrainGraph {
  const g = new GraphBuilder('lora_loss');
  const shape = latentShape(o);
  const sample = g.input(STEP_IO.sample, 'float32', shape);
  // A static timestep batch lets gradients reach modules after the time embedding's broadcast
  // add (LoCon's ResNet convs and time_emb_proj): symbolic dims cannot be unbroadcast.
  const timestep = g.input(STEP_IO.timestep, 'float32', [o.timestepBatch ?? 'timestep_batch']);
  const ehs = g.input(STEP_IO.encoderHiddenStates, 'float32', [
    shape[0],
    o.seqLen ?? 77,
    o.unet.crossAttentionDim,
  ]);
  const target = g.input(STEP_IO.target, 'float32', shape);
  return finishLoraGraph(
    g,
    o,
    (dtype) => ({
      sample: toCompute(g, sample, dtype),
      timestep,
      encoderHiddenStates: toCompute(g, ehs, dtype),
    }),
    (pred) => mseLoss(g, pred, target),
  );
}
