// Caption statistics: lengths in characters and tokens, empty captions, tags (comma-separated,
// trimmed, lower-cased) and how many images carry each tag.

export interface CaptionOptions {
  /**
   * Tokens in a caption. Default: CLIP's pre-tokenizer pieces (letter runs, single digits,
   * punctuation runs) — a lower bound on its BPE count; pass a real tokenizer's count for exact
   * figures (e.g. `(t) => tokenizer.encode(t).length`).
   */
  countTokens?: (caption: string) => number;
  /** Captions over this many tokens are listed (CLIP reads 75 per chunk; default 75). */
  tokenLimit?: number;
}

export interface Summary {
  min: number;
  max: number;
  mean: number;
  median: number;
}

export interface CaptionEntry<Id> {
  id: Id;
  chars: number;
  tokens: number;
  tags: number;
}

export interface CaptionReport<Id> {
  /** Images whose caption is missing or blank. */
  empty: Id[];
  stats: {
    images: number;
    captioned: number;
    /** Over the captioned images only; null when there are none. */
    chars: Summary | null;
    tokens: Summary | null;
    tags: Summary | null;
    tokenLimit: number;
    /** Distinct tags in the dataset. */
    uniqueTags: number;
  };
  /** Each tag with the number of images carrying it, most common first (ties alphabetical). */
  tagFrequency: { tag: string; count: number }[];
  perImage: CaptionEntry<Id>[];
  overLimit: { id: Id; tokens: number }[];
}

// Letters runs, single digits, other non-space runs: the shape of CLIP's pre-tokenizer pattern.
const PIECE = /\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

export function countPieces(caption: string): number {
  return caption.match(PIECE)?.length ?? 0;
}

/** The tags of a caption: comma-separated, trimmed, lower-cased, blanks dropped. */
export function splitTags(caption: string): string[] {
  return caption
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

export function summarize(values: readonly number[]): Summary | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return {
    min: s[0],
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2,
  };
}

export function captionReport<Id>(
  images: readonly { id: Id; caption: string | null }[],
  opts: CaptionOptions = {},
): CaptionReport<Id> {
  const countTokens = opts.countTokens ?? countPieces;
  const tokenLimit = opts.tokenLimit ?? 75;
  if (!Number.isInteger(tokenLimit) || tokenLimit < 1)
    throw new Error(`caption tokenLimit must be a positive integer, got ${tokenLimit}`);
  const empty: Id[] = [];
  const perImage: CaptionEntry<Id>[] = [];
  const overLimit: { id: Id; tokens: number }[] = [];
  const freq = new Map<string, number>();
  for (const { id, caption } of images) {
    const text = caption?.trim() ?? '';
    if (!text) {
      empty.push(id);
      continue;
    }
    // A tag repeated in one caption counts once: the frequency is "images with this tag".
    const tags = new Set(splitTags(text));
    for (const t of tags) freq.set(t, (freq.get(t) ?? 0) + 1);
    const tokens = countTokens(text);
    if (!Number.isFinite(tokens) || tokens < 0)
      throw new Error(`countTokens returned ${tokens} for image ${String(id)}; want a count ≥ 0`);
    perImage.push({ id, chars: [...text].length, tokens, tags: tags.size });
    if (tokens > tokenLimit) overLimit.push({ id, tokens });
  }
  const tagFrequency = [...freq]
    .map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return {
    empty,
    stats: {
      images: images.length,
      captioned: perImage.length,
      chars: summarize(perImage.map((e) => e.chars)),
      tokens: summarize(perImage.map((e) => e.tokens)),
      tags: summarize(perImage.map((e) => e.tags)),
      tokenLimit,
      uniqueTags: freq.size,
    },
    tagFrequency,
    perImage,
    overLimit,
  };
}
