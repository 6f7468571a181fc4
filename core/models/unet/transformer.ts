// diffusers Transformer2DModel as used by the SD UNet: GroupNorm → proj_in → BasicTransformerBlock
// (self-attention, cross-attention, GEGLU feed-forward) → proj_out, plus the residual.
import type { Value } from '../../graph/index.js';
import {
  attention,
  conv2d,
  fromTokens,
  geglu,
  groupNorm,
  layerNorm,
  linear,
  toTokens,
  type ModelContext,
} from '../nn.js';

const TRANSFORMER_NORM_EPS = 1e-6; // Transformer2DModel's GroupNorm
const BLOCK_NORM_EPS = 1e-5; // BasicTransformerBlock's LayerNorms

export interface Transformer2DOptions {
  channels: number;
  heads: number;
  crossAttentionDim: number;
  groups: number;
  layers: number;
  useLinearProjection: boolean;
}

function basicTransformerBlock(
  m: ModelContext,
  name: string,
  x: Value,
  context: Value,
  o: Transformer2DOptions,
): Value {
  const { g } = m;
  const c = o.channels;
  let h = g.op('Add', [
    x,
    attention(m, `${name}.attn1`, layerNorm(m, `${name}.norm1`, x, c, BLOCK_NORM_EPS), null, {
      queryDim: c,
      heads: o.heads,
    }),
  ]);
  h = g.op('Add', [
    h,
    attention(m, `${name}.attn2`, layerNorm(m, `${name}.norm2`, h, c, BLOCK_NORM_EPS), context, {
      queryDim: c,
      contextDim: o.crossAttentionDim,
      heads: o.heads,
    }),
  ]);
  const inner = 4 * c;
  const ff = geglu(
    m,
    `${name}.ff.net.0`,
    layerNorm(m, `${name}.norm3`, h, c, BLOCK_NORM_EPS),
    c,
    inner,
  );
  return g.op('Add', [h, linear(m, `${name}.ff.net.2`, ff, inner, c)]);
}

/** Adds one Transformer2DModel over NCHW `x`, attending to `context` [B, S, crossDim]. */
export function transformer2d(
  m: ModelContext,
  name: string,
  x: Value,
  context: Value,
  o: Transformer2DOptions,
): Value {
  const { g } = m;
  const c = o.channels;
  return g.scope(name, () => {
    const normed = groupNorm(m, `${name}.norm`, x, c, o.groups, TRANSFORMER_NORM_EPS);
    let tokens = o.useLinearProjection
      ? linear(m, `${name}.proj_in`, toTokens(g, normed, c), c, c)
      : toTokens(g, conv2d(m, `${name}.proj_in`, normed, c, c, { kernel: 1, padding: 0 }), c);
    for (let i = 0; i < o.layers; i++) {
      tokens = basicTransformerBlock(m, `${name}.transformer_blocks.${i}`, tokens, context, o);
    }
    const out = o.useLinearProjection
      ? fromTokens(g, linear(m, `${name}.proj_out`, tokens, c, c), x, c)
      : conv2d(m, `${name}.proj_out`, fromTokens(g, tokens, x, c), c, c, { kernel: 1, padding: 0 });
    return g.op('Add', [out, x]);
  });
}
