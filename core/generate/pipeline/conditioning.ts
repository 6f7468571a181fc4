// Prompt text → the UNet's encoder_hidden_states, A1111's way: emphasis-weighted tokens in
// 77-id chunks (BOS + 75 + EOS), the text encoder on every chunk, emphasis with the mean
// restored per chunk, chunks concatenated along the token axis. The prompt and the negative
// prompt are padded to the same chunk count with empty chunks, so CFG can batch them.
import type { ClipTokenizer } from '../../models/index.js';
import { applyEmphasis, encodePrompt, type WeightedTokens } from '../prompt/index.js';
import type { ParsedPrompt } from '../prompt/index.js';

export interface Conditioning {
  /** [1, 77·chunks, hidden], row-major. */
  readonly cond: Float32Array;
  readonly uncond: Float32Array;
  readonly chunks: number;
  readonly seqLen: number;
  readonly hidden: number;
  /** The positive prompt's parse (its LoRA tags are applied by the caller). */
  readonly parsed: ParsedPrompt;
  /** Prompt tokens (A1111's "n/75" counter) of the prompt and the negative prompt. */
  readonly tokenCounts: readonly [number, number];
}

/** Runs the text encoder on token rows [rows, 77]; returns [rows, 77, hidden] float32. */
export type TextEncoderRun = (ids: readonly (readonly number[])[]) => Promise<Float32Array>;

/** Pad a chunked prompt to `chunks` chunks with the tokenizer's empty chunk. */
function padChunks(t: WeightedTokens, chunks: number, empty: WeightedTokens): WeightedTokens {
  const ids = [...t.ids];
  const weights = [...t.weights];
  while (ids.length < chunks) {
    ids.push(empty.ids[0]);
    weights.push(empty.weights[0]);
  }
  return { ids, weights, tokenCount: t.tokenCount };
}

/**
 * Both conditionings in one text-encoder run (rows: prompt chunks, then negative chunks).
 * `hidden` is the encoder's width.
 */
export async function encodeConditioning(
  tokenizer: ClipTokenizer,
  encode: TextEncoderRun,
  prompt: string,
  negativePrompt: string,
  hidden: number,
): Promise<Conditioning> {
  const pos = encodePrompt(prompt, tokenizer);
  // Tags in the negative prompt are removed from its text and not applied (A1111 does the same).
  const neg = encodePrompt(negativePrompt, tokenizer);
  const empty = encodePrompt('', tokenizer);
  const chunks = Math.max(pos.ids.length, neg.ids.length);
  const p = padChunks(pos, chunks, empty);
  const n = padChunks(neg, chunks, empty);
  const rows = [...p.ids, ...n.ids];
  const seq = rows[0].length;
  for (const r of rows)
    if (r.length !== seq) throw new Error(`token chunks of unequal length ${r.length} vs ${seq}`);
  const z = await encode(rows);
  const per = seq * hidden;
  if (z.length !== rows.length * per)
    throw new Error(
      `text encoder gave ${z.length} values for ${rows.length}×${seq} tokens, expected width ${hidden}`,
    );
  const weights = [...p.weights, ...n.weights];
  for (let r = 0; r < rows.length; r++)
    applyEmphasis(z.subarray(r * per, (r + 1) * per), weights[r], hidden);
  // Row r of chunk c goes to tokens [77c, 77c + 77) of its prompt: rows are already in order.
  return {
    cond: z.slice(0, chunks * per),
    uncond: z.slice(chunks * per),
    chunks,
    seqLen: chunks * seq,
    hidden,
    parsed: pos.parsed,
    tokenCounts: [pos.tokenCount, neg.tokenCount],
  };
}

/**
 * encoder_hidden_states for a UNet call of `batch` images: with guidance [uncond × batch,
 * cond × batch], else [cond × batch].
 */
export function unetContext(c: Conditioning, batch: number, guided: boolean): Float32Array {
  const per = c.cond.length;
  const rows = guided ? 2 * batch : batch;
  const out = new Float32Array(rows * per);
  for (let i = 0; i < batch; i++) {
    if (guided) {
      out.set(c.uncond, i * per);
      out.set(c.cond, (batch + i) * per);
    } else out.set(c.cond, i * per);
  }
  return out;
}
