// CLIP text transformer (transformers' CLIPTextModel) as a graph: token + position embeddings,
// pre-LayerNorm layers with causal self-attention, and the final LayerNorm. Weight names are
// transformers' (`text_model.encoder.layers.0.self_attn.q_proj.weight`, …).
import { GraphBuilder, attr, type DType, type Graph, type Value } from '../../graph/index.js';
import {
  layerNorm,
  linear,
  multiHeadAttention,
  gelu,
  quickGelu,
  type Adapter,
  type ModelContext,
} from '../nn.js';
import { WeightBinder, type WeightSource } from '../weights.js';
import type { ClipTextConfig } from './config.js';

export interface ClipTextOptions {
  /**
   * A1111's "Clip skip" N ≥ 1: the output is final_layer_norm(hidden_states[−N]). 1 is the
   * last layer (last_hidden_state); 2 is the penultimate layer's output through the final
   * LayerNorm (= diffusers' clip_skip 1). Layers after the chosen one are not built.
   */
  clipSkip?: number;
  /** Also build every layer and return last_hidden_state (costs the skipped layers). */
  withLastHiddenState?: boolean;
}

export interface ClipTextOutputs {
  /** final_layer_norm(hidden_states[−clipSkip]): what the UNet is fed. */
  readonly promptEmbeds: Value;
  /** final_layer_norm(hidden_states[−1]), when asked for (or when clipSkip is 1). */
  readonly lastHiddenState?: Value;
  /** Embeddings output, then each built layer's output (not final-normed). */
  readonly hiddenStates: readonly Value[];
}

const P = 'text_model';

function clipLayer(m: ModelContext, cfg: ClipTextConfig, i: number, x: Value, mask: Value): Value {
  const { g } = m;
  const name = `${P}.encoder.layers.${i}`;
  const c = cfg.hiddenSize;
  const eps = cfg.layerNormEps;
  return g.scope(`layers.${i}`, () => {
    const h = layerNorm(m, `${name}.layer_norm1`, x, c, eps);
    const q = linear(m, `${name}.self_attn.q_proj`, h, c, c);
    const k = linear(m, `${name}.self_attn.k_proj`, h, c, c);
    const v = linear(m, `${name}.self_attn.v_proj`, h, c, c);
    const a = multiHeadAttention(g, q, k, v, cfg.numHeads, c, { mask });
    const x1 = g.op('Add', [x, linear(m, `${name}.self_attn.out_proj`, a, c, c)]);
    const h2 = layerNorm(m, `${name}.layer_norm2`, x1, c, eps);
    const f1 = linear(m, `${name}.mlp.fc1`, h2, c, cfg.intermediateSize);
    const act = cfg.hiddenAct === 'quick_gelu' ? quickGelu(g, f1) : gelu(g, f1);
    return g.op('Add', [x1, linear(m, `${name}.mlp.fc2`, act, cfg.intermediateSize, c)]);
  });
}

/** Causal additive mask [T, T]: 0 on and below the diagonal, the dtype's lowest finite value above. */
function causalMask(m: ModelContext, seqLen: number): Value {
  const low = m.dtype === 'float16' ? -65504 : -3.4028234663852886e38;
  const values = new Array<number>(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++)
    for (let j = 0; j < seqLen; j++) values[i * seqLen + j] = j > i ? low : 0;
  return m.g.constant(values, m.dtype, [seqLen, seqLen]);
}

/**
 * Adds the text encoder to `m.g`. `inputIds` is int64 [batch, seqLen] with seqLen ≤ the
 * config's max positions (77 for SD). No padding mask: SD pads with <|endoftext|> and uses
 * every position.
 */
export function clipTextEncoder(
  m: ModelContext,
  cfg: ClipTextConfig,
  inputIds: Value,
  opts: ClipTextOptions = {},
): ClipTextOutputs {
  const { g } = m;
  const skip = opts.clipSkip ?? 1;
  if (!Number.isInteger(skip) || skip < 1 || skip > cfg.numLayers) {
    throw new Error(`clip skip must be an integer from 1 to ${cfg.numLayers}, got ${skip}`);
  }
  const seqLen = inputIds.shape[1];
  if (typeof seqLen !== 'number' || seqLen > cfg.maxPositions) {
    throw new Error(
      `input_ids length must be a fixed number ≤ ${cfg.maxPositions}, got ${String(seqLen)}`,
    );
  }
  const c = cfg.hiddenSize;
  m.w.tolerate(`${P}.embeddings.position_ids`); // a buffer real checkpoints carry
  const table = m.w.param(`${P}.embeddings.token_embedding.weight`, [cfg.vocabSize, c]);
  let pos = m.w.param(`${P}.embeddings.position_embedding.weight`, [cfg.maxPositions, c]);
  if (seqLen < cfg.maxPositions)
    pos = g.op('Slice', [pos, g.ints([0]), g.ints([seqLen]), g.ints([0])]);
  let x = g.op('Add', [g.op('Gather', [table, inputIds], { axis: attr.int(0) }), pos]);
  const hiddenStates = [x];
  m.tap?.('hidden_states.0', x);

  const lastNeeded = opts.withLastHiddenState ? cfg.numLayers : cfg.numLayers - skip + 1;
  const mask = causalMask(m, seqLen);
  for (let i = 0; i < lastNeeded; i++) {
    x = clipLayer(m, cfg, i, x, mask);
    hiddenStates.push(x);
    m.tap?.(`hidden_states.${i + 1}`, x);
  }
  for (let i = lastNeeded; i < cfg.numLayers; i++) m.w.skip(`${P}.encoder.layers.${i}.`);

  const finalNorm = (v: Value) => layerNorm(m, `${P}.final_layer_norm`, v, c, cfg.layerNormEps);
  const promptEmbeds = finalNorm(hiddenStates[cfg.numLayers - skip + 1]);
  const lastHiddenState =
    skip === 1
      ? promptEmbeds
      : opts.withLastHiddenState
        ? finalNorm(hiddenStates[cfg.numLayers])
        : undefined;
  return { promptEmbeds, lastHiddenState, hiddenStates };
}

export interface ClipTextGraphOptions extends ClipTextOptions {
  /** Activation dtype (the graph's float outputs); weights are cast to it. Default float32. */
  dtype?: 'float32' | 'float16';
  /** Batch dimension of input_ids: a number or a symbolic name (default 'batch'). */
  batch?: number | string;
  /** Token count (default: the config's max positions, 77). */
  seqLen?: number;
  adapter?: Adapter;
  tap?: (name: string, value: Value) => void;
  /** Prefix for initializer names (a checkpoint's own prefix is stripped with prefixedWeights). */
  initializerPrefix?: string;
}

/**
 * A standalone text-encoder graph: input `input_ids` int64 [batch, seqLen]; outputs
 * `prompt_embeds` (clip skip applied) and, with withLastHiddenState, `last_hidden_state`.
 * Throws listing missing and unused weights.
 */
export function buildClipTextGraph(
  cfg: ClipTextConfig,
  weights: WeightSource,
  opts: ClipTextGraphOptions = {},
): Graph {
  const g = new GraphBuilder('clip_text_encoder');
  const dtype: DType = opts.dtype ?? 'float32';
  const w = new WeightBinder(g, weights, {
    computeDType: dtype,
    label: 'CLIP text encoder',
    initializerPrefix: opts.initializerPrefix,
  });
  const ids = g.input('input_ids', 'int64', [
    opts.batch ?? 'batch',
    opts.seqLen ?? cfg.maxPositions,
  ]);
  const out = clipTextEncoder(
    { g, w, dtype, adapter: opts.adapter, tap: opts.tap },
    cfg,
    ids,
    opts,
  );
  w.finish();
  g.output(out.promptEmbeds, 'prompt_embeds');
  if (opts.withLastHiddenState && out.lastHiddenState)
    g.output(out.lastHiddenState, 'last_hidden_state');
  return g.build();
}
