// From a parsed prompt to what the text encoder consumes: CLIP token ids in 77-id chunks and one
// emphasis weight per id. Chunking (75 tokens + BOS/EOS, BREAK, comma backtrack) is the
// tokenizer's; this file only tokenizes each weighted run separately, as A1111 does.
import type { ChunkOptions, Chunks, ClipTokenizer, PromptSegment } from '../../models/index.js';
import { parsePrompt, type ParsedPrompt } from './parser.js';

export interface WeightedTokens extends Chunks {
  /** Prompt tokens before chunking (BOS/EOS/padding not counted), A1111's "n/75" counter. */
  readonly tokenCount: number;
}

/**
 * Token ids and per-token weights for each 77-id chunk of a parsed prompt. Each weighted run is
 * tokenized on its own (so `(red)car` is "red" + "car", not "redcar"), BREAK starts a new chunk.
 *
 * How the generation step uses the weights (A1111's default "Original" emphasis): run the text
 * encoder on a chunk to get hidden states z [77, hidden]; take the mean of all of z; multiply
 * every row z[t] by weights[t]; take the new mean; scale all of z by (old mean / new mean) so the
 * overall magnitude is unchanged. Chunks are then concatenated along the token axis (77·k rows).
 * {@link applyEmphasis} does exactly that on a Float32Array.
 */
export function weightedTokens(
  parsed: ParsedPrompt,
  tokenizer: ClipTokenizer,
  options: ChunkOptions = {},
): WeightedTokens {
  const segments: PromptSegment[] = [];
  let tokenCount = 0;
  parsed.segments.forEach((part, i) => {
    if (i > 0) segments.push('BREAK');
    for (const run of part) {
      const ids = tokenizer.encode(run.text);
      tokenCount += ids.length;
      segments.push({ ids, weight: run.weight });
    }
  });
  return { ...tokenizer.chunk(segments, options), tokenCount };
}

/** parsePrompt + weightedTokens, keeping the LoRA tags for the caller. */
export function encodePrompt(
  text: string,
  tokenizer: ClipTokenizer,
  options: ChunkOptions = {},
): WeightedTokens & { parsed: ParsedPrompt } {
  const parsed = parsePrompt(text);
  return { ...weightedTokens(parsed, tokenizer, options), parsed };
}

export interface EmphasisOptions {
  /** Restore the original mean after weighting (A1111 "Original"); false = A1111 "No norm". */
  readonly normalize?: boolean;
}

/**
 * A1111's emphasis on one chunk's text-encoder output, in place: `hidden` is row-major
 * [weights.length, hiddenSize]. Rows are scaled by their weight, then (normalize, the default)
 * everything is rescaled so the mean over the chunk equals the mean before weighting. When the
 * weighted mean is 0 (e.g. every weight 0) there is nothing to rescale to and the step is skipped
 * (A1111 would divide by zero and produce NaN).
 */
export function applyEmphasis(
  hidden: Float32Array,
  weights: readonly number[],
  hiddenSize: number,
  options: EmphasisOptions = {},
): Float32Array {
  if (!Number.isInteger(hiddenSize) || hiddenSize < 1)
    throw new Error(`hiddenSize must be a positive integer, got ${hiddenSize}`);
  if (hidden.length !== weights.length * hiddenSize)
    throw new Error(
      `hidden has ${hidden.length} values, expected ${weights.length} tokens × ${hiddenSize} = ` +
        `${weights.length * hiddenSize}`,
    );
  let before = 0;
  let after = 0;
  for (let t = 0; t < weights.length; t++) {
    const w = weights[t];
    const row = t * hiddenSize;
    for (let i = row; i < row + hiddenSize; i++) {
      before += hidden[i];
      hidden[i] *= w;
      after += hidden[i];
    }
  }
  if (options.normalize ?? true) {
    const scale = before / after;
    if (after !== 0 && Number.isFinite(scale))
      for (let i = 0; i < hidden.length; i++) hidden[i] *= scale;
  }
  return hidden;
}
